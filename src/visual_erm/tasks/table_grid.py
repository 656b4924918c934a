"""The logical cell grid of an HTML table, shared by the table operators and the structural table critic.

An HTML table is a tree of ``<tr>`` elements holding ``<td>``/``<th>`` cells whose ``rowspan``/``colspan`` make one
DOM cell cover several grid positions. :func:`parse_grid` resolves the spans the way browsers do (the HTML table
model's slot-filling algorithm: a cell is placed in the first free column of its row, a rowspan reserves the slots
below it and stops at the end of its row group — ``<thead>``/``<tbody>``/``<tfoot>`` — as Chromium does) and
returns a :class:`Grid`: one :class:`Cell` per DOM cell (its anchor row/column, spans, normalized text, bold, header,
effective alignment) plus ``slots[r][c]`` → the cell covering that position.

Markdown pipe tables are accepted too (:func:`to_html` converts them first: ``render.extract.extract_table_html`` when
that module exists, else markdown-it-py).

Locations are 1-based with header rows counted: the first body row under one header row is "row 2"; header cells
read "header row 1, column 3" (:func:`location`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import lxml.html
from lxml import etree

_DOC_RE = re.compile(r"^\s*(?:<!doctype[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:html|head|body)\b", re.IGNORECASE | re.DOTALL)
_ALIGN_RE = re.compile(r"text-align\s*:\s*([a-z\-]+)", re.IGNORECASE)
_WEIGHT_RE = re.compile(r"font-weight\s*:\s*(bold|bolder|[6-9]00)", re.IGNORECASE)
_ALIGN_CANON = {"left": "left", "start": "left", "right": "right", "end": "right", "center": "center",
                "middle": "center", "justify": "justify", "-webkit-center": "center"}
_BOLD_TAGS = ("b", "strong")


def normalize_text(text: str) -> str:
    """Collapse whitespace (including non-breaking spaces) and strip."""
    return " ".join(text.replace("\xa0", " ").split())


@dataclass(eq=False)
class Cell:
    """One DOM cell placed on the logical grid (0-based ``row``/``col`` of its top-left slot)."""

    text: str
    row: int
    col: int
    rowspan: int
    colspan: int
    bold: bool
    header: bool
    align: str
    element: object = field(default=None, repr=False)  # the lxml element (None for cells built from markdown)

    @property
    def rows(self) -> range:
        return range(self.row, self.row + self.rowspan)

    @property
    def cols(self) -> range:
        return range(self.col, self.col + self.colspan)

    @property
    def slots(self) -> list[tuple[int, int]]:
        return [(r, c) for r in self.rows for c in self.cols]

    @property
    def is_spanned(self) -> bool:
        return self.rowspan > 1 or self.colspan > 1


@dataclass(eq=False)
class Grid:
    cells: list[Cell]
    slots: list[list[Cell | None]]
    n_header_rows: int
    row_elements: list  # the <tr> element of each grid row
    header_rows: list[bool]

    @property
    def n_rows(self) -> int:
        return len(self.slots)

    @property
    def n_cols(self) -> int:
        return len(self.slots[0]) if self.slots else 0

    def cell_at(self, r: int, c: int) -> Cell | None:
        if 0 <= r < self.n_rows and 0 <= c < self.n_cols:
            return self.slots[r][c]
        return None

    def row_cells(self, r: int) -> list[Cell]:
        """Distinct cells covering row ``r`` (rowspans from above included), left to right."""
        out: list[Cell] = []
        for cell in self.slots[r]:
            if cell is not None and (not out or out[-1] is not cell) and cell not in out:
                out.append(cell)
        return out

    def col_cells(self, c: int) -> list[Cell]:
        out: list[Cell] = []
        for r in range(self.n_rows):
            cell = self.slots[r][c]
            if cell is not None and cell not in out:
                out.append(cell)
        return out

    def anchored_in_row(self, r: int) -> list[Cell]:
        return [cell for cell in self.cells if cell.row == r]

    def is_header_row(self, r: int) -> bool:
        return self.header_rows[r] if 0 <= r < len(self.header_rows) else False

    def row_is_isolated(self, r: int) -> bool:
        """True when no rowspan crosses into or out of row ``r`` (it can be moved or dropped alone)."""
        return all(cell is None or (cell.row == r and cell.rowspan == 1) for cell in self.slots[r])

    def texts(self) -> list[list[str]]:
        return [[cell.text if cell is not None else "" for cell in row] for row in self.slots]


# ----------------------------------------------------------------------------------------------------- parsing


@dataclass
class ParsedDoc:
    """An lxml tree of a table program and how to write it back (keeping a full document's wrapper)."""

    root: object
    table: object
    wrapper: bool

    def serialize(self) -> str:
        node = self.root if self.wrapper else self.table
        return lxml.html.tostring(node, encoding="unicode", with_tail=False)


def is_markdown(program: str) -> bool:
    """A markdown pipe table (no ``<table`` tag, a ``|---|`` delimiter row)."""
    if re.search(r"<table\b", program, re.IGNORECASE):
        return False
    return re.search(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", program, re.MULTILINE) is not None


def markdown_to_html(text: str) -> str:
    """Convert a markdown pipe table to HTML (``render.extract.extract_table_html`` when present)."""
    try:  # the render team's converter, when it exists, so both sides convert identically
        from visual_erm.render.extract import extract_table_html  # type: ignore
    except Exception:  # pragma: no cover - depends on the parallel module
        extract_table_html = None
    if extract_table_html is not None:
        try:
            html = extract_table_html(text)
            if html and re.search(r"<table\b", html, re.IGNORECASE):
                return html
        except Exception:
            pass
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    return md.render(text)


def to_html(program: str) -> str:
    """The program as HTML: markdown pipe tables are converted, HTML is returned unchanged."""
    return markdown_to_html(program) if is_markdown(program) else program


def parse_doc(program: str) -> ParsedDoc:
    """Parse an HTML (or markdown) table program. Raises ValueError when it holds no ``<table>``."""
    html = to_html(program).strip()
    if not html:
        raise ValueError("empty table program")
    wrapper = _DOC_RE.match(html) is not None
    try:
        if wrapper:
            root = lxml.html.document_fromstring(html)
        else:
            root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError) as exc:
        raise ValueError(f"table program does not parse: {exc}") from None
    tables = [t for t in root.iter("table")]
    if not tables:
        raise ValueError("the program holds no <table> element")
    table = tables[0]
    return ParsedDoc(root, table, wrapper)


def _int_attr(el, name: str) -> int:
    """A span attribute as browsers read it: leading digits, 1 when absent or invalid; rowspan 0 means 'to the
    end of the row group' and is returned as 0."""
    raw = (el.get(name) or "1").strip()
    m = re.match(r"\d+", raw)
    value = int(m.group(0)) if m else 1
    if value == 0 and name == "rowspan":
        return 0
    return max(1, min(value, 1000))


def _own_align(el) -> str | None:
    if el is None:
        return None
    m = _ALIGN_RE.search(el.get("style") or "")
    if m:
        return _ALIGN_CANON.get(m.group(1).lower(), m.group(1).lower())
    a = (el.get("align") or "").strip().lower()
    return _ALIGN_CANON.get(a) if a else None


def effective_align(el) -> str:
    """The cell's horizontal alignment: its own style/align, else its row's, else the browser default."""
    own = _own_align(el)
    if own:
        return own
    parent = el.getparent()
    row = _own_align(parent)
    if row:
        return row
    if parent is not None and parent.getparent() is not None:
        group = _own_align(parent.getparent())
        if group and parent.getparent().tag in ("thead", "tbody", "tfoot"):
            return group
    return "center" if el.tag == "th" else "left"


def is_bold(el) -> bool:
    """Bold when the cell is a ``<th>``, has a bold style, or holds non-blank text in ``<b>``/``<strong>``."""
    if el.tag == "th" or _WEIGHT_RE.search(el.get("style") or ""):
        return True
    for b in el.iter(*_BOLD_TAGS):
        if normalize_text(b.text_content()):
            return True
    return False


def table_rows(table) -> list[tuple[object, bool]]:
    """The table's own ``<tr>`` elements (nested tables excluded) with whether each sits in ``<thead>``."""
    return [(tr, head) for tr, head, _ in _table_rows_grouped(table)]


def _table_rows_grouped(table) -> list[tuple[object, bool, int]]:
    """(tr, in thead, row-group index): rows directly under ``<table>`` share one group until a section starts."""
    rows: list[tuple[object, bool, int]] = []
    group = 0
    loose = False
    for child in table:
        if not isinstance(child.tag, str):
            continue
        tag = child.tag.lower()
        if tag in ("thead", "tbody", "tfoot"):
            group += 1
            loose = False
            for tr in child:
                if isinstance(tr.tag, str) and tr.tag.lower() == "tr":
                    rows.append((tr, tag == "thead", group))
        elif tag == "tr":
            if not loose:
                group += 1
                loose = True
            rows.append((child, False, group))
    return rows


def build_grid(table) -> Grid:
    """Resolve the spans of an lxml ``<table>`` into a :class:`Grid`."""
    grouped = _table_rows_grouped(table)
    rows = [(tr, head) for tr, head, _ in grouped]
    groups = [g for _, _, g in grouped]
    n = len(rows)
    group_end = [max(k for k in range(n) if groups[k] == groups[r]) + 1 for r in range(n)]
    placed: dict[tuple[int, int], Cell] = {}
    cells: list[Cell] = []
    in_thead = [h for _, h in rows]
    for r, (tr, _) in enumerate(rows):
        c = 0
        for el in tr:
            if not isinstance(el.tag, str) or el.tag.lower() not in ("td", "th"):
                continue
            while (r, c) in placed:
                c += 1
            rs = _int_attr(el, "rowspan")
            rs = group_end[r] - r if rs == 0 else min(rs, group_end[r] - r)  # spans stop at the row group's end
            cs = _int_attr(el, "colspan")
            cell = Cell(
                text=normalize_text(el.text_content()),
                row=r, col=c, rowspan=rs, colspan=cs, bold=is_bold(el), header=False,
                align=effective_align(el), element=el,
            )
            cells.append(cell)
            for rr in range(r, r + rs):
                for cc in range(c, c + cs):
                    placed.setdefault((rr, cc), cell)
            c += cs
    n_cols = max((c for _, c in placed), default=-1) + 1
    slots: list[list[Cell | None]] = [[placed.get((r, c)) for c in range(n_cols)] for r in range(n)]
    # Header rows: the <thead> rows; without a <thead>, the leading rows made only of <th> cells.
    if any(in_thead):
        header_rows = list(in_thead)
    else:
        header_rows = [False] * n
        for r, (tr, _) in enumerate(rows):
            own = [el for el in tr if isinstance(el.tag, str) and el.tag.lower() in ("td", "th")]
            if own and all(el.tag.lower() == "th" for el in own):
                header_rows[r] = True
            else:
                break
    for cell in cells:
        cell.header = header_rows[cell.row]
    return Grid(cells=cells, slots=slots, n_header_rows=sum(header_rows), row_elements=[tr for tr, _ in rows],
                header_rows=header_rows)


def parse_grid(program: str) -> Grid:
    """The logical grid of an HTML or markdown table program."""
    return build_grid(parse_doc(program).table)


# -------------------------------------------------------------------------------------------------- locations


def _span_text(word: str, lo: int, hi: int) -> str:
    return f"{word} {lo + 1}" if lo == hi else f"{word}s {lo + 1}\u2013{hi + 1}"


def extent_location(rows: range | tuple[int, int], cols: range | tuple[int, int], header: bool) -> str:
    """'row 3, column 2'; 'header row 1, columns 2–3'; 'rows 4–6, column 1' (0-based inputs, 1-based text)."""
    r0, r1 = (rows.start, rows.stop - 1) if isinstance(rows, range) else rows
    c0, c1 = (cols.start, cols.stop - 1) if isinstance(cols, range) else cols
    prefix = "header " if header else ""
    return f"{prefix}{_span_text('row', r0, r1)}, {_span_text('column', c0, c1)}"


def location(cell: Cell) -> str:
    """Location of a cell: 'row 3, column 2' or 'header row 1, columns 2–4'."""
    return extent_location(cell.rows, cell.cols, cell.header)


def row_location(r: int, header: bool = False) -> str:
    return f"{'header ' if header else ''}row {r + 1}"


def col_location(c: int) -> str:
    return f"column {c + 1}"


def pair_location(word: str, a: int, b: int) -> str:
    a, b = sorted((a, b))
    return f"{word}s {a + 1} and {b + 1}"


# ------------------------------------------------------------------------------------- numbers, units, skeletons

#: A number token: optional sign (only when not glued to a preceding word, digit or bracket), then digits with an
#: optional thousands grouping and decimal part (``.`` or ``,``). ``50-94`` reads as 50 and 94, not 50 and −94.
NUM_RE = re.compile(
    r"(?P<sign>(?<![\w.,)\]])[+\-\u2212])?(?<![\w.])"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|\d+(?:[.,]\d+)?)"
)
_THOUSANDS_RE = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")

