"""DOM corruption operators for HTML tables, each reporting the exact discrepancy it causes.

Every operator parses the program with lxml, resolves the logical grid (:mod:`table_grid`), edits the DOM and
serializes it back (only the ``<table>`` element, or the whole document when the input was one). Operators return
None when the table offers nothing they can edit visibly.

``Edit.detail`` always holds:

* ``targets``: the grid slots ``[row, col]`` (0-based, in the input program's grid) the edit touches;
* ``geometry``: True when the edit removes a row or column, so later row/column numbers no longer match the input's;
* ``old`` / ``new``: the texts (or spans/alignments) before and after.

:func:`visual_erm.tasks.table.compose_compatible` uses these to keep composed gold labels honest.
"""

from __future__ import annotations

import random
import re

from lxml import etree

from visual_erm.schema import Discrepancy
from visual_erm.tasks.base import Edit, FunctionOperator
from visual_erm.tasks.table_grid import (
    NUM_RE, UNIT_RE, UNIT_SWAPS, Cell, Grid, ParsedDoc, build_grid, col_location, extent_location, is_bold,
    is_numeric_text, location, normalize_text, number_value, numeric_change_severity, numeric_only_change,
    pair_location, parse_doc, row_location,
)

LAYOUT, TEXT, NUMERIC = "layout_error", "text_error", "numeric_error"
_WORD_RE = re.compile(r"(?<![\w\-])[^\W\d_]{4,}(?![\w])")
_HEADER_WORD_RE = re.compile(r"(?<![\w])[^\W\d_]{3,}(?![\w])")
_MINUSES = "-\u2212"


# ---------------------------------------------------------------------------------------------------- helpers


def _load(program: str) -> tuple[ParsedDoc, Grid] | None:
    try:
        doc = parse_doc(program)
    except ValueError:
        return None
    grid = build_grid(doc.table)
    if grid.n_rows == 0 or grid.n_cols == 0:
        return None
    return doc, grid


def _q(text: str, limit: int = 60) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "\u2026"
    return f"'{text}'"


def _edit(doc: ParsedDoc, name: str, category: str, severity: int, loc: str, description: str,
          targets, geometry: bool = False, **extra) -> Edit:
    detail = {"targets": sorted([int(r), int(c)] for r, c in set(targets)), "geometry": geometry,
              "location": loc, **extra}
    return Edit(program=doc.serialize(),
                discrepancy=Discrepancy(category=category, severity=severity, location=loc, description=description),
                operator=name, detail=detail)


def _text_nodes(el) -> list[tuple[object, str]]:
    """(node, 'text'|'tail') for every text slot inside a cell, in reading order (the cell's own tail excluded)."""
    out = [(el, "text")]
    for d in el.iterdescendants():
        if not isinstance(d.tag, str):  # comments
            out.append((d, "tail"))
            continue
        out.append((d, "text"))
        out.append((d, "tail"))
    return out


def _get(node, attr: str) -> str:
    return (node.text if attr == "text" else node.tail) or ""


def _set(node, attr: str, value: str) -> None:
    if attr == "text":
        node.text = value
    else:
        node.tail = value


def _cell_label(cell: Cell) -> str:
    return _q(cell.text) if cell.text else "(empty)"


def _row_label(grid: Grid, r: int) -> str:
    """The first non-empty text of the row, cells anchored in it first (a rowspan from above comes last)."""
    for cell in sorted(grid.row_cells(r), key=lambda c: (c.row != r, c.col)):
        if cell.text:
            return cell.text
    return ""


def _col_label(grid: Grid, c: int) -> str:
    """The lowest header cell's text over the column, else its first non-empty text."""
    for r in range(grid.n_header_rows - 1, -1, -1):
        cell = grid.slots[r][c]
        if cell is not None and cell.text:
            return cell.text
    for r in range(grid.n_rows):
        cell = grid.slots[r][c]
        if cell is not None and cell.text:
            return cell.text
    return ""


def _describe_cell_change(cell: Cell, old: str, new: str) -> str:
    what = "header cell" if cell.header else "cell"
    if not old:
        return f"The {what} is empty in the reference but reads {_q(new)} in the candidate."
    if not new:
        return f"The {what} reads {_q(old)} in the reference but is empty in the candidate."
    return f"The {what} reads {_q(old)} in the reference but {_q(new)} in the candidate."


