"""Bench sets: built from the test split of a pair dataset, loaded in our layout and the official one."""

import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from visual_erm.bench.benchset import FORMAT, BenchSetError, build_benchset, is_pair_dataset, load_benchset
from visual_erm.schema import Critique, Discrepancy


def png(colour="red", size=(120, 90), square=(10, 10, 30)) -> bytes:
    im = Image.new("RGB", size, "white")
    x, y, side = square
    im.paste(Image.new("RGB", (side, side), colour), (x, y))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


GOLD = {
    "svg": Critique(task="svg", errors=(Discrepancy(category="style_error", severity=1, location="the square at the "
                                                    "top left", description="The fill of the square is red in the "
                                                    "reference but blue in the candidate."),)),
    "table": Critique(task="table", errors=(Discrepancy(category="text_error", severity=2, location="row 1, column 1",
                                                        description="The cell reads 'a' in the reference but 'b' in "
                                                        "the candidate."),)),
    "chart": Critique(task="chart", errors=(Discrepancy(category="data_error", severity=2, location="the first bar",
                                                        description="The first bar is 3 in the reference but 5 in "
                                                        "the candidate."),)),
}


def pair_row(pid: str, task: str, split: str, seed_id: str, *, identity: bool = False) -> dict:
    gold = Critique(task=task) if identity else GOLD[task]
    ref, cand = png("red"), png("red" if identity else "blue")
    return {
        "id": pid, "task": task, "split": split, "seed_id": seed_id, "seed_kind": "generated",
        "origin": "identity" if identity else "edit:change_fill", "operators": [] if identity else ["change_fill"],
        "reference_code": f"<{task} reference {pid}>", "reference_image": {"bytes": ref, "path": None},
        "candidate_code": f"<{task} candidate {pid}>", "candidate_image": {"bytes": cand, "path": None},
        "gold": gold.to_json(), "n_errors": len(gold.errors), "severity_sum": gold.severity_sum,
        "changed_fraction": 0.0 if identity else 0.08, "diff_bbox": [] if identity else [10, 10, 40, 40],
        "structural_critique": "", "renderer": "test", "width": 120, "height": 90,
    }


def make_pair_dataset(root: Path, rows: list[dict]) -> Path:
    """A pair dataset in the synth engine's layout (data/<split>/<task>-00000.parquet, manifest.json)."""
    from visual_erm.synth.dataset import write_shard

    shards: dict[str, list[dict]] = {}
    for r in rows:
        shards.setdefault(f"data/{r['split']}/{r['task']}-00000.parquet", []).append(r)
    for rel, rs in shards.items():
        write_shard(rs, root / rel)
    (root / "manifest.json").write_text(json.dumps({"format": "visual-erm-pairs/1", "config": {"seed": 7}}))
    return root


def small_test_dataset(root: Path) -> Path:
    rows = [pair_row(f"{t}-s{i}-c{j}", t, "test", f"{t}-s{i}", identity=(j == 1))
            for t in ("chart", "table", "svg") for i in range(2) for j in range(2)]
    rows.append(pair_row("svg-train-c0", "svg", "train", "svg-train"))
    return make_pair_dataset(root, rows)


# ----------------------------------------------------------------------------------------------------- build