#: Unit swaps used by the change-unit operator; every key and value is a unit the skeleton strips.
UNIT_SWAPS: dict[str, str] = {
    "%": "\u2030", "\u2030": "%", "$": "\u20ac", "\u20ac": "$", "\u00a3": "\u20ac", "\u00a5": "$",
    "\u00b0C": "\u00b0F", "\u00b0F": "\u00b0C",
    "mg": "g", "g": "kg", "kg": "lb", "lb": "kg", "ms": "s", "s": "ms", "min": "h", "h": "min",
    "km": "mi", "mi": "km", "m": "ft", "ft": "m", "cm": "mm", "mm": "cm", "mL": "L", "L": "mL",
    "kDa": "Da", "Da": "kDa", "GB": "MB", "MB": "GB", "TB": "GB", "kB": "MB", "USD": "EUR", "EUR": "USD",
    "GBP": "USD", "K": "M", "M": "B", "B": "M", "bn": "M", "mmHg": "kPa", "kPa": "mmHg", "Hz": "kHz",
    "kHz": "Hz", "MHz": "GHz", "GHz": "MHz", "W": "kW", "kW": "W", "mV": "V", "V": "mV",
    "\u00b5g": "mg", "\u03bcg": "mg", "ng": "\u00b5g", "pg": "ng", "mmol/L": "mg/dL", "mg/dL": "mmol/L",
    "pp": "%",
}
_SYMBOL_UNITS = ["\u00b0C", "\u00b0F", "%", "\u2030", "$", "\u20ac", "\u00a3", "\u00a5"]
_WORD_UNITS = sorted((u for u in UNIT_SWAPS if u not in _SYMBOL_UNITS), key=len, reverse=True)
_WORD_ALT = "|".join(re.escape(u) for u in _WORD_UNITS)
#: A unit: a currency/percent/degree symbol anywhere, or a unit word right after a number, an opening bracket,
#: a slash or a currency symbol (``12 kg``, ``(ms)``, ``$M``), not followed by another letter.
UNIT_RE = re.compile(
    "(?P<sym>" + "|".join(re.escape(u) for u in _SYMBOL_UNITS) + ")"
    r"|(?:(?<=\d)|(?<=\d )|(?<=[(\[/$\u20ac\u00a3]))(?P<word>" + _WORD_ALT + r")(?![^\W\d_])"
)
_LETTER_RE = re.compile(r"[^\W\d_]")


