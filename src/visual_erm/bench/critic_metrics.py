"""VC-RewardBench metrics: F1-hard, F1-soft (micro over items) and Sc (severity correlation), as the authors score.

Per item (id, task, gold critique, predicted critique):

1. Errors whose category is not one of the task's categories are dropped from both lists.
2. A matcher pairs predicted with gold errors one-to-one; each pair is ``yes`` or ``partial``
   (:mod:`visual_erm.bench.matchers`).
3. Counts, with ``Y`` = #yes pairs, ``Q`` = #partial pairs, ``np``/``ng`` = #predicted/#gold errors::

       TP_hard = Y                 TP_soft = Y + 0.5·Q
       FP      = np − (Y + Q)      (predictions left unmatched)
       FN      = ng − (Y + Q)      (gold errors left unmatched)

   ``partial_in_hard="ignore"`` (default, the authors' released ``evaluation.py``): the same FP and FN serve hard
   and soft metrics, so a partial pair counts neither for nor against the hard metrics.
   ``partial_in_hard="miss"``: for the hard metrics a partial pair is a miss on both sides,
   ``FP_hard = np − Y`` and ``FN_hard = ng − Y`` (soft metrics unchanged). Then P_hard = Y/np, R_hard = Y/ng.
   Edge cases follow from the formulas: both lists empty → no TP/FP/FN at all (the item still enters Sc with
   0 vs 0, i.e. it "counts as correct" there); gold empty, predictions non-empty → all FP; predictions empty,
   gold non-empty → all FN.
4. Per category: a pair's TP goes to the *predicted* error's category; FP by the predicted error's category; FN by
   the gold error's category (the authors' attribution; equal categories are required by the deterministic matcher
   and, by default, the LLM judge).

Aggregation (micro): counts are summed over the items of a task (and per category of the task), and over all items
for the overall figures (and per category name across tasks, e.g. ``text_error`` of chart + table). Then::

    P = TP / (TP + FP)     R = TP / (TP + FN)     F1 = 2PR / (P + R)

with x/0 = 0, except that a group with TP = FP = FN = 0 (nothing predicted, nothing to find) scores P = R = F1 = 1
(the authors' ``f1_score`` does this for the hard F1; their soft F1 returns 0 there, an artefact not reproduced).
Reported in [0, 1]; multiply by 100 for the paper's tables.

Sc: Pearson correlation, across the scored items of a group, of the predicted severity sum with the gold severity
sum (after step 1), ×100. Also per category (sums of that category's severities). Fewer than two items or a
constant vector → ``None`` with the reason.

Excluded items: an item whose critique failed (``ItemResult.failure`` set, or no predicted critique) and an item the
matcher could not judge (:class:`MatchError`) are left out of every count and correlation and listed in
``BenchMetrics.excluded`` with stage and reason. Note: the authors' code scores a failed critique as an empty
prediction (all FN) instead; pass ``critique_failure="as_empty"`` for that, or
``critique_failure="unparseable_as_empty"`` to score as empty only what the model wrote but nobody can read
(failure codes starting ``unparseable``) and still exclude failures of the infrastructure (endpoint down, image
that does not decode), which say nothing about the model. :func:`visual_erm.bench.run_critic.run_critic_bench`
uses that last mode by default: otherwise a model that never writes valid JSON scores "undefined", not 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from visual_erm.bench.matchers import DeterministicMatcher, Match, Matcher, MatchError, validate_matches
from visual_erm.schema import CATEGORIES, TASKS, Critique, CritiqueParseError, Discrepancy, Task, parse_critique

__all__ = ["ItemResult", "Counts", "PRF", "Correlation", "ItemScore", "Excluded", "GroupMetrics", "BenchMetrics",
           "score_items", "item_counts", "prf", "severity_correlation", "item_from_record", "summary_metric_rows",
           "CRITIQUE_FAILURE_MODES", "is_unparseable"]

CritiqueFailureMode = Literal["exclude", "as_empty", "unparseable_as_empty"]
CRITIQUE_FAILURE_MODES: tuple[str, ...] = ("exclude", "as_empty", "unparseable_as_empty")
UNPARSEABLE = "unparseable"  # the failure code of a critique the model wrote but that does not parse


def is_unparseable(failure: str | None) -> bool:
    """Whether a failure string says the model's own output was unreadable (not an infrastructure failure)."""
    return bool(failure) and failure.split(":", 1)[0].strip() == UNPARSEABLE


@dataclass(frozen=True)
class ItemResult:
    """One benchmark item: the gold critique, and the critic's critique or why it has none."""

    id: str
    task: Task
    gold: Critique
    predicted: Critique | None = None
    failure: str | None = None


