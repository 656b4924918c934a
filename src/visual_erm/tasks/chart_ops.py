"""AST corruption operators for matplotlib chart programs.

Each operator parses a program (``ast.parse``), edits one site, writes it back (``ast.unparse``) and reports the
discrepancy the edit makes visible, with a category (structure / data / text / style), a severity by the rule of
:mod:`visual_erm.tasks.base`, a human-readable location and a description in the paper's style. An operator returns
``None`` when the program offers no site it can edit. Sites are collected in source order and chosen with the given
``rng``, so an operator is deterministic for a (program, rng state) pair.

The operators target real scripts, not only this project's generator: data in variables, series drawn in loops,
``ax.``/``plt.``/``axes[i, j].`` receivers, subplots, format strings, kwargs. They edit code, so whether an edit is
*visible* is only known after rendering; the synthesis engine keeps a label only if the render confirms it.
"""

from __future__ import annotations

import ast
import copy
import random
import re
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable

from visual_erm.schema import Discrepancy
from visual_erm.tasks.base import Edit, FunctionOperator, ordinal, severity_for_change

# ---------------------------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------------------------

PLOT_METHODS = {
    "plot", "bar", "barh", "scatter", "fill_between", "fill_betweenx", "errorbar", "hist", "pie", "boxplot",
    "violinplot", "stackplot", "step", "stem", "imshow", "pcolormesh", "pcolor", "contourf", "contour", "hexbin",
    "semilogy", "semilogx", "loglog", "hist2d", "matshow", "quiver", "streamplot", "broken_barh", "hlines", "vlines",
    "axhline", "axvline", "fill", "plot_surface", "bar3d", "plot_wireframe", "scatter3D", "plot3D", "eventplot",
    "polar", "heatmap", "barplot", "lineplot", "scatterplot", "boxplot", "violinplot", "histplot", "kdeplot",
}
SERIES_METHODS = {"plot", "bar", "barh", "scatter", "fill_between", "fill_betweenx", "errorbar", "step", "stem",
                  "hist", "semilogy", "semilogx", "loglog", "stackplot", "boxplot", "violinplot"}
NON_AXES_RECEIVERS = {"sns", "np", "pd", "nx", "squarify", "venn2", "venn3", "math", "random", "cm", "mcolors"}
END_CALLS = {"show", "savefig", "tight_layout", "close", "subplots_adjust"}
TITLE_METHODS = {"set_title", "title", "suptitle"}
LABEL_METHODS = {"set_xlabel": "x", "set_ylabel": "y", "xlabel": "x", "ylabel": "y", "set_zlabel": "z",
                 "supxlabel": "x", "supylabel": "y"}
TICK_METHODS = {"set_xticklabels": "x", "set_yticklabels": "y", "xticks": "x", "yticks": "y", "set_xticks": "x",
                "set_yticks": "y"}
TEXT_METHODS = {"text", "annotate", "figtext"}
COLOR_KWARGS = ("color", "c", "facecolor", "colors", "fc", "markerfacecolor", "mfc", "edgecolor", "ec")
NEW_COLORS = ("red", "blue", "green", "orange", "purple", "gold", "black", "magenta", "cyan", "saddlebrown",
              "gray", "hotpink", "olive", "navy", "teal", "lime", "darkred", "skyblue")
MARKER_CHOICES = ("o", "s", "^", "D", "v", "*", "x", "+", "p", "h")
LINESTYLE_CHOICES = ("-", "--", ":", "-.")
LINESTYLE_NAMES = {"-": "solid", "--": "dashed", ":": "dotted", "-.": "dash-dot", "solid": "solid",
                   "dashed": "dashed", "dotted": "dotted", "dashdot": "dash-dot", "None": "none", "none": "none",
                   "": "none", " ": "none"}
MARKER_NAMES = {"o": "circle", "s": "square", "^": "triangle-up", "v": "triangle-down", "D": "diamond",
                "d": "thin diamond", "*": "star", "x": "x", "+": "plus", "p": "pentagon", "h": "hexagon",
                "H": "hexagon", ".": "point", ",": "pixel", "<": "triangle-left", ">": "triangle-right",
                "X": "filled x", "P": "filled plus", "8": "octagon", "|": "vertical line", "_": "horizontal line"}
CMAP_CHOICES = ("viridis", "plasma", "coolwarm", "Greys", "YlOrRd", "Blues", "RdYlGn", "inferno", "cividis",
                "Spectral", "PuBuGn", "jet", "magma", "summer")
LEGEND_LOCS = ("upper left", "upper right", "lower left", "lower right", "center", "upper center", "lower center",
               "center left", "center right")
FACECOLOR_CHOICES = ("#e5e5e5", "lightyellow", "#dde8f5", "lavender", "honeydew", "#2b2b2b", "mistyrose")
WORD_SWAPS = {
    "revenue": "Revenues", "annual": "Quarterly", "quarterly": "Monthly", "monthly": "Weekly", "growth": "Decline",
    "average": "Median", "mean": "Median", "total": "Net", "rate": "Ratio", "by": "per", "vs": "and",
    "comparison": "Contrast", "distribution": "Spread", "performance": "Results", "trend": "Pattern",
    "trends": "Patterns", "score": "Rating", "scores": "Ratings", "accuracy": "Precision", "time": "Duration",
    "temperature": "Humidity", "sales": "Profits", "count": "Number", "value": "Amount", "values": "Amounts",
    "percentage": "Fraction", "number": "Count", "year": "Period", "month": "Week", "model": "Method",
    "models": "Methods", "loss": "Error", "high": "Low", "low": "High", "increase": "Decrease", "before": "After",
    "after": "Before", "training": "Testing", "test": "Validation", "frequency": "Density", "data": "Results",
}
TITLE_POOL = ("Overview of Results", "Summary Statistics", "Monthly Report", "Performance Metrics",
              "Comparison of Groups", "Data Overview", "Key Indicators", "Annual Summary")


# ---------------------------------------------------------------------------------------------------------------
# Program analysis
# ---------------------------------------------------------------------------------------------------------------


