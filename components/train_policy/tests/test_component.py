"""The train_policy component: called directly, and run by the KFP local runner in this interpreter."""

import json
from pathlib import Path

import pytest

from components.train_policy.component import train_policy
from components.testing import Artifact, local_runner
from visual_erm.rl.prompts_set import build_prompt_set
from visual_erm.rl.testing import write_svg_pair_dataset

pytestmark = pytest.mark.slow

#: Tiny and fast: the structural critic (no reward model needed), 1 prompt, 2 rollouts of 8 tokens.
FAST = json.dumps({"grpo.report_to": [], "grpo.max_completion_length": 8, "grpo.num_generations": 2,
                   "grpo.prompts_per_step": 1, "grpo.per_device_batch_size": 2, "grpo.save_steps": 1,
                   "reward.critic": "structural", "reward.workers": 1, "policy.bpe_vocab_size": 400})


@pytest.fixture(autouse=True)
def _no_wandb(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")


@pytest.fixture
def prompts(tmp_path):
    return build_prompt_set(write_svg_pair_dataset(tmp_path / "pairs"), tmp_path / "prompts", n=2) and \
        tmp_path / "prompts"


def test_python_func_trains_and_writes_model_and_metrics(prompts, tmp_path):
    model, metrics = Artifact(tmp_path / "model"), Artifact(tmp_path / "metrics")
    train_policy.python_func(prompts=Artifact(prompts), model=model, metrics=metrics, profile="tiny", max_steps=2,
                             overrides_json=FAST)
    assert metrics.metadata["steps"] == 2 and metrics.metadata["seconds_per_step"] > 0
    assert 0.0 <= metrics.metadata["render_fail_rate"] <= 1.0
    assert {"manifest.json", "metrics.json", "rollouts.jsonl", "model.safetensors"} <= \
        {p.name for p in (tmp_path / "model").iterdir()}
    assert model.metadata == {"profile": "tiny", "reward_variant": "released-strict"}


def test_local_runner_runs_the_component(prompts, tmp_path):
    from kfp import dsl

    local_runner(tmp_path)

    @dsl.pipeline(name="train-policy-only")
    def rl_only(steps: int = 1):
        ds = dsl.importer(artifact_uri=str(prompts), artifact_class=dsl.Dataset, reimport=False)
        train_policy(prompts=ds.output, profile="tiny", max_steps=steps, overrides_json=FAST)

    rl_only(steps=1)
    manifests = [p for p in (tmp_path / "root").rglob("manifest.json") if p.parent.name == "model"]
    assert len(manifests) == 1
    metrics = json.loads((manifests[0].parent / "metrics.json").read_text())
    assert metrics["steps"] == 1 and metrics["profile"] == "tiny"


def test_component_imports_stay_light_and_it_compiles(tmp_path):
    from kfp import compiler

    src = (Path(__file__).parents[1] / "component.py").read_text()
    top = [line for line in src.splitlines() if line.startswith(("import ", "from "))]
    assert top == ["from kfp import dsl", "from components.images import TRAIN_IMAGE"]
    compiler.Compiler().compile(train_policy, str(tmp_path / "c.yaml"))
    spec = (tmp_path / "c.yaml").read_text()
    assert "visual-erm-train" in spec and "reward_endpoint" in spec