@dataclass
class Counts:
    tp_hard: float = 0.0
    tp_soft: float = 0.0
    fp_hard: float = 0.0
    fn_hard: float = 0.0
    fp_soft: float = 0.0
    fn_soft: float = 0.0
    n_yes: int = 0
    n_partial: int = 0
    n_pred: int = 0
    n_gold: int = 0

    def __iadd__(self, other: "Counts") -> "Counts":
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        return self


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float


def prf(tp: float, fp: float, fn: float) -> PRF:
    """P, R, F1 with x/0 = 0, and P = R = F1 = 1 when there was nothing to predict and nothing was predicted."""
    if tp == 0 and fp == 0 and fn == 0:
        return PRF(1.0, 1.0, 1.0)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return PRF(p, r, f)


@dataclass(frozen=True)
class Correlation:
    """Pearson r ×100 (``value``), or None with ``reason``; ``n`` = number of items."""

    value: float | None
    n: int
    reason: str | None = None


def severity_correlation(pred: Sequence[float], gold: Sequence[float]) -> Correlation:
    """Pearson correlation ×100 of two equally long vectors; None (with a reason) when undefined."""
    n = len(pred)
    if n != len(gold):
        raise ValueError(f"vectors differ in length: {n} vs {len(gold)}")
    if n < 2:
        return Correlation(None, n, f"needs at least 2 items, got {n}")
    x, y = np.asarray(pred, dtype=float), np.asarray(gold, dtype=float)
    dx, dy = x - x.mean(), y - y.mean()
    vx, vy = float(dx @ dx), float(dy @ dy)
    if vx == 0 or vy == 0:
        which = "predicted" if vx == 0 and vy != 0 else "gold" if vy == 0 and vx != 0 else "predicted and gold"
        return Correlation(None, n, f"{which} severity sums are constant")
    r = float(dx @ dy) / math.sqrt(vx * vy)
    return Correlation(100.0 * max(-1.0, min(1.0, r)), n)


@dataclass(frozen=True)
class ItemScore:
    id: str
    task: str
    matches: tuple[Match, ...]
    counts: Counts
    by_category: dict[str, Counts]
    pred_severity: int
    gold_severity: int
    pred_severity_by_category: dict[str, int]
    gold_severity_by_category: dict[str, int]
    n_pred: int
    n_gold: int


@dataclass(frozen=True)
class Excluded:
    id: str
    task: str
    stage: Literal["critique", "judge", "input"]
    reason: str


@dataclass(frozen=True)
class GroupMetrics:
    """Summed counts and the derived P/R/F1 (hard and soft) of a group of items, plus Sc where defined."""

    n_items: int
    counts: Counts
    hard: PRF
    soft: PRF
    severity: Correlation | None = None

    @classmethod
    def of(cls, counts: Counts, n_items: int, severity: Correlation | None = None) -> "GroupMetrics":
        return cls(n_items, counts, prf(counts.tp_hard, counts.fp_hard, counts.fn_hard),
                   prf(counts.tp_soft, counts.fp_soft, counts.fn_soft), severity)


@dataclass(frozen=True)
class BenchMetrics:
    overall: GroupMetrics
    by_task: dict[str, GroupMetrics]
    by_task_category: dict[str, dict[str, GroupMetrics]]
    by_category: dict[str, GroupMetrics]  # category names pooled across tasks
    items: tuple[ItemScore, ...]
    excluded: tuple[Excluded, ...]
    n_items: int
    partial_in_hard: str = "ignore"

    @property
    def n_scored(self) -> int:
        return len(self.items)

    def summary(self) -> dict:
        """Headline numbers ×100 (F1-hard, F1-soft, Sc) overall and per task, as the paper's table reports.

        A group with no scored item reports None for every score (with ``sc_reason``), never 100."""
        def row(g: GroupMetrics) -> dict:
            if g.n_items == 0:  # nothing scored: every score is undefined, not a perfect 100
                return {"n": 0, **dict.fromkeys(("f1_hard", "f1_soft", "precision_hard", "recall_hard",
                                                 "precision_soft", "recall_soft", "sc")),
                        "sc_reason": "no item was scored"}
            return {"n": g.n_items, "f1_hard": 100 * g.hard.f1, "f1_soft": 100 * g.soft.f1,
                    "precision_hard": 100 * g.hard.precision, "recall_hard": 100 * g.hard.recall,
                    "precision_soft": 100 * g.soft.precision, "recall_soft": 100 * g.soft.recall,
                    "sc": g.severity.value if g.severity else None,
                    "sc_reason": g.severity.reason if g.severity else None}
        return {"overall": row(self.overall), "by_task": {t: row(g) for t, g in self.by_task.items()},
                "n_items": self.n_items, "n_scored": self.n_scored, "n_excluded": len(self.excluded),
                "partial_in_hard": self.partial_in_hard}

    def to_dict(self) -> dict:
        """Everything, JSON-serialisable (matches included per item)."""
        return asdict(self) | {"summary": self.summary()}


