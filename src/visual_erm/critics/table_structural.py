"""A structural critic for tables: compare the logical grids of two HTML (or markdown) tables.

Steps:

1. Parse both tables into logical grids (:func:`visual_erm.tasks.table_grid.parse_grid`; spans resolved).
2. **Align rows**: every (reference row, candidate row) pair is scored by the Dice overlap of the words in the row
   (robust to a changed cell, a dropped column or merged cells), header rows only with header rows; pairs are taken
   greedily best-first (ties broken by position) above a threshold. Unmatched reference rows are missing rows,
   unmatched candidate rows extra rows; matched rows out of order are swapped rows.
3. **Align columns** the same way, scoring a column pair by how many aligned rows hold equal text in both.
4. **Compare cells** of the reference through the row/column alignment: a reference cell covered by several
   candidate cells was split; a candidate cell covering several reference cells merged them; otherwise text, bold
   and alignment are compared. A text difference that lies only in numbers, signs, units or decimal marks is a
   ``numeric_error`` (severity by the shared rule of :mod:`visual_erm.tasks.base`), any other a ``text_error``;
   alignment changes are reported per column when two or more cells of one column changed.

Locations use the reference's grid (1-based, header rows counted, "header row 1, column 3" for header cells) —
the same strings the table operators write. :func:`evaluate_table_critic` measures the critic against the operators'
gold labels on generated tables.
"""

from __future__ import annotations

import difflib
import random
from collections import Counter

from visual_erm.schema import Critique, Discrepancy
from visual_erm.tasks.table_grid import (
    Cell, Grid, col_location, extent_location, location, numeric_change_severity, numeric_only_change,
    pair_location, parse_grid, row_location,
)

LAYOUT, TEXT, NUMERIC = "layout_error", "text_error", "numeric_error"
_ROW_THRESHOLD = 0.34
_COL_THRESHOLD = 0.34
_ALIGN_WORD = {"left": "left-aligned", "right": "right-aligned", "center": "centered", "justify": "justified"}


def _q(text: str, limit: int = 60) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "\u2026"
    return f"'{text}'"


# ------------------------------------------------------------------------------------------------- alignment


def _row_tokens(grid: Grid, r: int) -> Counter:
    words: Counter = Counter()
    for cell in grid.row_cells(r):
        words.update(cell.text.split() or ["\u2205"])
    return words


def _dice(a: Counter, b: Counter) -> float:
    total = sum(a.values()) + sum(b.values())
    if total == 0:
        return 1.0
    return 2.0 * sum((a & b).values()) / total


def _greedy(scores: dict[tuple[int, int], float], threshold: float) -> dict[int, int]:
    """Best-first one-to-one matching of (i, j) pairs scoring at least ``threshold``."""
    out: dict[int, int] = {}
    used: set[int] = set()
    for (i, j), s in sorted(scores.items(), key=lambda kv: (-kv[1], abs(kv[0][0] - kv[0][1]), kv[0])):
        if s < threshold or i in out or j in used:
            continue
        out[i] = j
        used.add(j)
    return out


def _frac_penalty(i: int, j: int, n: int, m: int) -> float:
    return 0.02 * abs(i / max(n, 1) - j / max(m, 1))


