"""TEDS / TEDS-S: reproduce PubTabNet's reference values on the 20 shared tables, plus hand-checked small cases."""

import json
import re
from pathlib import Path

import pytest

from visual_erm.bench.teds import TEDS, score_corpus, teds, teds_s
from visual_erm.testdata import testdata_dir as find_testdata

DATA = find_testdata()  # fails with a message naming VERM_TESTDATA when shared/testdata is missing
PUBTABNET = DATA / "pubtabnet"

needs_data = pytest.mark.usefixtures()  # the data is required; kept as a marker of the tests that read it


def _reference_table() -> dict[str, tuple[float, float]]:
    """The 20 reference (TEDS, TEDS-S) values, read from testdata/README.md."""
    out = {}
    for line in (DATA / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*(PMC\S+)\s*\|\s*\w+\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", line)
        if m:
            out[m.group(1) + ".png"] = (float(m.group(2)), float(m.group(3)))
    return out


@pytest.fixture(scope="module")
def corpus():
    gt = json.loads((PUBTABNET / "sample_gt.json").read_text(encoding="utf-8"))
    pred = json.loads((PUBTABNET / "sample_pred.json").read_text(encoding="utf-8"))
    return pred, {k: v["html"] for k, v in gt.items()}


@pytest.fixture(scope="module")
def scored(corpus):
    pred, true = corpus
    return score_corpus(pred, true)


@needs_data
def test_reference_values_all_20_to_4_decimals(scored):
    ref = _reference_table()
    assert len(ref) == 20
    got = {k: (round(scored.teds[k], 4), round(scored.teds_s[k], 4)) for k in ref}
    mismatches = {k: (got[k], ref[k]) for k in ref if got[k] != ref[k]}
    assert not mismatches


@needs_data
def test_reference_means(scored):
    assert round(scored.mean_teds, 4) == 0.8997
    assert round(scored.mean_teds_s, 4) == 0.9361


@needs_data
@pytest.mark.parametrize("key", ["PMC4219599_004_00.png", "PMC5303243_003_00.png", "PMC2915972_003_00.png"])
def test_strict_reference_mode_and_td_only_cells_agree_on_pubtabnet(corpus, scored, key):
    pred, true = corpus
    strict = TEDS(strict_reference=True, cell_tags=("td",))
    assert strict(pred[key], true[key]) == pytest.approx(scored.teds[key], abs=1e-12)


@needs_data
def test_ground_truth_against_itself_is_one(corpus):
    _, true = corpus
    for html in list(true.values())[:5]:
        assert teds(html, html) == 1.0
        assert teds_s(html, html) == 1.0


T = "<table><tr><td>{a}</td><td>{b}</td></tr></table>"


def test_identical_is_one():
    assert teds(T.format(a="x", b="y"), T.format(a="x", b="y")) == 1.0


def test_empty_or_missing_prediction_is_zero():
    gt = T.format(a="1", b="2")
    assert teds("", gt) == 0.0
    assert teds(None, gt) == 0.0
    assert teds("   ", gt) == 0.0
    assert teds("<p>no table here</p>", gt) == 0.0
    assert teds_s(gt, "") == 0.0


def test_one_character_substitution_hand_computed():
    # Trees: table > tr > (td, td); n = 3 descendants (tr, td, td). Cell "ab" vs "ac": Levenshtein 1 / len 2.
    assert teds(T.format(a="ab", b="z"), T.format(a="ac", b="z")) == pytest.approx(1 - 0.5 / 3)
    assert teds_s(T.format(a="ab", b="z"), T.format(a="ac", b="z")) == 1.0


def test_missing_cell_costs_one_deletion():
    pred = "<table><tr><td>a</td></tr></table>"
    gt = "<table><tr><td>a</td><td>b</td></tr></table>"
    assert teds(pred, gt) == pytest.approx(1 - 1 / 3)
    assert teds_s(pred, gt) == pytest.approx(1 - 1 / 3)


def test_span_mismatch_costs_a_full_rename():
    pred = '<table><tr><td colspan="2">a</td></tr></table>'
    gt = "<table><tr><td>a</td></tr></table>"
    assert teds(pred, gt) == pytest.approx(1 - 1 / 2)
    assert teds_s(pred, gt) == pytest.approx(1 - 1 / 2)


def test_inline_tags_are_cell_tokens_and_count_in_the_denominator():
    # <b> inside the cell: tokens ['<b>', 'a', '</b>'] vs ['a'] → Levenshtein 2 / 3. Denominator counts the <b>
    # element too (reference quirk): max(3, 2) = 3.
    pred = "<table><tr><td><b>a</b></td></tr></table>"
    gt = "<table><tr><td>a</td></tr></table>"
    assert teds(pred, gt) == pytest.approx(1 - (2 / 3) / 3)
    assert teds_s(pred, gt) == pytest.approx(1.0)


def test_th_is_a_cell_by_default_and_reference_mode_treats_it_as_a_plain_node():
    pred = "<table><tr><th>ab</th></tr></table>"
    gt = "<table><tr><th>ac</th></tr></table>"
    assert teds(pred, gt) == pytest.approx(1 - 0.5 / 2)
    assert TEDS(cell_tags=("td",))(pred, gt) == 1.0  # the reference ignores text of non-td nodes


def test_bare_table_and_nested_table_are_found_unless_strict():
    gt = "<html><body><table><tr><td>a</td></tr></table></body></html>"
    bare = "<table><tr><td>a</td></tr></table>"
    nested = "<html><body><div><table><tr><td>a</td></tr></table></div></body></html>"
    assert teds(bare, gt) == 1.0
    assert teds(nested, gt) == 1.0
    assert TEDS(strict_reference=True)(nested, gt) == 0.0


def test_ignore_nodes_strips_tags_but_keeps_text():
    pred = "<table><tr><td><b>a</b></td></tr></table>"
    gt = "<table><tr><td>a</td></tr></table>"
    assert TEDS(ignore_nodes=("b",))(pred, gt) == 1.0


def test_junk_span_values_do_not_crash():
    assert teds('<table><tr><td colspan="2px" rowspan="">a</td></tr></table>',
                '<table><tr><td colspan="2">a</td></tr></table>') == 1.0


def test_score_is_clamped_to_unit_interval():
    pred = "<table>" + "<tr><td>x</td></tr>" * 2 + "</table>"
    gt = "<table><thead><tr><td>y</td></tr></thead></table>"
    assert 0.0 <= teds(pred, gt) <= 1.0


def test_batch_missing_prediction_scores_zero():
    scorer = TEDS()
    out = scorer.batch({"a": T.format(a="1", b="2")}, {"a": T.format(a="1", b="2"), "b": T.format(a="1", b="2")})
    assert out == {"a": 1.0, "b": 0.0}
