"""Reward-model training profiles: strict YAML, overrides, the paper's production settings."""

import pytest

from visual_erm.rm.profile import ProfileError, available_profiles, load_profile


def test_shipped_profiles_load():
    assert {"tiny", "qwen3-vl-8b"} <= set(available_profiles())
    tiny = load_profile("tiny")
    assert tiny.model.tiny is not None and tiny.model.base is None
    assert tiny.training.bf16 is False and tiny.training.device == "auto"


def test_production_profile_has_the_paper_settings():
    p = load_profile("qwen3-vl-8b")
    t = p.training
    assert (t.learning_rate, t.global_batch_size, t.epochs) == (1e-5, 32, 3)
    assert t.bf16 and t.gradient_checkpointing and p.lora is None and p.model.dtype == "bfloat16"
    assert p.images.max_side == {"chart": 1024, "svg": 1024, "table": 768}
    # global batch 32 = per-device batch × accumulation × world size
    assert p.grad_accumulation(1) * t.per_device_batch_size == 32
    assert p.grad_accumulation(8) * t.per_device_batch_size * 8 == 32
    with pytest.raises(ValueError, match="multiple"):
        p.grad_accumulation(3)


def test_unknown_keys_are_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: {tiny: {}}\ntraining: {learning_rat: 0.1}\n")
    with pytest.raises(ProfileError, match="training.learning_rat"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="lora.rank"):
        load_profile("tiny", {"lora.rank": 8})
    with pytest.raises(ProfileError, match="no profile"):
        load_profile("nope")


def test_overrides_and_lora():
    p = load_profile("qwen3-vl-8b", {"training.max_steps": 5, "lora.r": 8, "model.base": "/models/q"})
    assert p.training.max_steps == 5 and p.lora.r == 8 and p.lora.target_modules == "all-linear"
    assert p.model.base == "/models/q"
    with pytest.raises(ProfileError, match="exactly one"):
        load_profile("tiny", {"model.base": "/models/q"})