def _method(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return None


def _receiver(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Attribute):
        try:
            return ast.unparse(f.value)
        except Exception:
            return None
    return None


def _kw(call: ast.Call, *names: str) -> ast.keyword | None:
    for k in call.keywords:
        if k.arg in names:
            return k
    return None


def _str_const(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _num_const(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _num_const(node.operand)
        return -inner if inner is not None else None
    return None


def _make_num(value: float) -> ast.AST:
    if value < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-value))
    return ast.Constant(value)


def parse_program(source: str) -> ast.Module:
    """``ast.parse`` without the warnings a third-party program's own code raises (invalid escape sequences…)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return ast.parse(source)


class Program:
    """A parsed program with the indexes the operators share."""

    def __init__(self, source: str):
        self.source = source
        self.tree = parse_program(source)
        self.parent: dict[int, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[id(child)] = node
        self.calls: list[ast.Call] = sorted(
            (n for n in ast.walk(self.tree) if isinstance(n, ast.Call)),
            key=lambda n: (n.lineno, n.col_offset),
        )
        self.assigns: dict[str, list[ast.AST]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        self.assigns.setdefault(t.id, []).append(node.value)
        self.layout = self._layout()

    # -- helpers ---------------------------------------------------------------------------------------------
    def unparse(self) -> str:
        return ast.unparse(self.tree) + "\n"

    def stmt_of(self, node: ast.AST) -> ast.stmt | None:
        cur = node
        while cur is not None and not isinstance(cur, ast.stmt):
            cur = self.parent.get(id(cur))
        return cur

    def body_of(self, stmt: ast.stmt) -> list | None:
        parent = self.parent.get(id(stmt))
        if parent is None:
            return None
        for field in ("body", "orelse", "finalbody"):
            seq = getattr(parent, field, None)
            if isinstance(seq, list) and any(s is stmt for s in seq):
                return seq
        return None

    def value_of(self, name: str) -> ast.AST | None:
        """The single literal a name is bound to (None if rebound or not a literal)."""
        vals = self.assigns.get(name, [])
        if len(vals) != 1:
            return None
        return vals[0]

    def plot_calls(self, methods: Iterable[str] = PLOT_METHODS) -> list[ast.Call]:
        methods = set(methods)
        out = []
        for c in self.calls:
            m = _method(c)
            r = _receiver(c)
            if m in methods and r is not None and r.split(".")[0] not in NON_AXES_RECEIVERS:
                out.append(c)
        return out

    def axes_receivers(self) -> list[str]:
        seen: list[str] = []
        for c in self.plot_calls():
            r = _receiver(c)
            if r and r not in seen:
                seen.append(r)
        return seen

    def has_legend(self) -> bool:
        return any(_method(c) == "legend" for c in self.calls)

    def names_used_in(self, methods: set[str]) -> set[str]:
        out = set()
        for c in self.calls:
            if _method(c) in methods:
                for a in list(c.args) + [k.value for k in c.keywords]:
                    for n in ast.walk(a):
                        if isinstance(n, ast.Name):
                            out.add(n.id)
        return out

    def _layout(self) -> dict:
        """Map axes expressions to (row, col, nrows, ncols) from ``plt.subplots`` / ``add_subplot`` / twin calls."""
        layout: dict[str, tuple] = {}
        self.n_subplots = 0
        self.twins: dict[str, str] = {}
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Call):
                continue
            call, m = node.value, _method(node.value)
            if m == "subplots":
                r, c = _grid_args(call)
                self.n_subplots = max(self.n_subplots, r * c)
                for t in node.targets:
                    if isinstance(t, ast.Tuple) and len(t.elts) == 2:
                        ax_t = t.elts[1]
                        if isinstance(ax_t, ast.Name):
                            for i in range(r):
                                for j in range(c):
                                    if r > 1 and c > 1:
                                        layout[f"{ax_t.id}[{i}, {j}]"] = (i, j, r, c)
                                    k = i * c + j
                                    if r == 1 or c == 1:
                                        layout[f"{ax_t.id}[{k}]"] = (i, j, r, c)
                                    layout[f"{ax_t.id}.flat[{k}]"] = (i, j, r, c)
                                    layout[f"{ax_t.id}.flatten()[{k}]"] = (i, j, r, c)
                        elif isinstance(ax_t, (ast.Tuple, ast.List)):
                            flat = []
                            for e in ax_t.elts:
                                if isinstance(e, (ast.Tuple, ast.List)):
                                    flat.extend(e.elts)
                                else:
                                    flat.append(e)
                            for k, e in enumerate(flat):
                                if isinstance(e, ast.Name):
                                    layout[e.id] = (k // c, k % c, r, c)
            elif m in ("add_subplot", "subplot"):
                spec = _subplot_spec(call)
                if spec:
                    r, c, k = spec
                    self.n_subplots = max(self.n_subplots, r * c)
                    for t in node.targets:
                        if isinstance(t, ast.Name):
                            layout[t.id] = ((k - 1) // c, (k - 1) % c, r, c)
            elif m in ("twinx", "twiny"):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        self.twins[t.id] = _receiver(call) or ""
        if self.n_subplots == 0:
            n = sum(1 for c in self.calls if _method(c) in ("add_subplot", "subplot", "add_axes"))
            self.n_subplots = n
        return layout

    def where(self, receiver: str | None) -> str:
        """' of the top-left subplot' / ' of the secondary y-axis' / '' for a receiver expression."""
        if receiver is None:
            return ""
        if receiver in self.twins:
            return " on the secondary y-axis"
        pos = self.layout.get(receiver)
        if pos is None or pos[2] * pos[3] <= 1:
            return ""
        return f" of the {subplot_name(*pos)}"



# ---------------------------------------------------------------------------------------------------------------
# Edit targets (for composing edits, see :func:`visual_erm.tasks.chart.compose_compatible`)
# ---------------------------------------------------------------------------------------------------------------

#: Wildcard in a target tuple: matches any value in that position (an edit whose exact site is not known).
ANY = "*"


def _ax(prog: Program, recv: str | None) -> str:
    """A stable key for the axes a receiver expression draws on: '#k' (flat subplot index) when known, the receiver
    text otherwise, 'fig' for figure-level calls and :data:`ANY` when it cannot be told (``plt`` with subplots)."""
    if recv is None:
        return ANY
    if recv in ("fig", "plt.gcf()") or recv.endswith(".figure"):
        return "fig"
    if recv in prog.twins:
        return recv
    pos = prog.layout.get(recv)
    if pos is not None:
        return f"#{pos[0] * pos[3] + pos[1]}"
    if prog.n_subplots <= 1:
        return "#0"
    return ANY if recv in ("plt", "plt.gca()") else recv


def _series_target(prog: Program, call: ast.Call | None) -> tuple:
    """('series', axes key, index of the call among the plotting calls on that receiver)."""
    if call is None:
        return ("series", ANY, ANY)
    recv = _receiver(call)
    same = [c for c in prog.plot_calls() if _receiver(c) == recv]
    j = next((i for i, c in enumerate(same) if c is call), ANY)
    return ("series", _ax(prog, recv), j)


def subplot_name(row: int, col: int, nrows: int, ncols: int) -> str:
    """'top-left subplot', 'second subplot', 'subplot in row 2, column 3'."""
    if nrows == 1:
        return {1: "subplot"}.get(ncols) or ("left subplot" if col == 0 and ncols == 2 else
                                            "right subplot" if col == ncols - 1 and ncols <= 3 else
                                            "middle subplot" if ncols == 3 else f"{ordinal(col + 1)} subplot")
    if ncols == 1:
        return ("top subplot" if row == 0 else "bottom subplot" if row == nrows - 1 else
                "middle subplot" if nrows == 3 else f"{ordinal(row + 1)} subplot")
    if nrows == 2 and ncols == 2:
        return f"{('top', 'bottom')[row]}-{('left', 'right')[col]} subplot"
    return f"subplot in row {row + 1}, column {col + 1}"


def _grid_args(call: ast.Call) -> tuple[int, int]:
    r = c = 1
    if len(call.args) >= 1 and _num_const(call.args[0]) is not None:
        r = int(_num_const(call.args[0]))
    if len(call.args) >= 2 and _num_const(call.args[1]) is not None:
        c = int(_num_const(call.args[1]))
    k = _kw(call, "nrows")
    if k is not None and _num_const(k.value) is not None:
        r = int(_num_const(k.value))
    k = _kw(call, "ncols")
    if k is not None and _num_const(k.value) is not None:
        c = int(_num_const(k.value))
    return max(r, 1), max(c, 1)


def _subplot_spec(call: ast.Call) -> tuple[int, int, int] | None:
    nums = [_num_const(a) for a in call.args]
    if len(nums) >= 3 and all(isinstance(v, (int, float)) for v in nums[:3]):
        return int(nums[0]), int(nums[1]), int(nums[2])
    if len(nums) >= 1 and isinstance(nums[0], (int, float)) and 111 <= nums[0] <= 999:
        s = str(int(nums[0]))
        return int(s[0]), int(s[1]), int(s[2])
    return None


def _series_label(prog: Program, call: ast.Call) -> str | None:
    k = _kw(call, "label")
    s = _str_const(k.value) if k is not None else None
    return s if s and not s.startswith("_") else None


def _series_phrase(prog: Program, call: ast.Call) -> str:
    label = _series_label(prog, call)
    m = _method(call)
    noun = {"bar": "bars", "barh": "bars", "scatter": "points", "plot": "line", "errorbar": "line",
            "fill_between": "filled area", "stackplot": "stacked areas", "hist": "histogram", "pie": "pie",
            "boxplot": "box plot", "step": "step line"}.get(m or "", "series")
    base = f"{noun} of series '{label}'" if label else f"the {noun}"
    return base + prog.where(_receiver(call))


def _be(series: str) -> str:
    """'is' or 'are' for a series phrase ('bars of series ...' are, 'line of series ...' is)."""
    head = series.removeprefix("the ").split(" of ")[0]
    return "are" if head in ("bars", "points", "stacked areas", "filled areas") else "is"


def _uses(series: str) -> str:
    return "use" if _be(series) == "are" else "uses"


def _result(prog: Program, category: str, severity: int, location: str, description: str, op_name: str,
            **detail) -> Edit | None:
    new = prog.unparse()
    try:
        compile(new, "chart.py", "exec")
    except SyntaxError:
        return None
    if new == ast.unparse(parse_program(prog.source)) + "\n":
        return None
    return Edit(new, Discrepancy(category=category, severity=severity, location=location, description=description),
                operator=op_name, detail=detail)


def _parse(program: str) -> Program | None:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # e.g. '\m' in mathtext labels of real scripts
            warnings.simplefilter("ignore", DeprecationWarning)
            return Program(program)
    except (SyntaxError, ValueError, RecursionError):
        return None


def _insert_before_end(prog: Program, stmts: list[ast.stmt], after: ast.stmt | None = None) -> None:
    """Insert top-level statements after ``after`` (a top-level statement) or before the trailing show/savefig."""
    body = prog.tree.body
    if after is not None:
        top = after
        while top is not None and prog.parent.get(id(top)) is not prog.tree:
            top = prog.parent.get(id(top))
        for i, s in enumerate(body):
            if s is top and not _is_end_stmt(s):
                body[i + 1:i + 1] = stmts
                return
    idx = len(body)
    while idx > 0 and _is_end_stmt(body[idx - 1]):
        idx -= 1
    body[idx:idx] = stmts


def _is_end_stmt(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and _method(stmt.value) in END_CALLS)


def _last_stmt_using(prog: Program, receiver: str) -> ast.stmt | None:
    last = None
    for c in prog.calls:
        if _receiver(c) == receiver:
            s = prog.stmt_of(c)
            if s is not None and not _is_end_stmt(s):
                last = s
    return last


def _axes_expr(receiver: str) -> str:
    return "plt.gca()" if receiver == "plt" else receiver


def _stmt(code: str) -> list[ast.stmt]:
    return parse_program(code).body


# ---------------------------------------------------------------------------------------------------------------
# Text mutation
# ---------------------------------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z][A-Za-z\-']{2,}")


def _math_spans(s: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\$[^$]*\$|\{[^}]*\}|%[-.\d]*[a-zA-Z%]|\\\w+", s)]


def mutate_text(s: str, rng: random.Random, replace_pool: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """A plausible wrong version of a label: a swapped word, a typo, a changed number or a replacement.

    Returns (new text, kind of change) or None when the string offers nothing safe to change (e.g. pure mathtext).
    """
    spans = _math_spans(s)

    def free(a: int, b: int) -> bool:
        return not any(x < b and a < y for x, y in spans)

    words = [m for m in _WORD.finditer(s) if free(m.start(), m.end())]
    numbers = [m for m in re.finditer(r"\d+", s) if free(m.start(), m.end())]
    options = []
    swaps = [m for m in words if m.group().lower() in WORD_SWAPS]
    if swaps:
        options.append("swap")
    if words:
        options += ["typo", "plural"]
    if numbers:
        options.append("number")
    if replace_pool and s.strip():
        options.append("replace")
    if not options:
        if s.strip() and not spans:
            return (s + " (est.)", "suffix")
        return None
    kind = rng.choice(options)
    if kind == "swap":
        m = rng.choice(swaps)
        new_word = WORD_SWAPS[m.group().lower()]
        if m.group()[0].islower():
            new_word = new_word.lower()
        out = s[: m.start()] + new_word + s[m.end():]
    elif kind == "typo":
        m = rng.choice(words)
        w = m.group()
        i = rng.randrange(1, len(w) - 1)
        op = rng.choice(("drop", "double", "swap"))
        if op == "drop":
            w2 = w[:i] + w[i + 1:]
        elif op == "double":
            w2 = w[:i] + w[i] + w[i:]
        else:
            w2 = w[:i] + w[i + 1] + w[i] + w[i + 2:] if i + 1 < len(w) else w[:-1]
        out = s[: m.start()] + w2 + s[m.end():]
    elif kind == "plural":
        m = rng.choice(words)
        w = m.group()
        w2 = w[:-1] if w.endswith("s") and len(w) > 3 else w + "s"
        out = s[: m.start()] + w2 + s[m.end():]
    elif kind == "number":
        m = rng.choice(numbers)
        v = int(m.group())
        out = s[: m.start()] + str(v + rng.choice((1, 2, 5, 10))) + s[m.end():]
    else:
        choices = [t for t in replace_pool if t != s]
        out = rng.choice(choices)
    if out == s:
        return None
    return out, kind


@dataclass
class _StrSite:
    """A string constant that can be edited: the node holding it and how to put a new value back."""

    node: ast.Constant
    describe_as: str  # e.g. "title", "x-axis label"
    call: ast.Call | None = None

    @property
    def value(self) -> str:
        return self.node.value

    def set(self, value: str) -> None:
        self.node.value = value


def _string_nodes(node: ast.AST | None) -> list[ast.Constant]:
    """Editable string constants in a label argument: a plain string or an f-string's literal parts."""
    if node is None:
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
        return [node]
    if isinstance(node, ast.JoinedStr):
        return [v for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str) and v.value.strip()]
    return []


def _quote(s: str) -> str:
    return "'" + s.replace("\n", " ") + "'"


# ---------------------------------------------------------------------------------------------------------------
# Text operators
# ---------------------------------------------------------------------------------------------------------------


def _title_sites(prog: Program) -> list[_StrSite]:
    sites = []
    for c in prog.calls:
        m = _method(c)
        if m in TITLE_METHODS:
            node = c.args[0] if c.args else (_kw(c, "label", "t").value if _kw(c, "label", "t") else None)
            what = "figure title" if m == "suptitle" else "title"
            loc_kw = _kw(c, "loc")
            if _str_const(loc_kw.value if loc_kw else None) in ("left", "right"):
                what = f"{loc_kw.value.value}-aligned title"
            for n in _string_nodes(node):
                sites.append(_StrSite(n, what + ("" if m == "suptitle" else prog.where(_receiver(c))), c))
        elif m == "set":
            k = _kw(c, "title")
            for n in _string_nodes(k.value if k else None):
                sites.append(_StrSite(n, "title" + prog.where(_receiver(c)), c))
    return sites