def _cell_edit_targets(grid: Grid, pred) -> list[Cell]:
    return [cell for cell in grid.cells if cell.element is not None and pred(cell)]


def _new_cell(like) -> object:
    el = etree.Element(like.tag)
    el.tail = None
    return el


# ----------------------------------------------------------------------------------------------------- layout


def merge_cells(program: str, rng: random.Random) -> Edit | None:
    """Merge two horizontally adjacent cells of one row into one spanning cell (texts joined)."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    by_pos = {(c.row, c.col): c for c in grid.cells}
    pairs = []
    for a in grid.cells:
        b = by_pos.get((a.row, a.col + a.colspan))
        if b is None or b.rowspan != a.rowspan or b.header != a.header:
            continue
        if a.element.getparent() is not b.element.getparent() or a.element.getnext() is not b.element:
            continue
        pairs.append((a, b))
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    ael, bel = a.element, b.element
    sep = " " if a.text and b.text else ""
    if len(ael):
        last = ael[-1]
        last.tail = (last.tail or "") + sep + (bel.text or "")
    else:
        ael.text = (ael.text or "") + sep + (bel.text or "")
    for child in list(bel):
        ael.append(child)
    tail = bel.tail
    bel.getparent().remove(bel)
    ael.tail = tail if ael.tail is None else ael.tail
    ael.set("colspan", str(a.colspan + b.colspan))
    cols = range(a.col, b.col + b.colspan)
    loc = extent_location(a.rows, cols, a.header)
    desc = (f"The cells at {loc} are separate in the reference ({_cell_label(a)} and {_cell_label(b)}) "
            f"but merged into one cell in the candidate.")
    return _edit(doc, "merge_cells", LAYOUT, 3, loc, desc, a.slots + b.slots,
                 old=[a.text, b.text], new=normalize_text(ael.text_content()))


def split_cell(program: str, rng: random.Random) -> Edit | None:
    """Split a cell spanning rows/columns into separate cells (its text stays in the first, the rest are empty)."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    spanned = [c for c in grid.cells if c.is_spanned]
    if not spanned:
        return None
    a = rng.choice(spanned)
    el = a.element
    for _ in range(a.colspan - 1):
        el.addnext(_new_cell(el))
    for r in a.rows[1:]:
        tr = grid.row_elements[r]
        later = sorted((c for c in grid.anchored_in_row(r) if c.col > a.col), key=lambda c: c.col)
        for _ in range(a.colspan):
            new = _new_cell(el)
            if later:
                later[0].element.addprevious(new)
            else:
                tr.append(new)
    for attr in ("rowspan", "colspan"):
        if attr in el.attrib:
            del el.attrib[attr]
    loc = location(a)
    n = a.rowspan * a.colspan
    desc = (f"The cell {_cell_label(a)} spans {loc} in the reference but is split into {n} separate cells "
            f"in the candidate.")
    return _edit(doc, "split_cell", LAYOUT, 3, loc, desc, a.slots, old=[a.rowspan, a.colspan], new=[1, 1])


def _column_signature(grid: Grid, c: int) -> list[str]:
    return [(cell.text if cell is not None else "") for cell in (grid.slots[r][c] for r in range(grid.n_rows))]


