"""Data validation: Great Expectations suites over pair datasets, RL prompt sets and benchmark sets."""

import json
import os
import time

import pyarrow.parquet as pq
import pytest

from visual_erm.synth.dataset import image_cell
from visual_erm.validation import Thresholds, validate_dataset
from visual_erm.validation.frames import build_frames
from visual_erm.validation.synthetic import (
    build_pair_dataset,
    pair_rows,
    png,
    rl_prompt_rows,
    write_bench_dataset,
    write_pair_dataset,
    write_rl_prompt_dataset,
)

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _failed(report):
    return {r.check: r for r in report.failed}


def _leak_one_seed(rows):
    """Move one pair of a train seed to the test split; returns (a train pair of that seed, the moved pair)."""
    train = [r for r in rows if r["split"] == "train" and r["task"] == "svg"]
    same_seed = [r for r in train if r["seed_id"] == train[0]["seed_id"]]
    same_seed[1]["split"] = "test"
    return same_seed[0], same_seed[1]


# ------------------------------------------------------------------------------------ frames (fast, no GX run)


def test_frames_compute_per_row_stats(tmp_path):
    build_pair_dataset(tmp_path / "ds", 30)
    f = build_frames(tmp_path / "ds", None, Thresholds(workers=1))
    rows = f.frames["rows"]
    assert f.kind == "pairs" and f.rows == 30 and not f.problems
    assert (rows["reference_problem"] == "").all() and not rows["reference_blank"].any()
    assert (rows["n_errors"] == rows["n_errors_listed"]).all()
    assert (rows["ref_width"] == 96).all() and rows["pair_hash"].is_unique
    assert (f.frames["manifest"]["manifest"] == f.frames["manifest"]["data"]).all()
    assert f.frames["shards"]["sha_ok"].all()


def test_unknown_threshold_is_rejected():
    with pytest.raises(TypeError, match="unknown threshold"):
        Thresholds.from_kwargs(min_per_categroy=3)


def test_kind_is_read_from_manifest_format(tmp_path):
    write_rl_prompt_dataset(tmp_path / "rl", rl_prompt_rows(6))
    write_bench_dataset(tmp_path / "b", 3)
    assert build_frames(tmp_path / "rl", None, Thresholds(workers=1)).kind == "rl-prompts"
    assert build_frames(tmp_path / "b", None, Thresholds(workers=1)).kind == "bench"


# ------------------------------------------------------------------------------------------------- GX runs


@pytest.mark.slow
def test_valid_pair_dataset_passes_and_writes_data_docs(tmp_path):
    build_pair_dataset(tmp_path / "ds", 60)
    report = validate_dataset(tmp_path / "ds", report_dir=tmp_path / "rep")
    assert report.success, report.format()
    assert report.kind == "pairs" and report.rows == 60 and len(report.results) > 30
    assert report.data_docs and report.data_docs.exists()
    pages = list((tmp_path / "rep" / "data_docs" / "validations").rglob("*.html"))
    frames = {"rows", "errors", "shards", "tasks", "categories", "manifest"}
    assert {p.relative_to(tmp_path / "rep" / "data_docs" / "validations").parts[0] for p in pages} == {
        f"pairs-{f}" for f in frames}
    index = report.data_docs.read_text()
    assert all(f"pairs-{f}" in index for f in frames)
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["success"] is True
    assert "PASSED" in (tmp_path / "rep" / "report.html").read_text()


