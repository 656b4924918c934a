"""RL prompt sets: built from a pair dataset (one row per seed, deduplicated) or a corpus; HF layout; manifest."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from visual_erm.rl.prompts_set import FORMAT, PromptSetError, build_prompt_set, policy_messages, read_prompt_rows
from visual_erm.rl.testing import SVG_PROGRAMS, write_svg_pair_dataset
from visual_erm.synth.dataset import sha256_file

BLANK = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#fff"/></svg>'


def test_one_row_per_seed_dedupe_and_manifest(tmp_path):
    programs = dict(SVG_PROGRAMS)
    programs["disc_again"] = SVG_PROGRAMS["disc"]  # another seed with an identical reference image
    programs["blank"] = BLANK
    pairs = write_svg_pair_dataset(tmp_path / "pairs", programs, candidates_per_seed=3)
    manifest = build_prompt_set(pairs, tmp_path / "rl", tasks="all", n=None, split="train")
    rows = read_prompt_rows(tmp_path / "rl")
    assert len(rows) == len(SVG_PROGRAMS)  # 3 candidates per seed collapse; duplicate image and blank dropped
    assert manifest["dropped"]["duplicate_seed"] == 2 * len(programs)
    assert manifest["dropped"]["duplicate_image"] == 1 and manifest["dropped"]["blank_reference"] == 1
    assert manifest["format"] == FORMAT == "visual-erm-rl-prompts/1"
    assert manifest["counts"] == {"prompts": 4, "by_task": {"svg": 4}, "by_split": {"svg/train": 4}}
    for rel, sha in manifest["shards"].items():
        assert sha256_file(tmp_path / "rl" / rel) == sha
        assert (tmp_path / "rl" / "manifest.json").stat().st_mtime_ns >= (tmp_path / "rl" / rel).stat().st_mtime_ns
    row = rows[0]
    assert set(row) == {"id", "task", "split", "seed_id", "reference_image", "reference_code", "prompt"}
    assert row["reference_code"].startswith("<svg") and row["reference_image"]["bytes"][:4] == b"\x89PNG"
    assert json.loads(row["prompt"]) == policy_messages("svg")
    hf = json.loads(pq.read_schema(next((tmp_path / "rl" / "data").glob("*/*.parquet"))).metadata[b"huggingface"])
    assert hf["info"]["features"]["reference_image"] == {"_type": "Image"}


def test_prompt_set_passes_the_validation_suite_and_loads_with_datasets(tmp_path):
    from datasets import load_dataset

    from visual_erm.validation.run import validate_dataset

    pairs = write_svg_pair_dataset(tmp_path / "pairs")
    build_prompt_set(pairs, tmp_path / "rl", n=3)
    report = validate_dataset(tmp_path / "rl", report_dir=tmp_path / "report")
    assert report.success, report
    ds = load_dataset("parquet", data_files={"train": str(tmp_path / "rl/data/train/*.parquet")})["train"]
    assert len(ds) == 3 and ds[0]["reference_image"].size == (336, 336)


def test_n_split_and_task_filters(tmp_path):
    pairs = write_svg_pair_dataset(tmp_path / "pairs")
    with pytest.raises(PromptSetError, match="no prompts"):
        build_prompt_set(pairs, tmp_path / "a", split="test")
    with pytest.raises(PromptSetError, match="tasks must be"):
        build_prompt_set(pairs, tmp_path / "b", tasks="charts")
    assert build_prompt_set(pairs, tmp_path / "c", tasks="svg,chart", n=2)["counts"]["prompts"] == 2
    with pytest.raises(PromptSetError, match="no manifest"):
        read_prompt_rows(tmp_path / "nothing")


def test_corpus_source_renders_references_in_the_sandbox(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"task": "svg", "id": k, "code": v}) for k, v in SVG_PROGRAMS.items())
                      + "\n" + json.dumps({"task": "svg", "id": "broken", "code": "<svg><rect"}) + "\n")
    manifest = build_prompt_set(corpus, tmp_path / "rl", split="all", workers=1)
    rows = read_prompt_rows(tmp_path / "rl", split="all")
    assert manifest["source"]["kind"] == "corpus"
    assert {r["seed_id"] for r in rows} <= {f"corpus-svg-{k}" for k in list(SVG_PROGRAMS) + ["broken"]}
    assert len(rows) >= len(SVG_PROGRAMS) - 1  # hash splits: every program rendered, each in its split
    assert all(r["reference_image"]["bytes"][:4] == b"\x89PNG" for r in rows)


def test_cli_build_prompts(tmp_path):
    from typer.testing import CliRunner

    from visual_erm.cli import app

    pairs = write_svg_pair_dataset(tmp_path / "pairs")
    res = CliRunner().invoke(app, ["build-prompts", str(pairs), "--out", str(tmp_path / "rl"), "--n", "2"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["counts"]["prompts"] == 2
    bad = CliRunner().invoke(app, ["build-prompts", str(tmp_path / "missing"), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "neither" in bad.output
