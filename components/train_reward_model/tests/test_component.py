"""The train_reward_model component: called directly, and run by the KFP local runner in this interpreter."""

import json
from pathlib import Path

import pytest

from components.train_reward_model.component import train_reward_model
from components.testing import Artifact, local_runner
from visual_erm.rm.toy import write_toy_pair_dataset

pytestmark = pytest.mark.slow

FAST = json.dumps({"model.tiny.hidden_size": 64, "model.tiny.head_dim": 16, "model.tiny.intermediate_size": 128,
                   "model.bpe_vocab_size": 512, "training.report_to": [], "eval.n_pairs": 2,
                   "eval.max_new_tokens": 8})


@pytest.fixture(autouse=True)
def _no_wandb(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")


def test_python_func_trains_and_writes_model_and_metrics(tmp_path):
    data = write_toy_pair_dataset(tmp_path / "pairs", n_per_task=4, seed=0)
    model, metrics = Artifact(tmp_path / "model"), Artifact(tmp_path / "metrics")
    train_reward_model.python_func(dataset=Artifact(data), model=model, metrics=metrics, profile="tiny",
                                   max_steps=2, overrides_json=FAST)
    assert metrics.metadata["steps"] == 2 and "train_loss" in metrics.metadata
    assert 0.0 <= metrics.metadata["parse_rate"] <= 1.0
    assert (tmp_path / "model" / "manifest.json").is_file()
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert model.metadata["profile"] == "tiny"


def test_local_runner_runs_the_component(tmp_path):
    from kfp import dsl

    data = write_toy_pair_dataset(tmp_path / "pairs", n_per_task=4, seed=1)
    local_runner(tmp_path)

    @dsl.pipeline(name="train-rm-only")
    def train_only(steps: int = 2):
        ds = dsl.importer(artifact_uri=str(data), artifact_class=dsl.Dataset, reimport=False)
        train_reward_model(dataset=ds.output, profile="tiny", max_steps=steps, overrides_json=FAST)

    train_only(steps=2)
    manifests = [p for p in (tmp_path / "root").rglob("manifest.json") if p.parent.name == "model"]
    assert len(manifests) == 1
    metrics = json.loads((manifests[0].parent / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["profile"] == "tiny"


def test_component_imports_stay_light():
    src = (Path(__file__).parents[1] / "component.py").read_text()
    top = [line for line in src.splitlines() if line.startswith(("import ", "from "))]
    assert top == ["from kfp import dsl", "from components.images import TRAIN_IMAGE"]
