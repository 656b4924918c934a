"""The synthesize component: called directly, and run by the KFP local runner in this interpreter."""

import json

import pytest

from components.synthesize.component import synthesize
from components.testing import Artifact, local_runner

pytestmark = pytest.mark.slow


def test_python_func_writes_dataset_preview_and_metrics(tmp_path):
    ds, prev, met = Artifact(tmp_path / "ds"), Artifact(tmp_path / "preview.html"), Artifact(tmp_path / "m")
    synthesize.python_func(dataset=ds, preview=prev, metrics=met, tasks="svg", n=4, seed=2, workers=1)
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert met.metadata["pairs"] == manifest["counts"]["pairs"] > 0
    assert "<img" in (tmp_path / "preview.html").read_text()


def test_local_runner_runs_the_component(tmp_path):
    from kfp import dsl

    local_runner(tmp_path)

    @dsl.pipeline(name="synth-only")
    def synth_only(n: int = 4):
        synthesize(tasks="table", n=n, seed=1, workers=1)

    synth_only(n=4)
    manifests = list((tmp_path / "root").rglob("manifest.json"))
    assert len(manifests) == 1
    counts = json.loads(manifests[0].read_text())["counts"]
    assert counts["by_task"] == {"table": counts["pairs"]} and counts["pairs"] > 0