def swap_columns(program: str, rng: random.Random) -> Edit | None:
    """Swap two adjacent columns (group headers spanning both stay in place)."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    options = []
    for c in range(grid.n_cols - 1):
        ok, body_differs = True, False
        for r in range(grid.n_rows):
            x, y = grid.slots[r][c], grid.slots[r][c + 1]
            if x is not None and x is y:
                continue
            if x is None or y is None or x.colspan != 1 or y.colspan != 1 or x.rowspan != y.rowspan or x.row != y.row:
                ok = False
                break
            if x.text != y.text or x.bold != y.bold:
                body_differs = True
        if ok and body_differs:
            options.append(c)
    if not options:
        return None
    c = rng.choice(options)
    for r in range(grid.n_rows):
        x, y = grid.slots[r][c], grid.slots[r][c + 1]
        if x is y or x.row != r:
            continue
        x.element.addprevious(y.element)
    loc = pair_location("column", c, c + 1)
    la, lb = _col_label(grid, c), _col_label(grid, c + 1)
    desc = f"Columns {c + 1} ({_q(la)}) and {c + 2} ({_q(lb)}) are swapped in the candidate."
    targets = [(r, cc) for r in range(grid.n_rows) for cc in (c, c + 1)]
    return _edit(doc, "swap_columns", LAYOUT, 3, loc, desc, targets, old=[la, lb], new=[lb, la])


def swap_rows(program: str, rng: random.Random) -> Edit | None:
    """Swap two adjacent body rows that no rowspan crosses."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    options = [r for r in range(grid.n_rows - 1)
               if not grid.is_header_row(r) and not grid.is_header_row(r + 1)
               and grid.row_is_isolated(r) and grid.row_is_isolated(r + 1)
               and [c.text for c in grid.row_cells(r)] != [c.text for c in grid.row_cells(r + 1)]
               and grid.row_elements[r].getnext() is grid.row_elements[r + 1]]
    if not options:
        return None
    r = rng.choice(options)
    grid.row_elements[r].addprevious(grid.row_elements[r + 1])
    la, lb = _row_label(grid, r), _row_label(grid, r + 1)
    loc = pair_location("row", r, r + 1)
    desc = f"Rows {r + 1} ({_q(la)}) and {r + 2} ({_q(lb)}) are swapped in the candidate."
    targets = [(rr, c) for rr in (r, r + 1) for c in range(grid.n_cols)]
    return _edit(doc, "swap_rows", LAYOUT, 3, loc, desc, targets, old=[la, lb], new=[lb, la])


def drop_row(program: str, rng: random.Random) -> Edit | None:
    """Remove one body row (rowspans from above that cross it shrink by one)."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    body = [r for r in range(grid.n_rows) if not grid.is_header_row(r)]
    if len(body) < 2:
        return None
    options = [r for r in body
               if all(c.rowspan == 1 for c in grid.anchored_in_row(r))
               and any(c.text for c in grid.anchored_in_row(r))]
    if not options:
        return None
    r = rng.choice(options)
    for cell in grid.row_cells(r):
        if cell.row < r:
            cell.rowspan -= 1
            if cell.rowspan > 1:
                cell.element.set("rowspan", str(cell.rowspan))
            else:
                del cell.element.attrib["rowspan"]
    tr = grid.row_elements[r]
    tr.getparent().remove(tr)
    label = _row_label(grid, r)
    loc = row_location(r)
    desc = f"Row {r + 1} ({_q(label)}) of the reference is missing in the candidate."
    return _edit(doc, "drop_row", LAYOUT, 3, loc, desc, [(r, c) for c in range(grid.n_cols)], geometry=True,
                 old=label, new=None)


def drop_column(program: str, rng: random.Random) -> Edit | None:
    """Remove one column (cells spanning it lose one column of span)."""
    loaded = _load(program)
    if loaded is None or loaded[1].n_cols < 3:
        return None
    doc, grid = loaded
    options = []
    for c in range(grid.n_cols):
        if any(grid.slots[rr][c] is None for rr in range(grid.n_rows)):
            continue
        removed = [x for x in grid.col_cells(c) if x.colspan == 1]
        if not any(x.text and not x.header for x in removed):
            continue
        per_tr: dict = {}
        for x in removed:
            tr = x.element.getparent()
            per_tr[tr] = per_tr.get(tr, 0) + 1
        if any(len([e for e in tr if isinstance(e.tag, str)]) <= n for tr, n in per_tr.items()):
            continue  # a row would be left without cells
        options.append(c)
    if not options:
        return None
    c = rng.choice(options)
    label = _col_label(grid, c)
    for x in grid.col_cells(c):
        if x.colspan == 1:
            x.element.getparent().remove(x.element)
        else:
            x.colspan -= 1
            if x.colspan > 1:
                x.element.set("colspan", str(x.colspan))
            else:
                del x.element.attrib["colspan"]
    loc = col_location(c)
    desc = f"Column {c + 1} ({_q(label)}) of the reference is missing in the candidate."
    return _edit(doc, "drop_column", LAYOUT, 3, loc, desc, [(r, c) for r in range(grid.n_rows)], geometry=True,
                 old=label, new=None)


_ALIGN_WORD = {"left": "left-aligned", "right": "right-aligned", "center": "centered", "justify": "justified"}


def _set_align(el, value: str) -> None:
    if el.get("align") is not None and "text-align" not in (el.get("style") or ""):
        el.set("align", value)
        return
    style = re.sub(r"text-align\s*:\s*[^;]*;?\s*", "", el.get("style") or "").strip()
    style = (style + ("; " if style and not style.endswith(";") else " " if style else "")
             + f"text-align: {value}").strip()
    el.set("style", style)


def change_alignment(program: str, rng: random.Random) -> Edit | None:
    """Change the horizontal alignment of a column's body cells (left/center/right)."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    options = []
    for c in range(grid.n_cols):
        cells = [x for x in grid.cells if x.col == c and x.colspan == 1 and not x.header]
        widest = max((len(x.text) for x in grid.cells if x.col == c and x.colspan == 1), default=0)
        if len(cells) < 2:
            continue
        aligns = [x.align for x in cells]
        major = max(set(aligns), key=lambda a: (aligns.count(a), a))
        for new in ("left", "center", "right"):
            if new == major:
                continue
            changed = [x for x in cells if x.align != new and x.text]
            # visible only where a changed cell is narrower than the column (its widest single-column text)
            if len(changed) >= 2 and sum(1 for x in changed if len(x.text) < widest) >= 1:
                options.append((c, major, new))
    if not options:
        return None
    c, old, new = rng.choice(options)
    changed = [x for x in grid.cells if x.col == c and x.colspan == 1 and not x.header and x.align != new]
    for x in changed:
        _set_align(x.element, new)
    loc = col_location(c)
    desc = (f"Column {c + 1} ({_q(_col_label(grid, c))}) is {_ALIGN_WORD.get(old, old)} in the reference but "
            f"{_ALIGN_WORD.get(new, new)} in the candidate.")
    return _edit(doc, "change_alignment", LAYOUT, 1, loc, desc, [s for x in changed for s in x.slots],
                 old=old, new=new)