def _keep(errors: Sequence[Discrepancy], task: str) -> list[Discrepancy]:
    allowed = CATEGORIES[task]
    return [e for e in errors if e.category in allowed]


def item_counts(pred: Sequence[Discrepancy], gold: Sequence[Discrepancy], matches: Sequence[Match], task: str,
                partial_in_hard: str = "ignore") -> tuple[Counts, dict[str, Counts]]:
    """The counts of one item overall and per category of the task (formulas in the module docstring)."""
    if partial_in_hard not in ("ignore", "miss"):
        raise ValueError(f"partial_in_hard must be 'ignore' or 'miss', got {partial_in_hard!r}")
    validate_matches(matches, len(pred), len(gold))
    cats = CATEGORIES[task]
    foreign = sorted({e.category for e in (*pred, *gold)} - set(cats))
    if foreign:
        raise ValueError(f"categories {foreign} are not {task} categories; drop them first (score_items does)")
    by_cat = {c: Counts() for c in cats}
    total = Counts(n_pred=len(pred), n_gold=len(gold))
    for e in pred:
        by_cat[e.category].n_pred += 1
    for e in gold:
        by_cat[e.category].n_gold += 1
    matched_p = {m.pred_index: m for m in matches}
    matched_g = {m.gold_index: m for m in matches}
    for m in matches:
        c = by_cat[pred[m.pred_index].category]
        for target in (total, c):
            if m.verdict == "yes":
                target.tp_hard += 1
                target.tp_soft += 1
                target.n_yes += 1
            else:
                target.tp_soft += 0.5
                target.n_partial += 1
    for i, e in enumerate(pred):
        m = matched_p.get(i)
        unmatched = m is None
        hard_miss = unmatched or (partial_in_hard == "miss" and m.verdict == "partial")
        for target in (total, by_cat[e.category]):
            target.fp_soft += unmatched
            target.fp_hard += hard_miss
    for j, e in enumerate(gold):
        m = matched_g.get(j)
        unmatched = m is None
        hard_miss = unmatched or (partial_in_hard == "miss" and m.verdict == "partial")
        for target in (total, by_cat[e.category]):
            target.fn_soft += unmatched
            target.fn_hard += hard_miss
    return total, by_cat


def _severity_by_category(errors: Sequence[Discrepancy], task: str) -> dict[str, int]:
    out = {c: 0 for c in CATEGORIES[task]}
    for e in errors:
        out[e.category] += e.severity
    return out


def _score_one(item: ItemResult, matcher: Matcher, partial_in_hard: str, critique_failure: str):
    if item.task not in TASKS:
        return Excluded(str(item.id), str(item.task), "input", f"unknown task {item.task!r}")
    gold = _keep(item.gold.errors, item.task)
    if item.predicted is None or item.failure is not None:
        if critique_failure == "exclude" or (critique_failure == "unparseable_as_empty"
                                             and not is_unparseable(item.failure)):
            return Excluded(str(item.id), item.task, "critique", item.failure or "no predicted critique")
        pred: list[Discrepancy] = []
    else:
        pred = _keep(item.predicted.errors, item.task)
    try:
        matches = list(matcher.match(item.task, pred, gold)) if pred and gold else []
        validate_matches(matches, len(pred), len(gold))
    except MatchError as exc:
        return Excluded(str(item.id), item.task, "judge", f"{exc.reason}: {exc.message}")
    counts, by_cat = item_counts(pred, gold, matches, item.task, partial_in_hard)
    ps, gs = _severity_by_category(pred, item.task), _severity_by_category(gold, item.task)
    return ItemScore(str(item.id), item.task, tuple(sorted(matches, key=lambda m: m.pred_index)), counts, by_cat,
                     sum(ps.values()), sum(gs.values()), ps, gs, len(pred), len(gold))