@pytest.mark.slow
def test_bad_rows_are_each_caught_with_the_offending_id(tmp_path):
    rows = pair_rows(60, identity_every=0)
    by_id = {r["id"]: r for r in rows}
    chart = [r for r in rows if r["task"] == "chart"]
    # missing image bytes
    chart[0]["candidate_image"] = {"bytes": None, "path": None}
    # an unknown category
    chart[1]["gold"] = json.dumps({"structure_error_count": 0, "data_error_count": 0, "text_error_count": 0,
                                   "style_error_count": 0, "errors": [
                                       {"category": "colour_error", "severity": 2, "description": "x"}]})
    chart[1]["n_errors"], chart[1]["severity_sum"] = 1, 2
    # severity 7
    g = json.loads(chart[2]["gold"])
    g["errors"][0]["severity"] = 7
    chart[2]["gold"] = json.dumps(g)
    chart[2]["severity_sum"] = sum(e["severity"] for e in g["errors"])
    # count mismatch: the stated count disagrees with the list
    g = json.loads(chart[3]["gold"])
    cat = g["errors"][0]["category"]
    g[f"{cat}_count"] += 2
    chart[3]["gold"] = json.dumps(g)
    # a leaked seed: a test-split pair with a train seed's id
    train, test = _leak_one_seed(rows)
    # an empty description and a blank reference
    g = json.loads(chart[4]["gold"])
    g["errors"][0]["description"] = "  "
    chart[4]["gold"] = json.dumps(g)
    blank = __import__("io").BytesIO()
    __import__("PIL.Image", fromlist=["Image"]).new("RGB", (96, 72), "white").save(blank, format="PNG")
    chart[5]["reference_image"] = image_cell(blank.getvalue())
    # a duplicate pair
    chart[6]["reference_image"], chart[6]["candidate_image"] = chart[7]["reference_image"], chart[7]["candidate_image"]
    write_pair_dataset(tmp_path / "ds", list(by_id.values()))

    report = validate_dataset(tmp_path / "ds", report_dir=tmp_path / "rep", min_pairs_for_balance=10_000)
    assert not report.success
    failed = _failed(report)
    text = report.format()

    def caught(check, row_id, *words):
        assert check in failed, text
        assert row_id in failed[check].offending_ids, (check, failed[check])
        for w in words:
            assert w in failed[check].message, (check, failed[check].message)

    caught("candidate_image_decodes", chart[0]["id"], "missing image bytes")
    caught("chart_category_in_vocabulary", chart[1]["id"], "colour_error", "structure_error")
    caught("severity_in_range", chart[2]["id"], "7", "1, 2 or 3")
    caught(f"{cat}_count_matches_list", chart[3]["id"], f"{cat}_count")
    caught("seed_in_one_split", test["id"], train["seed_id"], "test+train")
    assert train["id"] in failed["seed_in_one_split"].offending_ids
    caught("description_not_empty", chart[4]["id"])
    caught("reference_not_blank", chart[5]["id"], "blank")
    caught("pair_unique", chart[6]["id"])
    assert chart[7]["id"] in failed["pair_unique"].offending_ids
    # nothing else is flagged
    assert set(failed) == {"candidate_image_decodes", "chart_category_in_vocabulary", "severity_in_range",
                           f"{cat}_count_matches_list", "seed_in_one_split", "description_not_empty",
                           "reference_not_blank", "pair_unique"}, text
    assert "FAILED" in text and chart[0]["id"] in text


@pytest.mark.slow
def test_corrupted_shard_is_a_load_problem_naming_the_shard(tmp_path):
    build_pair_dataset(tmp_path / "ds", 30)
    shard = sorted((tmp_path / "ds" / "data").glob("*/*.parquet"))[0]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2] + b"\0" * 64)
    report = validate_dataset(tmp_path / "ds", report_dir=tmp_path / "rep")
    assert not report.success
    rel = shard.relative_to(tmp_path / "ds").as_posix()
    assert [p.path for p in report.problems] == [rel]
    assert "cannot be read as Parquet" in report.problems[0].message
    failed = _failed(report)
    assert failed["shard_sha256_matches"].offending_ids == [rel]
    assert rel in report.format()


@pytest.mark.slow
def test_truncated_manifest_is_an_error_naming_the_file(tmp_path):
    build_pair_dataset(tmp_path / "ds", 30)
    m = tmp_path / "ds" / "manifest.json"
    m.write_text(m.read_text()[:200])
    report = validate_dataset(tmp_path / "ds", kind="pairs", report_dir=tmp_path / "rep")
    assert not report.success
    assert report.problems[0].path == "manifest.json" and "not valid JSON" in report.problems[0].message
    assert "manifest.json" in report.format()
    assert not report.failed  # the rows themselves are fine
    # a missing manifest is an error too, unless the caller says it is optional
    m.unlink()
    report = validate_dataset(tmp_path / "ds", kind="pairs", report_dir=tmp_path / "rep2")
    assert "missing" in report.problems[0].message
    assert validate_dataset(tmp_path / "ds", kind="pairs", report_dir=tmp_path / "rep3",
                            require_manifest=False).success


@pytest.mark.slow
def test_manifest_counts_and_thresholds(tmp_path):
    build_pair_dataset(tmp_path / "ds", 40, tasks=("svg",), identity_every=2)
    m = tmp_path / "ds" / "manifest.json"
    manifest = json.loads(m.read_text())
    manifest["counts"]["pairs"] += 1
    m.write_text(json.dumps(manifest))
    report = validate_dataset(tmp_path / "ds", report_dir=tmp_path / "rep", identity_share_max=0.3,
                              min_pairs_for_balance=10, min_per_category=50)
    failed = _failed(report)
    assert "counts.pairs" in failed["manifest_matches_data"].offending_ids
    assert "counts.pairs: manifest 41 vs data 40" in failed["manifest_matches_data"].message
    assert set(failed["identity_share_in_bounds"].offending_ids) == {"svg", "all"}
    assert "svg/shape_error" in failed["category_minimum_count"].offending_ids
    assert "shard_sha256_matches" not in failed


