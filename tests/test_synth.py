"""The data engine end to end through the real sandboxed render pool and real task modules."""

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pyarrow.parquet as pq
import pytest

from visual_erm.schema import CATEGORIES, parse_critique
from visual_erm.synth.dataset import read_rows
from visual_erm.synth.engine import ConfigMismatch, SynthConfig, synthesize

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pool():
    from visual_erm.render.pool import RenderPool

    with RenderPool(workers=2) as p:
        yield p


def _shard_hashes(out):
    return json.loads((out / "manifest.json").read_text())["shards"]


def test_small_dataset_has_verified_labels_and_consistent_splits(tmp_path, pool):
    cfg = SynthConfig(n=18, seed=3, candidates_per_seed=3, chunk_seeds=2)
    report = synthesize(cfg, tmp_path / "ds", render=pool.render)
    manifest = report.manifest
    rows = read_rows(tmp_path / "ds")
    assert manifest["counts"]["pairs"] == len(rows) == report.pairs > 0
    assert set(manifest["counts"]["by_task"]) == {"chart", "table", "svg"}
    seeds_split = {}
    for r in rows:
        assert seeds_split.setdefault(r["seed_id"], r["split"]) == r["split"], "a seed crossed splits"
        gold = parse_critique(r["gold"], r["task"], strict_counts=True).critique
        assert len(gold.errors) == r["n_errors"] == len(r["operators"])
        assert all(e.category in CATEGORIES[r["task"]] for e in gold.errors)
        if r["origin"] == "identity":
            assert r["candidate_code"] == r["reference_code"] and r["changed_fraction"] == 0.0
        else:
            assert r["changed_fraction"] > 0 and len(r["diff_bbox"]) == 4
            assert r["candidate_image"]["bytes"] != r["reference_image"]["bytes"]
    assert (tmp_path / "ds" / "preview.html").read_text().count("<img") >= 2 * min(8, len(rows))


def test_same_seed_gives_identical_shards_and_resume_redoes_only_missing_chunks(tmp_path, pool):
    cfg = SynthConfig(tasks=("table", "svg"), n=12, seed=7, candidates_per_seed=2, chunk_seeds=1)
    a = synthesize(cfg, tmp_path / "a", render=pool.render)
    b = synthesize(cfg, tmp_path / "b", render=pool.render)
    assert _shard_hashes(tmp_path / "a") == _shard_hashes(tmp_path / "b")
    manifest_a = (tmp_path / "a" / "manifest.json").read_bytes()
    assert manifest_a == (tmp_path / "b" / "manifest.json").read_bytes()
    assert a.chunks_done == b.chunks_done >= 2

    again = synthesize(cfg, tmp_path / "a", render=pool.render)
    assert again.chunks_done == 0 and again.chunks_skipped == a.chunks_done

    victim = sorted((tmp_path / "a" / "data").glob("*/*.parquet"))[0]
    victim.write_bytes(b"garbage")  # a damaged shard is rebuilt, the rest is reused
    repaired = synthesize(cfg, tmp_path / "a", render=pool.render)
    assert repaired.chunks_done == 1
    assert _shard_hashes(tmp_path / "a") == _shard_hashes(tmp_path / "b")
    assert (tmp_path / "a" / "manifest.json").read_bytes() == manifest_a


def test_a_different_config_in_the_same_directory_is_refused(tmp_path, pool):
    synthesize(SynthConfig(tasks=("svg",), n=2, seed=1, candidates_per_seed=2), tmp_path, render=pool.render)
    with pytest.raises(ConfigMismatch, match="seed"):
        synthesize(SynthConfig(tasks=("svg",), n=2, seed=2, candidates_per_seed=2), tmp_path, render=pool.render)


def test_loads_with_hf_datasets(tmp_path, pool):
    datasets = pytest.importorskip("datasets")
    synthesize(SynthConfig(tasks=("svg",), n=6, seed=5, split_ratios=(1.0, 0.0, 0.0)), tmp_path / "d",
               render=pool.render)
    ds = datasets.load_dataset("parquet", data_files={"train": str(tmp_path / "d/data/train/*.parquet")},
                               cache_dir=str(tmp_path / "hf"))["train"]
    assert ds[0]["candidate_image"].size[0] > 0


NATURAL_SVG = ('```svg\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
               '<circle cx="12" cy="12" r="9" fill="#d33"/></svg>\n```')


class _Policy(BaseHTTPRequestHandler):
    """A scripted policy: whatever the image, it answers with one fixed icon."""

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
        out = json.dumps({"choices": [{"message": {"content": NATURAL_SVG}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def test_natural_candidates_from_an_endpoint_are_labelled_by_the_structural_critic(tmp_path, pool):
    server = HTTPServer(("127.0.0.1", 0), _Policy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = SynthConfig(tasks=("svg",), n=4, seed=11, candidates_per_seed=2,
                          natural_endpoint=f"http://127.0.0.1:{server.server_port}", natural_model="scripted")
        report = synthesize(cfg, tmp_path / "n", render=pool.render)
    finally:
        server.shutdown()
    natural = [r for r in read_rows(tmp_path / "n") if r["origin"] == "natural:scripted"]
    assert len(natural) == 2 and report.manifest["counts"]["by_origin"]["natural"] == 2
    for r in natural:
        gold = parse_critique(r["gold"], "svg").critique
        assert gold.errors, "a red circle is not the reference icon: the critic must find discrepancies"
        assert "<circle" in r["candidate_code"] and "```" not in r["candidate_code"]


def test_synth_and_validate_through_the_local_s3_server_keep_content_hashes(tmp_path, s3_bucket, monkeypatch):
    """`verm synth --out s3://…` publishes marker-last; `verm validate s3://…` reads it back; hashes survive."""
    from typer.testing import CliRunner

    from visual_erm import storage
    from visual_erm.cli import app

    monkeypatch.setenv("VERM_WORKDIR", str(tmp_path / "work"))
    uri = f"s3://{s3_bucket}/datasets/svg-small"
    runner = CliRunner()
    res = runner.invoke(app, ["synth", "--out", uri, "--tasks", "svg", "--n", "6", "--seed", "4", "--workers", "1"])
    assert res.exit_code == 0, res.output
    storage.require_complete(uri)
    fetched = storage.fetch_dir(uri, tmp_path / "back")
    local = tmp_path / "work" / "s3-out" / s3_bucket / "datasets/svg-small"
    for shard, sha in json.loads((fetched / "manifest.json").read_text())["shards"].items():
        assert storage.sha256_file(fetched / shard) == sha == storage.sha256_file(local / shard)
    res = runner.invoke(app, ["validate", uri, "--report", str(tmp_path / "report")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "report" / "report.html").is_file()