def _fill_gaps(mapping: dict[int, int], n: int, m: int, sim, allowed) -> dict[int, int]:
    """Pair leftover items that sit between the same in-order anchors (a heavily changed row/column is the same
    row/column, not a deletion plus an insertion): equal counts pair in order, otherwise an order-preserving DP on
    ``sim`` pairs those scoring above 0.1."""
    out = dict(mapping)
    keep = _lis_keep(sorted(mapping.items()))
    anchors = [(-1, -1)] + sorted((i, j) for i, j in mapping.items() if i in keep) + [(n, m)]
    used = set(mapping.values())
    for (i0, j0), (i1, j1) in zip(anchors, anchors[1:]):
        gi = [i for i in range(i0 + 1, i1) if i not in mapping]
        gj = [j for j in range(j0 + 1, j1) if j not in used]
        if not gi or not gj:
            continue
        if len(gi) == len(gj):
            for i, j in zip(gi, gj):
                if allowed(i, j):
                    out[i] = j
            continue
        # order-preserving DP maximizing total similarity
        a, b = len(gi), len(gj)
        best = [[0.0] * (b + 1) for _ in range(a + 1)]
        for x in range(a - 1, -1, -1):
            for y in range(b - 1, -1, -1):
                s = sim(gi[x], gj[y]) if allowed(gi[x], gj[y]) else -1.0
                take = best[x + 1][y + 1] + s if s > 0.1 else float("-inf")
                best[x][y] = max(best[x + 1][y], best[x][y + 1], take)
        x = y = 0
        while x < a and y < b:
            s = sim(gi[x], gj[y]) if allowed(gi[x], gj[y]) else -1.0
            if s > 0.1 and best[x][y] == best[x + 1][y + 1] + s:
                out[gi[x]] = gj[y]
                x, y = x + 1, y + 1
            elif best[x][y] == best[x + 1][y]:
                x += 1
            else:
                y += 1
    return out


def align_rows(ref: Grid, cand: Grid) -> dict[int, int]:
    rt = [_row_tokens(ref, r) for r in range(ref.n_rows)]
    ct = [_row_tokens(cand, r) for r in range(cand.n_rows)]
    scores = {}

    def allowed(i: int, j: int) -> bool:
        return not (ref.n_header_rows and cand.n_header_rows and ref.is_header_row(i) != cand.is_header_row(j))

    for i in range(ref.n_rows):
        for j in range(cand.n_rows):
            if allowed(i, j):
                scores[(i, j)] = _dice(rt[i], ct[j]) - _frac_penalty(i, j, ref.n_rows, cand.n_rows)
    mapping = _greedy(scores, _ROW_THRESHOLD)
    return _fill_gaps(mapping, ref.n_rows, cand.n_rows, lambda i, j: scores.get((i, j), 0.0), allowed)


def _slot_text(grid: Grid, r: int, c: int) -> str | None:
    cell = grid.cell_at(r, c)
    return None if cell is None else cell.text


def align_cols(ref: Grid, cand: Grid, rmap: dict[int, int]) -> dict[int, int]:
    pairs = sorted(rmap.items())
    scores = {}
    for i in range(ref.n_cols):
        for j in range(cand.n_cols):
            if not pairs:
                scores[(i, j)] = 1.0 - _frac_penalty(i, j, ref.n_cols, cand.n_cols)
                continue
            eq = sum(_text_sim(_slot_text(ref, a, i), _slot_text(cand, b, j)) for a, b in pairs)
            scores[(i, j)] = eq / len(pairs) - _frac_penalty(i, j, ref.n_cols, cand.n_cols)
    mapping = _greedy(scores, _COL_THRESHOLD)
    return _fill_gaps(mapping, ref.n_cols, cand.n_cols, lambda i, j: scores.get((i, j), 0.0), lambda i, j: True)


