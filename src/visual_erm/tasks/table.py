"""The table modality: seed generator, grid model and DOM corruption operators.

* :func:`generate_seed` — a realistic HTML table (``<table>`` with ``<thead>``/``<tbody>``), deterministic per seed;
  :data:`KINDS` lists the table families (clinical baseline, quarterly finance, benchmark results, sports standings,
  inventory, regional sales with row groups, lab results, monthly climate).
* :data:`OPERATORS` — DOM operators (see :mod:`visual_erm.tasks.table_ops`) for the paper's table categories:
  ``layout_error`` (merge/split cells, swap rows/columns, drop a row/column, alignment), ``text_error`` (typo, header
  text, emphasis) and ``numeric_error`` (number, unit, sign, decimal mark/places).
* :func:`parse_grid` — the logical grid (rowspan/colspan resolved) of an HTML or markdown table.

Composing edits honestly
------------------------
Gold locations are always given in the *reference's* grid. Operators applied one after another stay honest when
(a) no earlier edit removed a row or column (``detail["geometry"]``; otherwise later row/column numbers would be the
edited table's, not the reference's), and (b) the edits touch disjoint grid slots (``detail["targets"]``; e.g. a
number changed in a row that a later edit drops, or a typo in a cell a later edit merges, would leave a gold error
that is no longer visible). :func:`compose_compatible` checks both; :func:`compose` applies operators under that rule.
"""

from __future__ import annotations

import random

from visual_erm.tasks.base import Edit, SeedProgram
from visual_erm.tasks.table_gen import KIND_BUILDERS, to_html
from visual_erm.tasks.table_grid import Cell, Grid, location, parse_doc, parse_grid  # noqa: F401  (re-exported)
from visual_erm.tasks.table_ops import OPERATORS  # noqa: F401  (re-exported)

KINDS: tuple[str, ...] = tuple(KIND_BUILDERS)


def generate_seed(seed: int) -> SeedProgram:
    """A realistic HTML table for ``seed`` (same seed → same table)."""
    rng = random.Random(f"table-seed-{seed}")
    kind = KINDS[rng.randrange(len(KINDS))]
    spec = KIND_BUILDERS[kind](rng)
    return SeedProgram(seed_id=f"table-{seed}", task="table", program=to_html(spec), kind=kind)


def compose_compatible(earlier: Edit, later: Edit) -> bool:
    """True when ``later`` (applied to ``earlier.program``) keeps both gold labels true in the reference's frame."""
    if earlier.detail.get("geometry"):
        return False
    a = {tuple(t) for t in earlier.detail.get("targets", [])}
    b = {tuple(t) for t in later.detail.get("targets", [])}
    return not (a & b)


def compose(program: str, rng: random.Random, n_edits: int, operators=None, max_tries: int = 30,
            check_compatible: bool = True) -> list[Edit]:
    """Apply up to ``n_edits`` distinct operators in sequence, keeping only edits compatible with every earlier one
    (``check_compatible=False`` keeps any edit that applies); returns the edits in order (the last edit's
    ``program`` is the final candidate)."""
    ops = list(operators or OPERATORS)
    edits: list[Edit] = []
    current = program
    tries = 0
    while len(edits) < n_edits and tries < max_tries:
        tries += 1
        op = rng.choice(ops)
        if any(e.operator == op.name for e in edits):
            continue
        edit = op.apply(current, rng)
        if edit is None or edit.program == current:
            continue
        if check_compatible and any(not compose_compatible(prev, edit) for prev in edits):
            continue
        edits.append(edit)
        current = edit.program
    return edits
