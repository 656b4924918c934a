"""SVG-icon modality: seed icons, XML-tree corruption operators, and the task protocol of :mod:`tasks.base`.

* ``generate_seed(seed)`` — a realistic icon (see :mod:`visual_erm.tasks.svg_gen`), ``seed_id`` ``svg-<seed>``;
* ``KINDS`` — the icon kinds the generator draws from;
* ``OPERATORS`` — edits of the lxml tree with exact gold discrepancies (see :mod:`visual_erm.tasks.svg_ops`).

The structural critic for SVG lives in :mod:`visual_erm.critics.svg_structural`.
"""

from __future__ import annotations

from visual_erm.tasks.base import Edit, SeedProgram
from visual_erm.tasks.svg_gen import KINDS, generate_icon
from visual_erm.tasks.svg_ops import OPERATORS

TASK = "svg"

__all__ = ["KINDS", "OPERATORS", "TASK", "compose_compatible", "generate_seed", "operator_by_name"]

#: Operators that change element indices (and so every XPath after them): they may only come last.
INDEX_CHANGING = frozenset({"drop_element", "drop_group", "drop_text", "reorder_layers"})


def targets_related(a: str, b: str) -> bool:
    """Two XPaths name the same element or one contains the other."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def compose_compatible(earlier: Edit, later: Edit) -> bool:
    """May ``later`` be applied after ``earlier`` with both gold labels staying true?

    No when ``earlier`` reshaped the tree (its XPaths no longer line up) or the two touch related elements.
    """
    if earlier.operator in INDEX_CHANGING:
        return False
    a, b = earlier.detail.get("targets", []), later.detail.get("targets", [])
    return not any(targets_related(x, y) for x in a for y in b)


def generate_seed(seed: int) -> SeedProgram:
    """A deterministic icon for ``seed``."""
    kind, program = generate_icon(seed)
    return SeedProgram(seed_id=f"svg-{seed}", task=TASK, program=program, kind=kind)


def operator_by_name(name: str):
    for op in OPERATORS:
        if op.name == name:
            return op
    raise KeyError(f"unknown svg operator {name!r}; choose one of {', '.join(o.name for o in OPERATORS)}")
