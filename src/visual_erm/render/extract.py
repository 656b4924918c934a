"""Pull the program out of a model response and normalise it the way the paper's released code does.

- Charts: the last fenced ``python`` block; ``import matplotlib.pyplot as plt`` prepended when missing; every
  ``savefig``/``show`` call removed (with :mod:`ast`, falling back to a line-based regex when the program does not
  parse); one final save to :data:`visual_erm.render.execute.CHART_OUTPUT` appended.
- SVG: the last fenced ``svg`` block, else everything from the first ``<svg`` (a tag cut off at the end is closed or
  dropped, and ``</svg>`` appended when missing).
- Tables: HTML (a fenced ``html`` block or the first ``<table`` … last ``</table>``), else a markdown pipe table
  converted to HTML with markdown-it-py.

All functions are pure string processing: safe to call on untrusted text in the trusted process.
"""

from __future__ import annotations

import ast
import re
import warnings

from visual_erm.render.execute import CHART_OUTPUT

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_STRIP_CALLS = frozenset({"savefig", "show"})


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block, in order; an unterminated last fence runs to the end."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def extract_chart_code(response: str) -> str | None:
    """The last ```python block of a response, or ``None`` when there is none."""
    blocks = [body for lang, body in _fenced_blocks(response) if lang in ("python", "py", "python3")]
    if not blocks:
        return None
    code = blocks[-1].strip("\n")
    return code if code.strip() else None


def _is_stripped_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr in _STRIP_CALLS
    if isinstance(func, ast.Name):  # ``from matplotlib.pyplot import *`` / ``from pylab import show``
        return func.id in _STRIP_CALLS
    return False


class _StripSaveShow(ast.NodeTransformer):
    """Replaces ``x.savefig(...)``/``x.show(...)`` statements by ``pass`` and nested calls by ``None``."""

    def visit_Expr(self, node: ast.Expr):
        if _is_stripped_call(node.value):
            return ast.copy_location(ast.Pass(), node)
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call):
        if _is_stripped_call(node):
            return ast.copy_location(ast.Constant(value=None), node)
        return self.generic_visit(node)


_STRIP_LINE = re.compile(r"^([ \t]*)(?:[\w.\[\]()'\"]+\.)?(?:savefig|show)\s*\(.*$")


def strip_save_show(code: str) -> str:
    """Remove every savefig/show call. Uses the AST; falls back to a line regex when the code does not parse."""
    try:
        with warnings.catch_warnings():  # e.g. invalid escape sequences in the program: its business, not ours
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "\n".join(_STRIP_LINE.sub(r"\1pass", line) for line in code.splitlines())
    try:
        tree = ast.fix_missing_locations(_StripSaveShow().visit(tree))
        return ast.unparse(tree)
    except (RecursionError, ValueError):  # pathological nesting: keep the regex behaviour
        return "\n".join(_STRIP_LINE.sub(r"\1pass", line) for line in code.splitlines())


_IMPORT_PLT = re.compile(r"^\s*import\s+matplotlib\.pyplot\s+as\s+plt\b", re.M)


def normalize_chart_program(code: str, *, dpi: int = 100, output_path: str = CHART_OUTPUT) -> str:
    """Prepend the pyplot import if missing, strip savefig/show, append exactly one save of the current figure."""
    body = strip_save_show(code)
    if not _IMPORT_PLT.search(body):
        body = "import matplotlib.pyplot as plt\n" + body
    save = (
        "\n\n# --- appended by visual_erm.render.extract ---\n"
        "import matplotlib.pyplot as _verm_plt\n"
        f"_verm_plt.savefig({output_path!r}, dpi={int(dpi)})\n"
    )
    return body.rstrip() + save


def chart_program_from_response(response: str, *, dpi: int = 100) -> str | None:
    """Extraction plus normalisation; ``None`` when the response holds no python block."""
    code = extract_chart_code(response)
    return None if code is None else normalize_chart_program(code, dpi=dpi)


# --------------------------------------------------------------------------------------------------- SVG
_SVG_OPEN = re.compile(r"<svg\b", re.I)
_SVG_CLOSE = re.compile(r"</svg\s*>", re.I)


def _close_dangling(fragment: str) -> str:
    """Close a tag cut off at the end (``<rect x="1"`` → ``<rect x="1"/>``); drop it if it cannot be closed."""
    lt, gt = fragment.rfind("<"), fragment.rfind(">")
    if lt > gt:
        tail = fragment[lt:]
        if tail.count('"') % 2 == 0 and tail.count("'") % 2 == 0 and re.match(r"<[A-Za-z][\w:.-]*", tail) \
                and not tail.startswith("</"):
            return fragment.rstrip() + "/>"
        return fragment[:lt]
    return fragment


def extract_svg(response: str) -> str | None:
    """The last ```svg block, else the document from the first ``<svg``; ``None`` when there is no SVG."""
    blocks = [body for lang, body in _fenced_blocks(response) if lang == "svg"]
    text = blocks[-1] if blocks else None
    if text is None or not _SVG_OPEN.search(text):
        m = _SVG_OPEN.search(response)
        if m is None:
            return text.strip() or None if text else None
        text = response[m.start():]
    else:
        text = text[_SVG_OPEN.search(text).start():]
    closes = list(_SVG_CLOSE.finditer(text))
    if closes:
        return text[: closes[-1].end()]
    return _close_dangling(text).rstrip() + "</svg>"


# --------------------------------------------------------------------------------------------------- tables
_TABLE_OPEN = re.compile(r"<table\b", re.I)
_TABLE_CLOSE = re.compile(r"</table\s*>", re.I)
_MD_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def _html_table(text: str) -> str | None:
    m = _TABLE_OPEN.search(text)
    if m is None:
        return None
    rest = text[m.start():]
    closes = list(_TABLE_CLOSE.finditer(rest))
    return rest[: closes[-1].end()] if closes else rest.rstrip() + "</table>"


def markdown_table_to_html(text: str) -> str | None:
    """Convert the first markdown pipe table in ``text`` to an HTML ``<table>`` (markdown-it-py, GFM tables)."""
    lines = text.splitlines()
    for i in range(1, len(lines)):
        if _MD_SEPARATOR.match(lines[i]) and "|" in lines[i - 1]:
            j = i + 1
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                j += 1
            block = "\n".join(lines[i - 1:j])
            from markdown_it import MarkdownIt

            html = MarkdownIt("commonmark", {"html": False}).enable("table").render(block)
            return _html_table(html)
    return None


def extract_table_html(response: str) -> str:
    """The table in a response as HTML: a fenced html block, raw ``<table>`` HTML or a markdown pipe table.

    Returns ``""`` when the response holds no table.
    """
    for lang, body in reversed(_fenced_blocks(response)):
        if lang == "html" and _TABLE_OPEN.search(body):
            return _html_table(body) or ""
    html = _html_table(response)
    if html:
        return html
    for lang, body in reversed(_fenced_blocks(response)):
        if lang in ("markdown", "md", ""):
            md = markdown_table_to_html(body)
            if md:
                return md
    return markdown_table_to_html(response) or ""


def extract_program(task: str, response: str) -> str | None:
    """The program in a model response for ``task`` (chart code, SVG document or table HTML), or None."""
    if task == "chart":
        return extract_chart_code(response)
    if task == "svg":
        return extract_svg(response)
    if task == "table":
        return extract_table_html(response) or None
    raise ValueError(f"unknown task {task!r}; choose chart, table or svg")
