"""Critic benchmark runs (run_critic_bench, `verm bench critic`) and their HTML report, opened in Chromium."""

import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.test_benchset import small_test_dataset
from visual_erm.bench.benchset import build_benchset
from visual_erm.bench.report import bar_chart_svg, render_report
from visual_erm.bench.run_critic import make_matcher, run_critic_bench

HEADINGS = ("Critic benchmark: pixel", "Summary", "Per task", "Per category", "Worst items", "Excluded items")


@pytest.fixture
def bench(tmp_path) -> Path:
    build_benchset(small_test_dataset(tmp_path / "pairs"), tmp_path / "bench")
    return tmp_path / "bench"


def test_run_critic_bench_writes_metrics_report_and_predictions(bench, tmp_path):
    # break one item's candidate image: the critic fails on it and the item is excluded, not scored as empty
    broken = json.loads((bench / "bench.jsonl").read_text().splitlines()[0])
    (bench / broken["pred_img_path"]).write_bytes(b"not a png")
    out = tmp_path / "out"
    result = run_critic_bench(bench, "pixel", out)
    assert set(p.name for p in out.iterdir()) == {"metrics.json", "report.html", "predictions.jsonl", "items.jsonl",
                                                 "manifest.json"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result))
    s = metrics["summary"]
    assert s["n_items"] == 12 and s["n_scored"] == 11 and s["n_excluded"] == 1
    assert metrics["excluded"] == [{"id": broken["id"], "task": "chart", "stage": "critique",
                                    "reason": metrics["excluded"][0]["reason"]}]
    assert metrics["excluded"][0]["reason"].startswith("bad_image")
    assert metrics["failures_by_reason"] == {"bad_image": 1}
    assert set(s["by_task"]) == {"chart", "table", "svg"}
    for row in [s["overall"], *s["by_task"].values()]:
        assert 0 <= row["f1_hard"] <= 100 and 0 <= row["f1_soft"] <= 100
    assert set(metrics["by_task_category"]["svg"]) == {"structure_error", "shape_error", "style_error",
                                                       "text_symbol_error"}
    # the identity items are predicted empty by the pixel critic: severity sums agree there
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 12 and sum("failure" in p for p in preds) == 1
    assert all(p["critique"]["errors"] == [] for p in preds if p["id"].endswith("-c1"))
    page = (out / "report.html").read_text()
    for h in HEADINGS:
        assert h in page
    assert page.count("<svg") >= 4 and "data:image/png;base64," in page and broken["id"] in page
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {"metrics.json", "report.html", "predictions.jsonl", "items.jsonl"}


def test_structural_critic_on_codes_without_figures_fails_per_item(bench, tmp_path):
    # the hand-made "programs" are not SVG/HTML: every item fails or is scored, and the run completes
    result = run_critic_bench(bench, "structural", tmp_path / "out", max_items=8,
                              critic_options={"render": lambda jobs: []})
    assert result["summary"]["n_items"] == 8
    assert result["summary"]["n_excluded"] + result["summary"]["n_scored"] == 8
    assert result["failures_by_reason"].get("render_failed") == 3  # the chart items: 3 of 8 taken in turn by task


def test_run_critic_bench_accepts_a_pair_dataset(tmp_path):
    pairs = small_test_dataset(tmp_path / "pairs")
    result = run_critic_bench(pairs, "pixel", tmp_path / "out")
    assert result["summary"]["n_items"] == 12
    assert (tmp_path / "out" / "bench" / "manifest.json").is_file()


