"""The benchmark_critic component: called directly, and run by the KFP local runner in this interpreter."""

import json

import pytest

from components.benchmark_critic.component import benchmark_critic
from components.testing import Artifact, local_runner
from tests.test_benchset import small_test_dataset
from visual_erm.bench.benchset import build_benchset


def test_python_func_writes_metrics_report_and_results(tmp_path):
    build_benchset(small_test_dataset(tmp_path / "pairs"), tmp_path / "bench")
    bench = Artifact(tmp_path / "bench")
    met, rep, res = Artifact(tmp_path / "m"), Artifact(tmp_path / "report.html"), Artifact(tmp_path / "r.json")
    benchmark_critic.python_func(bench=bench, metrics=met, report=rep, results=res, critic="pixel")
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["critic"] == "pixel" and result["summary"]["n_items"] == 12
    assert met.metadata["items_scored"] == 12 and met.metadata["items_excluded"] == 0
    for key in ("f1_hard", "f1_soft", "sc", "f1_hard_chart", "f1_soft_table", "f1_hard_svg"):
        assert key in met.metadata, key
    assert met.metadata["f1_hard"] == round(result["summary"]["overall"]["f1_hard"], 3)
    assert "Per category" in (tmp_path / "report.html").read_text()


def test_python_func_takes_a_pair_dataset(tmp_path):
    pairs = Artifact(small_test_dataset(tmp_path / "pairs"))
    met, rep, res = Artifact(tmp_path / "m"), Artifact(tmp_path / "report.html"), Artifact(tmp_path / "r.json")
    benchmark_critic.python_func(bench=pairs, metrics=met, report=rep, results=res, critic="pixel", max_items=5)
    assert met.metadata["items_scored"] == 5


@pytest.mark.slow
def test_local_runner_runs_the_component(tmp_path):
    from kfp import dsl

    build_benchset(small_test_dataset(tmp_path / "pairs"), tmp_path / "bench")
    local_runner(tmp_path)

    @dsl.pipeline(name="bench-critic-only")
    def bench_only(critic: str = "pixel"):
        bench = dsl.importer(artifact_uri=str(tmp_path / "bench"), artifact_class=dsl.Dataset, reimport=False)
        benchmark_critic(bench=bench.output, critic=critic)

    bench_only(critic="pixel")
    results = [p for p in (tmp_path / "root").rglob("results") if p.is_file()]
    assert len(results) == 1
    data = json.loads(results[0].read_text())
    assert data["critic"] == "pixel" and data["summary"]["n_scored"] == 12
    reports = [p for p in (tmp_path / "root").rglob("report") if p.is_file()]
    assert len(reports) == 1 and "Worst items" in reports[0].read_text()
