"""The chart task: matplotlib seed programs and AST corruption operators (see :mod:`visual_erm.tasks.base`).

* :func:`generate_seed` writes a realistic ChartMimic-style script (:mod:`visual_erm.tasks.chart_gen`);
* :data:`OPERATORS` edit a parsed program and report the discrepancy they cause
  (:mod:`visual_erm.tasks.chart_ops`); every chart category (structure, data, text, style) is covered;
* :data:`ELIGIBILITY` names the operators that need a chart feature (twin axes, several subplots, a colormap, text
  on the plot, a legend, line/point artists) with a predicate on the program that says whether it has that feature.

Composing edits honestly
------------------------
Every edit records ``detail["targets"]``: tuples such as ``("series", axes, j)``, ``("title", axes)``,
``("legend", axes)``, ``("xaxis", axes)``, ``("axes", axes)``, where ``axes`` is ``'#k'`` (flat subplot index),
a receiver name, ``'fig'`` or the wildcard ``'*'``. :func:`compose_compatible` refuses a later edit when

* the earlier edit reshaped the figure (:data:`RESHAPING`: a subplot, twin axis or series dropped, the layout or a
  chart type changed) — reshaping edits may only come last, since later series indices, panel names and axes
  would no longer be the reference's;
* the later edit reshapes an axes that an earlier edit touched (e.g. dropping the series whose value was changed);
* the two edits touch the same element (same series, same title, same legend, same axis).
"""

from __future__ import annotations

import random

from visual_erm.tasks.base import Edit, SeedProgram
from visual_erm.tasks.chart_gen import KINDS, build
from visual_erm.tasks.chart_ops import ANY, ELIGIBILITY, OPERATORS, OPERATORS_BY_NAME

__all__ = ["ELIGIBILITY", "KINDS", "OPERATORS", "OPERATORS_BY_NAME", "RESHAPING", "compose_compatible",
           "generate_seed"]

#: Operators that change the figure's structure (axes, series indices, panel positions): they may only come last.
RESHAPING = frozenset({"drop_subplot", "change_subplot_layout", "drop_twin_axis", "drop_series", "change_chart_type"})


def generate_seed(seed: int, kind: str | None = None) -> SeedProgram:
    """A chart program, deterministic for ``seed``; ``kind`` forces one of :data:`KINDS` (default: drawn)."""
    rng = random.Random(f"chart-seed-{seed}")
    chosen = kind if kind is not None else KINDS[rng.randrange(len(KINDS))]
    if chosen not in KINDS:
        raise ValueError(f"unknown chart kind {chosen!r}; choose one of {', '.join(KINDS)}")
    program = build(chosen, rng)
    return SeedProgram(seed_id=f"chart-{seed}", task="chart", program=program, kind=chosen)


def _match(a: tuple, b: tuple) -> bool:
    """Two targets name the same element: same kind and every other position equal or a wildcard."""
    if len(a) != len(b) or a[0] != b[0]:
        return False
    return all(x == y or ANY in (x, y) for x, y in zip(a[1:], b[1:]))


def _same_axes(x, y) -> bool:
    return x == y or ANY in (x, y)


def compose_compatible(earlier: Edit, later: Edit) -> bool:
    """May ``later`` (applied to ``earlier.program``) be kept with both gold labels staying true?"""
    if earlier.operator in RESHAPING:
        return False
    a = [tuple(t) for t in earlier.detail.get("targets", [])]
    b = [tuple(t) for t in later.detail.get("targets", [])]
    if not a or not b:  # an edit that does not say what it touched cannot be composed safely
        return False
    if later.operator in RESHAPING:
        later_axes = [t[1] for t in b if len(t) >= 2]
        return not any(len(t) >= 2 and _same_axes(t[1], ax) for t in a for ax in later_axes)
    return not any(_match(x, y) for x in a for y in b)