def score_items(items: Sequence[ItemResult], matcher: Matcher | None = None, *,
                partial_in_hard: Literal["ignore", "miss"] = "ignore",
                critique_failure: CritiqueFailureMode = "exclude",
                workers: int = 1) -> BenchMetrics:
    """Score a benchmark run (formulas in the module docstring). ``matcher`` defaults to DeterministicMatcher().

    ``workers`` > 1 runs the matcher on several items at once (threads; useful for the LLM judge).
    """
    if partial_in_hard not in ("ignore", "miss"):
        raise ValueError(f"partial_in_hard must be 'ignore' or 'miss', got {partial_in_hard!r}")
    if critique_failure not in CRITIQUE_FAILURE_MODES:
        raise ValueError(f"critique_failure must be one of {', '.join(CRITIQUE_FAILURE_MODES)}, "
                         f"got {critique_failure!r}")
    matcher = matcher or DeterministicMatcher()
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda it: _score_one(it, matcher, partial_in_hard, critique_failure), items))
    else:
        results = [_score_one(it, matcher, partial_in_hard, critique_failure) for it in items]
    scored = [r for r in results if isinstance(r, ItemScore)]
    excluded = [r for r in results if isinstance(r, Excluded)]

    overall = Counts()
    task_counts: dict[str, Counts] = defaultdict(Counts)
    task_cat_counts: dict[str, dict[str, Counts]] = defaultdict(lambda: defaultdict(Counts))
    cat_counts: dict[str, Counts] = defaultdict(Counts)
    cat_items: dict[str, int] = defaultdict(int)
    for s in scored:
        overall += s.counts
        task_counts[s.task] += s.counts
        for c, k in s.by_category.items():
            task_cat_counts[s.task][c] += k
            cat_counts[c] += k
            cat_items[c] += 1

    by_task, by_task_category = {}, {}
    for task in TASKS:
        rows = [s for s in scored if s.task == task]
        if not rows:
            continue
        sc = severity_correlation([s.pred_severity for s in rows], [s.gold_severity for s in rows])
        by_task[task] = GroupMetrics.of(task_counts[task], len(rows), sc)
        by_task_category[task] = {
            c: GroupMetrics.of(task_cat_counts[task][c], len(rows), severity_correlation(
                [s.pred_severity_by_category[c] for s in rows], [s.gold_severity_by_category[c] for s in rows]))
            for c in CATEGORIES[task]
        }
    by_category = {c: GroupMetrics.of(k, cat_items[c]) for c, k in sorted(cat_counts.items())}
    overall_sc = severity_correlation([s.pred_severity for s in scored], [s.gold_severity for s in scored])
    return BenchMetrics(GroupMetrics.of(overall, len(scored), overall_sc), by_task, by_task_category, by_category,
                        tuple(scored), tuple(excluded), len(items), partial_in_hard)


def item_from_record(record: dict, prediction: str | dict | Critique | None, *, failure: str | None = None
                     ) -> ItemResult:
    """Build an ItemResult from a VC-RewardBench record (``id``, ``category``, ``human_errors``) and a critic's
    output (raw text, a parsed paper-format dict, a Critique, or None with ``failure``).

    Gold and predicted errors outside the task's categories are dropped; an unparseable prediction becomes a
    critique failure with the parser's reason code.
    """
    task = record["category"]
    if task not in TASKS:
        raise ValueError(f"record {record.get('id')!r} has unknown category {task!r}")
    gold = Critique.from_json_dict(task, {"errors": record.get("human_errors") or []}, drop_foreign=True)
    item_id = str(record.get("id"))
    if failure is not None or prediction is None:
        return ItemResult(item_id, task, gold, None, failure or "no prediction")
    try:
        if isinstance(prediction, Critique):
            pred = Critique(task=task, errors=tuple(_keep(prediction.errors, task)))
        elif isinstance(prediction, dict):
            pred = Critique.from_json_dict(task, prediction, drop_foreign=True)
        else:
            pred = parse_critique(prediction, task, drop_foreign=True).critique
    except CritiqueParseError as exc:
        return ItemResult(item_id, task, gold, None, f"{UNPARSEABLE}: {exc.reason}: {exc.message}")
    return ItemResult(item_id, task, gold, pred)


def summary_metric_rows(summary: dict) -> list[tuple[str, float]]:
    """(name, value) pairs of a ``summary()`` for a metrics logger: items scored/excluded, then F1-hard, F1-soft
    and Sc overall and per task (``f1_hard``, ``f1_hard_chart``, ...). Undefined scores are left out, not logged
    as 0, so a dashboard never plots a missing value as a real one."""
    out: list[tuple[str, float]] = [("items_scored", summary["n_scored"]), ("items_excluded", summary["n_excluded"])]
    rows = [("", summary["overall"])] + [(f"_{task}", row) for task, row in summary["by_task"].items()]
    for suffix, row in rows:
        for key in ("f1_hard", "f1_soft", "sc"):
            if row.get(key) is not None:
                out.append((f"{key}{suffix}", round(row[key], 3)))
    return out
