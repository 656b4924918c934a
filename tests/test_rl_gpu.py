"""GPU smoke test: one GRPO step of a tiny policy in bf16 on CUDA (skipped without CUDA)."""

import json

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_one_grpo_step_bf16_on_cuda(tmp_path, monkeypatch):
    from visual_erm.rl.grpo import train_policy
    from visual_erm.rl.prompts_set import build_prompt_set
    from visual_erm.rl.testing import write_svg_pair_dataset

    monkeypatch.setenv("WANDB_MODE", "disabled")
    build_prompt_set(write_svg_pair_dataset(tmp_path / "pairs"), tmp_path / "prompts", n=2)
    overrides = {"policy.dtype": "bfloat16", "grpo.bf16": True, "grpo.device": "cuda", "grpo.report_to": [],
                 "grpo.max_completion_length": 16, "grpo.save_steps": 1, "reward.critic": "pixel",
                 "reward.workers": 1, "policy.bpe_vocab_size": 400,
                 # GPU nodes may lack bubblewrap; the tiny policy's 16-token outputs are rendered without it here
                 "reward.unsafe_no_sandbox": True}
    result = train_policy(tmp_path / "prompts", tmp_path / "policy", "tiny", overrides, max_steps=1, resume=False)
    assert result["device"] == "cuda" and result["steps"] == 1
    step = [h for h in result["log_history"] if "reward" in h][-1]
    assert "rewards/render_success/mean" in step and step["completions/mean_length"] > 0
    config = json.loads((tmp_path / "policy" / "config.json").read_text())
    assert config.get("dtype", config.get("torch_dtype")) == "bfloat16"