# ------------------------------------------------------------------------------------------------------- text


def _typo(word: str, rng: random.Random) -> str:
    kinds = ["swap", "drop", "double", "replace"]
    rng.shuffle(kinds)
    for kind in kinds:
        i = rng.randint(1, len(word) - 2)
        if kind == "swap" and word[i] != word[i + 1]:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if kind == "drop":
            return word[:i] + word[i + 1:]
        if kind == "double":
            return word[:i] + word[i] + word[i:]
        if kind == "replace":
            pool = "aeiou" if word[i].lower() in "aeiou" else "bcdfghklmnprstv"
            ch = rng.choice([p for p in pool if p != word[i].lower()])
            return word[:i] + (ch.upper() if word[i].isupper() else ch) + word[i + 1:]
    return word[:1] + word[2:]


def _word_slots(cell: Cell, regex: re.Pattern) -> list[tuple[object, str, re.Match]]:
    out = []
    for node, attr in _text_nodes(cell.element):
        text = _get(node, attr)
        for m in regex.finditer(text):
            if UNIT_RE.fullmatch(m.group(0)) or m.group(0) in UNIT_SWAPS:
                continue
            out.append((node, attr, m))
    return out


def _replace_in_node(node, attr: str, m: re.Match, new: str) -> None:
    text = _get(node, attr)
    _set(node, attr, text[: m.start()] + new + text[m.end():])


