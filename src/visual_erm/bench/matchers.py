"""Matchers for VC-RewardBench: pair predicted errors one-to-one with gold errors, each pair ``yes`` or ``partial``.

A matcher is any object with ``match(task, pred, gold) -> list[Match]`` (``pred``/``gold`` are sequences of
:class:`~visual_erm.schema.Discrepancy`). It returns only matched pairs; every index appears at most once on each
side. A matcher that cannot judge an item raises :class:`MatchError` (with a stable ``reason`` code) and the item is
excluded from the benchmark and listed.

* :class:`DeterministicMatcher` — offline, reproducible: same category required, fuzzy text similarity of location
  and description, optimal one-to-one assignment (Hungarian algorithm), ``yes``/``partial`` by thresholds.
* :class:`LLMJudgeMatcher` — the authors' protocol: an LLM judge through an OpenAI-compatible chat endpoint sees the
  predicted and the gold list and answers with the matched pairs (same concrete error point → ``yes``; same point but
  the prediction is more general → ``partial``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from rapidfuzz import fuzz, utils
from scipy.optimize import linear_sum_assignment

from visual_erm.schema import CATEGORIES, Discrepancy

__all__ = ["Verdict", "Match", "MatchError", "Matcher", "DeterministicMatcher", "LLMJudgeMatcher",
           "build_judge_prompt", "parse_judge_reply", "validate_matches"]

Verdict = Literal["yes", "partial"]


@dataclass(frozen=True)
class Match:
    pred_index: int
    gold_index: int
    verdict: Verdict
    score: float | None = None  # the similarity behind a deterministic verdict (None for the LLM judge)


class MatchError(RuntimeError):
    """The matcher could not judge this item. ``reason`` is a stable code; ``message`` says what happened."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class Matcher(Protocol):
    def match(self, task: str, pred: Sequence[Discrepancy], gold: Sequence[Discrepancy]) -> list[Match]: ...


def validate_matches(matches: Sequence[Match], n_pred: int, n_gold: int) -> None:
    """Raise :class:`MatchError` unless indices are in range, verdicts valid and the pairing one-to-one."""
    seen_p: set[int] = set()
    seen_g: set[int] = set()
    for m in matches:
        if m.verdict not in ("yes", "partial"):
            raise MatchError("bad_verdict", f"verdict {m.verdict!r} is not 'yes' or 'partial'")
        if not (0 <= m.pred_index < n_pred) or not (0 <= m.gold_index < n_gold):
            raise MatchError("index_out_of_range",
                             f"pair ({m.pred_index}, {m.gold_index}) outside {n_pred} predicted / {n_gold} gold errors")
        if m.pred_index in seen_p or m.gold_index in seen_g:
            raise MatchError("not_one_to_one", f"pair ({m.pred_index}, {m.gold_index}) reuses an error")
        seen_p.add(m.pred_index)
        seen_g.add(m.gold_index)


# --------------------------------------------------------------------------------------------- deterministic


def _mix(a: str, b: str) -> float:
    """Mean of rapidfuzz's token-set and token-sort ratios (lower-cased, punctuation stripped), in [0, 1].

    Token-set alone scores 1.0 whenever one text's words are a subset of the other's ("title" vs "the title is
    wrong"); averaging with token-sort keeps that generous for paraphrases but not for one-word subsets.
    """
    if not a.strip() or not b.strip():
        return 0.0
    kw = {"processor": utils.default_process}
    return (fuzz.token_set_ratio(a, b, **kw) + fuzz.token_sort_ratio(a, b, **kw)) / 200.0


@dataclass(frozen=True)
class DeterministicMatcher:
    """Offline matcher: category must be equal; similarity of location + description; best one-to-one assignment.

    ``similarity(p, g)`` = 0 for different categories; otherwise, with ``mix`` = mean of token-set and token-sort
    ratio (rapidfuzz, lower-cased, punctuation stripped) in [0, 1]::

        sim = w · mix(p.location, g.location) + (1 − w) · mix(p.description, g.description),  w = location_weight
              when both errors have a location, else mix(p.description, g.description)

    Pairs below ``partial_threshold`` get weight 0; the assignment maximising the summed weight is found with
    ``scipy.optimize.linear_sum_assignment``; assigned pairs with sim ≥ ``yes_threshold`` are ``yes``, those with
    ``partial_threshold`` ≤ sim < ``yes_threshold`` are ``partial``, the rest are unmatched.
    """

    yes_threshold: float = 0.75
    partial_threshold: float = 0.5
    location_weight: float = 0.4

    def similarity(self, p: Discrepancy, g: Discrepancy) -> float:
        if p.category != g.category:
            return 0.0
        desc = _mix(p.description, g.description)
        if p.location and g.location:
            return self.location_weight * _mix(p.location, g.location) + (1 - self.location_weight) * desc
        return desc

    def match(self, task: str, pred: Sequence[Discrepancy], gold: Sequence[Discrepancy]) -> list[Match]:
        if not pred or not gold:
            return []
        sim = np.array([[self.similarity(p, g) for g in gold] for p in pred], dtype=float)
        weight = np.where(sim >= self.partial_threshold, sim, 0.0)
        rows, cols = linear_sum_assignment(weight, maximize=True)
        out = []
        for r, c in zip(rows.tolist(), cols.tolist()):
            s = float(sim[r, c])
            if s >= self.yes_threshold:
                out.append(Match(r, c, "yes", s))
            elif s >= self.partial_threshold:
                out.append(Match(r, c, "partial", s))
        return sorted(out, key=lambda m: m.pred_index)