def _text_sim(a: str | None, b: str | None) -> float:
    """1 for equal texts, 0.5 for near-equal ones (a typo, a changed digit), else 0."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    return 0.5 if difflib.SequenceMatcher(None, a, b).ratio() >= 0.8 else 0.0


def _lis_keep(pairs: list[tuple[int, int]]) -> set[int]:
    """Reference indices of a longest increasing subsequence of candidate indices (pairs sorted by reference)."""
    n = len(pairs)
    if n == 0:
        return set()
    best = [1] * n
    prev = [-1] * n
    for k in range(n):
        for m in range(k):
            if pairs[m][1] < pairs[k][1] and best[m] + 1 > best[k]:
                best[k], prev[k] = best[m] + 1, m
    k = max(range(n), key=lambda x: (best[x], -x))
    keep = set()
    while k != -1:
        keep.add(pairs[k][0])
        k = prev[k]
    return keep


def _swaps(mapping: dict[int, int]) -> list[tuple[int, int]]:
    """Pairs of reference indices that appear in the opposite order in the candidate (adjacent swaps first)."""
    pairs = sorted(mapping.items())
    keep = _lis_keep(pairs)
    moved = [p for p in pairs if p[0] not in keep]
    out: list[tuple[int, int]] = []
    done: set[int] = set()
    for i, j in moved:
        if i in done:
            continue
        # partner: the reference index whose candidate position this one took (inversion, nearest first)
        partners = [(abs(i2 - i), i2) for i2, j2 in pairs if i2 != i and i2 not in done and (i2 - i) * (j2 - j) < 0]
        if not partners:
            continue
        _, partner = min(partners)
        out.append(tuple(sorted((i, partner))))
        done.update((i, partner))
    return out


# ------------------------------------------------------------------------------------------------ comparison


def _err(category: str, severity: int, loc: str, description: str) -> Discrepancy:
    return Discrepancy(category=category, severity=severity, location=loc, description=description)


def _label(grid: Grid, cells: list[Cell]) -> str:
    """First non-empty text among a row's cells, cells anchored in that row first."""
    if cells:
        r = max(c.row for c in cells)
        cells = sorted(cells, key=lambda c: (c.row != r, c.col))
    for c in cells:
        if c.text:
            return c.text
    return ""


def _col_label(grid: Grid, c: int) -> str:
    for r in range(grid.n_header_rows - 1, -1, -1):
        cell = grid.slots[r][c]
        if cell is not None and cell.text:
            return cell.text
    for r in range(grid.n_rows):
        cell = grid.slots[r][c]
        if cell is not None and cell.text:
            return cell.text
    return ""


def _cell_text_error(cell: Cell, old: str, new: str) -> Discrepancy:
    what = "header cell" if cell.header else "cell"
    if not old:
        desc = f"The {what} is empty in the reference but reads {_q(new)} in the candidate."
    elif not new:
        desc = f"The {what} reads {_q(old)} in the reference but is empty in the candidate."
    else:
        desc = f"The {what} reads {_q(old)} in the reference but {_q(new)} in the candidate."
    if numeric_only_change(old, new):
        return _err(NUMERIC, numeric_change_severity(old, new), location(cell), desc)
    return _err(TEXT, 2, location(cell), desc)