def test_llm_matcher_calls_the_judge_endpoint(bench, tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    calls = []

    class Judge(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append(body["model"])
            reply = json.dumps({"matches": [{"pred_index": 0, "gold_index": 0, "verdict": "partial"}]})
            data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Judge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_critic_bench(bench, "pixel", tmp_path / "out", matcher="llm",
                                  judge_endpoint=f"http://127.0.0.1:{server.server_address[1]}", judge_model="judge",
                                  workers=2)
    finally:
        server.shutdown()
        server.server_close()
    assert result["matcher"] == "llm:judge"
    assert calls and set(calls) == {"judge"}
    assert len(calls) == 6  # the six edited items; identity items (nothing to match) need no call
    assert result["summary"]["n_scored"] == 12


def test_matcher_choice_is_checked():
    assert type(make_matcher("deterministic")).__name__ == "DeterministicMatcher"
    with pytest.raises(ValueError, match="judge_endpoint"):
        make_matcher("llm")
    with pytest.raises(ValueError, match="deterministic' or 'llm"):
        make_matcher("fuzzy")


def test_bar_chart_svg_marks_missing_values():
    svg = bar_chart_svg("t", [("chart", [("F1-hard", 40.0), ("F1-soft", 50.0), ("Sc", None)]),
                              ("svg", [("F1-hard", 10.0), ("F1-soft", 120.0), ("Sc", -30.0)])], lo=-30.0)
    assert svg.startswith("<svg") and svg.count("<rect") == 5 + 3 and "n/a" in svg


def test_report_escapes_untrusted_text():
    result = {"critic": "<script>x</script>", "summary": {"n_items": 0, "n_scored": 0, "n_excluded": 0,
                                                          "overall": {"n": 0, "f1_hard": 0, "f1_soft": 0, "sc": None},
                                                          "by_task": {}},
              "excluded": [{"id": "<img src=x onerror=alert(1)>", "task": "svg", "stage": "critique", "reason": "r"}]}
    page = render_report(result, [])
    assert "<script>x</script>" not in page and "<img src=x" not in page


def test_cli_bench_critic(bench, tmp_path):
    from typer.testing import CliRunner

    from visual_erm.cli import app

    out = tmp_path / "cli-out"
    res = CliRunner().invoke(app, ["bench", "critic", "--bench", str(bench), "--critic", "pixel", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "overall" in res.output and "F1-hard" in res.output
    assert (out / "metrics.json").is_file() and (out / "report.html").is_file()
    bad = CliRunner().invoke(app, ["bench", "critic", "--bench", str(bench), "--critic", "nope", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown critic" in bad.output
    llm = CliRunner().invoke(app, ["bench", "critic", "--bench", str(bench), "--critic", "pixel", "--matcher", "llm"])
    assert llm.exit_code == 2 and "--judge-endpoint" in llm.output
    mode = CliRunner().invoke(app, ["bench", "critic", "--bench", str(bench), "--critic", "pixel",
                                    "--critique-failure", "skip"])
    assert mode.exit_code == 2 and "unparseable_as_empty" in mode.output
    assert json.loads((out / "metrics.json").read_text())["critique_failure"] == "unparseable_as_empty"


def test_cli_bench_critic_reads_and_writes_s3(bench, tmp_path, s3_bucket):
    from typer.testing import CliRunner

    from visual_erm import storage
    from visual_erm.cli import app

    storage.publish_dir(bench, f"s3://{s3_bucket}/bench")
    res = CliRunner().invoke(app, ["bench", "critic", "--bench", f"s3://{s3_bucket}/bench", "--critic", "pixel",
                                   "--out", f"s3://{s3_bucket}/runs/pixel"])
    assert res.exit_code == 0, res.output
    assert f"s3://{s3_bucket}/runs/pixel/report.html" in res.output
    got = storage.fetch_dir(f"s3://{s3_bucket}/runs/pixel", tmp_path / "fetched")
    metrics = json.loads((Path(got) / "metrics.json").read_text())
    assert metrics["summary"]["n_scored"] == 12 and (Path(got) / "report.html").is_file()


@pytest.mark.slow
def test_report_renders_in_headless_chromium(bench, tmp_path):
    from playwright.sync_api import sync_playwright

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no /usr/bin/chromium")
    run_critic_bench(bench, "pixel", tmp_path / "out")
    report = tmp_path / "out" / "report.html"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(report.as_uri())
            text = page.inner_text("body")
            shot = page.screenshot(full_page=True)
            n_svg = page.locator("svg").count()
            n_img = page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length")
        finally:
            browser.close()
    for h in HEADINGS:
        assert h in text
    assert n_svg >= 4 and n_img >= 2
    im = Image.open(io.BytesIO(shot)).convert("L")
    lo, hi = im.getextrema()
    assert hi - lo > 100  # not blank: dark text and bars on white
    assert im.height > 900  # the full page, beyond the first screen
    shutil.copyfile(report, tmp_path / "kept.html")