# ------------------------------------------------------------------------------------------------ LLM judge

JUDGE_SYSTEM = "You are a strict evaluator that aligns two lists of visual errors. Output JSON only."

JUDGE_TEMPLATE = """You compare the errors PREDICTED by a critic with the GOLD errors written by human annotators for
the same pair of images (task: {task}). Decide which predicted error and which gold error describe the same concrete
error point.

Allowed error categories for this task: {categories}

Rules:
1. Match a predicted error with a gold error only if they have the same category{category_note}.
2. "yes": both describe the same concrete error point (same position / object / cell / chart element) and the same
   or nearly the same mistake.
3. "partial": the predicted description is more general than the gold one but clearly points at the same error point.
4. Otherwise they do not match. Never force a match: when in doubt, leave both unmatched.
5. One-to-one: each predicted error matches at most one gold error and each gold error at most one predicted error.

Answer with one JSON object only, no other text:
{{"matches": [{{"pred_index": 0, "gold_index": 2, "verdict": "yes"}},
             {{"pred_index": 1, "gold_index": 0, "verdict": "partial"}}]}}
List only matched pairs ("matches": [] when nothing matches).

PREDICTED errors:
{pred}

GOLD errors:
{gold}
"""


def _error_view(index_key: str, i: int, e: Discrepancy, include_location: bool) -> dict:
    out: dict = {index_key: i, "category": e.category, "severity": e.severity}
    if include_location and e.location:
        out["location"] = e.location
    out["description"] = e.description
    return out


def build_judge_prompt(task: str, pred: Sequence[Discrepancy], gold: Sequence[Discrepancy], *,
                       include_location: bool = True, require_same_category: bool = True) -> str:
    """The judge's user message: rules, answer format, and both lists with their indices."""
    return JUDGE_TEMPLATE.format(
        task=task,
        categories=", ".join(CATEGORIES[task]),
        category_note="" if require_same_category else " (or closely overlapping categories)",
        pred=json.dumps([_error_view("pred_index", i, e, include_location) for i, e in enumerate(pred)],
                        ensure_ascii=False, indent=2),
        gold=json.dumps([_error_view("gold_index", i, e, include_location) for i, e in enumerate(gold)],
                        ensure_ascii=False, indent=2),
    )


_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def _balanced_spans(text: str):
    """Every balanced ``{...}``/``[...]`` span, outermost first, strings and escapes respected."""
    pairs = {"{": "}", "[": "]"}
    i = 0
    while i < len(text):
        if text[i] in pairs:
            stack, in_str, esc = [pairs[text[i]]], False, False
            for j in range(i + 1, len(text)):
                ch = text[j]
                if in_str:
                    if esc:
                        esc = False
                    elif ch == "\\":
                        esc = True
                    elif ch == '"':
                        in_str = False
                elif ch == '"':
                    in_str = True
                elif ch in pairs:
                    stack.append(pairs[ch])
                elif ch in "}]":
                    if ch != stack[-1]:
                        break
                    stack.pop()
                    if not stack:
                        yield text[i : j + 1]
                        break
        i += 1


def _first_key(obj: dict, *names: str):
    for n in names:
        if n in obj:
            return obj[n]
    return None


