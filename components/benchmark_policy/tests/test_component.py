"""The benchmark_policy component: called directly, and run by the KFP local runner in this interpreter."""

import json
from pathlib import Path

import pytest

from components.benchmark_policy.component import benchmark_policy
from tests.test_bench_policy import REFERENCES, RESPONSES


class _Artifact:
    """The attributes KFP gives an artifact (path, metadata, log_metric) — only for python_func calls."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.metadata: dict = {}

    def log_metric(self, key, value):
        self.metadata[key] = value


def _inputs(root: Path, ids: list[str]) -> tuple[Path, Path]:
    """A prompt set without images (the references are rendered) and the scripted responses for ``ids``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "prompts.jsonl").write_text("".join(
        json.dumps({"id": k, "task": REFERENCES[k][0], "reference_code": REFERENCES[k][1]}) + "\n" for k in ids))
    (root / "responses.jsonl").write_text("".join(
        json.dumps({"id": k, "response": RESPONSES[k]}) + "\n" for k in ids if k in RESPONSES))
    return root, root / "responses.jsonl"


IDS = ["chart-bar", "chart-lines", "table-1", "table-2", "svg-1"]


def test_python_func_writes_metrics_report_and_results(tmp_path):
    data, responses = _inputs(tmp_path / "in", IDS)
    met, rep, res = _Artifact(tmp_path / "m"), _Artifact(tmp_path / "report.html"), _Artifact(tmp_path / "r.json")
    benchmark_policy.python_func(data=_Artifact(data), responses=_Artifact(responses), metrics=met, report=rep,
                                 results=res, critic="pixel", workers=1, timeout_s=5.0)
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["overall"]["n_items"] == 5 and result["critic"] == "pixel"
    m = met.metadata
    assert m["items_scored"] == 5 and m["items_excluded"] == 0
    assert m["exec_rate"] == 0.6 and m["exec_rate_chart"] == 0.5 and m["exec_rate_table"] == 0.5
    assert m["chart_low_level"] == 0.5 and m["table_teds"] == 0.5 and m["svg_ssim"] == 1.0
    assert "verm_reward" in m and "verm_reward_svg" in m
    assert "Worst items" in (tmp_path / "report.html").read_text()


def test_python_func_without_responses_needs_an_endpoint(tmp_path):
    data, _ = _inputs(tmp_path / "in", IDS[:1])
    met, rep, res = _Artifact(tmp_path / "m"), _Artifact(tmp_path / "report.html"), _Artifact(tmp_path / "r.json")
    with pytest.raises(ValueError, match="exactly one"):
        benchmark_policy.python_func(data=_Artifact(data), metrics=met, report=rep, results=res)


@pytest.mark.slow
def test_local_runner_runs_the_component(tmp_path):
    from kfp import dsl, local

    data, responses = _inputs(tmp_path / "in", IDS)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))

    @dsl.pipeline(name="bench-policy-only")
    def bench_only(critic: str = "pixel"):
        items = dsl.importer(artifact_uri=str(data), artifact_class=dsl.Dataset, reimport=False)
        resp = dsl.importer(artifact_uri=str(responses), artifact_class=dsl.Artifact, reimport=False)
        benchmark_policy(data=items.output, responses=resp.output, critic=critic, workers=1, timeout_s=5.0)

    bench_only(critic="pixel")
    results = [p for p in (tmp_path / "root").rglob("results") if p.is_file()]
    assert len(results) == 1
    out = json.loads(results[0].read_text())
    assert out["overall"]["n_items"] == 5 and out["overall"]["n_executed"] == 3
    reports = [p for p in (tmp_path / "root").rglob("report") if p.is_file()]
    assert len(reports) == 1 and "Per task" in reports[0].read_text()
