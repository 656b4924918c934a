"""The critique contract: paper JSON shape, aliases, tolerant parsing with typed errors."""

import json

import pytest

from visual_erm.schema import CATEGORIES, Critique, CritiqueParseError, Discrepancy, parse_critique

PAPER_CHART = (
    '{"structure_error_count": 0, "data_error_count": 1, "text_error_count": 1, "style_error_count": 0, '
    '"errors": [{"category": "data_error", "severity": 2, "location": "second bar", '
    '"description": "The bar is 40 in the reference but 55 in the candidate."}, '
    '{"category": "text_error", "severity": 1, "location": "title", "description": "Title typo."}]}'
)


def test_round_trip_is_byte_identical():
    parsed = parse_critique(PAPER_CHART, "chart").critique
    assert parsed.to_json() == PAPER_CHART
    assert parsed.severity_sum == 3
    assert parsed.counts == {"structure_error": 0, "data_error": 1, "text_error": 1, "style_error": 0}


def test_counts_come_first_in_task_order_and_every_category_present():
    c = Critique(task="svg", errors=(Discrepancy(category="style_error", severity=1, location="x", description="d"),))
    keys = list(c.to_json_dict())
    assert keys == [f"{k}_count" for k in CATEGORIES["svg"]] + ["errors"]


def test_table_type_alias_and_missing_location():
    text = '{"layout_error_count": 1, "errors": [{"type": "layout_error", "severity": 3, "description": "merged"}]}'
    c = parse_critique(text, "table").critique
    assert c.errors[0].category == "layout_error"
    assert c.errors[0].location is None
    assert "location" not in c.to_json_dict()["errors"][0]


def test_think_blocks_fences_and_chatter_are_stripped():
    text = "<think>maybe {not json}</think>Here you go:\n```json\n" + PAPER_CHART + "\n```\nThanks!"
    assert parse_critique(text, "chart").critique.severity_sum == 3
    text2 = "Sure. " + PAPER_CHART + " Hope this helps {"
    assert parse_critique(text2, "chart").critique.severity_sum == 3


def test_unterminated_think_and_empty_list_means_equivalent():
    assert parse_critique('{"errors": []}', "chart").critique.is_equivalent
    with pytest.raises(CritiqueParseError) as err:
        parse_critique("<think>I am still thinking", "chart")
    assert err.value.reason == "empty"


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "empty"),
        ("no json here", "no_json"),
        ('{"errors": [ {"category": "data_error", }', "bad_json"),
        ('"just a string"', "not_object"),
        ('{"data_error_count": 0}', "missing_errors"),
        ('{"errors": {"a": 1}}', "bad_errors"),
        ('{"errors": [{"category": "data_error", "severity": 7, "description": "x"}]}', "bad_error"),
        ('{"errors": [{"category": "data_error", "severity": 2, "description": "  "}]}', "bad_error"),
        ('{"errors": [{"category": "numeric_error", "severity": 2, "description": "x"}]}', "unknown_category"),
    ],
)
def test_typed_parse_errors(text, reason):
    with pytest.raises(CritiqueParseError) as err:
        parse_critique(text, "chart")
    assert err.value.reason == reason
    assert err.value.message


def test_severity_7_message_says_what_is_wrong():
    with pytest.raises(CritiqueParseError, match=r"errors\[0\]\.severity.*1, 2 or 3"):
        parse_critique('{"errors": [{"category": "data_error", "severity": 7, "description": "x"}]}', "chart")


def test_count_mismatch_is_a_warning_or_strict_error():
    text = '{"data_error_count": 3, "errors": [{"category": "data_error", "severity": 2, "description": "x"}]}'
    parsed = parse_critique(text, "chart")
    assert parsed.critique.counts["data_error"] == 1 and parsed.warnings
    with pytest.raises(CritiqueParseError) as err:
        parse_critique(text, "chart", strict_counts=True)
    assert err.value.reason == "count_mismatch"


def test_foreign_categories_can_be_dropped_for_benchmarks():
    text = json.dumps({"errors": [{"category": "numeric_error", "severity": 2, "description": "x"},
                                  {"category": "Data Error", "severity": "2", "description": "y"}]})
    c = parse_critique(text, "chart", drop_foreign=True).critique
    assert [e.category for e in c.errors] == ["data_error"]
    assert c.errors[0].severity == 2


def test_bare_list_is_accepted_as_errors():
    c = parse_critique('[{"category": "shape_error", "severity": 3, "description": "missing arc"}]', "svg").critique
    assert c.counts["shape_error"] == 1