def compare_grids(ref: Grid, cand: Grid) -> list[Discrepancy]:
    errors: list[Discrepancy] = []
    rmap = align_rows(ref, cand)
    cmap = align_cols(ref, cand, rmap)
    inv_r = {j: i for i, j in rmap.items()}
    inv_c = {j: i for i, j in cmap.items()}

    # rows and columns: missing, extra, swapped
    for r in range(ref.n_rows):
        if r not in rmap:
            label = _label(ref, ref.row_cells(r))
            errors.append(_err(LAYOUT, 3, row_location(r, ref.is_header_row(r)),
                               f"Row {r + 1} ({_q(label)}) of the reference is missing in the candidate."))
    for j in range(cand.n_rows):
        if j not in inv_r:
            label = _label(cand, cand.row_cells(j))
            errors.append(_err(LAYOUT, 3, f"candidate row {j + 1}",
                               f"The candidate has an extra row {j + 1} ({_q(label)}) that the reference lacks."))
    for a, b in _swaps(rmap):
        errors.append(_err(LAYOUT, 3, pair_location("row", a, b),
                           f"Rows {a + 1} ({_q(_label(ref, ref.row_cells(a)))}) and {b + 1} "
                           f"({_q(_label(ref, ref.row_cells(b)))}) are swapped in the candidate."))
    for c in range(ref.n_cols):
        if c not in cmap:
            errors.append(_err(LAYOUT, 3, col_location(c),
                               f"Column {c + 1} ({_q(_col_label(ref, c))}) of the reference is missing in the "
                               f"candidate."))
    for j in range(cand.n_cols):
        if j not in inv_c:
            errors.append(_err(LAYOUT, 3, f"candidate column {j + 1}",
                               f"The candidate has an extra column {j + 1} ({_q(_col_label(cand, j))}) that the "
                               f"reference lacks."))
    for a, b in _swaps(cmap):
        errors.append(_err(LAYOUT, 3, pair_location("column", a, b),
                           f"Columns {a + 1} ({_q(_col_label(ref, a))}) and {b + 1} ({_q(_col_label(ref, b))}) are "
                           f"swapped in the candidate."))

    # cells
    merged_seen: set[int] = set()
    align_diffs: list[tuple[Cell, str, str]] = []
    for a in ref.cells:
        mrows = [r for r in a.rows if r in rmap]
        mcols = [c for c in a.cols if c in cmap]
        if not mrows or not mcols:
            continue
        covering = []
        for r in mrows:
            for c in mcols:
                x = cand.cell_at(rmap[r], cmap[c])
                if x not in covering:
                    covering.append(x)
        if any(x is None for x in covering):
            errors.append(_err(LAYOUT, 2, location(a),
                               f"The cell {_q(a.text) if a.text else '(empty)'} of the reference has no cell in the "
                               f"candidate."))
            continue
        if len(covering) > 1:
            errors.append(_err(LAYOUT, 3, location(a),
                               f"The cell {_q(a.text) if a.text else '(empty)'} spans {location(a)} in the reference "
                               f"but is split into {len(covering)} separate cells in the candidate."))
            continue
        x = covering[0]
        back = {(inv_r[r], inv_c[c]) for r, c in x.slots if r in inv_r and c in inv_c}
        mine = {(r, c) for r in mrows for c in mcols}
        if back != mine:
            if id(x) in merged_seen:
                continue
            merged_seen.add(id(x))
            covered = []
            for r, c in sorted(back):
                y = ref.cell_at(r, c)
                if y is not None and y not in covered:
                    covered.append(y)
            rows = range(min(y.row for y in covered), max(y.row + y.rowspan for y in covered))
            cols = range(min(y.col for y in covered), max(y.col + y.colspan for y in covered))
            loc = extent_location(rows, cols, all(y.header for y in covered))
            texts = " and ".join(_q(y.text) if y.text else "(empty)" for y in covered[:4])
            errors.append(_err(LAYOUT, 3, loc, f"The cells at {loc} are separate in the reference ({texts}) but "
                                               f"merged into one cell in the candidate."))
            continue
        if a.text != x.text:
            errors.append(_cell_text_error(a, a.text, x.text))
        if a.bold != x.bold and a.text and x.text:
            what = "header cell" if a.header else "cell"
            if a.bold:
                desc = f"The {what} {_q(a.text)} is bold in the reference but not bold in the candidate."
            else:
                desc = f"The {what} {_q(a.text)} is regular in the reference but bold in the candidate."
            errors.append(_err(TEXT, 1, location(a), desc))
        if a.align != x.align:
            align_diffs.append((a, a.align, x.align))

    by_col: dict[int, list[tuple[Cell, str, str]]] = {}
    for a, old, new in align_diffs:
        by_col.setdefault(a.col if a.colspan == 1 else -1 - len(by_col), []).append((a, old, new))
    for c, diffs in sorted(by_col.items()):
        if c >= 0 and len(diffs) >= 2:
            olds = Counter(d[1] for d in diffs).most_common(1)[0][0]
            news = Counter(d[2] for d in diffs).most_common(1)[0][0]
            errors.append(_err(LAYOUT, 1, col_location(c),
                               f"Column {c + 1} ({_q(_col_label(ref, c))}) is {_ALIGN_WORD.get(olds, olds)} in the "
                               f"reference but {_ALIGN_WORD.get(news, news)} in the candidate."))
        else:
            for a, old, new in diffs:
                errors.append(_err(LAYOUT, 1, location(a),
                                   f"The cell {_q(a.text) if a.text else '(empty)'} is {_ALIGN_WORD.get(old, old)} in "
                                   f"the reference but {_ALIGN_WORD.get(new, new)} in the candidate."))
    return errors


