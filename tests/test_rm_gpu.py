"""One SFT step in the production configuration's shape (bf16, gradient checkpointing, fused AdamW, SDPA,
assistant-only loss, per-device batch × accumulation) on a tiny Qwen3-VL, on CUDA. Never runs in CI."""

import os

import pytest
import torch

from visual_erm.rm.toy import write_toy_pair_dataset

pytestmark = [pytest.mark.gpu, pytest.mark.slow,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_production_shaped_step_on_cuda(tmp_path):
    os.environ["WANDB_MODE"] = "disabled"
    from visual_erm.rm import model as rm_model
    from visual_erm.rm.prompts import rm_prompt
    from visual_erm.rm.train import train_reward_model

    # a tiny "base checkpoint" on disk, loaded the way the 8B one is (model.base = a path)
    tok = rm_model.build_bpe_tokenizer([rm_prompt(t) for t in ("chart", "table", "svg")] * 3, vocab_size=512)
    proc = rm_model.build_processor(tok, rm_model.build_image_processor())
    rm_model.save_model(rm_model.build_tiny_model(tok), proc, tmp_path / "base")
    data = write_toy_pair_dataset(tmp_path / "pairs", n_per_task=8, seed=0)
    m = train_reward_model(data, tmp_path / "out", "qwen3-vl-8b", {
        "model.base": str(tmp_path / "base"), "training.max_steps": 1, "training.global_batch_size": 8,
        "training.deepspeed": None, "training.report_to": [], "training.dataloader_num_workers": 0,
        "training.max_length": 2048, "eval.n_pairs": 2, "eval.max_new_tokens": 8,
    }, resume=False)
    assert m["device"] == "cuda" and m["steps"] == 1 and m["gradient_accumulation_steps"] == 4
    assert m["loss_curve"] and torch.isfinite(torch.tensor(m["loss_curve"][0]["loss"]))
    loaded = rm_model.load_model(tmp_path / "out", dtype="auto")
    assert next(loaded.parameters()).dtype == torch.bfloat16