def test_build_benchset_writes_records_images_and_manifest(tmp_path):
    pairs = small_test_dataset(tmp_path / "pairs")
    assert is_pair_dataset(pairs)
    manifest = build_benchset(pairs, tmp_path / "bench")
    bench = tmp_path / "bench"
    assert manifest["format"] == FORMAT == json.loads((bench / "manifest.json").read_text())["format"]
    assert manifest["counts"]["items"] == 12 and manifest["counts"]["identity_items"] == 6
    assert manifest["counts"]["by_task"] == {"chart": 4, "table": 4, "svg": 4}
    assert manifest["files"]["bench.jsonl"] == hashlib.sha256((bench / "bench.jsonl").read_bytes()).hexdigest()
    assert manifest["files"]["images"] == 24
    records = [json.loads(line) for line in (bench / "bench.jsonl").read_text().splitlines()]
    assert [r["category"] for r in records] == ["chart"] * 4 + ["table"] * 4 + ["svg"] * 4
    assert all(r["id"] != "svg-train-c0" for r in records)  # only the test split
    r = next(r for r in records if r["id"] == "svg-s0-c0")
    assert set(r) >= {"id", "category", "gt_img_path", "pred_img_path", "human_errors", "origin",
                      "reference_code", "candidate_code"}
    assert r["gt_img_path"] == "images/svg/svg-s0-c0-ref.png" and (bench / r["pred_img_path"]).is_file()
    assert r["human_errors"] == [e.to_json_dict() for e in GOLD["svg"].errors]
    assert (bench / r["gt_img_path"]).read_bytes() == png("red")
    assert not is_pair_dataset(bench)

    loaded = load_benchset(bench)
    assert len(loaded) == 12 and loaded.by_task == {"chart": 4, "table": 4, "svg": 4}
    item = next(i for i in loaded if i.id == "svg-s0-c0")
    assert item.gold == GOLD["svg"] and item.reference_code == "<svg reference svg-s0-c0>"
    assert item.candidate_png() == png("blue")


def test_rebuild_is_byte_identical_and_drops_stale_images(tmp_path):
    pairs = small_test_dataset(tmp_path / "pairs")
    first = build_benchset(pairs, tmp_path / "bench")
    jsonl = (tmp_path / "bench" / "bench.jsonl").read_bytes()
    second = build_benchset(pairs, tmp_path / "bench", max_items=3)
    assert len(list((tmp_path / "bench" / "images").rglob("*.png"))) == 6
    third = build_benchset(pairs, tmp_path / "bench")
    assert (tmp_path / "bench" / "bench.jsonl").read_bytes() == jsonl
    assert third == first != second


def test_max_items_takes_every_task_in_turn(tmp_path):
    pairs = small_test_dataset(tmp_path / "pairs")
    m = build_benchset(pairs, tmp_path / "bench", max_items=5)
    assert m["counts"]["by_task"] == {"chart": 2, "table": 2, "svg": 1}
    full = load_benchset(tmp_path / "bench")
    ordered = sorted(full.items, key=lambda it: it.task)  # a bench written task by task
    from visual_erm.bench.benchset import BenchSet

    head = BenchSet(ordered, full.path).head(4)
    assert [it.task for it in head] == ["chart", "table", "svg", "chart"]
    assert [it.id for it in head if it.task == "chart"] == [it.id for it in ordered if it.task == "chart"][:2]
    assert len(BenchSet(ordered, full.path).head(None)) == len(ordered) == 5


def test_build_refuses_seed_leakage_and_empty_splits(tmp_path):
    rows = [pair_row("svg-a-c0", "svg", "test", "svg-a"), pair_row("svg-a-c1", "svg", "train", "svg-a")]
    pairs = make_pair_dataset(tmp_path / "leaky", rows)
    with pytest.raises(BenchSetError, match="svg-a.*leaks"):
        build_benchset(pairs, tmp_path / "bench")
    only_train = make_pair_dataset(tmp_path / "train", [pair_row("svg-b-c0", "svg", "train", "svg-b")])
    with pytest.raises(BenchSetError, match="no 'test' rows"):
        build_benchset(only_train, tmp_path / "bench2")
    with pytest.raises(BenchSetError, match="not a pair dataset"):
        build_benchset(tmp_path / "nothing", tmp_path / "bench3")


def test_a_modified_bench_jsonl_is_refused(tmp_path):
    build_benchset(small_test_dataset(tmp_path / "pairs"), tmp_path / "bench")
    with open(tmp_path / "bench" / "bench.jsonl", "a") as fh:
        fh.write("\n")
    with pytest.raises(BenchSetError, match="sha256"):
        load_benchset(tmp_path / "bench")


# ------------------------------------------------------------------------------------------- official layout


