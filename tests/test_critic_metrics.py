"""VC-RewardBench metrics: hand-computed counts, P/R/F1 (hard, soft), Sc, exclusions, and both matchers.

The LLM-judge tests run a real HTTP server on 127.0.0.1 (http.server in a thread) that answers like an
OpenAI-compatible chat endpoint with canned judgments.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from scipy.stats import pearsonr

from visual_erm.bench.critic_metrics import (ItemResult, item_counts, item_from_record, prf, score_items,
                                             severity_correlation)
from visual_erm.bench.matchers import (DeterministicMatcher, LLMJudgeMatcher, Match, MatchError,
                                       parse_judge_reply)
from visual_erm.schema import Critique, Discrepancy


def d(cat: str, sev: int = 1, desc: str | None = None, loc: str | None = None) -> Discrepancy:
    return Discrepancy(category=cat, severity=sev, location=loc, description=desc or f"{cat} {sev}")


def crit(task: str, *errors: Discrepancy) -> Critique:
    return Critique(task=task, errors=tuple(errors))


class ScriptedMatcher:
    """Returns the matches given per item, identified by the first gold description (or raises)."""

    def __init__(self, by_key: dict):
        self.by_key = by_key
        self.calls = 0

    def match(self, task, pred, gold):
        self.calls += 1
        out = self.by_key.get(gold[0].description, [])
        if isinstance(out, Exception):
            raise out
        return [Match(p, g, v) for p, g, v in out]


# Item 1: pred [A, B, C], gold [A', B', D]; A↔A' yes, B↔B' partial, C unmatched (FP), D unmatched (FN).
ITEM1 = ItemResult(
    "i1", "chart",
    gold=crit("chart", d("data_error", 2, "g-i1"), d("text_error", 2), d("style_error", 1)),
    predicted=crit("chart", d("data_error", 2), d("text_error", 1), d("structure_error", 3)),
)
# Item 2: gold empty, two predictions → 2 FP.   Item 3: no prediction, three gold → 3 FN.   Item 4: both empty.
ITEM2 = ItemResult("i2", "chart", gold=crit("chart"), predicted=crit("chart", d("style_error", 1), d("data_error", 1)))
ITEM3 = ItemResult("i3", "chart",
                   gold=crit("chart", d("data_error", 3, "g-i3"), d("text_error", 3), d("style_error", 3)),
                   predicted=crit("chart"))
ITEM4 = ItemResult("i4", "chart", gold=crit("chart"), predicted=crit("chart"))
SCRIPT = {"g-i1": [(0, 0, "yes"), (1, 1, "partial")]}


def test_single_item_counts_hand_computed():
    pred, gold = ITEM1.predicted.errors, ITEM1.gold.errors
    matches = [Match(0, 0, "yes"), Match(1, 1, "partial")]
    c, by_cat = item_counts(pred, gold, matches, "chart")
    assert (c.tp_hard, c.tp_soft, c.fp_hard, c.fn_hard, c.fp_soft, c.fn_soft) == (1, 1.5, 1, 1, 1, 1)
    # per category: TP goes to the predicted error's category, FP by predicted, FN by gold category
    assert (by_cat["data_error"].tp_hard, by_cat["text_error"].tp_soft) == (1, 0.5)
    assert by_cat["structure_error"].fp_hard == 1 and by_cat["style_error"].fn_hard == 1
    assert by_cat["text_error"].fp_hard == 0 and by_cat["text_error"].fn_hard == 0
    m, _ = item_counts(pred, gold, matches, "chart", partial_in_hard="miss")
    assert (m.tp_hard, m.fp_hard, m.fn_hard, m.tp_soft, m.fp_soft, m.fn_soft) == (1, 2, 2, 1.5, 1, 1)


def test_single_item_prf():
    res = score_items([ITEM1], ScriptedMatcher(SCRIPT))
    assert res.overall.hard.precision == pytest.approx(0.5) and res.overall.hard.recall == pytest.approx(0.5)
    assert res.overall.soft.precision == pytest.approx(1.5 / 2.5) and res.overall.soft.f1 == pytest.approx(0.6)
    miss = score_items([ITEM1], ScriptedMatcher(SCRIPT), partial_in_hard="miss")
    assert miss.overall.hard.precision == pytest.approx(1 / 3) and miss.overall.hard.f1 == pytest.approx(1 / 3)
    assert miss.overall.soft.f1 == pytest.approx(0.6)


def test_edge_cases_each_alone():
    both_empty = score_items([ITEM4], ScriptedMatcher({}))
    c = both_empty.overall.counts
    assert (c.tp_hard, c.tp_soft, c.fp_hard, c.fn_hard) == (0, 0, 0, 0)
    assert both_empty.overall.hard.f1 == 1.0 and both_empty.overall.soft.f1 == 1.0  # nothing to find, none claimed
    gold_empty = score_items([ITEM2], ScriptedMatcher({})).overall
    assert (gold_empty.counts.fp_hard, gold_empty.counts.fn_hard, gold_empty.hard.precision, gold_empty.hard.f1) == \
        (2, 0, 0.0, 0.0)
    pred_empty = score_items([ITEM3], ScriptedMatcher({})).overall
    assert (pred_empty.counts.fp_hard, pred_empty.counts.fn_hard, pred_empty.hard.recall, pred_empty.soft.f1) == \
        (0, 3, 0.0, 0.0)


def test_matcher_not_called_when_a_side_is_empty():
    m = ScriptedMatcher({})
    score_items([ITEM2, ITEM3, ITEM4], m)
    assert m.calls == 0


def test_micro_aggregation_over_items_hand_computed():
    res = score_items([ITEM1, ITEM2, ITEM3, ITEM4], ScriptedMatcher(SCRIPT))
    c = res.overall.counts
    # TP_hard 1, TP_soft 1.5, FP 1 + 2 = 3, FN 1 + 3 = 4
    assert (c.tp_hard, c.tp_soft, c.fp_hard, c.fn_hard) == (1, 1.5, 3, 4)
    assert res.overall.hard.precision == pytest.approx(1 / 4) and res.overall.hard.recall == pytest.approx(1 / 5)
    assert res.overall.hard.f1 == pytest.approx(2 / 9)
    assert res.overall.soft.precision == pytest.approx(1 / 3) and res.overall.soft.recall == pytest.approx(3 / 11)
    assert res.overall.soft.f1 == pytest.approx(0.3)
    assert res.by_task["chart"].counts == c and res.n_scored == 4 and not res.excluded
    # per category of chart: data_error TP 1 (i1), FP 1 (i2), FN 1 (i3)
    data = res.by_task_category["chart"]["data_error"].counts
    assert (data.tp_hard, data.fp_hard, data.fn_hard) == (1, 1, 1)
    assert res.by_task_category["chart"]["data_error"].hard.f1 == pytest.approx(0.5)


def test_severity_correlation_over_items_matches_scipy():
    res = score_items([ITEM1, ITEM2, ITEM3, ITEM4], ScriptedMatcher(SCRIPT))
    x, y = [6, 2, 0, 0], [5, 0, 9, 0]  # predicted / gold severity sums of items 1-4 (item 4 counts as 0 vs 0)
    assert [s.pred_severity for s in res.items] == x and [s.gold_severity for s in res.items] == y
    assert res.overall.severity.value == pytest.approx(100 * pearsonr(x, y).statistic)
    assert res.by_task["chart"].severity.n == 4


def test_severity_correlation_undefined_cases():
    assert severity_correlation([1, 2, 3], [2, 4, 7]).value == pytest.approx(100 * pearsonr([1, 2, 3], [2, 4, 7])[0])
    const = severity_correlation([2, 2, 2], [1, 2, 3])
    assert const.value is None and "predicted" in const.reason and "constant" in const.reason
    assert severity_correlation([1], [1]).value is None
    assert severity_correlation([], []).reason.startswith("needs at least 2")
    assert severity_correlation([1, 2], [3, 3]).reason == "gold severity sums are constant"


def test_prf_zero_division_conventions():
    assert prf(0, 0, 0).f1 == 1.0
    assert prf(0, 2, 0).precision == 0.0 and prf(0, 2, 0).recall == 0.0 and prf(0, 2, 0).f1 == 0.0
    assert prf(2, 0, 2).precision == 1.0 and prf(2, 0, 2).recall == 0.5


def test_failed_critiques_are_excluded_and_listed_or_scored_as_empty():
    failed = ItemResult("bad", "chart", gold=crit("chart", d("data_error", 2)), predicted=None, failure="bad_json: x")
    res = score_items([ITEM1, failed], ScriptedMatcher(SCRIPT))
    assert res.n_items == 2 and res.n_scored == 1
    assert [(e.id, e.stage, e.reason) for e in res.excluded] == [("bad", "critique", "bad_json: x")]
    assert res.overall.counts.fn_hard == 1
    as_empty = score_items([ITEM1, failed], ScriptedMatcher(SCRIPT), critique_failure="as_empty")
    assert as_empty.n_scored == 2 and as_empty.overall.counts.fn_hard == 2 and not as_empty.excluded


def test_unparseable_as_empty_scores_the_models_unreadable_output_and_excludes_infrastructure_failures():
    gold = crit("chart", d("data_error", 2))
    unreadable = ItemResult("u", "chart", gold=gold, predicted=None, failure="unparseable: no_json: prose only")
    outage = ItemResult("o", "chart", gold=gold, predicted=None, failure="endpoint_unreachable: no answer")
    res = score_items([ITEM1, unreadable, outage], ScriptedMatcher(SCRIPT), critique_failure="unparseable_as_empty")
    assert res.n_scored == 2 and [(e.id, e.reason) for e in res.excluded] == [("o", "endpoint_unreachable: no answer")]
    assert res.overall.counts.fn_hard == 2  # ITEM1's miss + the unreadable item's one gold error
    with pytest.raises(ValueError, match="unparseable_as_empty"):
        score_items([ITEM1], critique_failure="drop")


def test_judge_failures_exclude_the_item():
    broken = ItemResult("j", "chart", gold=crit("chart", d("data_error", 1, "g-j")),
                        predicted=crit("chart", d("data_error")))
    dup = ItemResult("k", "chart", gold=crit("chart", d("data_error", 1, "g-k"), d("text_error")),
                     predicted=crit("chart", d("data_error"), d("text_error")))
    m = ScriptedMatcher({**SCRIPT, "g-j": MatchError("bad_json", "nope"), "g-k": [(0, 0, "yes"), (1, 0, "yes")]})
    res = score_items([ITEM1, broken, dup], m)
    assert res.n_scored == 1
    assert {(e.id, e.stage, e.reason.split(":")[0]) for e in res.excluded} == {("j", "judge", "bad_json"),
                                                                               ("k", "judge", "not_one_to_one")}


def test_foreign_categories_are_dropped_first():
    # A chart critique scored as a table item: only text_error is a table category.
    pred = crit("chart", d("text_error", 2, "t"), d("data_error", 3))
    item = ItemResult("f", "table", gold=crit("table", d("text_error", 2, "t"), d("layout_error", 1)), predicted=pred)
    res = score_items([item], DeterministicMatcher())
    s = res.items[0]
    assert (s.n_pred, s.n_gold, s.pred_severity, s.gold_severity) == (1, 2, 2, 3)
    assert (s.counts.tp_hard, s.counts.fp_hard, s.counts.fn_hard) == (1, 0, 1)


def test_item_from_record_reads_type_key_and_drops_foreign_and_parse_failures():
    rec = {"id": 7, "category": "table", "gt_img_path": "a.png", "pred_img_path": "b.png",
           "human_errors": [{"type": "numeric_error", "severity": 2, "description": "3.5 read as 35"},
                            {"type": "style_error", "severity": 1, "description": "not a table category"}]}
    ok = item_from_record(rec, '{"errors": [{"type": "numeric_error", "severity": 3, "description": "35 vs 3.5"},'
                               '{"category": "data_error", "severity": 1, "description": "foreign"}]}')
    assert ok.id == "7" and len(ok.gold.errors) == 1 and len(ok.predicted.errors) == 1 and ok.failure is None
    bad = item_from_record(rec, "sorry, I cannot")
    assert bad.predicted is None and bad.failure.startswith("unparseable: no_json")
    none = item_from_record(rec, None, failure="timeout")
    assert none.failure == "timeout"


def test_tasks_and_pooled_categories():
    table = ItemResult("t", "table", gold=crit("table", d("text_error", 1, "same words here")),
                       predicted=crit("table", d("text_error", 1, "same words here")))
    res = score_items([ITEM1, table], ScriptedMatcher({**SCRIPT, "same words here": [(0, 0, "yes")]}))
    assert set(res.by_task) == {"chart", "table"}
    assert res.by_task["table"].hard.f1 == 1.0
    assert res.by_task["table"].severity.value is None  # one item
    pooled = res.by_category["text_error"].counts  # chart text_error (partial) + table text_error (yes)
    assert (pooled.tp_hard, pooled.tp_soft) == (1, 1.5)
    summary = res.summary()
    assert summary["n_scored"] == 2 and summary["by_task"]["table"]["f1_hard"] == 100.0
    json.dumps(res.to_dict())


# --------------------------------------------------------------------------------------------- deterministic

GOLD_BAR = d("data_error", 2, "The bar is 40 in the reference but 55 in the candidate.",
             "second bar of series 'Revenue'")
GOLD_TITLE = d("text_error", 1, "The title reads 'Sales 2020' instead of 'Revenue 2021'.", "chart title")


def test_deterministic_identical_is_yes_and_category_is_required():
    m = DeterministicMatcher()
    assert m.match("chart", [GOLD_BAR], [GOLD_BAR])[0].verdict == "yes"
    other_cat = d("style_error", 2, GOLD_BAR.description, GOLD_BAR.location)
    assert m.match("chart", [other_cat], [GOLD_BAR]) == []


def test_deterministic_yes_partial_none_by_similarity():
    m = DeterministicMatcher()
    paraphrase = d("text_error", 1, "Title says Sales 2020 rather than Revenue 2021", "chart title")
    general = d("data_error", 2, "Some bar values differ from the reference.", "Revenue bars")
    unrelated = d("data_error", 1, "Legend is placed at the lower left instead of upper right.", "legend")
    assert m.similarity(paraphrase, GOLD_TITLE) >= m.yes_threshold
    assert m.partial_threshold <= m.similarity(general, GOLD_BAR) < m.yes_threshold
    assert m.similarity(unrelated, GOLD_BAR) < m.partial_threshold
    got = m.match("chart", [unrelated, general, paraphrase], [GOLD_TITLE, GOLD_BAR])
    assert [(x.pred_index, x.gold_index, x.verdict) for x in got] == [(1, 1, "partial"), (2, 0, "yes")]


def test_deterministic_assignment_is_one_to_one_and_optimal():
    m = DeterministicMatcher()
    a = d("text_error", 1, "x axis label reads Time instead of Date", "x axis label")
    b = d("text_error", 1, "y axis label reads Cost instead of Price", "y axis label")
    got = m.match("chart", [b, a, a], [a, b])
    pairs = {(x.pred_index, x.gold_index) for x in got}
    assert pairs == {(0, 1), (1, 0)} or pairs == {(0, 1), (2, 0)}
    assert len({x.gold_index for x in got}) == len(got)


# ------------------------------------------------------------------------------------------------ LLM judge


class _JudgeHandler(BaseHTTPRequestHandler):
    replies: dict = {}
    requests: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, body))
        prompt = body["messages"][-1]["content"]
        reply = next((r for key, r in self.replies.items() if key in prompt), None)
        if reply is None or reply == 500:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        data = json.dumps({"id": "x", "object": "chat.completion",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def judge_server():
    _JudgeHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JudgeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _JudgeHandler
    server.shutdown()
    server.server_close()


def _item(key: str, n_pred: int = 2, n_gold: int = 2, cats=("data_error", "text_error")) -> ItemResult:
    gold = crit("chart", *[d(cats[i % len(cats)], 2, f"{key} gold {i}") for i in range(n_gold)])
    pred = crit("chart", *[d(cats[i % len(cats)], 1, f"{key} pred {i}") for i in range(n_pred)])
    return ItemResult(key, "chart", gold=gold, predicted=pred)


def test_llm_judge_scores_canned_judgments_and_excludes_malformed(judge_server):
    url, handler = judge_server
    handler.replies = {
        "ITEM-GOOD": 'Sure:\n```json\n{"matches": [{"pred_index": 0, "gold_index": 0, "verdict": "yes"},'
                     ' {"pred_index": 1, "gold_index": 1, "verdict": "partial"}]}\n```',
        "ITEM-AUTHORS": '{"matches": [{"pred_id": 1, "gt_id": 1, "match_level": "yes"},'
                        ' {"pred_id": 0, "gt_id": 0, "match_level": "no"}], "unmatched_pred": [0]}',
        "ITEM-MALFORMED": "The first prediction matches the second gold error, I think.",
        "ITEM-TRUNCATED": '{"matches": [{"pred_index": 0, "gold_index": ',
        "ITEM-DUP": '[{"pred_index": 0, "gold_index": 0, "verdict": "yes"},'
                    ' {"pred_index": 1, "gold_index": 0, "verdict": "yes"}]',
        "ITEM-RANGE": '{"matches": [{"pred_index": 5, "gold_index": 0, "verdict": "yes"}]}',
        "ITEM-CROSS": '{"matches": [{"pred_index": 0, "gold_index": 1, "verdict": "yes"}]}',
        "ITEM-DOWN": 500,
    }
    items = [_item("ITEM-GOOD"), _item("ITEM-AUTHORS"), _item("ITEM-MALFORMED"), _item("ITEM-TRUNCATED"),
             _item("ITEM-DUP"), _item("ITEM-RANGE"), _item("ITEM-CROSS"), _item("ITEM-DOWN"),
             _item("ITEM-NOCALL", n_pred=0)]
    judge = LLMJudgeMatcher(url, "judge-model", retries=0, timeout_s=10)
    res = score_items(items, judge, workers=2)
    reasons = {e.id: (e.stage, e.reason.split(":")[0]) for e in res.excluded}
    assert reasons == {"ITEM-MALFORMED": ("judge", "no_json"), "ITEM-TRUNCATED": ("judge", "bad_json"),
                       "ITEM-DUP": ("judge", "not_one_to_one"), "ITEM-RANGE": ("judge", "index_out_of_range"),
                       "ITEM-DOWN": ("judge", "judge_unavailable")}
    scored = {s.id: s for s in res.items}
    assert set(scored) == {"ITEM-GOOD", "ITEM-AUTHORS", "ITEM-CROSS", "ITEM-NOCALL"}
    g = scored["ITEM-GOOD"].counts
    assert (g.tp_hard, g.tp_soft, g.fp_hard, g.fn_hard) == (1, 1.5, 0, 0)
    a = scored["ITEM-AUTHORS"].counts
    assert (a.tp_hard, a.fp_hard, a.fn_hard) == (1, 1, 1)
    cross = scored["ITEM-CROSS"].counts  # data_error pred paired with text_error gold: dropped by default
    assert (cross.tp_hard, cross.fp_hard, cross.fn_hard) == (0, 2, 2)
    assert scored["ITEM-NOCALL"].counts.fn_hard == 2
    # overall: TP 1+1, TP_soft 1.5+1, FP 0+1+2+0, FN 0+1+2+2
    c = res.overall.counts
    assert (c.tp_hard, c.tp_soft, c.fp_hard, c.fn_hard) == (2, 2.5, 3, 5)
    # the requests: model, temperature 0, both lists with indices in the prompt; no call for the empty side
    assert len(handler.requests) == 8
    path, body = next(r for r in handler.requests if "ITEM-GOOD" in r[1]["messages"][-1]["content"])
    assert path == "/v1/chat/completions" and body["model"] == "judge-model" and body["temperature"] == 0.0
    prompt = body["messages"][-1]["content"]
    assert '"pred_index": 1' in prompt and '"gold_index": 1' in prompt and "ITEM-GOOD gold 1" in prompt


def test_llm_judge_cross_category_kept_when_not_required(judge_server):
    url, handler = judge_server
    handler.replies = {"ITEM-CROSS": '{"matches": [{"pred_index": 0, "gold_index": 1, "verdict": "yes"}]}'}
    judge = LLMJudgeMatcher(url, "m", retries=0, require_same_category=False)
    res = score_items([_item("ITEM-CROSS")], judge)
    assert res.items[0].counts.tp_hard == 1
    # TP attributed to the predicted category (data_error); the gold text_error is matched, so no FN there
    by_cat = res.items[0].by_category
    assert by_cat["data_error"].tp_hard == 1 and by_cat["text_error"].fn_hard == 0 and by_cat["data_error"].fn_hard == 1


def test_parse_judge_reply_lenient_reproduces_authors_cleanup():
    reply = ('{"matches": [{"pred_id": 0, "gt_id": 0, "match_level": "yes"}, {"pred_id": 1, "gt_id": 0, '
             '"match_level": "yes"}, {"pred_id": 9, "gt_id": 1, "match_level": "partial"}, {"pred_id": 1, '
             '"gt_id": 1, "match_level": "partial"}]}')
    with pytest.raises(MatchError) as err:
        parse_judge_reply(reply, 2, 2)
    assert err.value.reason == "not_one_to_one"
    got = parse_judge_reply(reply, 2, 2, lenient=True)
    assert [(m.pred_index, m.gold_index, m.verdict) for m in got] == [(0, 0, "yes"), (1, 1, "partial")]
    with pytest.raises(MatchError) as err:
        parse_judge_reply('{"result": []}', 1, 1)
    assert err.value.reason == "bad_shape"
    assert parse_judge_reply("<think>hmm {</think>\n{\"matches\": []}", 1, 1) == []


def test_a_group_with_nothing_scored_reports_undefined_scores_not_100():
    from visual_erm.bench.critic_metrics import BenchMetrics, Counts, GroupMetrics, summary_metric_rows

    empty = GroupMetrics.of(Counts(), 0)
    m = BenchMetrics(overall=empty, by_task={}, by_task_category={}, by_category={}, items=(), excluded=(),
                     n_items=3)
    row = m.summary()["overall"]
    assert row["n"] == 0 and row["f1_hard"] is None and row["f1_soft"] is None and row["sc"] is None
    assert row["sc_reason"] == "no item was scored"
    assert dict(summary_metric_rows(m.summary())) == {"items_scored": 0, "items_excluded": 0}