def typo_text(program: str, rng: random.Random) -> Edit | None:
    """Introduce a typo (swapped, dropped, doubled or replaced letter) into a word of a body text cell."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    cands = _cell_edit_targets(grid, lambda c: c.text and not is_numeric_text(c.text) and _word_slots(c, _WORD_RE))
    body = [c for c in cands if not c.header]
    cands = body or cands
    if not cands:
        return None
    cell = rng.choice(cands)
    node, attr, m = rng.choice(_word_slots(cell, _WORD_RE))
    new_word = _typo(m.group(0), rng)
    _replace_in_node(node, attr, m, new_word)
    new = normalize_text(cell.element.text_content())
    if new == cell.text or numeric_only_change(cell.text, new):
        return None
    loc = location(cell)
    return _edit(doc, "typo_text", TEXT, 2, loc, _describe_cell_change(cell, cell.text, new), cell.slots,
                 old=cell.text, new=new)


_HEADER_SUBS = {
    "mean": "median", "median": "mean", "total": "subtotal", "baseline": "follow-up", "male": "female",
    "female": "male", "min": "max", "max": "min", "minimum": "maximum", "maximum": "minimum", "revenue": "income",
    "model": "method", "method": "model", "team": "club", "accuracy": "precision", "precision": "recall",
    "recall": "precision", "value": "estimate", "group": "cohort", "age": "sex", "sex": "age", "yes": "no",
    "before": "after", "after": "before", "control": "treatment", "treatment": "control", "placebo": "vehicle",
    "characteristic": "variable", "characteristics": "variables", "patients": "participants", "week": "month",
    "month": "week", "year": "month", "years": "months", "number": "proportion", "units": "orders",
    "status": "state", "item": "product", "product": "item", "region": "country", "growth": "decline",
    "margin": "markup", "mean temp": "max temp", "high": "low", "low": "high", "upper": "lower", "lower": "upper",
    "positive": "negative", "negative": "positive", "increase": "decrease", "decrease": "increase",
    "name": "type", "type": "name", "score": "rank", "rank": "score", "visit": "phase", "flag": "note",
    "category": "class", "sample": "subject", "gene": "protein", "protein": "gene", "cases": "controls",
    "controls": "cases", "weight": "height", "height": "weight", "sunshine": "rainfall", "month,": "week,",
}
_GENERIC_HEADERS = ["Value", "Result", "Estimate", "Score", "Rate", "Level", "Index", "Count", "Ratio", "Group",
                    "Status", "Outcome", "Measure", "Factor"]


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def change_header(program: str, rng: random.Random) -> Edit | None:
    """Replace a word of a header cell with another plausible header word."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    heads = _cell_edit_targets(grid, lambda c: c.header and c.text and _word_slots(c, _HEADER_WORD_RE))
    if not heads:
        heads = _cell_edit_targets(grid, lambda c: c.row == 0 and c.text and _word_slots(c, _HEADER_WORD_RE))
    if not heads:
        return None
    cell = rng.choice(heads)
    slots = _word_slots(cell, _HEADER_WORD_RE)
    known = [s for s in slots if s[2].group(0).lower() in _HEADER_SUBS]
    node, attr, m = rng.choice(known or slots)
    word = m.group(0)
    if word.lower() in _HEADER_SUBS:
        new_word = _match_case(word, _HEADER_SUBS[word.lower()])
    else:
        new_word = _match_case(word, rng.choice([w for w in _GENERIC_HEADERS if w.lower() != word.lower()]))
    _replace_in_node(node, attr, m, new_word)
    new = normalize_text(cell.element.text_content())
    if new == cell.text or numeric_only_change(cell.text, new):
        return None
    loc = location(cell)
    return _edit(doc, "change_header", TEXT, 2, loc, _describe_cell_change(cell, cell.text, new), cell.slots,
                 old=cell.text, new=new)