def test_load_official_layout_with_type_aliases(tmp_path):
    images = tmp_path / "vc" / "imgs"
    images.mkdir(parents=True)
    (images / "gt1.png").write_bytes(png("red"))
    (images / "pred1.png").write_bytes(png("blue"))
    abs_gt = tmp_path / "elsewhere.png"
    abs_gt.write_bytes(png("green"))
    records = [
        {"id": 1, "category": "table", "gt_img_path": "imgs/gt1.png", "pred_img_path": "imgs/pred1.png",
         "human_errors": [{"type": "Text", "severity": 2, "description": "Cell 'a' reads 'b'."},
                          {"type": "numeric error", "severity": "3", "description": "A number changed."}]},
        {"id": "x2", "category": "svg", "gt_img_path": str(abs_gt), "pred_img_path": "imgs/pred1.png",
         "human_errors": json.dumps({"errors": [
             {"type": "style_error", "severity": 1, "location": "top", "description": "Colour."},
             {"type": "data_error", "severity": 2, "description": "Not an SVG category: dropped."}]})},
        {"id": "x3", "category": "chart", "gt_img_path": "imgs/gt1.png", "pred_img_path": "imgs/pred1.png",
         "human_errors": []},
    ]
    jsonl = tmp_path / "vc" / "vc_rewardbench.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    for path in (jsonl, jsonl.parent):  # the file, or its folder holding exactly one JSONL
        bench = load_benchset(path)
        assert [i.id for i in bench] == ["1", "x2", "x3"]
        t, s, c = bench.items
        assert [e.category for e in t.gold.errors] == ["text_error", "numeric_error"]
        assert [e.severity for e in t.gold.errors] == [2, 3]
        assert t.gt_img_path == images / "gt1.png" and t.reference_png() == png("red")
        assert s.gt_img_path == abs_gt and [e.category for e in s.gold.errors] == ["style_error"]
        assert c.gold.errors == () and c.reference_code is None and c.origin is None
        assert t.to_record()["human_errors"][0]["category"] == "text_error"


@pytest.mark.parametrize("line, message", [
    ('{"id": 1, "category": "poster", "gt_img_path": "a.png", "pred_img_path": "a.png"}', "not one of"),
    ('{"id": 1, "category": "svg", "pred_img_path": "a.png"}', "missing gt_img_path"),
    ('{"id": 1, "category": "svg", "gt_img_path": "a.png", "pred_img_path": "gone.png"}', "gone.png does not exist"),
    ('{"id": 1, "category": "svg", "gt_img_path": "a.png", "pred_img_path": "a.png", "human_errors": 5}',
     "must be a list"),
    ('{"id": 1, "category": "svg", "gt_img_path": "a.png", "pred_img_path": "a.png", '
     '"human_errors": [{"type": "style", "severity": 7, "description": "x"}]}', "severity"),
    ('not json', "not JSON"),
])
def test_load_reports_bad_records_with_their_line(tmp_path, line, message):
    (tmp_path / "a.png").write_bytes(png())
    f = tmp_path / "b.jsonl"
    f.write_text(line + "\n")
    with pytest.raises(BenchSetError, match=message) as info:
        load_benchset(f)
    assert "b.jsonl:1" in str(info.value)


def test_duplicate_ids_are_refused(tmp_path):
    (tmp_path / "a.png").write_bytes(png())
    rec = json.dumps({"id": 1, "category": "svg", "gt_img_path": "a.png", "pred_img_path": "a.png"})
    (tmp_path / "b.jsonl").write_text(rec + "\n" + rec + "\n")
    with pytest.raises(BenchSetError, match="duplicate id"):
        load_benchset(tmp_path / "b.jsonl")


# ---------------------------------------------------------------------------------------- from a real synth


@pytest.mark.slow
def test_build_benchset_from_a_synthesized_dataset(tmp_path, render_pool):
    from visual_erm.synth.engine import SynthConfig, synthesize

    cfg = SynthConfig(tasks=("table", "svg"), n=6, seed=31, candidates_per_seed=3, split_ratios=(0, 0, 1))
    report = synthesize(cfg, tmp_path / "pairs", render=render_pool.render)
    manifest = build_benchset(tmp_path / "pairs", tmp_path / "bench")
    assert manifest["counts"]["items"] == report.pairs > 0
    bench = load_benchset(tmp_path / "bench")
    assert set(bench.by_task) <= {"table", "svg"}
    for item in bench:
        assert item.reference_code and item.candidate_code
        assert item.reference_png()[:8] == b"\x89PNG\r\n\x1a\n"
        Image.open(item.pred_img_path).verify()