def critique(reference_html: str, candidate_html: str) -> Critique:
    """The structural critique of a candidate table against the reference (task "table")."""
    ref = parse_grid(reference_html)
    try:
        cand = parse_grid(candidate_html)
    except ValueError:
        return Critique(task="table", errors=(_err(LAYOUT, 3, "whole table",
                                                   "The reference table is missing in the candidate."),))
    if cand.n_rows == 0 or cand.n_cols == 0:
        return Critique(task="table", errors=(_err(LAYOUT, 3, "whole table",
                                                   "The candidate table has no cells."),))
    return Critique(task="table", errors=tuple(compare_grids(ref, cand)))


# ------------------------------------------------------------------------------------------------ evaluation


def match_by_category(gold: list[Discrepancy], pred: list[Discrepancy]) -> tuple[int, int, int]:
    """One-to-one matching by category: (TP, FP, FN)."""
    g, p = Counter(e.category for e in gold), Counter(e.category for e in pred)
    tp = sum((g & p).values())
    return tp, sum(p.values()) - tp, sum(g.values()) - tp


def evaluate_table_critic(n: int = 200, seed: int = 1_000_000, max_edits: int = 3, honest: bool = True) -> dict:
    """Precision/recall of :func:`critique` against operator gold on ``n`` held-out generated tables.

    Seeds are ``seed .. seed + n - 1`` (far from the dev seeds 0..999). Each candidate gets 1–``max_edits`` edits
    composed with :func:`visual_erm.tasks.table.compose` (only compatible edits, so every gold label holds in the
    reference's frame). Matching is one-to-one by category per item, micro-pooled. Also reports how often the
    location matched exactly, per category and per operator recall, and identity pairs' false positives.
    ``honest=False`` composes without the compatibility rule (every applicable operator is taken, as a naive
    engine would), to measure how much overlapping edits cost the gold.
    """
    from visual_erm.tasks.table import compose, generate_seed

    rng = random.Random(seed)
    tp = fp = fn = 0
    loc_hits = 0
    per_cat: dict[str, list[int]] = {}
    per_op: dict[str, list[int]] = {}
    identity_fp = 0
    items = 0
    for k in range(n):
        sp = generate_seed(seed + k)
        edits = compose(sp.program, rng, rng.randint(1, max_edits), check_compatible=honest)
        if not edits:
            continue
        items += 1
        gold = [e.discrepancy for e in edits]
        pred = list(critique(sp.program, edits[-1].program).errors)
        a, b, c = match_by_category(gold, pred)
        tp, fp, fn = tp + a, fp + b, fn + c
        pred_keys = Counter((e.category, e.location) for e in pred)
        for e in edits:
            key = (e.discrepancy.category, e.discrepancy.location)
            hit = pred_keys[key] > 0
            if hit:
                pred_keys[key] -= 1
            loc_hits += hit
            st = per_op.setdefault(e.operator, [0, 0])
            st[0] += hit
            st[1] += 1
        g, p = Counter(x.category for x in gold), Counter(x.category for x in pred)
        for cat in set(g) | set(p):
            st = per_cat.setdefault(cat, [0, 0, 0])
            m = min(g[cat], p[cat])
            st[0] += m
            st[1] += p[cat] - m
            st[2] += g[cat] - m
        identity_fp += len(critique(sp.program, sp.program).errors)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {
        "n_items": items,
        "tp": tp, "fp": fp, "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "location_recall": loc_hits / (tp + fn) if tp + fn else 1.0,
        "per_category": {c: {"tp": v[0], "fp": v[1], "fn": v[2]} for c, v in sorted(per_cat.items())},
        "per_operator_location_recall": {o: v[0] / v[1] for o, v in sorted(per_op.items())},
        "identity_false_positives": identity_fp,
        "seeds": [seed, seed + n - 1],
    }
