"""benchmark_reward_model: the tiny trained reward model critiques a tiny bench set in process."""

import json
from pathlib import Path

import pytest

from components.benchmark_reward_model.component import benchmark_reward_model
from components.testing import Artifact

pytestmark = pytest.mark.slow


def test_python_func_scores_the_tiny_reward_model(tmp_path):
    from visual_erm.rm.train import train_reward_model
    from visual_erm.synth.engine import SynthConfig
    from visual_erm.synth.run import synthesize_dataset

    data = tmp_path / "ds"
    synthesize_dataset(SynthConfig(tasks=("chart", "table", "svg"), n=12, seed=0), data, workers=2)
    train_reward_model(str(data), str(tmp_path / "rm"), "tiny", {"training.max_steps": 1},
                       workdir=tmp_path / "work")
    met, rep, res = Artifact(tmp_path / "m"), Artifact(tmp_path / "r.html"), Artifact(tmp_path / "res.json")
    benchmark_reward_model.python_func(bench=Artifact(data), model=Artifact(tmp_path / "rm"), metrics=met,
                                       report=rep, results=res, max_new_tokens=32, max_items=4)
    summary = json.loads(Path(res.path).read_text())["summary"]
    assert summary["n_items"] > 0 and met.metadata["items_scored"] + met.metadata["items_excluded"] > 0
    overall = summary["overall"]
    if summary["n_scored"]:
        assert met.metadata["f1_hard"] == round(overall["f1_hard"], 3)
    else:  # a 1-step model rarely writes parseable JSON: nothing scored, so no score is logged (never a fake 100)
        assert overall["f1_hard"] is None and "f1_hard" not in met.metadata