def op_change_title(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites = _title_sites(prog)
    if not sites:
        receivers = [r for r in prog.axes_receivers() if r not in prog.twins]
        if not receivers:
            return None
        recv = rng.choice(receivers)
        new = rng.choice(TITLE_POOL)
        method = "title" if recv == "plt" else "set_title"
        _insert_before_end(prog, _stmt(f"{recv}.{method}({new!r})"), _last_stmt_using(prog, recv))
        where = prog.where(recv)
        return _result(prog, "text_error", 2, "title" + where,
                       f"The reference has no title{where} but the candidate shows the title {_quote(new)}.",
                       "change_title", old=None, new=new, change="add", targets=[("title", _ax(prog, recv))])
    site = rng.choice(sites)
    old_full = ast.unparse(site.call.args[0]) if site.call is not None and site.call.args else site.value
    mutated = mutate_text(site.value, rng, TITLE_POOL if isinstance(prog.parent.get(id(site.node)), ast.Call) else ())
    if mutated is None:
        return None
    new, kind = mutated
    old = site.value
    site.set(new)
    severity = 3 if kind == "replace" else 2
    desc = (f"The {site.describe_as} reads {_quote(old)} in the reference but {_quote(new)} in the candidate."
            if kind != "replace" else
            f"The {site.describe_as} is {_quote(old)} in the reference but was replaced by {_quote(new)} in the candidate.")
    tgt = ("title", "fig") if _method(site.call) == "suptitle" else ("title", _ax(prog, _receiver(site.call)))
    return _result(prog, "text_error", severity, site.describe_as, desc, "change_title", old=old, new=new,
                   change=kind, expr=old_full, targets=[tgt])


def op_change_axis_label(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites = []
    for c in prog.calls:
        m = _method(c)
        if m in LABEL_METHODS:
            node = c.args[0] if c.args else (_kw(c, "xlabel", "ylabel", "t").value if _kw(c, "xlabel", "ylabel", "t") else None)
            for n in _string_nodes(node):
                sites.append(_StrSite(n, f"{LABEL_METHODS[m]}-axis label" + prog.where(_receiver(c)), c))
        elif m == "set":
            for axis in ("xlabel", "ylabel"):
                k = _kw(c, axis)
                for n in _string_nodes(k.value if k else None):
                    sites.append(_StrSite(n, f"{axis[0]}-axis label" + prog.where(_receiver(c)), c))
    if not sites:
        return None
    site = rng.choice(sites)
    mutated = mutate_text(site.value, rng)
    if mutated is None:
        return None
    new, kind = mutated
    old = site.value
    site.set(new)
    desc = f"The {site.describe_as} reads {_quote(old)} in the reference but {_quote(new)} in the candidate."
    return _result(prog, "text_error", 2, site.describe_as, desc, "change_axis_label", old=old, new=new, change=kind,
                   targets=[(site.describe_as[0] + "label", _ax(prog, _receiver(site.call)))])


def _str_list(node: ast.AST | None, prog: Program, depth: int = 0) -> ast.List | ast.Tuple | None:
    """The list/tuple literal of strings a node is or names (one level of name resolution)."""
    if node is None or depth > 2:
        return None
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts and all(_str_const(e) is not None for e in node.elts):
        return node
    if isinstance(node, ast.Name):
        return _str_list(prog.value_of(node.id), prog, depth + 1)
    return None


def _is_color_like(s: str) -> bool:
    try:
        from matplotlib.colors import is_color_like

        return bool(is_color_like(s)) and not s.strip().replace(".", "").isdigit()
    except Exception:
        return False


TICK_SUFFIXES = ("%", " kg", "k", " m", "°", " $")
#: Appended before the end of a program: wraps an axis' tick formatter so every tick label gets a unit suffix.
SUFFIX_FORMATTER = """
import matplotlib.ticker as _mticker


class _SuffixFormatter(_mticker.Formatter):

    def __init__(self, inner, suffix):
        self.inner, self.suffix = inner, suffix

    def set_axis(self, axis):
        self.axis = axis
        self.inner.set_axis(axis)

    def set_locs(self, locs):
        self.inner.set_locs(locs)

    def format_ticks(self, values):
        return [t + self.suffix if t else t for t in self.inner.format_ticks(values)]

    def __call__(self, x, pos=None):
        t = self.inner(x, pos)
        return t + self.suffix if t else t

    def get_offset(self):
        return self.inner.get_offset()
"""


def _top_level_names(prog: Program) -> set[str]:
    out = set()
    for st in prog.tree.body:
        if isinstance(st, (ast.Assign, ast.AnnAssign)):
            for t in (st.targets if isinstance(st, ast.Assign) else [st.target]):
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        out.add(n.id)
    return out


def _tick_suffix_sites(prog: Program) -> list[tuple[str, str]]:
    """(receiver, axis) pairs whose tick labels can get a unit suffix at the end of the program: the receiver is
    bound at top level (so it still names the same axes there), draws no pie and its axis is not switched off."""
    names = _top_level_names(prog)
    off = {_receiver(c) for c in prog.calls if (_method(c) == "axis" and c.args and _str_const(c.args[0]) == "off")
           or _method(c) == "set_axis_off"}
    hidden_axes = {(_receiver(c), _method(c)[4]) for c in prog.calls
                   if _method(c) in ("set_xticks", "set_yticks", "set_xticklabels", "set_yticklabels")
                   and c.args and isinstance(c.args[0], (ast.List, ast.Tuple)) and not c.args[0].elts}
    out = []
    for recv in prog.axes_receivers():
        if recv in off or ("plt" in off and prog.n_subplots <= 1):
            continue
        if any(_receiver(c) == recv and _method(c) in ("pie",) for c in prog.plot_calls()):
            continue
        if recv == "plt":
            if prog.n_subplots > 1:
                continue
        elif recv.split("[")[0].split(".")[0] not in names:
            continue
        twin_kind = next((_method(c) for c in prog.calls if _method(c) in ("twinx", "twiny")
                          and isinstance(prog.stmt_of(c), ast.Assign)
                          and any(isinstance(t, ast.Name) and t.id == recv for t in prog.stmt_of(c).targets)), None)
        for axis in ("x", "y"):
            if twin_kind == ("twinx" if axis == "x" else "twiny"):
                continue  # a twin's shared axis is hidden
            if (recv, axis) not in hidden_axes:
                out.append((recv, axis))
    return out


def op_change_tick_label(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites: list[tuple[ast.AST, str, str]] = []  # (list node, axis, where)
    seen = set()
    for c in prog.calls:
        m = _method(c)
        axis, lst = None, None
        if m in ("set_xticklabels", "set_yticklabels") and c.args:
            axis, lst = TICK_METHODS[m], _str_list(c.args[0], prog)
        elif m in ("xticks", "yticks", "set_xticks", "set_yticks"):
            node = c.args[1] if len(c.args) >= 2 else (_kw(c, "labels").value if _kw(c, "labels") else None)
            axis, lst = TICK_METHODS[m], _str_list(node, prog)
        elif m in ("bar", "plot", "scatter", "errorbar", "barh", "step") and len(c.args) >= 2:
            axis = "y" if m == "barh" else "x"
            lst = _str_list(c.args[0], prog)
        elif m == "boxplot":
            k = _kw(c, "labels", "tick_labels")
            axis, lst = "x", _str_list(k.value if k else None, prog)
        if lst is not None and id(lst) not in seen:
            seen.add(id(lst))
            sites.append((lst, axis, prog.where(_receiver(c)), _receiver(c)))
    suffix_sites = _tick_suffix_sites(prog)
    if not sites and not suffix_sites:
        return None
    if suffix_sites and (not sites or rng.random() < 0.3):
        recv, axis = rng.choice(suffix_sites)
        suffix = rng.choice(TICK_SUFFIXES)
        ax = _axes_expr(recv)
        _insert_before_end(prog, _stmt(SUFFIX_FORMATTER + f"{ax}.{axis}axis.set_major_formatter("
                                       f"_SuffixFormatter({ax}.{axis}axis.get_major_formatter(), {suffix!r}))"))
        where = prog.where(recv)
        return _result(prog, "text_error", 2, f"{axis}-axis tick labels{where}",
                       f"The {axis}-axis tick labels{where} have no {_quote(suffix.strip())} suffix in the reference "
                       f"but every one ends in {_quote(suffix.strip())} in the candidate.", "change_tick_label",
                       old="", new=suffix, axis=axis, mode="suffix", targets=[(axis + "axis", _ax(prog, recv))])
    lst, axis, where, recv = rng.choice(sites)
    idx = [i for i, e in enumerate(lst.elts) if e.value.strip()]
    if not idx:
        return None
    i = rng.choice(idx)
    old = lst.elts[i].value
    mutated = mutate_text(old, rng)
    if mutated is None:
        return None
    new, kind = mutated
    if new in [e.value for e in lst.elts]:
        return None
    lst.elts[i].value = new
    loc = f"{ordinal(i + 1)} {axis}-axis tick label{where}"
    desc = f"The {ordinal(i + 1)} {axis}-axis tick label reads {_quote(old)} in the reference but {_quote(new)} in the candidate."
    return _result(prog, "text_error", 2, loc, desc, "change_tick_label", old=old, new=new, index=i, axis=axis,
                   targets=[(axis + "axis", _ax(prog, recv))])


def op_change_legend_label(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None or not prog.has_legend():
        return None
    sites: list[tuple[ast.Constant, str]] = []
    seen = set()

    def add(node: ast.Constant, where: str) -> None:
        if id(node) not in seen and node.value.strip() and not node.value.startswith("_"):
            seen.add(id(node))
            sites.append((node, where))

    for c in prog.calls:
        m = _method(c)
        if m == "legend":
            cands = list(c.args) + [k.value for k in c.keywords if k.arg == "labels"]
            for a in cands:
                lst = _str_list(a, prog)
                if lst is not None:
                    for e in lst.elts:
                        add(e, prog.where(_receiver(c)))
        elif m in PLOT_METHODS or m in ("axhline", "axvline"):
            k = _kw(c, "label", "labels")
            if k is None:
                continue
            if _str_const(k.value) is not None:
                add(k.value, prog.where(_receiver(c)))
            else:
                lst = _str_list(k.value, prog)
                if lst is not None:
                    for e in lst.elts:
                        add(e, prog.where(_receiver(c)))
                elif isinstance(k.value, ast.Name):
                    lst = _loop_source_list(prog, c, k.value.id)
                    if lst is not None:
                        for e in lst.elts:
                            add(e, prog.where(_receiver(c)))
    if not sites:
        return None
    node, where = rng.choice(sites)
    old = node.value
    mutated = mutate_text(old, rng)
    if mutated is None:
        return None
    new, kind = mutated
    node.value = new
    loc = f"legend entry {_quote(old)}{where}"
    desc = f"The legend entry reads {_quote(old)} in the reference but {_quote(new)} in the candidate."
    return _result(prog, "text_error", 2, loc, desc, "change_legend_label", old=old, new=new, change=kind,
                   targets=[("legend", ANY)])


def _loop_source_list(prog: Program, call: ast.Call, name: str) -> ast.List | ast.Tuple | None:
    """For ``for lbl in labels: ax.plot(..., label=lbl)`` (also via zip/enumerate): the ``labels`` literal."""
    cur = prog.parent.get(id(call))
    while cur is not None:
        if isinstance(cur, ast.For):
            tgt, it = cur.target, cur.iter
            if isinstance(tgt, ast.Name) and tgt.id == name:
                return _str_list(it, prog)
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id in ("zip", "enumerate"):
                names = [e for e in (tgt.elts if isinstance(tgt, ast.Tuple) else [])]
                if it.func.id == "enumerate" and len(names) == 2 and isinstance(names[1], ast.Name) and names[1].id == name:
                    return _str_list(it.args[0], prog) if it.args else None
                if it.func.id == "zip":
                    for pos, n in enumerate(names):
                        if isinstance(n, ast.Name) and n.id == name and pos < len(it.args):
                            return _str_list(it.args[pos], prog)
        cur = prog.parent.get(id(cur))
    return None


def op_change_annotation(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites = []
    for c in prog.calls:
        m = _method(c)
        recv = _receiver(c)
        if m not in TEXT_METHODS or (recv is None and m != "figtext"):
            continue
        if recv and recv.split(".")[0] in NON_AXES_RECEIVERS:
            continue
        if m == "annotate":
            node = c.args[0] if c.args else (_kw(c, "text", "s").value if _kw(c, "text", "s") else None)
        else:
            node = c.args[2] if len(c.args) >= 3 else (_kw(c, "s").value if _kw(c, "s") else None)
        strs = [n for n in _string_nodes(node) if _WORD.search(n.value) or re.search(r"\d", n.value)]
        for n in strs:
            sites.append((n, c, prog.stmt_of(c)))
        if not strs and node is not None and not isinstance(node, ast.Constant):
            sites.append((node, c, None))
    if not sites:
        return None
    node, call, stmt = rng.choice(sites)
    if isinstance(node, ast.Constant):
        old = node.value
        mutated = mutate_text(old, rng)
        if mutated is None:
            return None
        new, kind = mutated
        node.value = new
    else:
        suffix = rng.choice(("%", " pts", "*", " (est.)", "k"))
        wrapped = ast.BinOp(left=ast.Call(func=ast.Name("str", ast.Load()), args=[copy.deepcopy(node)], keywords=[]),
                            op=ast.Add(), right=ast.Constant(suffix))
        parent = call
        if node in parent.args:
            parent.args[parent.args.index(node)] = wrapped
        else:
            for k in parent.keywords:
                if k.value is node:
                    k.value = wrapped
        old, new, kind = "<value>", f"<value>{suffix}", "suffix"
    in_loop = any(isinstance(a, (ast.For, ast.While, ast.comprehension)) for a in _ancestors(prog, call))
    what = "value labels" if in_loop else "annotation"
    loc = (f"{what} {_quote(old.strip())}" if not in_loop else "value labels") + prog.where(_receiver(call))
    desc = (f"The annotation reads {_quote(old.strip())} in the reference but {_quote(new.strip())} in the candidate."
            if not in_loop else
            f"The text labels drawn on the data use {_quote(old.strip())} in the reference but {_quote(new.strip())} in the candidate.")
    return _result(prog, "text_error", 2, loc, desc, "change_annotation", old=old, new=new, in_loop=in_loop,
                   targets=[("annotation", _ax(prog, _receiver(call)))])


def _ancestors(prog: Program, node: ast.AST):
    cur = prog.parent.get(id(node))
    while cur is not None:
        yield cur
        cur = prog.parent.get(id(cur))


def op_drop_or_move_legend(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    legend_calls = [c for c in prog.calls if _method(c) == "legend" and _receiver(c) is not None
                    and _receiver(c).split(".")[0] not in NON_AXES_RECEIVERS]
    if not legend_calls:
        return None
    call = rng.choice(legend_calls)
    stmt = prog.stmt_of(call)
    where = prog.where(_receiver(call))
    mode = rng.choice(("drop", "move"))
    body = prog.body_of(stmt) if stmt is not None else None
    droppable = (isinstance(stmt, ast.Expr) and stmt.value is call and body is not None)
    if mode == "drop" and droppable:
        if len(body) == 1:
            body[0] = ast.Pass()
        else:
            body.remove(stmt)
        return _result(prog, "text_error", 2, "legend" + where,
                       f"The legend{where} is shown in the reference but missing in the candidate.",
                       "drop_or_move_legend", mode="drop", targets=[("legend", ANY)])
    k = _kw(call, "loc")
    old = _str_const(k.value) if k is not None else None
    if k is not None and old is None:
        if _num_const(k.value) is None:
            return None
        names = ("best",) + ("upper right", "upper left", "lower left", "lower right", "right", "center left",
                             "center right", "lower center", "upper center", "center")
        v = int(_num_const(k.value))
        old = names[v] if 0 <= v < len(names) else None
    choices = [c for c in LEGEND_LOCS if c != (old or "best")]
    new = rng.choice(choices)
    if k is None:
        call.keywords.append(ast.keyword(arg="loc", value=ast.Constant(new)))
    else:
        k.value = ast.Constant(new)
    old_desc = old or "best (automatic)"
    return _result(prog, "text_error", 1 if _kw(call, "bbox_to_anchor") is None else 2, "legend" + where,
                   f"The legend{where} is placed at '{old_desc}' in the reference but at '{new}' in the candidate.",
                   "drop_or_move_legend", mode="move", old=old, new=new, targets=[("legend", ANY)])


# ---------------------------------------------------------------------------------------------------------------
# Style operators
# ---------------------------------------------------------------------------------------------------------------


def _rgb(s: str):
    from matplotlib.colors import to_rgb

    return to_rgb(s)


def _pick_color(old: str, rng: random.Random, avoid: Iterable[str] = ()) -> str:
    try:
        o = _rgb(old)
    except Exception:
        o = (0.5, 0.5, 0.5)
    avoid_rgb = []
    for a in avoid:
        try:
            avoid_rgb.append(_rgb(a))
        except Exception:
            pass
    choices = list(NEW_COLORS)
    rng.shuffle(choices)
    for c in choices:
        rgb = _rgb(c)
        if sum((x - y) ** 2 for x, y in zip(rgb, o)) ** 0.5 > 0.45 and all(
            sum((x - y) ** 2 for x, y in zip(rgb, a)) ** 0.5 > 0.2 for a in avoid_rgb
        ):
            return c
    return "red" if old != "red" else "blue"


_FMT = re.compile(r"^(?P<c1>[bgrcmykw]|C\d)?(?P<m1>[.,ov^<>1-4sp*hH+xXDd|_])?(?P<ls>--|-\.|-|:)?"
                  r"(?P<m2>[.,ov^<>1-4sp*hH+xXDd|_])?(?P<c2>[bgrcmykw]|C\d)?$")


def _fmt_arg(call: ast.Call) -> ast.Constant | None:
    """The format-string argument of a ``plot`` call (``'r--o'``), if any."""
    if _method(call) not in ("plot", "semilogy", "semilogx", "loglog", "step", "errorbar", "plot_date"):
        return None
    if _method(call) == "errorbar":
        k = _kw(call, "fmt")
        if k is not None and _str_const(k.value) is not None and _FMT.match(k.value.value):
            return k.value
        return None
    for a in call.args[1:4]:
        s = _str_const(a)
        if s is not None and s and _FMT.match(s):
            return a
    return None


COLOR_LETTER = {"b": "blue", "g": "green", "r": "red", "c": "cyan", "m": "magenta", "y": "yellow", "k": "black",
                "w": "white"}


def op_change_color(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites: list[tuple] = []  # (kind, node/list, index, call)
    seen = set()
    allowed = PLOT_METHODS | {"axhline", "axvline", "axhspan", "axvspan", "hlines", "vlines", "fill"}
    for c in prog.plot_calls(allowed):
        for k in c.keywords:
            if k.arg not in COLOR_KWARGS:
                continue
            s = _str_const(k.value)
            if s is not None and _is_color_like(s) and s.lower() != "none":
                sites.append(("const", k.value, None, c))
            else:
                lst = _str_list(k.value, prog)
                if lst is not None and all(_is_color_like(e.value) for e in lst.elts) and id(lst) not in seen:
                    seen.add(id(lst))
                    sites.append(("list", lst, None, c))
        f = _fmt_arg(c)
        if f is not None:
            m = _FMT.match(f.value)
            if m and (m.group("c1") or m.group("c2")) and not _kw(c, "color", "c"):
                sites.append(("fmt", f, None, c))
    # colour lists used in loops (``for patch, color in zip(box['boxes'], colors)``)
    for name, vals in prog.assigns.items():
        if len(vals) == 1 and "color" in name.lower():
            lst = _str_list(vals[0], prog)
            if lst is not None and all(_is_color_like(e.value) for e in lst.elts) and id(lst) not in seen:
                seen.add(id(lst))
                sites.append(("list", lst, None, None))
    if not sites:
        return None
    kind, node, _, call = rng.choice(sites)
    series = _series_phrase(prog, call) if call is not None else "the plotted elements"
    if kind == "const":
        old = node.value
        new = _pick_color(old, rng)
        node.value = new
        loc = f"colour of the {series}" if not series.startswith("the ") else f"colour of {series}"
        desc = f"The {series.removeprefix('the ')} {_be(series)} drawn in {old} in the reference but in {new} in the candidate."
    elif kind == "list":
        idx = list(range(len(node.elts)))
        i = rng.choice(idx)
        old = node.elts[i].value
        new = _pick_color(old, rng, [e.value for e in node.elts])
        node.elts[i].value = new
        loc = f"colour of the {ordinal(i + 1)} element ({series.removeprefix('the ')})"
        desc = (f"The {ordinal(i + 1)} element of the {series.removeprefix('the ')} is {old} in the reference "
                f"but {new} in the candidate.")
    else:
        m = _FMT.match(node.value)
        letter = m.group("c1") or m.group("c2")
        old = COLOR_LETTER.get(letter, letter)
        opts = [x for x in "bgrcmk" if x != letter]
        new_letter = rng.choice(opts)
        s = node.value
        pos = s.find(letter)
        node.value = s[:pos] + new_letter + s[pos + len(letter):]
        new = COLOR_LETTER[new_letter]
        loc = f"colour of the {series.removeprefix('the ')}"
        desc = f"The {series.removeprefix('the ')} {_be(series)} {old} in the reference but {new} in the candidate."
    return _result(prog, "style_error", 1, loc, desc, "change_color", old=old, new=new, site=kind,
                   targets=[_series_target(prog, call)])


def _line_calls(prog: Program) -> list[ast.Call]:
    return prog.plot_calls({"plot", "semilogy", "semilogx", "loglog", "step", "axhline", "axvline", "errorbar",
                            "hlines", "vlines", "plot3D"})


#: Calls whose patches have an outline (edge) that ``linestyle`` / ``linewidth`` / ``edgecolor`` control.
OUTLINED_METHODS = {"bar", "barh", "hist"}


def _edge_state(call: ast.Call) -> str | None:
    """'shown' when the call sets a visible edge colour, 'none' when it sets none (matplotlib then draws no outline
    on filled patches), None when it cannot be told (edge colour from a variable, zero width, unfilled patches)."""
    if _kw(call, "fill") is not None or _str_const((_kw(call, "histtype") or ast.keyword("", ast.Constant(""))).value) \
            not in ("", "bar", "barstacked"):
        return None
    lw = _kw(call, "linewidth", "lw")
    if lw is not None and (_num_const(lw.value) is None or _num_const(lw.value) == 0):
        return None
    ec = _kw(call, "edgecolor", "ec")
    if ec is None:
        return "none" if lw is None else None
    s = _str_const(ec.value)
    if s is None or not _is_color_like(s):
        return None
    return "none" if s.lower() == "none" and lw is None else ("shown" if s.lower() != "none" else None)


def _errorbar_has_line(call: ast.Call) -> bool:
    """An ``errorbar`` call that draws a connecting line (no ``fmt``, or a ``fmt`` with a line style)."""
    fmt = _kw(call, "fmt")
    if fmt is None:
        return len(call.args) < 5 and _kw(call, "linestyle", "ls") is None
    s = _str_const(fmt.value)
    return bool(s) and s.lower() != "none" and bool(_FMT.match(s)) and bool(_FMT.match(s).group("ls"))


def op_change_linestyle(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites = []
    for c in _line_calls(prog):
        k = _kw(c, "linestyle", "ls", "linestyles")
        if k is not None:
            s = _str_const(k.value)
            if s is not None and s in LINESTYLE_NAMES and LINESTYLE_NAMES[s] != "none":
                sites.append(("kw", c, k))
            continue
        f = _fmt_arg(c)
        if f is not None:
            m = _FMT.match(f.value)
            if m.group("ls"):
                sites.append(("fmt", c, f))
            continue
        if _method(c) in ("plot", "step", "axhline", "axvline", "semilogy", "semilogx", "loglog", "plot3D") or (
                _method(c) == "errorbar" and _errorbar_has_line(c)):
            sites.append(("add", c, None))
    for c in prog.plot_calls(OUTLINED_METHODS):
        if _kw(c, "linestyle", "ls") is not None or any(k.arg is None for k in c.keywords):
            continue
        if _edge_state(c) == "none":  # add a dashed outline (a style change of an existing edge is not checkable)
            sites.append(("outline", c, None))
    for c in prog.plot_calls({"pie"}):
        if _kw(c, "wedgeprops") is None and not any(kw.arg is None for kw in c.keywords):
            sites.append(("pie", c, None))
    if not sites:
        return None
    kind, call, node = rng.choice(sites)
    if kind == "pie":
        new = rng.choice(("--", ":"))
        subj = _series_phrase(prog, call).removeprefix("the ")
        call.keywords.append(ast.keyword(arg="wedgeprops", value=ast.Dict(
            keys=[ast.Constant("edgecolor"), ast.Constant("linewidth"), ast.Constant("linestyle")],
            values=[ast.Constant("black"), ast.Constant(1.5), ast.Constant(new)])))
        return _result(prog, "style_error", 1, f"wedge outlines of the {subj}",
                       f"The wedges of the {subj} have no outline in the reference but a {LINESTYLE_NAMES[new]} black "
                       f"outline in the candidate.", "change_linestyle", old=None, new=new, site=kind,
                       targets=[_series_target(prog, call)])
    if kind == "box":
        new = rng.choice(("--", ":"))
        subj = _series_phrase(prog, call).removeprefix("the ")
        call.keywords.append(ast.keyword(arg="boxprops", value=ast.Dict(keys=[ast.Constant("linestyle")],
                                                                        values=[ast.Constant(new)])))
        return _result(prog, "style_error", 1, f"outline style of the boxes of the {subj}",
                       f"The boxes of the {subj} are outlined with solid lines in the reference but "
                       f"{LINESTYLE_NAMES[new]} lines in the candidate.", "change_linestyle", old="-", new=new,
                       site=kind, targets=[_series_target(prog, call)])
    if kind in ("edge", "outline"):
        new = rng.choice(("--", ":"))
        series = _series_phrase(prog, call)
        subj = series.removeprefix("the ")
        if kind == "edge":
            call.keywords.append(ast.keyword(arg="linestyle", value=ast.Constant(new)))
            desc = (f"The outlines of the {subj} are solid in the reference but {LINESTYLE_NAMES[new]} in the "
                    f"candidate.")
        else:
            call.keywords = [k for k in call.keywords if k.arg not in ("edgecolor", "ec")]
            call.keywords += [ast.keyword(arg="edgecolor", value=ast.Constant("black")),
                              ast.keyword(arg="linewidth", value=ast.Constant(1.5)),
                              ast.keyword(arg="linestyle", value=ast.Constant(new))]
            desc = (f"The {subj} have no outline in the reference but a {LINESTYLE_NAMES[new]} black outline in the "
                    f"candidate.")
        return _result(prog, "style_error", 1, f"outline style of the {subj}", desc, "change_linestyle",
                       old="solid" if kind == "edge" else None, new=new, site=kind,
                       targets=[_series_target(prog, call)])
    if kind == "kw":
        old = node.value.value
        new = rng.choice([x for x in LINESTYLE_CHOICES if LINESTYLE_NAMES[x] != LINESTYLE_NAMES[old]])
        node.value = ast.Constant(new)
    elif kind == "fmt":
        m = _FMT.match(node.value)
        old = m.group("ls")
        new = rng.choice([x for x in LINESTYLE_CHOICES if x != old])
        s = node.value
        node.value = s[: m.start("ls")] + new + s[m.end("ls"):]
    else:
        old = "-"
        new = rng.choice(LINESTYLE_CHOICES[1:])
        call.keywords.append(ast.keyword(arg="linestyle", value=ast.Constant(new)))
    series = _series_phrase(prog, call)
    loc = f"line style of the {series.removeprefix('the ')}"
    desc = (f"The {series.removeprefix('the ')} {_be(series)} {LINESTYLE_NAMES.get(old, old)} in the reference but "
            f"{LINESTYLE_NAMES.get(new, new)} in the candidate.")
    return _result(prog, "style_error", 1, loc, desc, "change_linestyle", old=old, new=new,
                   targets=[_series_target(prog, call)])


def op_change_marker(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites = []
    for c in prog.plot_calls({"plot", "scatter", "errorbar", "semilogy", "semilogx", "loglog", "step", "plot3D"}):
        k = _kw(c, "marker")
        if k is not None:
            s = _str_const(k.value)
            if s is not None and s not in ("", "None", "none", " "):
                sites.append(("kw", c, k))
            continue
        f = _fmt_arg(c)
        if f is not None:
            m = _FMT.match(f.value)
            if m.group("m1") or m.group("m2"):
                sites.append(("fmt", c, f))
            continue
        if _method(c) in ("plot", "semilogy", "semilogx", "step") or (
                _method(c) == "errorbar" and _errorbar_has_line(c)):
            sites.append(("add", c, None))
        elif _method(c) == "scatter" and not any(kw.arg is None for kw in c.keywords):
            sites.append(("scatter", c, None))
    if not sites:
        return None
    kind, call, node = rng.choice(sites)
    if kind == "kw":
        old = node.value.value
        new = rng.choice([x for x in MARKER_CHOICES if x != old])
        node.value = ast.Constant(new)
    elif kind == "fmt":
        m = _FMT.match(node.value)
        grp = "m1" if m.group("m1") else "m2"
        old = m.group(grp)
        new = rng.choice([x for x in MARKER_CHOICES if x != old and x not in "x+" or x == "s"])
        s = node.value
        node.value = s[: m.start(grp)] + new + s[m.end(grp):]
    elif kind == "scatter":
        old = "o"  # scatter's default marker (rcParams['scatter.marker'])
        new = rng.choice([x for x in MARKER_CHOICES[:6] if x != "o"])
        call.keywords.append(ast.keyword(arg="marker", value=ast.Constant(new)))
    else:
        old = None
        new = rng.choice(MARKER_CHOICES[:6])
        call.keywords.append(ast.keyword(arg="marker", value=ast.Constant(new)))
    series = _series_phrase(prog, call)
    old_name = MARKER_NAMES.get(old, old) if old else "no"
    loc = f"markers of the {series.removeprefix('the ')}"
    desc = (f"The {series.removeprefix('the ')} {_uses(series)} {old_name} markers in the reference but "
            f"{MARKER_NAMES.get(new, new)} markers in the candidate.")
    return _result(prog, "style_error", 1, loc, desc, "change_marker", old=old, new=new,
                   targets=[_series_target(prog, call)])


def op_change_linewidth(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites = []
    for c in _line_calls(prog) + prog.plot_calls({"bar", "barh", "fill_between", "stackplot"}):
        k = _kw(c, "linewidth", "lw", "linewidths")
        if k is not None:
            if _num_const(k.value) is not None:
                sites.append(("kw", c, k))
        elif _method(c) in ("plot", "step", "axhline", "axvline", "semilogy", "semilogx", "loglog") or (
                _method(c) == "errorbar" and _errorbar_has_line(c)):
            sites.append(("add", c, None))
        elif _method(c) in OUTLINED_METHODS and not any(kw.arg is None for kw in c.keywords):
            edge = _edge_state(c)
            if edge in ("shown", "none"):
                sites.append(("outline" if edge == "none" else "edge", c, None))
    for c in prog.plot_calls({"scatter", "pie"}):
        if any(kw.arg is None for kw in c.keywords):
            continue
        m = _method(c)
        if m == "scatter" and _kw(c, "linewidths", "linewidth", "lw") is None:
            ec = _kw(c, "edgecolors", "edgecolor")
            if ec is None or (_str_const(ec.value) or "none").lower() not in ("none",):
                sites.append(("scatter", c, None))
        elif m == "pie" and _kw(c, "wedgeprops") is None:
            sites.append(("pie", c, None))
    if not sites:
        return None
    kind, call, k = rng.choice(sites)
    if kind in ("scatter", "pie", "box"):
        series = _series_phrase(prog, call)
        subj = series.removeprefix("the ")
        if kind == "scatter":
            new = 4.0
            call.keywords.append(ast.keyword(arg="linewidths", value=ast.Constant(new)))
            loc = f"marker edge width of the {subj}"
            desc = (f"The markers of the {subj} have thicker edges in the candidate than in the reference "
                    f"(edge width 1.5 vs {new}), so they look bigger and bolder.")
            old = 1.5
        elif kind == "pie":
            new, old = 3.0, 0
            call.keywords.append(ast.keyword(arg="wedgeprops", value=ast.Dict(
                keys=[ast.Constant("linewidth"), ast.Constant("edgecolor")],
                values=[ast.Constant(new), ast.Constant("white")])))
            loc = f"wedge outline of the {subj}"
            desc = (f"The wedges of the {subj} have no outline in the reference but are separated by {new} pt white "
                    f"outlines in the candidate.")
        else:
            new, old = 3.0, 1.0
            call.keywords.append(ast.keyword(arg="boxprops", value=ast.Dict(
                keys=[ast.Constant("linewidth")], values=[ast.Constant(new)])))
            loc = f"box outline width of the {subj}"
            desc = f"The boxes of the {subj} are outlined thicker in the candidate than in the reference (width {old} vs {new})."
        return _result(prog, "style_error", 1, loc, desc, "change_linewidth", old=old, new=new, site=kind,
                       targets=[_series_target(prog, call)])
    if kind in ("edge", "outline"):
        series = _series_phrase(prog, call)
        subj = series.removeprefix("the ")
        new = rng.choice((3.0, 4.0))
        call.keywords.append(ast.keyword(arg="linewidth", value=ast.Constant(new)))
        if kind == "edge":
            desc = f"The outlines of the {subj} are drawn thicker in the candidate than in the reference (width 1 vs {new})."
        else:
            call.keywords = [k for k in call.keywords if k.arg not in ("edgecolor", "ec")]
            call.keywords.append(ast.keyword(arg="edgecolor", value=ast.Constant("black")))
            desc = f"The {subj} have no outline in the reference but a {new} pt black outline in the candidate."
        return _result(prog, "style_error", 1, f"outline width of the {subj}", desc, "change_linewidth",
                       old=1.0 if kind == "edge" else 0, new=new, site=kind, targets=[_series_target(prog, call)])
    if kind == "kw":
        old = _num_const(k.value)
        new = round(old * 2.5, 2) if old < 2 else round(old / 3, 2)
        if abs(new - old) < 1:
            new = old + 2.5
        if old == 0:
            new = 2.5
        k.value = ast.Constant(new)
    else:
        old = 1.5
        new = rng.choice((4.0, 5.0, 0.5))
        call.keywords.append(ast.keyword(arg="linewidth", value=ast.Constant(new)))
    series = _series_phrase(prog, call)
    thick = "thicker" if new > old else "thinner"
    loc = f"line width of the {series.removeprefix('the ')}"
    desc = f"The {series.removeprefix('the ')} {_be(series)} drawn {thick} in the candidate than in the reference (width {old} vs {new})."
    return _result(prog, "style_error", 1, loc, desc, "change_linewidth", old=old, new=new,
                   targets=[_series_target(prog, call)])


def op_toggle_grid(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    grid_on = []
    for c in prog.calls:
        if _method(c) != "grid" or _receiver(c) is None:
            continue
        first = c.args[0] if c.args else None
        kwv = _kw(c, "visible", "b")
        flag = first if first is not None else (kwv.value if kwv else None)
        if isinstance(flag, ast.Constant) and flag.value in (False, None) and flag.value is not None:
            continue
        if isinstance(flag, ast.Constant) and flag.value is False:
            continue
        stmt = prog.stmt_of(c)
        if isinstance(stmt, ast.Expr) and stmt.value is c and prog.body_of(stmt) is not None:
            grid_on.append((c, stmt))
    receivers = [r for r in prog.axes_receivers()]
    if grid_on and (rng.random() < 0.7 or not receivers):
        call, stmt = rng.choice(grid_on)
        body = prog.body_of(stmt)
        if len(body) == 1:
            body[0] = ast.Pass()
        else:
            body.remove(stmt)
        where = prog.where(_receiver(call))
        return _result(prog, "style_error", 1, "grid lines" + where,
                       f"The reference shows grid lines{where}; the candidate has none.", "toggle_grid", mode="remove",
                       targets=[("grid", _ax(prog, _receiver(call)))])
    if not receivers:
        return None
    has_grid = {_receiver(c) for c, _ in grid_on}
    cands = [r for r in receivers if r not in has_grid]
    if not cands:
        return None
    recv = rng.choice(cands)
    style = rng.choice(("--", ":", "-"))
    stmts = _stmt(f"{_axes_expr(recv)}.grid(True, linestyle={style!r}, alpha=0.7)")
    _insert_before_end(prog, stmts, _last_stmt_using(prog, recv))
    where = prog.where(recv)
    return _result(prog, "style_error", 1, "grid lines" + where,
                   f"The reference has no grid lines{where}; the candidate draws a grid.", "toggle_grid", mode="add",
                   targets=[("grid", _ax(prog, recv))])


def op_change_facecolor(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    receivers = prog.axes_receivers()
    sites = []
    for c in prog.calls:
        m = _method(c)
        r = _receiver(c)
        if m in ("set_facecolor", "set_bgcolor") and r in receivers + ["plt.gca()"] and c.args and _str_const(c.args[0]):
            sites.append(("set", c, c.args[0], r))
        elif m in ("figure", "subplots"):
            k = _kw(c, "facecolor")
            if k is not None and _str_const(k.value):
                sites.append(("fig", c, k.value, None))
    if sites:
        kind, call, node, recv = rng.choice(sites)
        old = node.value
        new = _pick_color(old, rng, ["white"])
        if new in ("black", "navy", "darkred"):
            new = rng.choice(FACECOLOR_CHOICES[:5])
        node.value = new
    else:
        if not receivers:
            return None
        recv = rng.choice(receivers)
        old = "white"
        new = rng.choice(FACECOLOR_CHOICES)
        kind = "add"
        _insert_before_end(prog, _stmt(f"{_axes_expr(recv)}.set_facecolor({new!r})"), _last_stmt_using(prog, recv))
    where = "" if kind == "fig" else prog.where(recv)
    what = "figure background" if kind == "fig" else "plot background"
    return _result(prog, "style_error", 1, f"{what}{where}",
                   f"The {what}{where} is {old} in the reference but {new} in the candidate.", "change_facecolor",
                   old=old, new=new, site=kind, targets=[("facecolor", "fig" if kind == "fig" else _ax(prog, recv))])


def op_change_colormap(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites = []
    for c in prog.calls:
        for k in c.keywords:
            if k.arg in ("cmap", "colormap", "palette"):
                if _str_const(k.value):
                    sites.append(("const", k.value, c))
                elif isinstance(k.value, ast.Attribute) and ast.unparse(k.value.value) in ("plt.cm", "cm", "mpl.cm", "matplotlib.cm"):
                    sites.append(("attr", k.value, c))
                elif isinstance(k.value, ast.Call) and _method(k.value) in ("get_cmap", "colormaps") and k.value.args and _str_const(k.value.args[0]):
                    sites.append(("const", k.value.args[0], c))
        if _method(c) in ("get_cmap",) and c.args and _str_const(c.args[0]):
            sites.append(("const", c.args[0], c))
    # ``plt.cm.viridis(np.linspace(...))`` colour sampling
    for node in ast.walk(prog.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                ast.unparse(node.func.value) in ("plt.cm", "cm", "mpl.cm", "matplotlib.cm") and node.args:
            sites.append(("attr", node.func, node))
    uniq, seen = [], set()
    for s in sites:
        if id(s[1]) not in seen:
            seen.add(id(s[1]))
            uniq.append(s)
    if not uniq:
        return None
    kind, node, call = rng.choice(uniq)
    old = node.value if kind == "const" else node.attr
    base = old[:-2] if old.endswith("_r") else old
    new = rng.choice([c for c in CMAP_CHOICES if c.lower() != base.lower()])
    if old.endswith("_r") and rng.random() < 0.5:
        new = base  # un-reversed
    if kind == "const":
        node.value = new
    else:
        node.attr = new
    return _result(prog, "style_error", 1, "colormap",
                   f"The colour map is {old} in the reference but {new} in the candidate.", "change_colormap",
                   old=old, new=new, targets=[("colormap", ANY)])


# ---------------------------------------------------------------------------------------------------------------
# Data operators
# ---------------------------------------------------------------------------------------------------------------

EXCLUDED_NUMERIC_KWARGS = {"figsize", "bbox_to_anchor", "explode", "extent", "rect", "xticks", "yticks", "ticks",
                           "xlim", "ylim", "bins", "levels", "width_ratios", "height_ratios", "colors", "color",
                           "gridspec_kw", "pad", "dpi", "boundaries", "position", "xy", "xytext", "linewidths",
                           "dashes", "wedgeprops", "textprops", "widths", "radius", "center", "shrink",
                           "labelspacing", "vmin", "vmax", "s"}
EXCLUDED_NUMERIC_CALLS = {"set_xticks", "set_yticks", "xticks", "yticks", "set_xlim", "set_ylim", "xlim", "ylim",
                          "figure", "subplots", "add_axes", "set_position", "legend", "text", "annotate", "axis",
                          "subplots_adjust", "GridSpec", "add_gridspec", "tight_layout", "set_zticks", "linspace",
                          "arange", "colorbar", "set_ticks", "Normalize", "BoundaryNorm", "set_rticks", "set_zlim",
                          "set_rlim", "set_thetagrids", "set_rgrids", "random", "normal", "rand", "randn", "seed",
                          "get_cmap", "ListedColormap", "Rectangle", "Circle"}


def _numeric_list(node: ast.AST) -> bool:
    return isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) >= 2 and all(
        _num_const(e) is not None for e in node.elts)


def _data_lists(prog: Program) -> list[tuple[ast.AST, str | None, list[ast.AST]]]:
    """Numeric list literals that hold plotted data: (list node, bound name or None, path of enclosing lists)."""
    tick_names = prog.names_used_in({"set_xticks", "set_yticks", "xticks", "yticks", "set_xlim", "set_ylim",
                                     "xlim", "ylim", "bbox_to_anchor", "figure", "subplots"})
    out = []
    for node in ast.walk(prog.tree):
        if not _numeric_list(node):
            continue
        # climb to the statement, rejecting excluded contexts
        bad, name, path = False, None, []
        cur, child = prog.parent.get(id(node)), node
        while cur is not None and not isinstance(cur, ast.stmt):
            if isinstance(cur, ast.keyword) and cur.arg in EXCLUDED_NUMERIC_KWARGS:
                bad = True
                break
            if isinstance(cur, ast.Call) and _method(cur) in EXCLUDED_NUMERIC_CALLS and child is not cur.func:
                bad = True
                break
            if isinstance(cur, ast.Dict) and any(
                    _str_const(k) in EXCLUDED_NUMERIC_KWARGS for k in cur.keys if k is not None):
                bad = True
                break
            if isinstance(cur, (ast.List, ast.Tuple)):
                path.append(cur)
            child, cur = cur, prog.parent.get(id(cur))
        if bad or cur is None:
            continue
        if isinstance(cur, ast.Assign):
            names = [t.id for t in cur.targets if isinstance(t, ast.Name)]
            name = names[0] if names else None
            if name is not None and (name in tick_names or name.lower() in ("figsize", "explode", "ticks", "bins")
                                     or "color" in name.lower() or "tick" in name.lower()):
                continue
            if name is None and not any(isinstance(t, (ast.Tuple, ast.Subscript, ast.Attribute)) for t in cur.targets):
                continue
        elif isinstance(cur, (ast.Expr, ast.For)):
            pass
        elif isinstance(cur, ast.AugAssign):
            pass
        else:
            continue
        out.append((node, name, path))
    out.sort(key=lambda t: (t[0].lineno, t[0].col_offset))
    return out


def _user_call(prog: Program, name: str | None, node: ast.AST) -> ast.Call | None:
    """The plotting call that draws a data list (directly or through its name)."""
    for c in prog.plot_calls(SERIES_METHODS | {"pie", "imshow", "pcolormesh", "errorbar"}):
        for a in list(c.args) + [k.value for k in c.keywords]:
            for n in ast.walk(a):
                if n is node or (name is not None and isinstance(n, ast.Name) and n.id == name):
                    return c
    return None


def _category_names(prog: Program, call: ast.Call | None) -> list[str] | None:
    if call is None or len(call.args) < 2:
        if call is not None and _method(call) == "pie":
            k = _kw(call, "labels")
            lst = _str_list(k.value if k else None, prog)
            return [e.value for e in lst.elts] if lst is not None else None
        return None
    lst = _str_list(call.args[0], prog)
    return [e.value for e in lst.elts] if lst is not None else None


def _fmt_num(v: float) -> str:
    if isinstance(v, int) or float(v).is_integer():
        return str(int(v))
    return f"{v:.4g}"


def _value_location(prog: Program, name: str | None, node: ast.AST, index: int, path: list) -> tuple[str, str]:
    """(location, noun phrase) for one value in a data list."""
    call = _user_call(prog, name, node)
    m = _method(call) if call is not None else None
    label = _series_label(prog, call) if call is not None else None
    cats = _category_names(prog, call)
    where = prog.where(_receiver(call)) if call is not None else ""
    unit = {"bar": "bar", "barh": "bar", "pie": "wedge", "scatter": "point", "plot": "point", "errorbar": "point",
            "fill_between": "point", "stackplot": "point", "boxplot": "box", "hist": "histogram"}.get(m or "", "value")
    if m == "imshow" or path:
        outer = path[-1] if path else None
        row = next((i for i, e in enumerate(outer.elts) if e is node or node in ast.walk(e)), None) if outer is not None else None
        if row is not None:
            return (f"cell (row {row + 1}, column {index + 1}){where}", f"cell (row {row + 1}, column {index + 1})")
    if cats and index < len(cats):
        noun = f"{unit} for '{cats[index]}'"
    else:
        noun = f"{ordinal(index + 1)} {unit}"
    if label:
        noun += f" of series '{label}'"
    elif name and unit != "value":
        noun += f" ({name})"
    elif name:
        noun = f"{ordinal(index + 1)} value of '{name}'"
    return noun + where, noun


def op_change_value(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    lists = _data_lists(prog)
    used = [t for t in lists if _user_call(prog, t[1], t[0]) is not None or t[2]]
    pool = used or lists
    if not pool:
        return None
    node, name, path = rng.choice(pool)
    i = rng.randrange(len(node.elts))
    old = _num_const(node.elts[i])
    vals = [_num_const(e) for e in node.elts]
    all_int = all(isinstance(v, int) for v in vals)
    if old == 0:
        ref = max(abs(v) for v in vals) or 1
        new = ref * rng.choice((0.3, 0.5, 0.8))
    else:
        new = old * rng.choice((0.45, 0.6, 0.75, 1.3, 1.5, 1.8, 2.2))
    new = round(new) if all_int else round(new, max(2, _decimals(vals)))
    if new == old:
        new = old + (1 if all_int else 0.5 * (abs(old) or 1))
    node.elts[i] = _make_num(new)
    location, noun = _value_location(prog, name, node, i, path)
    sev = severity_for_change(old, new)
    desc = f"The {noun} is {_fmt_num(old)} in the reference but {_fmt_num(new)} in the candidate."
    return _result(prog, "data_error", sev, location, desc, "change_value", old=old, new=new, index=i, name=name,
                   targets=[_series_target(prog, _user_call(prog, name, node))])


def _decimals(vals: list) -> int:
    d = 0
    for v in vals:
        s = repr(v)
        if "." in s:
            d = max(d, len(s.split(".")[1]))
    return min(d, 4)


def op_swap_series(program: str, rng: random.Random) -> Edit | None:
    """Swap the data of two series drawn with the same call kind (labels and colours stay) or two values."""
    prog = _parse(program)
    if prog is None:
        return None
    by_key: dict[tuple, list[tuple[ast.Call, int]]] = {}
    for c in prog.plot_calls({"plot", "bar", "barh", "scatter", "fill_between", "errorbar", "step"}):
        pos = 1 if len(c.args) >= 2 else None
        if pos is None or not isinstance(c.args[pos], (ast.Name, ast.Subscript, ast.List)):
            continue
        by_key.setdefault((_receiver(c), _method(c)), []).append((c, pos))
    pairs = []
    for key, calls in by_key.items():
        for a in range(len(calls)):
            for b in range(a + 1, len(calls)):
                ca, cb = calls[a][0], calls[b][0]
                if ast.unparse(ca.args[1]) != ast.unparse(cb.args[1]):
                    pairs.append((ca, cb))
    if pairs:
        ca, cb = rng.choice(pairs)
        ca.args[1], cb.args[1] = cb.args[1], ca.args[1]
        la, lb = _series_label(prog, ca), _series_label(prog, cb)
        where = prog.where(_receiver(ca))
        na = f"'{la}'" if la else ast.unparse(cb.args[1])
        nb = f"'{lb}'" if lb else ast.unparse(ca.args[1])
        return _result(prog, "data_error", 3, f"series {na} and {nb}{where}",
                       f"The data of series {na} and {nb}{where} are swapped in the candidate: each shows the other's values.",
                       "swap_series", mode="series", targets=[_series_target(prog, ca), _series_target(prog, cb)])
    lists = [t for t in _data_lists(prog) if _user_call(prog, t[1], t[0]) is not None]
    cands = []
    for node, name, path in lists:
        vals = [_num_const(e) for e in node.elts]
        for i in range(len(vals) - 1):
            if vals[i] != vals[i + 1] and severity_for_change(vals[i], vals[i + 1]) >= 2:
                cands.append((node, name, path, i))
    if not cands:
        return None
    node, name, path, i = rng.choice(cands)
    a, b = _num_const(node.elts[i]), _num_const(node.elts[i + 1])
    node.elts[i], node.elts[i + 1] = node.elts[i + 1], node.elts[i]
    loc_a, noun_a = _value_location(prog, name, node, i, path)
    loc_b, noun_b = _value_location(prog, name, node, i + 1, path)
    return _result(prog, "data_error", 2, f"{noun_a} and {noun_b}",
                   f"The {noun_a} ({_fmt_num(a)}) and the {noun_b} ({_fmt_num(b)}) are swapped in the candidate.",
                   "swap_series", mode="values", index=i, targets=[_series_target(prog, _user_call(prog, name, node))])


def _loop_length(prog: Program, it: ast.AST) -> int | None:
    """Number of iterations of a ``for`` iterable when it is statically known (literals, range, len, zip, …)."""
    if isinstance(it, (ast.List, ast.Tuple)):
        return len(it.elts)
    if isinstance(it, ast.Name):
        v = prog.value_of(it.id)
        return len(v.elts) if isinstance(v, (ast.List, ast.Tuple)) else (
            len(v.keys) if isinstance(v, ast.Dict) else None)
    if isinstance(it, ast.Call):
        m = _method(it)
        if m == "range" and len(it.args) == 1:
            a = it.args[0]
            if _num_const(a) is not None:
                return int(_num_const(a))
            if isinstance(a, ast.Call) and _method(a) == "len" and a.args:
                return _loop_length(prog, a.args[0])
        if m == "enumerate" and it.args:
            return _loop_length(prog, it.args[0])
        if m == "zip" and it.args:
            ns = [_loop_length(prog, a) for a in it.args]
            return min(ns) if all(n is not None for n in ns) else None
        if m in ("items", "keys", "values") and isinstance(it.func, ast.Attribute):
            return _loop_length(prog, it.func.value)
    if isinstance(it, ast.Dict):
        return len(it.keys)
    return None


def _series_loops(prog: Program, methods: set[str]) -> list[tuple[ast.For, ast.Call, int]]:
    """``for`` loops (at top level) that draw one series per iteration on a fixed axes: (loop, plotting call, n)."""
    out = []
    for loop in prog.tree.body:
        if not isinstance(loop, ast.For):
            continue
        n = _loop_length(prog, loop.iter)
        if n is None or n < 2:
            continue
        bound = {x.id for x in ast.walk(loop.target) if isinstance(x, ast.Name)}
        bound |= {t.id for st in ast.walk(loop) if isinstance(st, ast.Assign) for t in st.targets
                  if isinstance(t, ast.Name)}
        calls = [c for c in prog.plot_calls(methods) if any(a is loop for a in _ancestors(prog, c))]
        if len(calls) != 1 or any(_method(c) in ("subplots", "add_subplot", "subplot", "twinx", "twiny")
                                  for c in ast.walk(loop) if isinstance(c, ast.Call)):
            continue
        call = calls[0]
        if (_receiver(call) or "").split("[")[0].split(".")[0] in bound:
            continue  # the loop walks over axes: an iteration is a subplot, not a series
        if any(isinstance(a, (ast.For, ast.While)) and a is not loop for a in _ancestors(prog, call)
               if any(b is loop for b in _ancestors(prog, a))):
            continue
        out.append((loop, call, n))
    return out


def op_drop_series(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    methods = {"plot", "bar", "barh", "scatter", "fill_between", "errorbar", "step", "stem", "hist", "semilogy"}
    per_recv: dict[str, list[ast.Call]] = {}
    for c in prog.plot_calls(methods):
        per_recv.setdefault(_receiver(c), []).append(c)
    cands = []
    names_loaded = {n.id for n in ast.walk(prog.tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for recv, calls in per_recv.items():
        if len(calls) < 2:
            continue
        for c in calls:
            stmt = prog.stmt_of(c)
            body = prog.body_of(stmt) if stmt is not None else None
            if body is None:
                continue
            if isinstance(stmt, ast.Expr) and stmt.value is c:
                cands.append((c, stmt, body))
            elif isinstance(stmt, ast.Assign) and stmt.value is c and all(
                    isinstance(t, ast.Name) and t.id not in names_loaded for t in stmt.targets):
                cands.append((c, stmt, body))
    # stackplot / boxplot with several series in one call
    multi = []
    for c in prog.plot_calls({"stackplot"}):
        if len(c.args) >= 3:
            multi.append(("stack", c))
    for c in prog.plot_calls({"boxplot", "violinplot"}):
        if c.args:
            a = c.args[0]
            lst = a if isinstance(a, ast.List) else (prog.value_of(a.id) if isinstance(a, ast.Name) else None)
            if isinstance(lst, ast.List) and len(lst.elts) >= 3:
                multi.append(("box", c, lst))
    loops = _series_loops(prog, methods)
    if not cands and not multi and not loops:
        return None
    pick = rng.randrange(len(cands) + len(multi) + len(loops))
    if pick >= len(cands) + len(multi):
        loop, call, n = loops[pick - len(cands) - len(multi)]
        k = rng.randrange(n)
        lab = _kw(call, "label")
        lst = _loop_source_list(prog, call, lab.value.id) if lab is not None and isinstance(lab.value, ast.Name) else None
        name = lst.elts[k].value if lst is not None and len(lst.elts) == n else None
        where = prog.where(_receiver(call))
        counter = "_verm_k"
        loop.target = ast.Tuple(elts=[ast.Name(counter, ast.Store()), loop.target], ctx=ast.Store())
        loop.iter = ast.Call(func=ast.Name("enumerate", ast.Load()), args=[loop.iter], keywords=[])
        loop.body.insert(0, _stmt(f"if {counter} == {k}:\n    continue")[0])
        what = f"series '{name}'" if name else f"{ordinal(k + 1)} series drawn in the loop"
        noun = _series_phrase(prog, call).removeprefix("the ").split(" of ")[0]
        return _result(prog, "data_error", 3, f"{what}{where}",
                       f"The {noun} of the {what}{where} {'are' if noun in ('bars', 'points') else 'is'} present in "
                       f"the reference but missing in the candidate.", "drop_series", label=name, index=k,
                       targets=[("series", _ax(prog, _receiver(call)), ANY), ("axes", _ax(prog, _receiver(call)))])
    pick = pick
    if pick < len(cands):
        call, stmt, body = cands[pick]
        series = _series_phrase(prog, call)
        if len(body) == 1:
            body[0] = ast.Pass()
        else:
            body.remove(stmt)
        label = _series_label(prog, call)
        loc = f"series '{label}'{prog.where(_receiver(call))}" if label else series
        desc = f"The {series.removeprefix('the ')} {_be(series)} present in the reference but missing in the candidate."
        tgt = _series_target(prog, call)
        return _result(prog, "data_error", 3, loc, desc, "drop_series", label=label, targets=[tgt, ("axes", tgt[1])])
    item = multi[pick - len(cands)]
    if item[0] == "stack":
        c = item[1]
        k = rng.randrange(1, len(c.args))
        dropped = ast.unparse(c.args[k])
        del c.args[k]
        where = prog.where(_receiver(c))
        lab = _kw(c, "labels")
        lst = _str_list(lab.value if lab else None, prog)
        name = lst.elts[k - 1].value if lst is not None and k - 1 < len(lst.elts) else dropped
        if lst is not None and k - 1 < len(lst.elts):
            del lst.elts[k - 1]
        col = _kw(c, "colors")
        cols = col.value if col is not None and isinstance(col.value, (ast.List, ast.Tuple)) else \
            (prog.value_of(col.value.id) if col is not None and isinstance(col.value, ast.Name) else None)
        if isinstance(cols, (ast.List, ast.Tuple)) and k - 1 < len(cols.elts):
            del cols.elts[k - 1]  # keep every remaining layer's colour
        return _result(prog, "data_error", 3, f"stacked series '{name}'{where}",
                       f"The stacked area for '{name}'{where} is present in the reference but missing in the candidate.",
                       "drop_series", label=name, targets=[_series_target(prog, c), ("axes", _ax(prog, _receiver(c)))])
    _, c, lst = item
    k = rng.randrange(len(lst.elts))
    del lst.elts[k]
    where = prog.where(_receiver(c))
    return _result(prog, "data_error", 3, f"{ordinal(k + 1)} box{where}",
                   f"The {ordinal(k + 1)} distribution{where} is present in the reference but missing in the candidate.",
                   "drop_series", index=k, targets=[_series_target(prog, c), ("axes", _ax(prog, _receiver(c)))])


def op_change_axis_limits(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites = []
    for c in prog.calls:
        m = _method(c)
        if m in ("set_xlim", "set_ylim", "xlim", "ylim") and _receiver(c) is not None:
            nums = [(i, _num_const(a)) for i, a in enumerate(c.args[:2])]
            if len(nums) == 2 and all(v is not None for _, v in nums):
                sites.append(("args", c))
            elif len(c.args) == 1 and isinstance(c.args[0], (ast.Tuple, ast.List)) and _numeric_list(c.args[0]):
                sites.append(("tuple", c))
            elif any(k.arg in ("bottom", "top", "left", "right", "xmin", "xmax", "ymin", "ymax") and _num_const(k.value) is not None
                     for k in c.keywords):
                sites.append(("kw", c))
    receivers = [r for r in prog.axes_receivers()
                 if not any(_receiver(c) == r and _method(c) in ("pie", "imshow", "heatmap") for c in prog.plot_calls())]
    if not sites and not receivers:
        return None
    if sites and (rng.random() < 0.75 or not receivers):
        kind, c = rng.choice(sites)
        axis = "x" if "x" in _method(c) else "y"
        where = prog.where(_receiver(c))
        if kind == "args":
            nodes = c.args
            idx = (0, 1)
        elif kind == "tuple":
            nodes = c.args[0].elts
            idx = (0, 1)
        else:
            ks = [k for k in c.keywords if _num_const(k.value) is not None]
            k = rng.choice(ks)
            old = _num_const(k.value)
            span = abs(old) or 1
            new = old + (span * 0.5 if k.arg in ("top", "right", "xmax", "ymax") else -span * 0.5)
            new = round(new, 3)
            k.value = _make_num(new)
            return _result(prog, "data_error", 2, f"{axis}-axis range{where}",
                           f"The {axis}-axis {k.arg} limit{where} is {_fmt_num(old)} in the reference but {_fmt_num(new)} in the candidate.",
                           "change_axis_limits", old=old, new=new, targets=[(axis + "axis", _ax(prog, _receiver(c)))])
        lo, hi = _num_const(nodes[0]), _num_const(nodes[1])
        span = (hi - lo) or 1
        if rng.random() < 0.6:
            new_lo, new_hi = lo, hi + abs(span) * rng.choice((0.4, 0.6, 1.0))
        else:
            new_lo, new_hi = lo - abs(span) * rng.choice((0.3, 0.5)), hi
        if all(isinstance(v, int) for v in (lo, hi)):
            new_lo, new_hi = round(new_lo), round(new_hi)
        else:
            new_lo, new_hi = round(new_lo, 3), round(new_hi, 3)
        nodes[0], nodes[1] = _make_num(new_lo), _make_num(new_hi)
        return _result(prog, "data_error", 2, f"{axis}-axis range{where}",
                       f"The {axis}-axis{where} spans {_fmt_num(lo)} to {_fmt_num(hi)} in the reference but "
                       f"{_fmt_num(new_lo)} to {_fmt_num(new_hi)} in the candidate.", "change_axis_limits",
                       old=[lo, hi], new=[new_lo, new_hi], targets=[(axis + "axis", _ax(prog, _receiver(c)))])
    recv = rng.choice(receivers)
    axis = rng.choice(("y", "y", "x"))
    ax = _axes_expr(recv)
    frac = rng.choice((0.4, 0.6, 0.8))
    code = (f"_lo, _hi = {ax}.get_{axis}lim()\n"
            f"{ax}.set_{axis}lim(_lo, _hi + (_hi - _lo) * {frac})")
    _insert_before_end(prog, _stmt(code), _last_stmt_using(prog, recv))
    where = prog.where(recv)
    return _result(prog, "data_error", 2, f"{axis}-axis range{where}",
                   f"The {axis}-axis{where} extends about {int(frac * 100)}% further in the candidate than in the reference.",
                   "change_axis_limits", axis=axis, extend=frac, targets=[(axis + "axis", _ax(prog, recv))])


def op_change_axis_scale(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites = []
    for c in prog.calls:
        m = _method(c)
        if m in ("set_xscale", "set_yscale", "xscale", "yscale") and c.args and _str_const(c.args[0]) in ("log", "linear", "symlog"):
            sites.append(("set", c))
        elif m in ("semilogy", "semilogx", "loglog") and _receiver(c) not in (None,):
            sites.append(("call", c))
    receivers = [r for r in prog.axes_receivers()
                 if not any(_receiver(c) == r and _method(c) in ("pie", "imshow", "heatmap", "violinplot", "boxplot")
                            for c in prog.plot_calls())]
    if sites and (rng.random() < 0.7 or not receivers):
        kind, c = rng.choice(sites)
        where = prog.where(_receiver(c))
        if kind == "set":
            axis = "x" if "x" in _method(c) else "y"
            old = c.args[0].value
            new = "linear" if old != "linear" else "log"
            c.args[0] = ast.Constant(new)
        else:
            axis = {"semilogy": "y", "semilogx": "x", "loglog": "both"}[_method(c)]
            c.func.attr = "plot"
            old, new = "log", "linear"
        return _result(prog, "data_error", 2, f"{axis}-axis scale{where}",
                       f"The {axis}-axis{where} uses a {old} scale in the reference but a {new} scale in the candidate.",
                       "change_axis_scale", old=old, new=new,
                       targets=[(a + "axis", _ax(prog, _receiver(c))) for a in (("x", "y") if axis == "both" else (axis,))])
    if not receivers:
        return None
    recv = rng.choice(receivers)
    axis = "y"
    if any(_receiver(c) == recv and _method(c) == "barh" for c in prog.calls):
        axis = "x"
    _insert_before_end(prog, _stmt(f"{_axes_expr(recv)}.set_{axis}scale('log')"), _last_stmt_using(prog, recv))
    where = prog.where(recv)
    return _result(prog, "data_error", 2, f"{axis}-axis scale{where}",
                   f"The {axis}-axis{where} uses a linear scale in the reference but a log scale in the candidate.",
                   "change_axis_scale", old="linear", new="log", targets=[(axis + "axis", _ax(prog, recv))])


# ---------------------------------------------------------------------------------------------------------------
# Structure operators
# ---------------------------------------------------------------------------------------------------------------

PLOT_DROP_KW = {"linestyle", "ls", "linewidth", "lw", "markersize", "ms", "markerfacecolor", "mfc", "markeredgecolor",
                "mec", "markeredgewidth", "mew", "markevery", "drawstyle", "ds", "dashes", "solid_capstyle",
                "dash_capstyle", "fillstyle", "solid_joinstyle", "dash_joinstyle", "antialiased", "clip_on"}
SCATTER_DROP_KW = {"s", "c", "cmap", "vmin", "vmax", "norm", "edgecolors", "edgecolor", "linewidths", "facecolors",
                   "plotnonfinite", "edgecolor", "linewidth", "lw", "facecolor", "hatch", "zdir", "depthshade"}
BAR_DROP_KW = {"width", "height", "bottom", "left", "align", "edgecolor", "linewidth", "lw", "tick_label", "xerr",
               "yerr", "ecolor", "capsize", "error_kw", "hatch", "log", "fill", "joinstyle", "facecolor"}
KIND_WORDS = {"bar": "vertical bars", "barh": "horizontal bars", "plot": "a line", "scatter": "scattered points",
              "errorbar": "points with error bars",
              "fill_between": "a filled area", "step": "a step line", "pie": "pie wedges", "boxplot": "box plots",
              "violinplot": "violins"}


def op_change_chart_type(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites = []
    for c in prog.plot_calls({"bar", "barh", "plot", "scatter", "fill_between", "step"}):
        m = _method(c)
        if any(isinstance(a, ast.Starred) for a in c.args) or any(k.arg is None for k in c.keywords):
            continue
        if m == "bar" and len(c.args) >= 2:
            sites += [(c, "barh"), (c, "plot")]
        elif m == "barh" and len(c.args) >= 2:
            sites.append((c, "bar"))
        elif m == "plot" and len(c.args) >= 2 and _str_const(c.args[1]) is None:
            sites.append((c, "scatter"))
            if len(c.args) == 2 or (len(c.args) == 3 and _str_const(c.args[2]) is not None):
                sites.append((c, "bar"))
        elif m == "scatter" and len(c.args) >= 2:
            sites.append((c, "plot"))
        elif m == "errorbar" and len(c.args) >= 2 and (_kw(c, "yerr", "xerr") is not None or len(c.args) >= 3):
            sites.append((c, "plot"))
        elif m in ("fill_between", "step") and len(c.args) >= 2:
            sites.append((c, "plot" if m == "fill_between" else "bar"))
    for c in prog.plot_calls({"pie", "boxplot"}):
        stmt = prog.stmt_of(c)
        if not (isinstance(stmt, ast.Expr) and stmt.value is c) or not c.args or any(k.arg is None for k in c.keywords):
            continue  # the call's return value (wedges, box artists) is used later
        if any(isinstance(a, ast.Starred) for a in c.args):
            continue
        if _method(c) == "pie" and not isinstance(c.args[0], (ast.Constant, ast.JoinedStr)):
            sites.append((c, "bar"))
        elif _method(c) == "boxplot" and not (_kw(c, "vert") and not isinstance(_kw(c, "vert").value, ast.Constant)):
            sites.append((c, "violinplot"))
    if not sites:
        return None
    call, target = rng.choice(sites)
    old = _method(call)
    series = _series_phrase(prog, call)
    _convert_call(call, old, target)
    label = _series_label(prog, call)
    subject = f"Series '{label}'" if label else "The data"
    where = prog.where(_receiver(call))
    loc = f"chart type of series '{label}'{where}" if label else f"chart type{where}"
    desc = (f"{subject}{where} is drawn as {KIND_WORDS[old]} in the reference but as {KIND_WORDS[target]} "
            f"in the candidate.")
    tgt = _series_target(prog, call)
    return _result(prog, "structure_error", 3, loc, desc, "change_chart_type", old=old, new=target,
                   targets=[tgt, ("axes", tgt[1])])


def _convert_call(call: ast.Call, old: str, new: str) -> None:
    call.func.attr = new
    kws = call.keywords
    if old == "bar" and new == "barh":
        ren = {"width": "height", "bottom": "left", "yerr": "xerr"}
        for k in kws:
            k.arg = ren.get(k.arg, k.arg)
    elif old == "barh" and new == "bar":
        ren = {"height": "width", "left": "bottom", "xerr": "yerr"}
        for k in kws:
            k.arg = ren.get(k.arg, k.arg)
    elif new == "scatter":
        fmt = call.args[2] if len(call.args) >= 3 else None
        call.args = call.args[:2]
        call.keywords = [k for k in kws if k.arg not in PLOT_DROP_KW]
        if _str_const(fmt):
            m = _FMT.match(fmt.value)
            if m and (m.group("c1") or m.group("c2")) and not _kw(call, "color", "c"):
                call.keywords.append(ast.keyword(arg="color", value=ast.Constant(m.group("c1") or m.group("c2"))))
            if m and (m.group("m1") or m.group("m2")) and not _kw(call, "marker"):
                call.keywords.append(ast.keyword(arg="marker", value=ast.Constant(m.group("m1") or m.group("m2"))))
    elif old == "scatter" and new == "plot":
        c_kw = _kw(call, "c")
        call.args = call.args[:2]
        keep = [k for k in kws if k.arg not in SCATTER_DROP_KW]
        if c_kw is not None and _str_const(c_kw.value) and not _kw(call, "color"):
            keep.append(ast.keyword(arg="color", value=c_kw.value))
        call.keywords = keep
    elif old in ("bar", "barh") and new == "plot":
        call.args = call.args[:2]
        keep = []
        for k in kws:
            if k.arg == "color" and not _str_const(k.value) and isinstance(k.value, (ast.Name, ast.List)):
                k = ast.keyword(arg="color", value=ast.Subscript(value=k.value, slice=ast.Constant(0), ctx=ast.Load()))
            if k.arg not in BAR_DROP_KW:
                keep.append(k)
        call.keywords = keep
        if not _kw(call, "marker"):
            call.keywords.append(ast.keyword(arg="marker", value=ast.Constant("o")))
    elif old in ("plot",) and new == "bar":
        call.args = call.args[:2]
        call.keywords = [k for k in kws if k.arg not in PLOT_DROP_KW and k.arg not in ("marker",)]
    elif old == "errorbar" and new == "plot":
        fmt = _kw(call, "fmt")
        call.args = call.args[:2]
        call.keywords = [k for k in kws if k.arg not in ("yerr", "xerr", "fmt", "ecolor", "elinewidth", "capsize",
                                                            "capthick", "barsabove", "lolims", "uplims", "xlolims",
                                                            "xuplims", "errorevery", "error_kw")]
        if fmt is not None and _str_const(fmt.value) and fmt.value.value.lower() != "none":
            call.args.append(fmt.value)
    elif old == "fill_between" and new == "plot":
        call.args = call.args[:2]
        call.keywords = [k for k in kws if k.arg in ("color", "label", "alpha", "zorder")]
    elif old == "pie" and new == "bar":
        labels, colors = _kw(call, "labels"), _kw(call, "colors")
        sizes = call.args[0]
        x = labels.value if labels is not None else ast.Call(
            func=ast.Name("range", ast.Load()), args=[ast.Call(func=ast.Name("len", ast.Load()), args=[sizes],
                                                               keywords=[])], keywords=[])
        call.args = [x, sizes]
        call.keywords = [ast.keyword(arg="color", value=colors.value)] if colors is not None else []
    elif old == "boxplot" and new == "violinplot":
        keep = [k for k in kws if k.arg in ("positions", "widths")]
        vert = _kw(call, "vert")
        orient = _kw(call, "orientation")
        if (vert is not None and vert.value.value is False) or (orient is not None and _str_const(orient.value) == "horizontal"):
            keep.append(ast.keyword(arg="orientation", value=ast.Constant("horizontal")))
        call.args = call.args[:1]
        call.keywords = keep
    elif old == "step" and new == "bar":
        call.args = call.args[:2]
        call.keywords = [k for k in kws if k.arg in ("color", "label", "alpha", "zorder")]


def op_drop_subplot(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None or prog.n_subplots < 2:
        return None
    k = rng.randrange(prog.n_subplots)
    pos = None
    for expr, p in prog.layout.items():
        if p[0] * p[3] + p[1] == k:
            pos = p
            break
    name = subplot_name(*pos) if pos else f"{ordinal(k + 1)} subplot"
    code = f"plt.gcf().delaxes(plt.gcf().axes[{k}])"
    # fig.axes follows creation order; it equals the grid's flat index when one subplots() call made the grid
    from_grid = any(_method(c) == "subplots" for c in prog.calls) and not any(
        _method(c) in ("add_subplot", "subplot", "add_axes", "colorbar", "inset_axes") for c in prog.calls)
    _insert_before_end(prog, _stmt(code))
    return _result(prog, "structure_error", 3, name,
                   f"The reference has {prog.n_subplots} subplots; the {name} is missing in the candidate.",
                   "drop_subplot", index=k, n=prog.n_subplots,
                   targets=[("axes", f"#{k}" if from_grid and not prog.twins else ANY)])


def op_change_subplot_layout(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sub_calls = [c for c in prog.calls if _method(c) == "subplots"]
    options = []
    for c in sub_calls:
        r, cc = _grid_args(c)
        if r * cc >= 2 and (r == 1 or cc == 1):
            options.append(("subplots", c))
        for k in c.keywords:
            if k.arg in ("sharex", "sharey") and isinstance(k.value, ast.Constant) and k.value.value not in (False, None, "none"):
                options.append(("share", c, k))
    specs = [(c, _subplot_spec(c)) for c in prog.calls if _method(c) in ("subplot", "add_subplot")]
    specs = [(c, s) for c, s in specs if s is not None]
    if specs and len({s[:2] for _, s in specs}) == 1 and (specs[0][1][0] == 1 or specs[0][1][1] == 1) \
            and specs[0][1][0] * specs[0][1][1] >= 2:
        options.append(("spec",))
    if not options:
        return None
    opt = rng.choice(options)
    if opt[0] == "share":
        _, c, k = opt
        c.keywords.remove(k)
        axis = k.arg[-1]
        return _result(prog, "structure_error", 2, f"shared {axis}-axis",
                       f"The subplots share one {axis}-axis in the reference but have independent {axis}-axes in the candidate.",
                       "change_subplot_layout", mode="unshare", axis=axis, targets=[("axes", ANY)])
    if opt[0] == "subplots":
        c = opt[1]
        r, cc = _grid_args(c)
        _set_grid(c, cc, r)
        fs = _kw(c, "figsize")
        if fs is not None and isinstance(fs.value, (ast.Tuple, ast.List)) and len(fs.value.elts) == 2:
            fs.value.elts.reverse()
        new_r, new_c = cc, r
        old_r, old_c = r, cc
    else:
        old_r, old_c = specs[0][1][:2]
        new_r, new_c = old_c, old_r
        for c, (r, cc, k) in specs:
            if len(c.args) >= 3:
                c.args[0], c.args[1] = _make_num(new_r), _make_num(new_c)
            else:
                c.args[0] = ast.Constant(int(f"{new_r}{new_c}{k}"))
    return _result(prog, "structure_error", 3, "subplot layout",
                   f"The subplots are arranged in {old_r} row(s) × {old_c} column(s) in the reference but "
                   f"{new_r} row(s) × {new_c} column(s) in the candidate.", "change_subplot_layout",
                   mode="transpose", old=[old_r, old_c], new=[new_r, new_c], targets=[("axes", ANY)])


def _set_grid(call: ast.Call, r: int, c: int) -> None:
    kr, kc = _kw(call, "nrows"), _kw(call, "ncols")
    if kr is not None:
        kr.value = ast.Constant(r)
    if kc is not None:
        kc.value = ast.Constant(c)
    args = list(call.args)
    if kr is None:
        if args:
            args[0] = ast.Constant(r)
        else:
            call.keywords.append(ast.keyword(arg="nrows", value=ast.Constant(r)))
    if kc is None:
        if len(args) >= 2:
            args[1] = ast.Constant(c)
        else:
            call.keywords.append(ast.keyword(arg="ncols", value=ast.Constant(c)))
    call.args = args


def op_drop_twin_axis(program: str, rng: random.Random) -> Edit | None:
    prog = _parse(program)
    if prog is None:
        return None
    sites = []
    for node in ast.walk(prog.tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _method(node.value) in ("twinx", "twiny") \
                and isinstance(node.value.func, ast.Attribute):
            sites.append(node)
    if not sites:
        return None
    node = rng.choice(sites)
    axis = "y" if _method(node.value) == "twinx" else "x"
    host = _ax(prog, _receiver(node.value))
    twin = next((t.id for t in node.targets if isinstance(t, ast.Name)), ANY)
    node.value = node.value.func.value
    return _result(prog, "structure_error", 3, f"secondary {axis}-axis",
                   f"The reference draws part of the data against a secondary {axis}-axis; the candidate has no "
                   f"secondary axis and draws everything on one {axis}-axis.", "drop_twin_axis", axis=axis,
                   targets=[("axes", twin), ("axes", host)])


# ---------------------------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------------------------

OPERATORS: tuple[FunctionOperator, ...] = (
    FunctionOperator("change_chart_type", "structure_error", op_change_chart_type),
    FunctionOperator("drop_subplot", "structure_error", op_drop_subplot),
    FunctionOperator("change_subplot_layout", "structure_error", op_change_subplot_layout),
    FunctionOperator("drop_twin_axis", "structure_error", op_drop_twin_axis),
    FunctionOperator("change_value", "data_error", op_change_value),
    FunctionOperator("swap_series", "data_error", op_swap_series),
    FunctionOperator("drop_series", "data_error", op_drop_series),
    FunctionOperator("change_axis_limits", "data_error", op_change_axis_limits),
    FunctionOperator("change_axis_scale", "data_error", op_change_axis_scale),
    FunctionOperator("change_title", "text_error", op_change_title),
    FunctionOperator("change_axis_label", "text_error", op_change_axis_label),
    FunctionOperator("change_tick_label", "text_error", op_change_tick_label),
    FunctionOperator("change_legend_label", "text_error", op_change_legend_label),
    FunctionOperator("change_annotation", "text_error", op_change_annotation),
    FunctionOperator("drop_or_move_legend", "text_error", op_drop_or_move_legend),
    FunctionOperator("change_color", "style_error", op_change_color),
    FunctionOperator("change_linestyle", "style_error", op_change_linestyle),
    FunctionOperator("change_marker", "style_error", op_change_marker),
    FunctionOperator("change_linewidth", "style_error", op_change_linewidth),
    FunctionOperator("toggle_grid", "style_error", op_toggle_grid),
    FunctionOperator("change_facecolor", "style_error", op_change_facecolor),
    FunctionOperator("change_colormap", "style_error", op_change_colormap),
)
OPERATORS_BY_NAME: dict[str, FunctionOperator] = {op.name: op for op in OPERATORS}


# ---------------------------------------------------------------------------------------------------------------
# Eligibility: operators that by nature need a chart feature
# ---------------------------------------------------------------------------------------------------------------

IMAGE_METHODS = {"imshow", "pcolormesh", "pcolor", "contourf", "contour", "hexbin", "hist2d", "matshow", "heatmap",
                 "tricontourf", "tripcolor"}
MARKER_METHODS = {"plot", "scatter", "errorbar", "step", "stem", "semilogy", "semilogx", "loglog", "plot3D",
                  "scatter3D", "lineplot", "scatterplot", "plot_date"}


def _eligible(fn: Callable[[Program], bool]) -> Callable[[str], bool]:
    def pred(program: str) -> bool:
        prog = _parse(program)
        return prog is not None and bool(fn(prog))

    pred.__doc__ = fn.__doc__
    return pred


def _has_twin(prog: Program) -> bool:
    """The program makes a twin axes (``twinx()`` / ``twiny()``)."""
    return any(_method(c) in ("twinx", "twiny") for c in prog.calls)


def _has_subplots(prog: Program) -> bool:
    """The figure has at least two subplots: ``subplots(r, c)`` with r·c ≥ 2, or several ``subplot``/``add_subplot``
    /``add_axes`` calls, or a ``subplot`` grid spec of two or more cells."""
    return prog.n_subplots >= 2


def _has_colormap(prog: Program) -> bool:
    """Something is drawn through a colormap: a ``cmap=``/``colormap=`` argument, ``cm.<name>``/``get_cmap``, or an
    image-like call (imshow, pcolormesh, contourf, hexbin, hist2d, matshow, heatmap)."""
    if any(k.arg in ("cmap", "colormap") for c in prog.calls for k in c.keywords):
        return True
    if any(_method(c) == "get_cmap" for c in prog.calls):
        return True
    for node in ast.walk(prog.tree):
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) in ("plt.cm", "cm", "mpl.cm", "matplotlib.cm"):
            return True
    return any(_method(c) in IMAGE_METHODS for c in prog.calls)


def _has_text(prog: Program) -> bool:
    """Text is written on the plot: ``text(...)``, ``annotate(...)`` or ``figtext(...)`` with a string or value."""
    for c in prog.calls:
        m, r = _method(c), _receiver(c)
        if m in TEXT_METHODS and (r is not None or m == "figtext") and (r or "").split(".")[0] not in NON_AXES_RECEIVERS:
            return True
    return False


def _has_legend(prog: Program) -> bool:
    """A legend is drawn: ``legend(...)`` on an axes, ``plt`` or the figure."""
    return prog.has_legend()


def _has_markable(prog: Program) -> bool:
    """Lines or points are drawn (plot, scatter, errorbar, step, stem, …): artists that can carry markers."""
    return bool(prog.plot_calls(MARKER_METHODS))


def _has_stroked(prog: Program) -> bool:
    """Lines or outlined patches are drawn (plot, step, errorbar, axhline/axvline, hlines/vlines, bars, histograms,
    pies): artists a line style applies to. Scatter-only charts and heatmaps have none."""
    return bool(prog.plot_calls({"plot", "semilogy", "semilogx", "loglog", "step", "axhline", "axvline", "errorbar",
                                 "hlines", "vlines", "plot3D", "stem", "lineplot"} | OUTLINED_METHODS | {"pie"}))


def _has_several_series(prog: Program) -> bool:
    """Several data series are drawn: two or more series calls, a plotting call in a loop, or one call that draws
    several series (stackplot with several layers, boxplot/violinplot of several groups)."""
    calls = prog.plot_calls(SERIES_METHODS | {"stem"})
    if len(calls) >= 2:
        return True
    for c in calls:
        if any(isinstance(a, (ast.For, ast.While, ast.comprehension)) for a in _ancestors(prog, c)):
            return True
        if _method(c) == "stackplot" and len(c.args) >= 3:
            return True
        if _method(c) in ("boxplot", "violinplot") and c.args:
            a = c.args[0]
            lst = a if isinstance(a, ast.List) else (prog.value_of(a.id) if isinstance(a, ast.Name) else None)
            if isinstance(lst, ast.List) and len(lst.elts) >= 2:
                return True
    return False


#: operator name → predicate(program) saying whether the program has the feature the operator needs. Operators
#: not listed are held to applying to (nearly) every chart; listed ones are measured on the programs they fit.
ELIGIBILITY: dict[str, Callable[[str], bool]] = {
    "drop_twin_axis": _eligible(_has_twin),
    "drop_subplot": _eligible(_has_subplots),
    "change_subplot_layout": _eligible(_has_subplots),
    "change_colormap": _eligible(_has_colormap),
    "change_annotation": _eligible(_has_text),
    "change_legend_label": _eligible(_has_legend),
    "drop_or_move_legend": _eligible(_has_legend),
    "change_marker": _eligible(_has_markable),
    "change_linestyle": _eligible(_has_stroked),
    "drop_series": _eligible(_has_several_series),
}
