"""GRPO policy RL: profiles, the reward split into logged components, and tiny end-to-end runs on CPU with the
reward model served over HTTP (``verm serve``'s server), checkpoints and resume."""

import json
import os
from pathlib import Path

import pytest

from visual_erm.rl.grpo import (
    ProfileError, RolloutScorer, compare_logged_with_recorded, load_policy_profile, make_grpo_config, read_rollouts,
    recompute_rewards, split_terms, train_policy,
)
from visual_erm.rl.prompts_set import build_prompt_set, read_prompt_rows
from visual_erm.rl.testing import SVG_PROGRAMS, write_svg_pair_dataset

FAST = {"grpo.report_to": [], "grpo.max_completion_length": 12, "grpo.save_steps": 1,
        "reward.critic_max_new_tokens": 16, "reward.workers": 1, "policy.bpe_vocab_size": 400}


@pytest.fixture(autouse=True)
def _no_wandb(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")


@pytest.fixture(scope="module")
def prompts(tmp_path_factory):
    root = tmp_path_factory.mktemp("rl")
    build_prompt_set(write_svg_pair_dataset(root / "pairs"), root / "prompts")
    return root / "prompts"


@pytest.fixture(scope="module")
def served_rm(tmp_path_factory):
    """A tiny random reward model behind the project's OpenAI-compatible server (what `verm serve` runs)."""
    from visual_erm.rm import model as rm_model
    from visual_erm.rm.prompts import rm_prompt
    from visual_erm.serve.server import RewardModelServer

    d = tmp_path_factory.mktemp("rm") / "rm"
    tok = rm_model.build_bpe_tokenizer([rm_prompt(t) for t in ("chart", "table", "svg")] * 4, 400)
    proc = rm_model.build_processor(tok, rm_model.build_image_processor(min_pixels=3136, max_pixels=12544))
    rm_model.save_model(rm_model.build_tiny_model(tok, hidden_size=32, head_dim=8, intermediate_size=64), proc, d)
    with RewardModelServer(d, port=0, device="cpu") as server:
        yield server.url + "/v1"


# ---------------------------------------------------------------------------------------------- profiles
def test_profiles_load_and_reject_typos():
    tiny = load_policy_profile("tiny")
    assert tiny.policy.tiny and tiny.grpo.num_generations == 4 and tiny.grpo.beta > 0
    prod = load_policy_profile("qwen3-vl-8b")
    g = prod.grpo
    assert (g.learning_rate, g.prompts_per_step, g.num_generations, g.beta, g.entropy_coef) == (1e-6, 256, 8, 0.01, 0)
    assert g.max_completion_length == 8192 and g.vllm_max_model_length == 16384
    assert g.use_vllm and g.vllm_mode == "colocate" and not g.use_bias_correction_kl  # plain k3 ("low-var") KL
    assert g.grad_accumulation(world_size=8) == 32  # 256 × 8 completions = 8 per GPU × 8 GPUs × 32
    assert load_policy_profile("tiny", {"grpo.max_steps": 3}).grpo.max_steps == 3
    with pytest.raises(ProfileError, match="grpo.max_stepz"):
        load_policy_profile("tiny", {"grpo.max_stepz": 3})
    with pytest.raises(ProfileError, match="variant"):
        load_policy_profile("tiny", {"reward.variant": "nope"})


def test_production_profile_maps_to_trl_arguments(tmp_path):
    prof = load_policy_profile("qwen3-vl-8b", {"grpo.bf16": False, "grpo.deepspeed": None})  # CPU here
    cfg = make_grpo_config(prof, output_dir=tmp_path, device="cpu", reward_weights=[1.0, 1.0],
                           gradient_accumulation_steps=32)
    assert cfg.use_vllm and cfg.vllm_mode == "colocate" and cfg.beta == 0.01 and cfg.learning_rate == 1e-6
    assert cfg.num_generations == 8 and cfg.per_device_train_batch_size == 8 and cfg.entropy_coef == 0.0
    assert cfg.max_completion_length == 8192 and cfg.vllm_max_model_length == 16384


# ---------------------------------------------------------------------------------------------- reward split
def test_reward_terms_sum_to_the_variant_and_recompute_exactly(prompts, tmp_path):
    """Scripted rollouts (valid, broken and duplicate programs) through the two TRL reward functions with the
    structural critic: logged terms, their sum, the diagnostics and a recomputation all agree."""
    from visual_erm.render.pool import RenderPool
    from visual_erm.reward.functions import make_reward_function

    rows = read_prompt_rows(prompts)
    by_id = {r["id"]: r for r in rows}
    disc = next(r for r in rows if "disc" in r["id"])
    completions = [[{"role": "assistant", "content": f"```svg\n{SVG_PROGRAMS['disc']}\n```"}],
                   [{"role": "assistant", "content": "```svg\n" + SVG_PROGRAMS["disc"].replace("#2563eb", "#dc2626")
                     + "\n```"}],
                   [{"role": "assistant", "content": "no program here"}],
                   [{"role": "assistant", "content": f"```svg\n{SVG_PROGRAMS['disc']}\n```"}]]
    metrics, columns = {}, {}
    with RenderPool(workers=1) as pool:
        reward = make_reward_function("structural", "released-strict", pool, name="visual_erm")
        scorer = RolloutScorer(reward, variant="released-strict", record_path=tmp_path / "rollouts.jsonl")
        kw = dict(task=["svg"] * 4, reference_image=[disc["reference_image"]["bytes"]] * 4,
                  reference_code=[disc["reference_code"]] * 4, id=[disc["id"]] * 4,
                  log_metric=lambda k, v: metrics.setdefault(k, v), log_extra=lambda k, v: columns.setdefault(k, v))
        render = scorer.render_success(prompts=[None] * 4, completions=completions, **kw)
        fidelity = scorer.visual_erm_fidelity(prompts=[None] * 4, completions=completions, **dict(kw))
        total, diag = reward.score(completions, ["svg"] * 4, [disc["reference_image"]["bytes"]] * 4,
                                   reference_code=[disc["reference_code"]] * 4)
        assert [a + b for a, b in zip(render, fidelity)] == pytest.approx(total)
        assert total[0] == total[3] == 2.0 and 1.0 < total[1] < 2.0 and total[2] == 0.0
        assert render == [1.0, 1.0, 0.0, 1.0]
        assert metrics["visual_erm/render_fail_rate"] == 0.25 and metrics["visual_erm/parse_fail_rate"] == 0.0
        assert metrics["visual_erm/errors/style_error"] > 0  # per-category error counts reach the metrics
        assert columns["visual_erm_status"][2].startswith("no_code")
        fresh = make_reward_function("structural", "released-strict", pool, name="recompute")
        rec = recompute_rewards(read_rollouts(tmp_path / "rollouts.jsonl"), fresh, variant="released-strict",
                                prompt_rows=by_id)
    assert rec["items"] == 4 and rec["max_abs_diff"] == 0.0 and rec["calls"][0]["kinds_match"]
    assert split_terms("table-released", diag.items[0].outcome, -3.0) == (0.0, -3.0)


# ---------------------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_tiny_grpo_with_served_reward_model_checkpoints_and_resumes(prompts, served_rm, tmp_path):
    out = tmp_path / "policy"
    ov = dict(FAST, **{"reward.baselines": ["ssim"]})
    first = train_policy(prompts, out, "tiny", ov, reward_endpoint=served_rm, max_steps=3, stop_after_steps=2,
                         resume=False)
    assert first["steps"] == 2 and (tmp_path / "policy.work" / "checkpoints" / "checkpoint-2").is_dir()
    second = train_policy(prompts, out, "tiny", ov, reward_endpoint=served_rm, max_steps=3, resume=True)
    assert second["resumed_from"] == "checkpoint-2" and second["steps"] == 3 and second["steps_this_run"] == 1
    hist = second["log_history"]
    assert sorted({h["step"] for h in hist if "reward" in h}) == [1, 2, 3]
    last = [h for h in hist if "reward" in h][-1]
    for key in ("rewards/render_success/mean", "rewards/visual_erm_fidelity/mean", "rewards/baseline_ssim/mean",
                "visual_erm/render_fail_rate", "visual_erm/parse_fail_rate", "visual_erm/render_fail/no_code",
                "visual_erm/critique_fail/unparseable", "completions/mean_length", "kl", "entropy"):
        assert key in last, key
    rollouts = read_rollouts(tmp_path / "policy.work" / "rollouts.jsonl")
    assert len(rollouts) == 3 * 8  # 2 prompts × 4 generations per step
    check = compare_logged_with_recorded(hist, rollouts)
    assert check["ok"], check
    files = {p.name for p in out.iterdir()}
    assert {"manifest.json", "metrics.json", "rollouts.jsonl", "profile.yaml", "model.safetensors",
            "verm_processor.json"} <= files
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "visual-erm-policy" and manifest["summary"]["steps"] == 3
    from visual_erm.rl.policy import LocalPolicy

    assert LocalPolicy.load(out, device="cpu").model is not None  # the artifact loads as a policy


@pytest.mark.slow
def test_cli_train_policy(prompts, tmp_path):
    from typer.testing import CliRunner

    from visual_erm.cli import app

    res = CliRunner().invoke(app, ["train-policy", str(prompts), "--out", str(tmp_path / "p")])
    assert res.exit_code == 2 and "reward-endpoint" in res.output
    args = ["train-policy", str(prompts), "--out", str(tmp_path / "p"), "--max-steps", "1",
            "--set", "reward.critic=structural"] + [a for k, v in FAST.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout[res.stdout.rindex("\n{\n") + 1:])  # the summary follows the trainer's logs
    assert summary["steps"] == 1 and summary["reward"]["critic"] == "structural"


# ---------------------------------------------------------------------------------------------- policies
def test_svg_prefix_program_is_well_formed_and_draws_something():
    from visual_erm.render.blank import is_blank
    from visual_erm.rl.policy import svg_prefix_program
    from visual_erm.rl.testing import render_svg_trusted

    for code in SVG_PROGRAMS.values():
        short = svg_prefix_program(code, 40)
        assert short.endswith("</svg>") and not is_blank(render_svg_trusted(short))
    nested = ('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><g id="a"><rect width="8" height="4"/>'
              '<rect y="4" width="8" height="4" fill="red"/></g></svg>')
    assert svg_prefix_program(nested, 90).endswith('<rect width="8" height="4"/></g></svg>')


@pytest.mark.slow
def test_warm_start_and_local_policy_generation(prompts, tmp_path):
    from visual_erm.rl.grpo import build_initial_policy
    from visual_erm.rl.policy import LocalPolicy, PolicyRequest
    from visual_erm.rl.prompts_set import policy_messages

    rows = read_prompt_rows(prompts)[:2]
    prof = load_policy_profile("tiny", {"policy.warmup_sft_steps": 2, "policy.bpe_vocab_size": 400,
                                        "policy.warmup_sft_max_length": 96})
    logs = []
    d = build_initial_policy(prof, rows, tmp_path, logs.append)
    assert any("warm-started" in m for m in logs)
    assert build_initial_policy(prof, rows, tmp_path, logs.append) == d and "reusing" in logs[-1]
    policy = LocalPolicy.load(d, device="cpu")
    texts = policy.generate([PolicyRequest(policy_messages("svg"), [rows[0]["reference_image"]["bytes"]], "svg")],
                            max_new_tokens=5)
    assert len(texts) == 1 and isinstance(texts[0], str)
