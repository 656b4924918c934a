"""The small protocol every modality (chart, table, svg) implements for the reward-data engine.

A task module provides:

* ``generate_seed(seed) -> SeedProgram``: a realistic program, deterministic for a given integer seed;
* ``OPERATORS``: corruption operators that edit the *parsed* program (Python AST, HTML DOM, SVG XML tree) and report
  the exact discrepancy they cause.

Severity rule (used by every operator, so labels are consistent across tasks):

* **3 — severe**: the structure or key content changes: chart type, a series / row / column / subplot / shape
  dropped or added, merged or split cells, swapped rows or columns, a value changed by more than 50 %,
  the main title replaced, a sign flipped.
* **2 — medium**: one piece of content is wrong but the whole still reads: a value changed by 10–50 %, a label,
  tick label, legend entry or cell text changed, a number's unit or decimal mark changed, axis limits/scale changed,
  legend dropped, a shape moved or scaled noticeably, a glyph changed.
* **1 — minor**: appearance only: colour, line style, marker, line width, opacity, grid, emphasis (bold),
  a value changed by less than 10 %, a small nudge of a shape.

Use :func:`severity_for_change` for numeric changes so every operator applies the same thresholds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Protocol

from visual_erm.schema import Discrepancy


@dataclass(frozen=True)
class SeedProgram:
    """A reference program produced by a generator (or read from a user corpus)."""

    seed_id: str  # stable id; splits are assigned by hashing it, so a seed never crosses splits
    task: str
    program: str
    kind: str  # e.g. "grouped_bar", "rowspan_table", "badge_icon"


@dataclass(frozen=True)
class Edit:
    """The result of applying one operator: the edited program and the discrepancy it causes."""

    program: str
    discrepancy: Discrepancy
    operator: str
    detail: dict = field(default_factory=dict)  # machine-readable facts about the edit (old/new value, target index)


class Operator(Protocol):
    """A corruption operator. ``apply`` returns None when the program offers nothing this operator can edit."""

    name: str
    category: str

    def apply(self, program: str, rng: random.Random) -> Edit | None: ...


@dataclass(frozen=True)
class FunctionOperator:
    """An operator implemented by a plain function ``fn(program, rng) -> Edit | None``."""

    name: str
    category: str
    fn: Callable[[str, random.Random], "Edit | None"]

    def apply(self, program: str, rng: random.Random) -> Edit | None:
        return self.fn(program, rng)


def severity_for_change(old: float, new: float) -> int:
    """Severity of a numeric change by relative size: <10 % → 1, 10–50 % → 2, >50 % or a sign flip → 3."""
    if old == new:
        return 1
    if (old < 0) != (new < 0) and old != 0 and new != 0:
        return 3
    base = abs(old) if old != 0 else max(abs(new), 1e-9)
    rel = abs(new - old) / base
    if rel > 0.5:
        return 3
    if rel >= 0.1:
        return 2
    return 1


def ordinal(n: int) -> str:
    """1 → 'first', 2 → 'second', …; falls back to '11th' style past ten. Used in human-readable locations."""
    words = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]
    if 1 <= n <= len(words):
        return words[n - 1]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