def _as_index(value, what: str) -> int:
    if isinstance(value, bool):
        raise MatchError("bad_shape", f"{what} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise MatchError("bad_shape", f"{what} must be an integer, got {value!r}")


def parse_judge_reply(text: str, n_pred: int, n_gold: int, *, lenient: bool = False) -> list[Match]:
    """Turn the judge's reply into validated matches.

    Accepted shapes: ``{"matches": [...]}`` or a bare list; per pair ``pred_index``/``pred_id``,
    ``gold_index``/``gold_id``/``gt_id`` and ``verdict``/``match_level`` (``yes``, ``partial``; ``no`` entries are
    skipped). Strict (default): anything else — no JSON, wrong shape, index out of range, an error used twice —
    raises :class:`MatchError`. ``lenient=True`` reproduces the authors' clean-up instead: invalid entries are
    dropped and, for a reused index, the first pair wins.
    """
    if text is None or not text.strip():
        raise MatchError("empty_reply", "the judge answered nothing")
    body = _THINK.sub("", text).strip()
    candidates = [m.group(1).strip() for m in _FENCE.finditer(body)] + [body] + list(_balanced_spans(body))
    data, last = None, None
    for cand in candidates:
        try:
            data = json.loads(cand)
        except json.JSONDecodeError as exc:
            last = exc
            continue
        if isinstance(data, (dict, list)):
            break
        data = None
    if data is None:
        if not any(ch in body for ch in "{["):
            raise MatchError("no_json", f"no JSON in the judge's reply: {body[:120]!r}")
        raise MatchError("bad_json", f"the judge's JSON does not parse: {last}")
    if isinstance(data, dict):
        raw = _first_key(data, "matches", "pairs")
        if raw is None:
            raise MatchError("bad_shape", f"the judge's object has no 'matches' list: keys {sorted(data)}")
    else:
        raw = data
    if not isinstance(raw, list):
        raise MatchError("bad_shape", f"'matches' must be a list, got {type(raw).__name__}")
    out: list[Match] = []
    used_p: set[int] = set()
    used_g: set[int] = set()
    for k, entry in enumerate(raw):
        try:
            if not isinstance(entry, dict):
                raise MatchError("bad_shape", f"matches[{k}] must be an object, got {type(entry).__name__}")
            verdict = _first_key(entry, "verdict", "match_level", "match")
            verdict = str(verdict).strip().lower() if verdict is not None else None
            if verdict in ("no", "none", "false"):
                continue
            if verdict not in ("yes", "partial"):
                raise MatchError("bad_verdict", f"matches[{k}] verdict {verdict!r} is not yes/partial/no")
            p = _as_index(_first_key(entry, "pred_index", "pred_id", "pred"), f"matches[{k}].pred_index")
            g = _as_index(_first_key(entry, "gold_index", "gold_id", "gt_id", "gt_index", "gold"),
                          f"matches[{k}].gold_index")
            if not (0 <= p < n_pred) or not (0 <= g < n_gold):
                raise MatchError("index_out_of_range",
                                 f"matches[{k}] pairs pred {p} with gold {g}; there are {n_pred} predicted and "
                                 f"{n_gold} gold errors")
            if p in used_p or g in used_g:
                raise MatchError("not_one_to_one", f"matches[{k}] reuses pred {p} or gold {g}")
        except MatchError:
            if lenient:
                continue
            raise
        used_p.add(p)
        used_g.add(g)
        out.append(Match(p, g, verdict))  # type: ignore[arg-type]
    return out


@dataclass
class LLMJudgeMatcher:
    """The paper's matcher: one chat call per item to an OpenAI-compatible endpoint (vLLM, OpenAI, …).

    Items with an empty side are decided without a call (nothing can match). A transport failure, an HTTP error or
    a reply that fails :func:`parse_judge_reply` raises :class:`MatchError`, which excludes the item.

    ``require_same_category``: the authors' prompt demands equal categories but their code stopped enforcing it
    ("some categories overlap"); default True here enforces it (cross-category pairs are dropped), False follows
    their code. ``include_location``: the authors show the judge category, description and severity only; the
    location is shown too by default (it is part of the chart/SVG errors).
    """

    endpoint: str
    model: str
    api_key: str | None = None
    timeout_s: float = 120.0
    retries: int = 2
    temperature: float = 0.0
    max_tokens: int = 4096
    lenient: bool = False
    require_same_category: bool = True
    include_location: bool = True
    extra_sampling: dict = field(default_factory=dict)

    def _client(self):
        from visual_erm.clients.openai_chat import ChatClient

        return ChatClient(self.endpoint, self.model, timeout_s=self.timeout_s, retries=self.retries,
                          api_key=self.api_key)

    def match(self, task: str, pred: Sequence[Discrepancy], gold: Sequence[Discrepancy]) -> list[Match]:
        from visual_erm.clients.openai_chat import EndpointError

        if not pred or not gold:
            return []
        prompt = build_judge_prompt(task, pred, gold, include_location=self.include_location,
                                    require_same_category=self.require_same_category)
        messages = [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": prompt}]
        try:
            reply = self._client().complete(messages, temperature=self.temperature, max_tokens=self.max_tokens,
                                            **self.extra_sampling)
        except EndpointError as exc:
            raise MatchError("judge_unavailable", str(exc)) from None
        matches = parse_judge_reply(reply, len(pred), len(gold), lenient=self.lenient)
        if self.require_same_category:
            matches = [m for m in matches if pred[m.pred_index].category == gold[m.gold_index].category]
        return matches
