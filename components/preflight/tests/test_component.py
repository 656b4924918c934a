"""The preflight component and library: every problem in one message, in seconds; storage against a real S3 server."""

import http.server
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from components.preflight.component import preflight
from tests.s3server import s3_bucket, s3_env, s3_server  # noqa: F401 - fixtures
from visual_erm.preflight import PreflightError, check_endpoint, check_params, health_urls, run_preflight


class _Artifact:
    def __init__(self, path: Path):
        self.path = str(path)
        self.metadata: dict = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def health_server():
    """An HTTP server answering 200 on /v1/models only (like an OpenAI-compatible server without /health)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            code = 200 if self.path == "/v1/models" else 404
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b'{"data": []}')

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_params_coerced_and_checked():
    # KFP hands numbers inside a dict parameter over as strings like "2.0": they must still be read
    problems, checked = check_params({"synth_n": "2.0", "synth_identity_share": 0.1, "rl_gate": "on",
                                      "rm_max_steps": "-1", "unknown_param": "x"})
    assert problems == [] and len(checked) == 4
    problems, _ = check_params({"synth_n": "0", "synth_identity_share": "1.5", "rl_gate": "maybe",
                                "synth_max_edits": 7, "rm_overrides_json": "[1]", "synth_tasks": "chart,pie",
                                "bench_baseline_critic": "nope", "rm_max_steps": "abc"})
    text = "\n".join(problems)
    for name in ("synth_n", "synth_identity_share", "rl_gate", "synth_max_edits", "rm_overrides_json",
                 "synth_tasks", "bench_baseline_critic", "rm_max_steps"):
        assert name in text
    assert len(problems) == 8


def test_llm_matcher_needs_a_judge():
    problems, _ = check_params({"bench_matcher": "llm", "bench_judge_endpoint": "", "bench_judge_model": ""})
    assert any("bench_judge_endpoint" in p for p in problems)


def test_endpoint_health(health_server):
    assert health_urls("http://h:8000/v1") == ["http://h:8000/health", "http://h:8000/v1/models"]
    assert check_endpoint("judge", health_server) is None  # /health 404, /v1/models 200
    t0 = time.perf_counter()
    problem = check_endpoint("judge", f"http://127.0.0.1:{_free_port()}/v1", timeout_s=1.0)
    assert "not healthy" in problem and time.perf_counter() - t0 < 3
    assert "not an http" in check_endpoint("judge", "ftp://x")


def test_every_problem_in_one_message(tmp_path, monkeypatch):
    monkeypatch.delenv("VERM_S3_ENDPOINT", raising=False)
    t0 = time.perf_counter()
    report = run_preflight(
        params={"synth_n": 0, "synth_identity_share": 2},
        input_uris={"synth_dataset_uri": str(tmp_path / "missing"), "rm_model_uri": ""},
        output_uris={"publish_rm_uri": str(tmp_path / "out" / "model")},
        secrets=["VERM_TEST_SECRET_NOT_SET"], endpoints={"bench_judge_endpoint": f"http://127.0.0.1:{_free_port()}"},
        required=["bench_set_uri"], timeout_s=1.0, env={})
    assert time.perf_counter() - t0 < 5
    assert len(report.problems) == 6, report.problems
    with pytest.raises(PreflightError) as err:
        report.raise_for_problems()
    message = str(err.value)
    for needle in ("synth_n", "synth_identity_share", "synth_dataset_uri", "VERM_TEST_SECRET_NOT_SET",
                   "bench_judge_endpoint", "bench_set_uri"):
        assert needle in message
    assert any("publish_rm_uri writable" in c for c in report.checked)


def test_s3_checks(s3_bucket, tmp_path):
    from visual_erm import storage

    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "manifest.json").write_text("{}")
    storage.publish_dir(tmp_path / "ds", f"s3://{s3_bucket}/datasets/a")
    report = run_preflight(input_uris={"synth_dataset_uri": f"s3://{s3_bucket}/datasets/a"},
                           output_uris={"publish_rm_uri": f"s3://{s3_bucket}/models/latest"}, timeout_s=2.0)
    assert report.ok, report.problems
    report = run_preflight(input_uris={"synth_dataset_uri": f"s3://{s3_bucket}/datasets/missing",
                                       "rm_model_uri": "s3://no-such-bucket-verm/x"},
                           output_uris={"publish_rm_uri": "s3://no-such-bucket-verm/models/latest"}, timeout_s=2.0)
    text = "\n".join(report.problems)
    assert "datasets/missing: nothing there" in text
    assert text.count("bucket 'no-such-bucket-verm' does not exist") == 2


def test_s3_endpoint_down_and_missing_keys(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY",
                 "VERM_S3_CONFIG", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VERM_S3_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    t0 = time.perf_counter()
    report = run_preflight(output_uris={"publish_rm_uri": "s3://visual-erm/models/latest"}, timeout_s=1.0)
    assert time.perf_counter() - t0 < 5
    text = "\n".join(report.problems)
    assert "not reachable" in text and "AWS_ACCESS_KEY_ID" in text and "AWS_SECRET_ACCESS_KEY" in text


def test_python_func_writes_report_and_raises(tmp_path, monkeypatch):
    monkeypatch.delenv("VERM_S3_ENDPOINT", raising=False)
    rep = _Artifact(tmp_path / "report.json")
    assert preflight.python_func(report=rep, params={"synth_n": 3}) == "ok"
    assert json.loads(Path(rep.path).read_text())["ok"] is True
    with pytest.raises(PreflightError, match="synth_n"):
        preflight.python_func(report=rep, params={"synth_n": -1})
    assert json.loads(Path(rep.path).read_text())["problems"]


def test_local_runner_fails_the_pipeline(tmp_path, monkeypatch):
    from kfp import dsl, local

    monkeypatch.delenv("VERM_S3_ENDPOINT", raising=False)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"),
               raise_on_error=False)

    @dsl.pipeline(name="preflight-only")
    def only(n: int = 1):
        preflight(params={"synth_n": n})

    ok = only(n=2)
    bad = only(n=0)
    # raise_on_error=False: the failed task is reported, not raised
    assert (tmp_path / "root").is_dir() and ok is not None and bad is not None
    reports = sorted((tmp_path / "root").rglob("report"), key=lambda p: p.stat().st_mtime)
    assert [json.loads(p.read_text())["ok"] for p in reports] == [True, False]