def drop_emphasis(program: str, rng: random.Random) -> Edit | None:
    """Remove the bold (``<b>``/``<strong>``) of a bold cell, header cells first."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded

    def droppable(c: Cell) -> bool:
        el = c.element
        return (c.bold and c.text and el.tag != "th" and "font-weight" not in (el.get("style") or "")
                and any(normalize_text(b.text_content()) for b in el.iter("b", "strong")))

    cands = _cell_edit_targets(grid, droppable)
    if not cands:
        return None
    heads = [c for c in cands if c.header]
    cell = rng.choice(heads if heads and rng.random() < 0.6 else cands)
    for b in list(cell.element.iter("b", "strong")):
        b.drop_tag()
    if is_bold(cell.element):
        return None
    what = "header cell" if cell.header else "cell"
    loc = location(cell)
    desc = f"The {what} {_q(cell.text)} is bold in the reference but not bold in the candidate."
    return _edit(doc, "drop_emphasis", TEXT, 1, loc, desc, cell.slots, old="bold", new="regular")


def add_emphasis(program: str, rng: random.Random) -> Edit | None:
    """Make a regular body cell bold (wrap its content in ``<b>``)."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    cands = _cell_edit_targets(grid, lambda c: not c.bold and c.text and not c.header and c.element.tag == "td")
    if not cands:
        return None
    cell = rng.choice(cands)
    el = cell.element
    b = etree.Element("b")
    b.text = el.text
    el.text = None
    for child in list(el):
        b.append(child)
    el.append(b)
    loc = location(cell)
    desc = f"The cell {_q(cell.text)} is regular in the reference but bold in the candidate."
    return _edit(doc, "add_emphasis", TEXT, 1, loc, desc, cell.slots, old="regular", new="bold")


# ---------------------------------------------------------------------------------------------------- numeric


def _number_slots(cell: Cell) -> list[tuple[object, str, re.Match]]:
    out = []
    for node, attr in _text_nodes(cell.element):
        for m in NUM_RE.finditer(_get(node, attr)):
            out.append((node, attr, m))
    return out


def _numeric_cells(grid: Grid) -> list[Cell]:
    cells = _cell_edit_targets(grid, lambda c: c.text and is_numeric_text(c.text) and _number_slots(c))
    return cells or _cell_edit_targets(grid, lambda c: c.text and _number_slots(c))


def _numeric_edit(doc, grid, cell, node, attr, m, new_token, name) -> Edit | None:
    _replace_in_node(node, attr, m, new_token)
    new = normalize_text(cell.element.text_content())
    if not numeric_only_change(cell.text, new):
        return None
    sev = numeric_change_severity(cell.text, new)
    loc = location(cell)
    return _edit(doc, name, NUMERIC, sev, loc, _describe_cell_change(cell, cell.text, new), cell.slots,
                 old=cell.text, new=new)