@pytest.mark.slow
def test_rl_prompt_and_bench_sets(tmp_path):
    rows = rl_prompt_rows(12)
    write_rl_prompt_dataset(tmp_path / "rl", rows)
    report = validate_dataset(tmp_path / "rl", report_dir=tmp_path / "rep-rl")
    assert report.success and report.kind == "rl-prompts", report.format()
    rows[0]["prompt"] = ""
    rows[1]["task"] = "slides"
    rows[2]["reference_image"] = image_cell(b"not a png")
    write_rl_prompt_dataset(tmp_path / "rl2", rows)
    failed = _failed(validate_dataset(tmp_path / "rl2", report_dir=tmp_path / "rep-rl2"))
    assert failed["prompt_not_empty"].offending_ids == [rows[0]["id"]]
    assert "'slides'" in failed["task_in_vocabulary"].message
    assert failed["reference_image_decodes"].offending_ids == [rows[2]["id"]]

    write_bench_dataset(tmp_path / "b", 9)
    report = validate_dataset(tmp_path / "b", report_dir=tmp_path / "rep-b")
    assert report.success and report.kind == "bench", report.format()
    lines = (tmp_path / "b" / "bench.jsonl").read_text().splitlines()
    items = [json.loads(x) for x in lines]
    items[0]["human_errors"][0]["severity"] = 9
    items[1]["category"] = "poster"
    (tmp_path / "b" / items[2]["pred_img_path"]).unlink()
    items[3]["human_errors"] = "oops"
    (tmp_path / "b" / "bench.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    failed = _failed(validate_dataset(tmp_path / "b", report_dir=tmp_path / "rep-b2"))
    assert {"files.bench.jsonl", "files.images_sha256"} <= set(failed["manifest_matches_data"].offending_ids)
    assert failed["severity_in_range"].offending_ids == ["bench-00000"]
    assert failed["category_is_task"].offending_ids == ["bench-00001"]
    assert failed["pred_image_decodes"].offending_ids == ["bench-00002"]
    assert failed["human_errors_parse"].offending_ids == ["bench-00003"]


@pytest.mark.slow
def test_ten_thousand_pairs_validate_in_under_30_seconds(tmp_path):
    build_pair_dataset(tmp_path / "ds", 10_000)
    assert pq.read_metadata(sorted((tmp_path / "ds" / "data").glob("*/*.parquet"))[0]).num_rows > 0
    import great_expectations  # noqa: F401 - the import (3-5 s) is not the validation's cost

    t0 = time.perf_counter()
    report = validate_dataset(tmp_path / "ds", report_dir=tmp_path / "rep")
    seconds = time.perf_counter() - t0
    print(f"validated 10,000 pairs in {seconds:.1f} s (load average {os.getloadavg()[0]:.1f})")
    assert report.success, report.format()
    assert report.rows == 10_000
    assert seconds < 30, f"validating 10,000 pairs took {seconds:.1f} s"


def test_png_helper_varies_images():
    assert png(1) != png(2) and png(1) != png(1, mark=3)


@pytest.mark.slow
def test_cli_validate_exits_non_zero_and_lists_offending_ids(tmp_path):
    from typer.testing import CliRunner

    from visual_erm.cli import app

    rows = pair_rows(24)
    rows[3]["task"] = "slides"
    write_pair_dataset(tmp_path / "bad", rows)
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "bad"), "--report", str(tmp_path / "rep")])
    assert result.exit_code == 1, result.output
    assert "task_in_vocabulary" in result.output and rows[3]["id"] in result.output and "'slides'" in result.output
    assert (tmp_path / "rep" / "data_docs" / "index.html").exists()
    build_pair_dataset(tmp_path / "good", 24)
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "good"), "--report", str(tmp_path / "rep2")])
    assert result.exit_code == 0 and "PASSED" in result.output


@pytest.mark.slow
def test_bench_set_built_by_the_bench_module_validates(tmp_path):
    benchset = pytest.importorskip("visual_erm.bench.benchset")
    rows = pair_rows(150)
    write_pair_dataset(tmp_path / "pairs", rows)
    assert any(r["split"] == "test" for r in rows)
    benchset.build_benchset(tmp_path / "pairs", tmp_path / "bench")
    report = validate_dataset(tmp_path / "bench", report_dir=tmp_path / "rep")
    assert report.kind == "bench" and report.rows == sum(r["split"] == "test" for r in rows)
    assert report.success, report.format()