def number_value(token: str) -> float:
    """The value of a NUM_RE match text (sign included); ``1,234`` is thousands, ``0,17`` a decimal comma."""
    sign = -1.0 if token[:1] in "-\u2212" else 1.0
    body = token.lstrip("+-\u2212")
    if _THOUSANDS_RE.match(body):
        body = body.replace(",", "")
    else:
        body = body.replace(",", ".")
    return sign * float(body)


def numbers(text: str) -> list[tuple[str, float]]:
    """(token, value) of each number in the text, in order."""
    return [(m.group(0), number_value(m.group(0))) for m in NUM_RE.finditer(text)]


def skeleton(text: str) -> str:
    """The text with units, numbers, signs and decimal marks removed: what stays equal under a numeric change."""
    s = UNIT_RE.sub(" ", text)
    s = re.sub(r"[\d+\-\u2212.,]", "", s)
    return " ".join(s.split())


def is_numeric_text(text: str) -> bool:
    """A cell that is mainly a number (``72 (66;79)``, ``n=72``, ``$1,234``, ``0.17 ± 0.08``)."""
    return bool(NUM_RE.search(text)) and len(_LETTER_RE.findall(skeleton(text))) <= 3


def numeric_only_change(old: str, new: str) -> bool:
    """True when two different texts differ only in numbers, signs, units or decimal marks."""
    return old != new and skeleton(old) == skeleton(new) and (bool(NUM_RE.search(old + new)) or
                                                               bool(UNIT_RE.search(old + new)))


def numeric_change_severity(old: str, new: str) -> int:
    """Severity of a numeric-only change, by the shared rule (sign flip 3; mark/unit 2; else by relative size)."""
    a, b = numbers(old), numbers(new)
    if len(a) == len(b):
        sev = 0
        for (ta, va), (tb, vb) in zip(a, b):
            if ta == tb:
                continue
            if (va < 0) != (vb < 0) and va != 0 and vb != 0:
                return 3
            if re.sub(r"\D", "", ta) == re.sub(r"\D", "", tb):
                sev = max(sev, 2)  # same digits: a decimal mark or thousands separator changed
            else:
                from visual_erm.tasks.base import severity_for_change

                sev = max(sev, severity_for_change(va, vb))
        return sev or 2  # no number changed: a unit or symbol did
    return 2
