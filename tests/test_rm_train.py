"""Real TRL SFT runs of the tiny reward model on CPU: loss goes down, checkpoints resume, the artifact is complete."""

import json
import os
import shutil

import pytest

from visual_erm.rm.toy import write_toy_pair_dataset

pytestmark = pytest.mark.slow

FAST = {
    "model.tiny.hidden_size": 64, "model.tiny.intermediate_size": 128, "model.tiny.head_dim": 16,
    "model.bpe_vocab_size": 512,
    "training.max_steps": 6, "training.logging_steps": 1, "training.save_steps": 3, "training.warmup_ratio": 0.0,
    "training.learning_rate": 3e-3, "training.report_to": [],
    "eval.n_pairs": 3, "eval.max_new_tokens": 8, "eval.batch_size": 3,
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    os.environ["WANDB_MODE"] = "disabled"
    from visual_erm.rm.train import train_reward_model

    base = tmp_path_factory.mktemp("rm")
    data = write_toy_pair_dataset(base / "pairs", n_per_task=4, seed=0)
    out = base / "model"
    metrics = train_reward_model(data, out, "tiny", FAST, resume=True)
    return base, data, out, metrics


def test_training_decreases_loss_and_writes_the_artifact(run):
    base, data, out, m = run
    assert m["steps"] == 6 and m["device"] == "cpu"
    losses = [p["loss"] for p in m["loss_curve"]]
    assert len(losses) >= 6
    assert sum(losses[-2:]) / 2 < losses[0] - 0.5, losses
    for name in ("config.json", "model.safetensors", "tokenizer.json", "processor_config.json", "profile.yaml",
                 "metrics.json", "manifest.json"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "visual-erm-reward-model" and "model.safetensors" in manifest["files"]
    stored = json.loads((out / "metrics.json").read_text())
    assert stored["loss_curve"] == m["loss_curve"]
    assert stored["eval"]["n"] == 3 and stored["eval"]["split"] == "test"
    assert 0.0 <= stored["eval"]["parse_rate"] <= 1.0
    assert "training.max_steps" not in (out / "profile.yaml").read_text()  # the resolved profile, not overrides
    # the artifact reloads for inference
    from visual_erm.rm.inference import generate_critiques
    from visual_erm.rm.sft_data import pair_rows

    texts = generate_critiques(out, pair_rows(data, "test")[:2], max_new_tokens=4, device="cpu")
    assert len(texts) == 2


def test_rerun_resumes_from_the_last_checkpoint(run):
    from visual_erm.rm.train import train_reward_model

    base, data, out, first = run
    work = out.parent / f"{out.name}.work"
    ckpts = sorted(p.name for p in (work / "checkpoints").glob("checkpoint-*"))
    assert ckpts == ["checkpoint-3", "checkpoint-6"]
    # a finished artifact with the same profile and data is returned as it is
    again = train_reward_model(data, out, "tiny", FAST, resume=True)
    assert again["reused"] is True and again["steps"] == 6
    # interrupted after checkpoint-3: the rerun continues from there, not from step 0
    shutil.rmtree(work / "checkpoints" / "checkpoint-6")
    shutil.rmtree(out)
    resumed = train_reward_model(data, out, "tiny", FAST, resume=True)
    assert resumed["resumed_from"] == "checkpoint-3" and resumed["steps"] == 6
    assert [p["step"] for p in resumed["loss_curve"]][-1] == 6
    assert resumed["loss_curve"][:3] == first["loss_curve"][:3]  # history restored from the checkpoint
    assert (out / "manifest.json").is_file()


def test_cli_train_rm(run, tmp_path):
    from typer.testing import CliRunner

    from visual_erm.cli import app

    base, data, out, _ = run
    res = CliRunner().invoke(app, ["train-rm", "--data", str(data), "--out", str(tmp_path / "cli-model"),
                                   "--max-steps", "2", "--set", "training.report_to=[]",
                                   "--set", "model.tiny.hidden_size=64", "--set", "model.tiny.head_dim=16",
                                   "--set", "eval.n_pairs=0"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{\n"):])
    assert summary["steps"] == 2 and (tmp_path / "cli-model" / "manifest.json").is_file()
    bad = CliRunner().invoke(app, ["train-rm", "--data", str(data), "--out", str(tmp_path / "x"),
                                   "--set", "training.lr=1"])
    assert bad.exit_code == 2 and "training.lr" in bad.output


def test_s3_dataset_output_and_checkpoints_resume_on_a_fresh_machine(run, s3_bucket, tmp_path):
    from visual_erm import storage
    from visual_erm.rm.train import train_reward_model

    _, data, _, _ = run
    storage.publish_dir(data, f"s3://{s3_bucket}/pairs")
    fast = {**FAST, "training.max_steps": 4, "training.save_steps": 2, "eval.n_pairs": 0}
    out = f"s3://{s3_bucket}/models/rm"
    m = train_reward_model(f"s3://{s3_bucket}/pairs", out, "tiny", fast, workdir=tmp_path / "pod1")
    assert m["steps"] == 4 and m["out"] == out
    store = storage.open_store(f"s3://{s3_bucket}")
    keys = store.list("")
    assert "models/rm/manifest.json" in keys and "models/rm/model.safetensors" in keys
    assert "models/rm.checkpoints/checkpoint-2/_VERM_COMPLETE.json" in keys
    assert "models/rm.checkpoints/checkpoint-4/_VERM_COMPLETE.json" in keys
    # the pod died after checkpoint-2 was mirrored: a new pod (empty work dir) continues from it
    for key in keys:
        if key.startswith(("models/rm/", "models/rm.checkpoints/checkpoint-4/")):
            store.delete(key)
    again = train_reward_model(f"s3://{s3_bucket}/pairs", out, "tiny", fast, workdir=tmp_path / "pod2")
    assert again["resumed_from"] == "checkpoint-2" and again["steps"] == 4
    local = storage.resolve_input(out, tmp_path / "fetch")
    assert json.loads((local / "metrics.json").read_text())["resumed_from"] == "checkpoint-2"


def test_lora_run_merges_into_a_plain_model(run, tmp_path):
    from visual_erm.rm.model import load_model
    from visual_erm.rm.train import train_reward_model

    _, data, _, _ = run
    lora = {**FAST, "training.max_steps": 2, "eval.n_pairs": 1,
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}}
    m = train_reward_model(data, tmp_path / "lora", "tiny", lora)
    assert m["steps"] == 2 and m["eval"]["n"] == 1
    model = load_model(tmp_path / "lora", dtype="float32")  # merged: no adapter files needed
    assert not any("lora" in n for n, _ in model.named_parameters())
    assert not (tmp_path / "lora" / "adapter_config.json").exists()
