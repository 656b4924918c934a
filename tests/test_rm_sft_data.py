"""SFT rows: the gold critique serialized exactly, reference image first, the paper's resizing rule."""

import io
import json

import pytest
from PIL import Image

from visual_erm.rm.prompts import CATEGORY_DEFINITIONS, rm_prompt
from visual_erm.rm.sft_data import PAPER_MAX_SIDE, build_sft_dataset, resize_for_task, sft_row
from visual_erm.rm.toy import toy_pair_rows, write_toy_pair_dataset
from visual_erm.schema import CATEGORIES, SEVERITY_RUBRIC, Critique


def test_resize_rule_longest_side_per_task_never_enlarges():
    big = Image.new("RGB", (2048, 1024))
    assert resize_for_task(big, "chart").size == (1024, 512)
    assert resize_for_task(big, "svg").size == (1024, 512)
    assert resize_for_task(big, "table").size == (768, 384)
    tall = Image.new("RGB", (300, 1536))
    assert resize_for_task(tall, "table").size == (150, 768)
    small = Image.new("RGB", (200, 100))
    assert resize_for_task(small, "chart").size == (200, 100)
    assert PAPER_MAX_SIDE == {"chart": 1024, "svg": 1024, "table": 768}


def test_row_has_reference_then_candidate_and_exact_gold():
    pair = toy_pair_rows(2, seed=3)[0]
    # a gold string in another key order / spacing is re-serialized canonically
    loose = json.loads(pair["gold"])
    pair = {**pair, "gold": json.dumps(dict(reversed(list(loose.items()))), indent=2)}
    row = sft_row(pair)
    ref = Image.open(io.BytesIO(pair["reference_image"]["bytes"])).convert("RGB")
    cand = Image.open(io.BytesIO(pair["candidate_image"]["bytes"])).convert("RGB")
    assert row["images"][0].tobytes() == ref.tobytes()
    assert row["images"][1].tobytes() == cand.tobytes()
    user, assistant = row["messages"]
    assert [p["type"] for p in user["content"]] == ["image", "image", "text"]
    assert user["content"][2]["text"] == rm_prompt(pair["task"])
    expected = Critique.from_json_dict(pair["task"], loose).to_json()
    assert assistant["content"] == [{"type": "text", "text": expected}]
    assert expected.startswith('{"structure_error_count"')


def test_prompt_lists_categories_rubric_and_schema():
    for task, cats in CATEGORIES.items():
        text = rm_prompt(task)
        assert text.startswith("The first image is the reference")
        for c in cats:
            assert f"- {c}: {CATEGORY_DEFINITIONS[task][c]}" in text and f'"{c}_count"' in text
        for level, rubric in SEVERITY_RUBRIC.items():
            assert f"- {level}: {rubric}" in text
        assert "JSON only" in text


@pytest.mark.slow
def test_build_dataset_from_a_pair_directory(tmp_path):
    d = write_toy_pair_dataset(tmp_path / "pairs", n_per_task=4, seed=1, size=(1600, 400))
    ds = build_sft_dataset(d, "train")
    assert len(ds) == 9 and set(ds["task"]) == {"chart", "table", "svg"}
    row = ds[0]
    assert len(row["images"]) == 2
    limit = PAPER_MAX_SIDE[row["task"]]
    assert max(row["images"][0].size) == limit
    test = build_sft_dataset(d, "test")
    assert len(test) == 3
