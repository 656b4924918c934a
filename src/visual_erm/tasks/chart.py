"""The chart task: matplotlib seed programs and AST corruption operators (see :mod:`visual_erm.tasks.base`).

* :func:`generate_seed` writes a realistic ChartMimic-style script (:mod:`visual_erm.tasks.chart_gen`);
* :data:`OPERATORS` edit a parsed program and report the discrepancy they cause
  (:mod:`visual_erm.tasks.chart_ops`); every chart category (structure, data, text, style) is covered.
"""

from __future__ import annotations

import random

from visual_erm.tasks.base import SeedProgram
from visual_erm.tasks.chart_gen import KINDS, build
from visual_erm.tasks.chart_ops import OPERATORS, OPERATORS_BY_NAME

__all__ = ["KINDS", "OPERATORS", "OPERATORS_BY_NAME", "generate_seed"]


def generate_seed(seed: int, kind: str | None = None) -> SeedProgram:
    """A chart program, deterministic for ``seed``; ``kind`` forces one of :data:`KINDS` (default: drawn)."""
    rng = random.Random(f"chart-seed-{seed}")
    chosen = kind if kind is not None else KINDS[rng.randrange(len(KINDS))]
    if chosen not in KINDS:
        raise ValueError(f"unknown chart kind {chosen!r}; choose one of {', '.join(KINDS)}")
    program = build(chosen, rng)
    return SeedProgram(seed_id=f"chart-{seed}", task="chart", program=program, kind=chosen)
