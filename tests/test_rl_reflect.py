"""Reflect-and-revise: a scripted policy behind an OpenAI-compatible endpoint that fixes one discrepancy per
revision; critics: the structural critic (deterministic) and a reward model served over HTTP."""

import hashlib
import json
import re

import pytest

from visual_erm.reward.functions import make_reward_function
from visual_erm.rl.policy import EndpointPolicy, ScriptedPolicy
from visual_erm.rl.prompts_set import build_prompt_set, read_prompt_rows
from visual_erm.rl.reflect import reflect_and_revise, revision_text, run_reflect
from visual_erm.rl.testing import ChatServer, request_images, request_text, write_svg_pair_dataset

HEX = re.compile(r"#[0-9a-fA-F]{6}")


def ladder(code: str) -> list[str]:
    """Answers from worst to perfect: every colour wrong, the first colour right, the reference."""
    colours = HEX.findall(code)
    all_wrong = HEX.sub("#000000", code)
    first_right = all_wrong.replace("#000000", colours[0], 1) if colours else all_wrong
    return [f"```svg\n{p}\n```" for p in (all_wrong, first_right, code)]


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    root = tmp_path_factory.mktemp("reflect")
    build_prompt_set(write_svg_pair_dataset(root / "pairs"), root / "prompts")
    return read_prompt_rows(root / "prompts")


def scripted_handler(rows, revisions: list[str]):
    ladders = {hashlib.sha256(r["reference_image"]["bytes"]).hexdigest(): ladder(r["reference_code"]) for r in rows}

    def handle(req: dict) -> str:
        steps = ladders[hashlib.sha256(request_images(req)[0]).hexdigest()]
        text = request_text(req)
        if "Your previous answer:" not in text:
            return steps[0]
        revisions.append(text)
        prev = re.search(r"Your previous answer:\n```svg\n(.*?)\n```", text, re.S).group(1).strip()
        idx = next(i for i, s in enumerate(steps) if prev in s)
        return steps[min(idx + 1, len(steps) - 1)]

    return handle


@pytest.fixture(scope="module")
def pool():
    from visual_erm.render.pool import RenderPool

    with RenderPool(workers=1) as p:
        yield p


def test_revisions_use_the_critique_and_improve_with_the_structural_critic(rows, pool):
    revisions: list[str] = []
    with ChatServer(scripted_handler(rows, revisions)) as server:
        policy = EndpointPolicy(server.url, "scripted")
        reward = make_reward_function("structural", "released-strict", pool)
        report = reflect_and_revise(rows, policy, reward, rounds=3)
    per = report["rounds"]
    assert [r["round"] for r in per] == [0, 1, 2]  # everything passed (S = 0) after two revisions: stop early
    assert per[0]["mean_reward"] < per[1]["mean_reward"] < per[2]["mean_reward"] == 2.0
    assert all(r["exec_rate"] == 1.0 for r in per) and per[-1]["passed"] == len(rows)
    assert per[1]["revised"] == len(rows)
    assert all(it["best_round"] >= 1 and it["best_reward"] == 2.0 for it in report["items"])
    # the revision prompt carries the previous program and the critique JSON
    assert revisions and "#000000" in revisions[0] and '"errors"' in revisions[0] and "style_error" in revisions[0]


def test_threshold_rounds_and_keep_best():
    calls = []

    def fn(req):
        calls.append(req)
        return "no program"  # never renders: the best stays the first answer, every round is a failure

    class ConstReward:
        variant, critic_name = "released-strict", "const"

        def score(self, completions, tasks, refs, reference_code=None):
            from visual_erm.reward.diagnostics import ItemDiagnostics, RewardDiagnostics
            from visual_erm.reward.formulas import Outcome

            items = [ItemDiagnostics(Outcome("no_code", task=t), reward=0.0) for t in tasks]
            return [0.0] * len(completions), RewardDiagnostics("x", items)

    rows = [{"id": "a", "task": "svg", "reference_image": {"bytes": b"png"}, "reference_code": "<svg/>",
             "prompt": json.dumps([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "x"}]}])}]
    report = reflect_and_revise(rows, ScriptedPolicy(fn), ConstReward(), rounds=3, threshold=1.5)
    assert len(report["rounds"]) == 4 and len(calls) == 4  # 1 answer + 3 revisions
    assert report["rounds"][-1]["exec_rate"] == 0.0 and report["items"][0]["best_round"] == 0
    text = revision_text("svg", "```svg\n<svg/>\n```", {"critique": None, "status": "no_code", "detail": "none"})
    assert "did not produce a usable image (no_code)" in text and "<svg/>" in text


@pytest.mark.slow
def test_three_rounds_against_served_models_via_cli(rows, tmp_path):
    """`verm reflect` with the policy and the reward model both served over HTTP; per-round scores reported."""
    from typer.testing import CliRunner

    from visual_erm.cli import app
    from visual_erm.rm import model as rm_model
    from visual_erm.rm.prompts import rm_prompt
    from visual_erm.serve.server import RewardModelServer

    rm_dir = tmp_path / "rm"
    tok = rm_model.build_bpe_tokenizer([rm_prompt(t) for t in ("chart", "table", "svg")] * 4, 400)
    proc = rm_model.build_processor(tok, rm_model.build_image_processor(min_pixels=3136, max_pixels=12544))
    rm_model.save_model(rm_model.build_tiny_model(tok, hidden_size=32, head_dim=8, intermediate_size=64), proc, rm_dir)
    prompts = tmp_path / "prompts"
    build_prompt_set(write_svg_pair_dataset(tmp_path / "pairs"), prompts, n=2)
    with ChatServer(scripted_handler(read_prompt_rows(prompts), [])) as pol, \
            RewardModelServer(rm_dir, port=0, device="cpu") as rm:
        res = CliRunner().invoke(app, ["reflect", str(prompts), "--policy", pol.url, "--policy-model", "scripted",
                                       "--reward-endpoint", rm.url + "/v1", "--split", "train", "--rounds", "3",
                                       "--threshold", "3.0", "--rm-max-tokens", "16", "--out", str(tmp_path / "report.json")])
        assert res.exit_code == 0, res.output
        assert rm.requests >= 2 * 4  # every round's answers were critiqued by the served model
    report = json.loads((tmp_path / "report.json").read_text())
    assert [r["round"] for r in report["rounds"]] == [0, 1, 2, 3]
    assert all(r["exec_rate"] == 1.0 for r in report["rounds"])
    assert all(set(r) >= {"mean_reward", "best_mean_reward", "exec_rate", "parse_fail"} for r in report["rounds"])