def _reformat_like(token: str, value: float) -> str:
    """Write ``value`` with the token's decimal places, decimal mark and thousands grouping (sign excluded)."""
    body = token.lstrip("+-\u2212")
    thousands = "," in body and bool(re.match(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$", body))
    mark = "," if ("," in body and not thousands) else "."
    places = len(re.split(r"[.,]", body)[-1]) if (mark in body and not thousands) or ("." in body) else 0
    s = f"{abs(value):,.{places}f}" if thousands else f"{abs(value):.{places}f}"
    if mark == ",":
        s = s.replace(".", ",")
    return s


def change_number(program: str, rng: random.Random) -> Edit | None:
    """Change a number: transpose two digits, replace a digit, or rescale the value (same formatting)."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    cells = _numeric_cells(grid)
    if not cells:
        return None
    cell = rng.choice(cells)
    node, attr, m = rng.choice(_number_slots(cell))
    sign, body = m.group("sign") or "", m.group("num")
    digits = [i for i, ch in enumerate(body) if ch.isdigit()]
    mode = rng.choice(["transpose", "digit", "scale"])
    new_body = body
    if mode == "transpose":
        pairs = [(i, j) for i, j in zip(digits, digits[1:]) if body[i] != body[j]]
        if pairs:
            i, j = rng.choice(pairs)
            chars = list(body)
            chars[i], chars[j] = chars[j], chars[i]
            new_body = "".join(chars)
    if mode == "digit" or new_body == body:
        i = rng.choice(digits)
        choices = [d for d in "0123456789" if d != body[i] and not (d == "0" and i == 0 and len(digits) > 1)]
        new_body = body[:i] + rng.choice(choices) + body[i + 1:]
    if mode == "scale":
        factor = rng.choice([rng.uniform(0.3, 0.8), rng.uniform(1.2, 3.0)])
        scaled = _reformat_like(body, number_value(body) * factor)
        if scaled != body:
            new_body = scaled
    if new_body == body or number_value(new_body) == number_value(body):
        return None
    return _numeric_edit(doc, grid, cell, node, attr, m, sign + new_body, "change_number")


def change_unit(program: str, rng: random.Random) -> Edit | None:
    """Change a unit or symbol (``%``→``‰``, ``$``→``€``, ``mg``→``g``, ``ms``→``s`` …)."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    slots = []
    for cell in grid.cells:
        if cell.element is None or not cell.text:
            continue
        for node, attr in _text_nodes(cell.element):
            for m in UNIT_RE.finditer(_get(node, attr)):
                slots.append((cell, node, attr, m))
    if not slots:
        return None
    cell, node, attr, m = rng.choice(slots)
    unit = m.group(0)
    new_unit = UNIT_SWAPS.get(unit)
    if not new_unit:
        return None
    return _numeric_edit(doc, grid, cell, node, attr, m, new_unit, "change_unit")


def _table_minus(grid: Grid) -> str:
    return "\u2212" if any("\u2212" in c.text for c in grid.cells) else "-"


def flip_sign(program: str, rng: random.Random) -> Edit | None:
    """Flip the sign of a number (add or remove a minus; ``+`` becomes a minus)."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    cells = [c for c in _numeric_cells(grid) if any(number_value(m.group(0)) != 0 for _, _, m in _number_slots(c))]
    if not cells:
        return None
    cell = rng.choice(cells)
    node, attr, m = rng.choice([s for s in _number_slots(cell) if number_value(s[2].group(0)) != 0])
    sign, body = m.group("sign") or "", m.group("num")
    new_token = body if sign in ("-", "\u2212") else _table_minus(grid) + body
    edit = _numeric_edit(doc, grid, cell, node, attr, m, new_token, "flip_sign")
    if edit is None or edit.discrepancy.severity != 3:
        return None
    return edit


def change_decimal(program: str, rng: random.Random) -> Edit | None:
    """Change a decimal number's mark (``0.17``→``0,17``) or its decimal places (``0.176``→``0.18``)."""
    loaded = _load(program)
    if loaded is None:
        return None
    doc, grid = loaded
    slots = [(c, n, a, m) for c in _numeric_cells(grid) for n, a, m in _number_slots(c)
             if re.search(r"[.,]\d+$", m.group("num"))]
    if not slots:
        return None
    cell, node, attr, m = rng.choice(slots)
    sign, body = m.group("sign") or "", m.group("num")
    thousands = bool(re.match(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$", body))
    places = len(re.split(r"[.,]", body)[-1])
    mark = "." if ("." in body) else ","
    modes = ["mark", "places"]
    mode = rng.choice(modes)
    if mode == "mark" or thousands and "." not in body:
        new_body = body.translate(str.maketrans({".": ",", ",": "."}))
    else:
        if places >= 2 and rng.random() < 0.6:
            new_places = places - 1
        else:
            new_places = places + 1
        value = number_value(body)
        s = f"{abs(value):,.{new_places}f}" if thousands else f"{abs(value):.{new_places}f}"
        if mark == "," and not thousands:
            s = s.replace(".", ",")
        new_body = s
    if new_body == body:
        return None
    return _numeric_edit(doc, grid, cell, node, attr, m, sign + new_body, "change_decimal")


OPERATORS: list[FunctionOperator] = [
    FunctionOperator("merge_cells", LAYOUT, merge_cells),
    FunctionOperator("split_cell", LAYOUT, split_cell),
    FunctionOperator("swap_columns", LAYOUT, swap_columns),
    FunctionOperator("swap_rows", LAYOUT, swap_rows),
    FunctionOperator("drop_row", LAYOUT, drop_row),
    FunctionOperator("drop_column", LAYOUT, drop_column),
    FunctionOperator("change_alignment", LAYOUT, change_alignment),
    FunctionOperator("typo_text", TEXT, typo_text),
    FunctionOperator("change_header", TEXT, change_header),
    FunctionOperator("drop_emphasis", TEXT, drop_emphasis),
    FunctionOperator("add_emphasis", TEXT, add_emphasis),
    FunctionOperator("change_number", NUMERIC, change_number),
    FunctionOperator("change_unit", NUMERIC, change_unit),
    FunctionOperator("flip_sign", NUMERIC, flip_sign),
    FunctionOperator("change_decimal", NUMERIC, change_decimal),
]
