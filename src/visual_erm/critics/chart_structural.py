"""The structural chart critic: compares two figure descriptions and writes a paper-format critique.

Inputs are :func:`visual_erm.render.inspect.describe_figure` outputs of the reference and the candidate render (the
render pool returns them with ``RenderOptions(inspect=True)``). The critic judges what is drawn, never the code, so it
labels natural candidates that no operator made as well as edited ones. It works panel by panel (a panel is one
subplot with its twin axes):

* **structure_error** — subplots missing/extra, subplot arrangement, shared axes, a secondary axis missing/extra,
  a colorbar missing/extra, a series drawn as another chart type (bar → barh, line → scatter, ...);
* **data_error** — series missing/extra/swapped, changed values (bars, points, wedges, cells, filled areas), the
  number of bars/points, explicitly set axis limits, axis scales;
* **text_error** — titles, axis labels, tick labels (fixed/categorical ones), legend entries, legend missing or
  moved, annotations and value labels (number-only labels that merely follow a data change are not counted twice);
* **style_error** — colours, line styles, markers, line widths, marker sizes, hatches, colormaps, grid, background,
  frame (spines), figure size.

Severities follow :mod:`visual_erm.tasks.base`. One visible difference yields one discrepancy: consequences of a
reported difference (a legend entry of a dropped series, limits that follow a data change, ...) are not repeated.
"""

from __future__ import annotations

import difflib
import math
import random
from collections import Counter
from typing import Any, Iterable

from visual_erm.schema import CATEGORIES, Critique, Discrepancy
from visual_erm.tasks.base import ordinal, severity_for_change

REL_TOL = 1e-3

# ----------------------------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------------------------


def _close(a: Any, b: Any, rel: float = REL_TOL, abs_tol: float = 1e-6) -> bool:
    if a is None or b is None:
        return a is None and b is None
    try:
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_tol)
    except (TypeError, ValueError):
        return a == b


def _seq_close(a: list, b: list, rel: float = REL_TOL, scale: float | None = None) -> bool:
    if len(a) != len(b):
        return False
    return all(_close(x, y, rel, (scale or 1.0) * 1e-6 + (scale * rel if scale else 0.0)) for x, y in zip(a, b))


def _fmt(v: Any) -> str:
    if v is None:
        return "missing"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return f"{f:.4g}"


def _q(s: str) -> str:
    return "'" + str(s).replace("\n", " ") + "'"


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a or "", b or "").ratio()


def _numeric_text(s: str) -> bool:
    t = s.strip().replace(",", "").replace("%", "").replace("$", "").replace("−", "-").replace("+", "")
    t = t.replace("×", "").strip()
    if not t:
        return False
    try:
        float(t)
        return True
    except ValueError:
        return all(ch.isdigit() or ch in ".-: ()/" for ch in t) and any(ch.isdigit() for ch in t)


def _skeleton(s: str) -> str:
    """A label with its numbers masked: '12.5%' and '14%' share the skeleton '#%'."""
    import re

    return re.sub(r"[-−]?\d[\d,]*(\.\d+)?", "#", s.strip())


class _Out:
    """Collects discrepancies; ``where`` phrases come from the panel."""

    def __init__(self) -> None:
        self.errors: list[Discrepancy] = []

    def add(self, category: str, severity: int, location: str, description: str) -> None:
        self.errors.append(Discrepancy(category=category, severity=max(1, min(3, int(severity))),
                                       location=location, description=description))


# ----------------------------------------------------------------------------------------------------------------
# panels and series
# ----------------------------------------------------------------------------------------------------------------


class _Series:
    __slots__ = ("kind", "label", "data", "item", "index")

    def __init__(self, kind: str, label: str | None, data: Any, item: dict, index: int):
        self.kind, self.label, self.data, self.item, self.index = kind, label, data, item, index


def _series_of(axes: list[dict]) -> list[_Series]:
    out: list[_Series] = []
    for ax in axes:
        for b in ax.get("bars", []):
            kind = "barh" if b.get("orientation") == "horizontal" else "bar"
            out.append(_Series(kind, b.get("label"), b.get("values", []), b, len(out)))
        n_short = sum(1 for ln in ax.get("lines", []) if ln.get("label") is None and ln.get("n", 0) <= 2)
        for ln in ax.get("lines", []):
            if ln.get("role") != "series" or not ln.get("visible", True):
                continue
            aux = ln.get("label") is None and ln.get("n", 0) <= 2
            if ln.get("label") is None and ln.get("linestyle") in ("None", "none", "") and n_short >= 4:
                aux = True  # box-plot outliers belong to the boxes
            data = ln.get("y", [])
            if ln.get("z") and len(ln["z"]) == len(data):  # 3-D lines: the depth is data too
                data = [[y, z] for y, z in zip(data, ln["z"])]
            out.append(_Series("aux_line" if aux else "line", ln.get("label"), data, ln, len(out)))
        for c in ax.get("collections", []):
            if c.get("role") == "errorbar":
                continue
            k = c.get("kind")
            if k == "PathCollection":
                kind = "scatter"
                data = c.get("offsets", [])
            elif k == "PolyCollection":
                kind = "fill"
                xs, data = _thickness(c.get("outline", []))
                c = {**c, "_xs": xs}
            elif k in ("QuadMesh", "PolyQuadMesh"):
                kind = "mesh"
                data = c.get("array", [])
            elif k in ("LineCollection",):
                kind = "segments"
                data = c.get("n")
            else:
                kind = f"collection:{k}"
                data = c.get("n")
            out.append(_Series(kind, c.get("label"), data, c, len(out)))
        for im in ax.get("images", []):
            out.append(_Series("image", None, im.get("values"), im, len(out)))
        if ax.get("wedges"):
            w = ax["wedges"]
            out.append(_Series("pie", None, [(x.get("theta2") or 0) - (x.get("theta1") or 0) for x in w],
                               {"wedges": w}, len(out)))
        shapes = [p for p in ax.get("patches", []) if p.get("kind") not in ("Rectangle",) or p.get("label")]
        if shapes:
            out.append(_Series("shapes", None, shapes, {"patches": shapes}, len(out)))
    return out


KIND_WORDS = {"bar": "vertical bars", "barh": "horizontal bars", "line": "a line", "scatter": "scattered points",
              "fill": "a filled area", "pie": "a pie", "image": "a heatmap image", "mesh": "a colour mesh",
              "segments": "line segments", "shapes": "shapes", "aux_line": "reference lines"}


def _thickness(outline: list) -> tuple[list, list]:
    """A filled area's height at each x of its outline (top minus bottom): a stacked layer's own values."""
    by_x: dict = {}
    for p in outline:
        if not isinstance(p, (list, tuple)) or len(p) != 2 or p[0] is None or p[1] is None:
            continue
        by_x.setdefault(p[0], []).append(p[1])
    xs = sorted(by_x)
    return xs, [round(max(by_x[x]) - min(by_x[x]), 6) for x in xs]


def _panels(fig: dict) -> tuple[list[dict], list[dict]]:
    """Group axes into panels (host + twins); colorbar axes separately."""
    axes = [a for a in fig.get("axes", []) if isinstance(a, dict) and "error" not in a and a.get("visible", True)]
    colorbars = [a for a in axes if a.get("is_colorbar")]
    mains = [a for a in axes if not a.get("is_colorbar")]
    panels: list[dict] = []
    by_index: dict[int, dict] = {}
    for a in mains:
        host = a.get("twin_of")
        if host is not None and host in by_index:
            by_index[host]["twins"].append(a)
            by_index[a["index"]] = by_index[host]
            continue
        p = {"host": a, "twins": [], "pos": len(panels)}
        panels.append(p)
        by_index[a["index"]] = p
    return panels, colorbars


def _panel_where(panel: dict, n_panels: int) -> str:
    if n_panels <= 1:
        return ""
    gs = panel["host"].get("grid_spec")
    if gs:
        from visual_erm.tasks.chart_ops import subplot_name

        return " of the " + subplot_name(gs["rows"][0], gs["cols"][0], gs["nrows"], gs["ncols"])
    return f" of the {ordinal(panel['pos'] + 1)} subplot"


def _panel_signature(panel: dict) -> Counter:
    return Counter(s.kind for s in _series_of([panel["host"]] + panel["twins"]) if s.kind not in ("aux_line",))


def _match_panels(ref: list[dict], cand: list[dict]) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    if len(ref) == len(cand):
        return list(zip(ref, cand)), [], []
    scores = []
    for i, r in enumerate(ref):
        for j, c in enumerate(cand):
            s = 0.0
            rh, ch = r["host"], c["host"]
            if rh.get("title") and rh.get("title") == ch.get("title"):
                s += 3
            if _panel_signature(r) == _panel_signature(c):
                s += 2
            s += (rh.get("xlabel") == ch.get("xlabel")) + (rh.get("ylabel") == ch.get("ylabel"))
            if rh.get("grid_spec") and rh.get("grid_spec") == ch.get("grid_spec"):
                s += 1.5
            s += _series_overlap(r, c) * 4
            s -= abs(i - j) * 0.1
            scores.append((s, i, j))
    scores.sort(key=lambda t: -t[0])
    used_r, used_c, pairs = set(), set(), []
    for s, i, j in scores:
        if i in used_r or j in used_c:
            continue
        used_r.add(i)
        used_c.add(j)
        pairs.append((ref[i], cand[j]))
    pairs.sort(key=lambda p: p[0]["pos"])
    return pairs, [r for i, r in enumerate(ref) if i not in used_r], [c for j, c in enumerate(cand) if j not in used_c]


def _series_overlap(r: dict, c: dict) -> float:
    rs = _series_of([r["host"]] + r["twins"])
    cs = _series_of([c["host"]] + c["twins"])
    if not rs or not cs:
        return 0.0
    hits = sum(1 for a in rs if any(a.kind == b.kind and _data_equal(a, b) for b in cs))
    return hits / max(len(rs), len(cs))


def _data_equal(a: _Series, b: _Series) -> bool:
    da, db = a.data, b.data
    if isinstance(da, list) and isinstance(db, list):
        if len(da) != len(db):
            return False
        for x, y in zip(da, db):
            if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
                if isinstance(x, list) and x and isinstance(x[0], dict):
                    continue
                if not _seq_close(list(x), list(y)):
                    return False
            elif isinstance(x, dict) or isinstance(y, dict):
                if _shape_key(x) != _shape_key(y):
                    return False
            elif not _close(x, y):
                return False
        if a.kind == "line" and not _seq_close(a.item.get("x", []), b.item.get("x", [])):
            return False
        if a.kind in ("bar", "barh") and not _seq_close(a.item.get("positions", []), b.item.get("positions", [])):
            return False
        return True
    return da == db


def _values_equal(a: _Series, b: _Series) -> bool:
    """Same plotted values, ignoring positions (grouped bars of two series sit at different offsets)."""
    if a.kind in ("bar", "barh", "line", "scatter", "pie", "image", "mesh", "fill"):
        da, db = a.data, b.data
        if a.kind == "scatter":  # a swap moves the y values between series; x positions may differ
            da = [p[1] if isinstance(p, (list, tuple)) and len(p) > 1 else p for p in da]
            db = [p[1] if isinstance(p, (list, tuple)) and len(p) > 1 else p for p in db]
        if not isinstance(da, list) or not isinstance(db, list) or len(da) != len(db):
            return False
        return not _value_changes(da, db)
    return _data_equal(a, b)


def _shape_key(p: Any) -> Any:
    if not isinstance(p, dict):
        return p
    return tuple(p.get(k) if not isinstance(p.get(k), list) else tuple(p.get(k)) for k in
                 ("kind", "x", "y", "width", "height", "extent"))


def _match_series(rs: list[_Series], cs: list[_Series]) -> tuple[list[tuple[_Series, _Series]], list[_Series], list[_Series]]:
    """Pair series of the same kind: same label, then same data, then same colour, then order."""
    scores = []
    for i, a in enumerate(rs):
        for j, b in enumerate(cs):
            if a.kind != b.kind:
                continue
            s = 0.0
            if a.label and a.label == b.label:
                s += 8
            if _data_equal(a, b):
                s += 6
            if _style_key(a) == _style_key(b) and _main_color(a) is not None:
                s += 7  # same look: the same series even if its data changed (a swap is a data error)
            elif _main_color(a) is not None and _main_color(a) == _main_color(b):
                s += 2
            ka = [x for x in rs if x.kind == a.kind].index(a)
            kb = [x for x in cs if x.kind == b.kind].index(b)
            s += 1.0 if ka == kb else -0.2 * abs(ka - kb)
            if isinstance(a.data, list) and isinstance(b.data, list) and len(a.data) == len(b.data):
                s += 0.5
            scores.append((s, i, j))
    scores.sort(key=lambda t: (-t[0], t[1], t[2]))
    ur, uc, pairs = set(), set(), []
    for s, i, j in scores:
        if i in ur or j in uc:
            continue
        ur.add(i)
        uc.add(j)
        pairs.append((rs[i], cs[j]))
    pairs.sort(key=lambda p: p[0].index)
    return pairs, [a for i, a in enumerate(rs) if i not in ur], [b for j, b in enumerate(cs) if j not in uc]


def _style_key(s: _Series) -> tuple:
    it = s.item
    return (_main_color(s), it.get("linestyle"), it.get("marker"), it.get("linewidth"), it.get("hatch"))


def _main_color(s: _Series) -> str | None:
    it = s.item
    if s.kind in ("bar", "barh"):
        cols = it.get("colors") or []
        return cols[0] if cols else None
    if s.kind in ("line", "aux_line"):
        return it.get("color")
    if s.kind in ("scatter", "fill", "segments"):
        fc = it.get("facecolors") or it.get("edgecolors") or []
        return fc[0] if fc else None
    return None


def _series_name(s: _Series) -> str:
    noun = {"bar": "bars", "barh": "bars", "line": "line", "scatter": "points", "fill": "filled area",
            "pie": "pie", "image": "heatmap", "mesh": "colour mesh", "segments": "segments", "shapes": "shapes",
            "aux_line": "reference lines"}.get(s.kind, "series")
    return f"{noun} of series '{s.label}'" if s.label else f"{noun}"


# ----------------------------------------------------------------------------------------------------------------
# the critique
# ----------------------------------------------------------------------------------------------------------------


def critique(reference_figure: dict, candidate_figure: dict) -> Critique:
    """Compare two :func:`describe_figure` outputs and list every visible difference as a discrepancy."""
    out = _Out()
    ref, cand = reference_figure or {}, candidate_figure or {}
    rp, rcb = _panels(ref)
    cp, ccb = _panels(cand)
    n = max(len(rp), len(cp))
    structure_changed = False

    pairs, missing, extra = _match_panels(rp, cp)
    for p in missing:
        structure_changed = True
        title = p["host"].get("title")
        extra_t = f" (titled {_q(title)})" if title else ""
        out.add("structure_error", 3, _panel_where(p, n).removeprefix(" of the ") or "subplot",
                f"The reference has {len(rp)} subplots but the candidate has {len(cp)}: the "
                f"{_panel_where(p, n).removeprefix(' of the ') or 'subplot'}{extra_t} is missing.")
    for p in extra:
        structure_changed = True
        out.add("structure_error", 3, "subplots",
                f"The candidate has an extra subplot: {len(cp)} subplots instead of the reference's {len(rp)}.")
    # arrangement
    rgeo = sorted({(a["host"].get("grid_spec") or {}).get("nrows", 1) * 100 + (a["host"].get("grid_spec") or {}).get("ncols", 1) for a in rp})
    cgeo = sorted({(a["host"].get("grid_spec") or {}).get("nrows", 1) * 100 + (a["host"].get("grid_spec") or {}).get("ncols", 1) for a in cp})
    mgeo_r = sorted({(a["host"].get("grid_spec") or {}).get("nrows", 1) * 100 + (a["host"].get("grid_spec") or {}).get("ncols", 1) for a, _ in pairs})
    mgeo_c = sorted({(b["host"].get("grid_spec") or {}).get("nrows", 1) * 100 + (b["host"].get("grid_spec") or {}).get("ncols", 1) for _, b in pairs})
    same_cells = [(g // 100) * (g % 100) for g in mgeo_r] == [(g // 100) * (g % 100) for g in mgeo_c]
    if rp and cp and rgeo != cgeo and (not (missing or extra) or (mgeo_r != mgeo_c and same_cells)):
        structure_changed = True
        rg, cg = rgeo[0], cgeo[0]
        out.add("structure_error", 3, "subplot layout",
                f"The subplots are arranged in a {rg // 100}×{rg % 100} grid in the reference but a "
                f"{cg // 100}×{cg % 100} grid in the candidate.")
    for axis in ("x", "y"):
        rs = any(p["host"].get(f"shares_{axis}") for p in rp)
        cs = any(p["host"].get(f"shares_{axis}") for p in cp)
        if len(rp) > 1 and len(cp) > 1 and rs != cs:
            out.add("structure_error", 2, f"shared {axis}-axis",
                    f"The subplots {'share' if rs else 'do not share'} the {axis}-axis in the reference but "
                    f"{'do' if cs else 'do not'} in the candidate.")
    if len(rcb) != len(ccb):
        out.add("structure_error", 2, "colorbar",
                f"The reference shows {len(rcb)} colorbar(s) but the candidate shows {len(ccb)}.")
    else:
        for a, b in zip(rcb, ccb):
            _cmp_text(out, a.get("ylabel") or a.get("xlabel"), b.get("ylabel") or b.get("xlabel"), "colorbar label",
                      "")

    # figure-level text and style
    _cmp_text(out, ref.get("suptitle"), cand.get("suptitle"), "figure title", "", title=True)
    _cmp_text(out, ref.get("supxlabel"), cand.get("supxlabel"), "shared x-axis label", "")
    _cmp_text(out, ref.get("supylabel"), cand.get("supylabel"), "shared y-axis label", "")
    _cmp_texts(out, ref.get("texts", []), cand.get("texts", []), "", suppress_numeric=False, what="figure text")
    _cmp_fig_legends(out, ref.get("legends", []), cand.get("legends", []))
    if ref.get("facecolor") and cand.get("facecolor") and ref["facecolor"] != cand["facecolor"]:
        out.add("style_error", 1, "figure background",
                f"The figure background is {ref['facecolor']} in the reference but {cand['facecolor']} in the candidate.")
    rfs, cfs = ref.get("figsize"), cand.get("figsize")
    if rfs and cfs and not structure_changed and not all(_close(a, b, 0.02) for a, b in zip(rfs, cfs)):
        out.add("style_error", 1, "figure size",
                f"The figure is {_fmt(rfs[0])}×{_fmt(rfs[1])} inches in the reference but "
                f"{_fmt(cfs[0])}×{_fmt(cfs[1])} in the candidate.")

    shared_seen: set = set()  # limits/scales of shared axes are one property: reported once
    for rpan, cpan in pairs:
        _cmp_panel(out, rpan, cpan, _panel_where(rpan, n), shared_seen)
    return Critique(task="chart", errors=tuple(out.errors))


def _cmp_fig_legends(out: _Out, rl: list, cl: list) -> None:
    if len(rl) != len(cl):
        if rl and not cl:
            out.add("text_error", 2, "figure legend", "The figure legend is shown in the reference but missing in the candidate.")
        elif cl and not rl:
            out.add("text_error", 2, "figure legend", "The candidate shows a figure legend that the reference does not have.")
        return
    for a, b in zip(rl, cl):
        _cmp_legend_texts(out, a.get("texts", []), b.get("texts", []), "", set())


def _cmp_text(out: _Out, a: str | None, b: str | None, what: str, where: str, title: bool = False,
              severity: int = 2) -> None:
    a, b = (a or "").strip(), (b or "").strip()
    if a == b:
        return
    loc = f"{what}{where}"
    if a and not b:
        out.add("text_error", severity, loc, f"The {what}{where} reads {_q(a)} in the reference but is missing in the candidate.")
    elif b and not a:
        out.add("text_error", severity, loc, f"The reference has no {what}{where} but the candidate shows {_q(b)}.")
    else:
        sev = 3 if title and _similar(a, b) < 0.5 else severity
        out.add("text_error", sev, loc, f"The {what}{where} reads {_q(a)} in the reference but {_q(b)} in the candidate.")


def _pair_strings(removed: list[str], added: list[str]) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    pairs, r_left, a_left = [], list(removed), list(added)
    scored = sorted(((_similar(r, a), i, j) for i, r in enumerate(r_left) for j, a in enumerate(a_left)), reverse=True)
    ur, ua = set(), set()
    for s, i, j in scored:
        if i in ur or j in ua or s < 0.3:
            continue
        ur.add(i)
        ua.add(j)
        pairs.append((r_left[i], a_left[j]))
    return pairs, [r for i, r in enumerate(r_left) if i not in ur], [a for j, a in enumerate(a_left) if j not in ua]


def _cmp_texts(out: _Out, rt: list, ct: list, where: str, suppress_numeric: bool, what: str = "annotation",
               skip_pairs: set = frozenset()) -> None:
    ra = Counter(t.get("text", "").strip() for t in rt if t.get("text", "").strip())
    ca = Counter(t.get("text", "").strip() for t in ct if t.get("text", "").strip())
    removed = list((ra - ca).elements())
    added = list((ca - ra).elements())
    for a, b in skip_pairs or ():  # the same label renamed in the legend and on the plot (pie labels): once
        if a in removed and b in added:
            removed.remove(a)
            added.remove(b)
    if suppress_numeric:
        # Labels that only follow the data (same text with other digits) are consequences, not text errors.
        sk_added = Counter(_skeleton(s) for s in added if any(ch.isdigit() for ch in s))
        keep_r = []
        for s in removed:
            k = _skeleton(s)
            if any(ch.isdigit() for ch in s) and sk_added[k] > 0:
                sk_added[k] -= 1
                continue
            keep_r.append(s)
        sk_removed = Counter(_skeleton(s) for s in removed if any(ch.isdigit() for ch in s))
        keep_a = []
        for s in added:
            k = _skeleton(s)
            if any(ch.isdigit() for ch in s) and sk_removed[k] > 0:
                sk_removed[k] -= 1
                continue
            keep_a.append(s)
        removed, added = keep_r, keep_a
    if not removed and not added:
        return
    pairs, gone, new = _pair_strings(removed, added)
    if len(pairs) + len(gone) + len(new) > 3:
        ex = pairs[0] if pairs else (gone[0] if gone else "", new[0] if new else "")
        out.add("text_error", 2, f"text labels{where}",
                f"{len(removed)} text label(s){where} differ: e.g. {_q(ex[0])} in the reference vs {_q(ex[1])} in the candidate.")
        return
    groups: dict = {}
    for a, b in pairs:
        groups.setdefault((_skeleton(a), _skeleton(b)), []).append((a, b))
    for (ska, skb), members in groups.items():
        a, b = members[0]
        if len(members) > 1 and ska != skb:  # one formatting change applied to every value label
            out.add("text_error", 2, f"text labels{where}",
                    f"{len(members)} text labels{where} are formatted differently: e.g. {_q(a)} in the reference but "
                    f"{_q(b)} in the candidate.")
            continue
        for a, b in members:
            out.add("text_error", 2, f"{what} {_q(a)}{where}",
                    f"The {what}{where} reads {_q(a)} in the reference but {_q(b)} in the candidate.")
    for a in gone:
        out.add("text_error", 2, f"{what} {_q(a)}{where}",
                f"The {what} {_q(a)}{where} is shown in the reference but missing in the candidate.")
    for b in new:
        out.add("text_error", 2, f"{what} {_q(b)}{where}",
                f"The candidate shows an extra {what} {_q(b)}{where} that the reference does not have.")


def _cmp_legend_texts(out: _Out, ra: list, ca: list, where: str, dropped_labels: set,
                      added_labels: set = frozenset()) -> set:
    removed = list((Counter(ra) - Counter(ca)).elements())
    added = list((Counter(ca) - Counter(ra)).elements())
    removed = [r for r in removed if r not in dropped_labels]
    added = [a for a in added if a not in added_labels]
    if not removed and not added:
        return set()
    pairs, gone, new = _pair_strings(removed, added)
    # A renamed entry that no similarity could pair still counts once.
    while gone and new:
        pairs.append((gone.pop(0), new.pop(0)))
    for a, b in pairs:
        out.add("text_error", 2, f"legend entry {_q(a)}{where}",
                f"The legend entry reads {_q(a)} in the reference but {_q(b)} in the candidate.")
    for a in gone:
        out.add("text_error", 2, f"legend entry {_q(a)}{where}",
                f"The legend entry {_q(a)}{where} is missing in the candidate.")
    for b in new:
        out.add("text_error", 2, f"legend entry {_q(b)}{where}",
                f"The candidate's legend{where} has an extra entry {_q(b)}.")
    return set(pairs)


def _cmp_panel(out: _Out, rp: dict, cp: dict, where: str, shared_seen: set | None = None) -> None:
    rh, ch = rp["host"], cp["host"]
    twin_lost = len(rp["twins"]) > len(cp["twins"])
    twin_added = len(rp["twins"]) < len(cp["twins"])
    if twin_lost or twin_added:
        out.add("structure_error", 3, f"secondary y-axis{where}",
                f"The reference {'has a' if twin_lost else 'has no'} secondary axis{where}; the candidate "
                f"{'has none and draws all series on one axis' if twin_lost else 'adds one'}.")
    r_axes = [rh] + rp["twins"]
    c_axes = [ch] + cp["twins"]
    rs, cs = _series_of(r_axes), _series_of(c_axes)

    # ---- chart type / series presence -------------------------------------------------------------------------
    rsig = Counter(s.kind for s in rs if s.kind != "aux_line")
    csig = Counter(s.kind for s in cs if s.kind != "aux_line")
    type_changed = False
    if rsig != csig and not (twin_lost or twin_added):
        gone_kinds = rsig - csig
        new_kinds = csig - rsig
        if gone_kinds and new_kinds:
            type_changed = True
            g = sorted(gone_kinds)[0]
            nk = sorted(new_kinds)[0]
            lab = next((s.label for s in rs if s.kind == g and s.label), None)
            who = f"Series {_q(lab)}" if lab else "The data"
            loc = f"chart type of series {_q(lab)}{where}" if lab else f"chart type{where}"
            out.add("structure_error", 3, loc,
                    f"{who}{where} is drawn as {KIND_WORDS.get(g, g)} in the reference but as "
                    f"{KIND_WORDS.get(nk, nk)} in the candidate.")
    box_changed = _cmp_boxes(out, [x for x in rs if x.kind in ("aux_line", "shapes")],
                             [x for x in cs if x.kind in ("aux_line", "shapes")], where,
                             active=not (twin_lost or twin_added or type_changed))
    rs = [x for x in rs if x.kind not in ("aux_line", "shapes")]
    cs = [x for x in cs if x.kind not in ("aux_line", "shapes")]
    r_eb = [e for a in r_axes for e in a.get("errorbars", [])]
    c_eb = [e for a in c_axes for e in a.get("errorbars", [])]
    if len(r_eb) != len(c_eb) and rsig == csig and not (twin_lost or twin_added or type_changed):
        type_changed = True
        lab = next((e.get("label") for e in r_eb if e.get("label") and e.get("label") not in
                    {x.get("label") for x in c_eb}), None) if len(r_eb) > len(c_eb) else None
        who = f"series {_q(lab)}" if lab else "the data"
        if len(r_eb) > len(c_eb):
            out.add("structure_error", 3, f"error bars of {who}{where}",
                    f"The reference draws {who}{where} as points with error bars; the candidate draws no error bars for it.")
        else:
            out.add("structure_error", 3, f"error bars{where}",
                    f"The candidate adds error bars{where} that the reference does not have.")
    pairs, gone, new = _match_series(rs, cs)
    if type_changed:
        changed_kinds = set(rsig - csig) | set(csig - rsig)
        for g in gone:
            if g.kind not in changed_kinds or not g.label:
                continue
            twin = next((x for x in new if x.kind in changed_kinds and x.label == g.label), None)
            if twin is not None and _main_color(g) and _main_color(twin) and _main_color(g)[:7] != _main_color(twin)[:7]:
                out.add("style_error", 1, f"colour of series {_q(g.label)}{where}",
                        f"Series {_q(g.label)}{where} is drawn in {_main_color(g)} in the reference but "
                        f"{_main_color(twin)} in the candidate.")
        gone = [s for s in gone if s.kind not in changed_kinds]
        new = [s for s in new if s.kind not in changed_kinds]
    dropped_labels = {s.label for s in gone if s.label}
    added_labels = {s.label for s in new if s.label}
    data_changed = bool(gone or new) or box_changed

    if not (twin_lost or twin_added):
        for s in gone:
            if s.kind == "aux_line":
                continue
            out.add("data_error", 3, f"series {_q(s.label)}{where}" if s.label else f"{_series_name(s)}{where}",
                    f"The {_series_name(s)}{where} is present in the reference but missing in the candidate.")
        for s in new:
            if s.kind == "aux_line":
                continue
            out.add("data_error", 3, f"series {_q(s.label)}{where}" if s.label else f"{_series_name(s)}{where}",
                    f"The candidate draws extra {_series_name(s)}{where} that the reference does not have.")

    # ---- data --------------------------------------------------------------------------------------------------
    if not (twin_lost or twin_added):
        data_changed |= _cmp_series_data(out, pairs, where, skip_fills=any(x.kind == "fill" for x in gone + new))
        if not type_changed:
            data_changed |= _cmp_errorbars(out, [e for a in r_axes for e in a.get("errorbars", [])],
                                           [e for a in c_axes for e in a.get("errorbars", [])], where)

    # ---- limits and scales -------------------------------------------------------------------------------------
    lim_changed = {"x": False, "y": False}
    panel_seen: set = set()
    if not (twin_lost or twin_added):
        for i_ax, (ra, ca) in enumerate(zip(r_axes, c_axes)):
            for axis in (("x", "y") if i_ax == 0 else ("y",)):
                if ra.get(f"{axis}scale") != ca.get(f"{axis}scale"):
                    lim_changed[axis] = True
                    if _seen(shared_seen, panel_seen, ra, axis, ("scale", ra.get(f"{axis}scale"), ca.get(f"{axis}scale"))):
                        continue
                    out.add("data_error", 2, f"{axis}-axis scale{where}",
                            f"The {axis}-axis{where} uses a {ra.get(f'{axis}scale')} scale in the reference but a "
                            f"{ca.get(f'{axis}scale')} scale in the candidate.")
                if ra.get(f"{axis}lim_auto", True) and ca.get(f"{axis}lim_auto", True):
                    continue
                rl, cl = ra.get(f"{axis}lim") or [None, None], ca.get(f"{axis}lim") or [None, None]
                if None in rl or None in cl:
                    continue
                span = abs(rl[1] - rl[0]) or 1.0
                if abs(rl[0] - cl[0]) > 0.01 * span or abs(rl[1] - cl[1]) > 0.01 * span:
                    lim_changed[axis] = True
                    if _seen(shared_seen, panel_seen, ra, axis, ("lim", tuple(rl), tuple(cl))):
                        continue
                    out.add("data_error", 2, f"{axis}-axis range{where}",
                            f"The {axis}-axis{where} spans {_fmt(rl[0])} to {_fmt(rl[1])} in the reference but "
                            f"{_fmt(cl[0])} to {_fmt(cl[1])} in the candidate.")

    # ---- text --------------------------------------------------------------------------------------------------
    for key, what in (("title", "title"), ("title_left", "left-aligned title"), ("title_right", "right-aligned title")):
        _cmp_text(out, rh.get(key), ch.get(key), what, where, title=True)
    if not twin_lost and not twin_added:
        for i, (ra, ca) in enumerate(zip(r_axes, c_axes)):
            w = where if i == 0 else f"{where} (secondary axis)"
            axes_names = ("x", "y") if i == 0 else ("y",)  # a twin shares its host's x-axis
            if i == 0:
                _cmp_text(out, ra.get("xlabel"), ca.get("xlabel"), "x-axis label", w)
            _cmp_text(out, ra.get("ylabel"), ca.get("ylabel"), "y-axis label", w)
            if not type_changed:
                for axis in axes_names:
                    if lim_changed[axis]:
                        continue
                    if not (ra.get(f"{axis}ticks_fixed") and ca.get(f"{axis}ticks_fixed")):
                        # automatic ticks: only a change of the labels' form (a unit suffix, a different format)
                        # counts; their numbers may move with the data
                        rl, cl = ra.get(f"{axis}ticklabels", []), ca.get(f"{axis}ticklabels", [])
                        if data_changed or ra.get(f"{axis}scale") != ca.get(f"{axis}scale") or len(rl) != len(cl) \
                                or {_skeleton(x) for x in rl} == {_skeleton(x) for x in cl}:
                            continue
                        _cmp_ticks(out, rl, cl, axis, w, numeric_ok=False)
                        continue
                    _cmp_ticks(out, ra.get(f"{axis}ticklabels", []), ca.get(f"{axis}ticklabels", []), axis, w,
                               numeric_ok=data_changed)
        legend_pairs = _cmp_legend(out, r_axes, c_axes, where, dropped_labels, added_labels)
        rt = [t for a in r_axes for t in a.get("texts", [])]
        ct = [t for a in c_axes for t in a.get("texts", [])]
        _cmp_texts(out, rt, ct, where, suppress_numeric=data_changed or type_changed, skip_pairs=legend_pairs)

    # ---- style -------------------------------------------------------------------------------------------------
    if not (twin_lost or twin_added):
        _cmp_series_style(out, pairs, where)
    rg = any(a.get("grid", {}).get(k) for a in r_axes for k in ("x", "y"))
    cg = any(a.get("grid", {}).get(k) for a in c_axes for k in ("x", "y"))
    rgrid = tuple(sorted(k for a in r_axes for k in ("x", "y") if a.get("grid", {}).get(k)))
    cgrid = tuple(sorted(k for a in c_axes for k in ("x", "y") if a.get("grid", {}).get(k)))
    per_axes_grid_diff = any(ra.get("grid") != ca.get("grid") for ra, ca in zip(r_axes, c_axes))
    if rgrid != cgrid or (per_axes_grid_diff and len(r_axes) == len(c_axes)):
        if rg and not cg:
            out.add("style_error", 1, f"grid lines{where}", f"The reference shows grid lines{where}; the candidate has none.")
        elif cg and not rg:
            out.add("style_error", 1, f"grid lines{where}", f"The reference has no grid lines{where}; the candidate draws a grid.")
        elif rgrid == cgrid:
            out.add("style_error", 1, f"grid lines{where}",
                    f"Grid lines{where} are drawn on a different axis (primary or secondary) in the candidate than in the reference.")
        else:
            out.add("style_error", 1, f"grid lines{where}",
                    f"Grid lines{where} are drawn along {'/'.join(rgrid)} in the reference but {'/'.join(cgrid)} in the candidate.")
    if rh.get("facecolor") != ch.get("facecolor"):
        out.add("style_error", 1, f"plot background{where}",
                f"The plot background{where} is {rh.get('facecolor')} in the reference but {ch.get('facecolor')} in the candidate.")
    if rh.get("spines") and ch.get("spines") and rh.get("spines") != ch.get("spines") and not (twin_lost or twin_added):
        diff = [k for k in rh["spines"] if rh["spines"].get(k) != ch["spines"].get(k)]
        out.add("style_error", 1, f"frame{where}",
                f"The {', '.join(diff)} axis line(s){where} differ in visibility between the reference and the candidate.")
    if rh.get("axis_on", True) != ch.get("axis_on", True):
        out.add("style_error", 1, f"axes{where}",
                f"The axes{where} are {'shown' if rh.get('axis_on', True) else 'hidden'} in the reference but "
                f"{'shown' if ch.get('axis_on', True) else 'hidden'} in the candidate.")
    rfs, cfs = rh.get("title_fontsize"), ch.get("title_fontsize")
    if rh.get("title") and ch.get("title") and rfs and cfs and not _close(rfs, cfs, 0.05):
        out.add("style_error", 1, f"title font size{where}",
                f"The title{where} is set in {_fmt(rfs)} pt in the reference but {_fmt(cfs)} pt in the candidate.")


def _seen(shared_seen: set | None, panel_seen: set, ax: dict, axis: str, key: tuple) -> bool:
    """True if this axis property change was already reported for this panel or for an axis it shares."""
    full = (axis,) + key
    if full in panel_seen:
        return True
    panel_seen.add(full)
    if shared_seen is not None and ax.get(f"shares_{axis}"):
        if full in shared_seen:
            return True
        shared_seen.add(full)
    return False


def _cmp_ticks(out: _Out, ra: list, ca: list, axis: str, where: str, numeric_ok: bool) -> None:
    if ra == ca:
        return
    if numeric_ok and all(_numeric_text(s) for s in ra + ca):
        return
    if len(ra) != len(ca):
        out.add("text_error", 2, f"{axis}-axis tick labels{where}",
                f"The {axis}-axis{where} shows {len(ra)} tick labels in the reference but {len(ca)} in the candidate.")
        return
    diffs = [i for i, (a, b) in enumerate(zip(ra, ca)) if a != b]
    if len(diffs) > 3:
        out.add("text_error", 2, f"{axis}-axis tick labels{where}",
                f"The {axis}-axis tick labels{where} differ: {_q(', '.join(ra[:4]))}… in the reference vs "
                f"{_q(', '.join(ca[:4]))}… in the candidate.")
        return
    for i in diffs:
        out.add("text_error", 2, f"{ordinal(i + 1)} {axis}-axis tick label{where}",
                f"The {ordinal(i + 1)} {axis}-axis tick label{where} reads {_q(ra[i])} in the reference but "
                f"{_q(ca[i])} in the candidate.")


def _cmp_legend(out: _Out, r_axes: list, c_axes: list, where: str, dropped: set, added: set) -> set:
    rl = [a.get("legend") for a in r_axes if a.get("legend") and a["legend"].get("visible", True)]
    cl = [a.get("legend") for a in c_axes if a.get("legend") and a["legend"].get("visible", True)]
    if rl and not cl:
        out.add("text_error", 2, f"legend{where}", f"The legend{where} is shown in the reference but missing in the candidate.")
        return set()
    if cl and not rl:
        out.add("text_error", 2, f"legend{where}", f"The candidate shows a legend{where} that the reference does not have.")
        return set()
    if not rl:
        return set()
    ra = [t for leg in rl for t in leg.get("texts", [])]
    ca = [t for leg in cl for t in leg.get("texts", [])]
    pairs = _cmp_legend_texts(out, ra, ca, where, dropped, added)
    if len(rl) == len(cl):
        for a, b in zip(rl, cl):
            if a.get("loc") != b.get("loc") or (a.get("anchor") and b.get("anchor") and not _seq_close(a["anchor"], b["anchor"], 0.01)):
                out.add("text_error", 1 if not a.get("anchor") else 2, f"legend{where}",
                        f"The legend{where} is placed at {_q(a.get('loc'))} in the reference but at {_q(b.get('loc'))} in the candidate.")
            _cmp_text(out, a.get("title"), b.get("title"), "legend title", where)
    else:
        out.add("text_error", 2, f"legend{where}",
                f"The reference shows {len(rl)} legend(s){where} but the candidate shows {len(cl)}.")
    return pairs


# ---- data comparison ------------------------------------------------------------------------------------------


def _value_changes(a: list, b: list) -> list[int]:
    vals = [v for v in list(a) + list(b) if isinstance(v, (int, float))]
    scale = max((abs(v) for v in vals), default=1.0) or 1.0
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x is None or y is None:
            if (x is None) != (y is None):
                out.append(i)
            continue
        if isinstance(x, (list, tuple)):
            if not _seq_close(list(x), list(y), 1e-3, scale):
                out.append(i)
        elif abs(x - y) > 1e-3 * scale + 1e-9:
            out.append(i)
    return out


def _swapped(a: list, b: list, idx: list[int]) -> bool:
    if len(idx) != 2:
        return False
    i, j = idx
    if isinstance(a[i], (list, tuple)):  # points: every coordinate equal or exchanged
        return all((_close(a[i][k], b[i][k]) and _close(a[j][k], b[j][k])) or
                   (_close(a[i][k], b[j][k]) and _close(a[j][k], b[i][k])) for k in range(len(a[i])))
    return _close(a[i], b[j]) and _close(a[j], b[i])


def _cmp_boxes(out: _Out, rs: list[_Series], cs: list[_Series], where: str, active: bool) -> bool:
    """Box plots, violins and reference lines: short unlabeled lines and free patches, judged as one group."""
    if not active or (not rs and not cs):
        return False
    r_lines = [x.item for x in rs if x.kind == "aux_line"]
    c_lines = [x.item for x in cs if x.kind == "aux_line"]
    r_sh = [p for x in rs if x.kind == "shapes" for p in x.item.get("patches", [])]
    c_sh = [p for x in cs if x.kind == "shapes" for p in x.item.get("patches", [])]
    if len(r_lines) != len(c_lines) or len(r_sh) != len(c_sh):
        out.add("data_error", 3, f"boxes{where}",
                f"The reference draws {len(r_sh) + len(r_lines)} box/shape elements{where} but the "
                f"candidate draws {len(c_sh) + len(c_lines)}: a distribution or shape is "
                f"{'missing' if len(c_lines) + len(c_sh) < len(r_lines) + len(r_sh) else 'extra'}.")
        return True
    changed = False
    geo = any(not _seq_close(a.get("x", []), b.get("x", [])) or not _seq_close(a.get("y", []), b.get("y", []))
              for a, b in zip(r_lines, c_lines)) or any(_shape_key(a) != _shape_key(b) for a, b in zip(r_sh, c_sh))
    if geo:
        changed = True
        out.add("data_error", 2, f"boxes{where}",
                f"The boxes, whiskers or shapes{where} have a different size or position in the candidate than in the reference.")
    sty = any(a.get(k) != b.get(k) for a, b in zip(r_lines, c_lines) for k in ("color", "linestyle", "linewidth")) or \
        any(a.get("facecolor") != b.get("facecolor") or a.get("edgecolor") != b.get("edgecolor") for a, b in zip(r_sh, c_sh))
    if sty:
        out.add("style_error", 1, f"boxes{where}",
                f"The colours or line styles of the boxes, whiskers or shapes{where} differ between the reference and the candidate.")
    return changed


def _cmp_series_data(out: _Out, pairs: list[tuple[_Series, _Series]], where: str, skip_fills: bool = False) -> bool:
    changed = False
    handled: set[int] = set()
    # series whose data were exchanged (lines before fills, so an area and its outline count once)
    swapped_kinds: set = set()
    pairs = sorted(pairs, key=lambda p: p[0].kind == "fill")
    for i, (ra, ca) in enumerate(pairs):
        if i in handled or _data_equal(ra, ca):
            continue
        for j in range(i + 1, len(pairs)):
            rb, cb = pairs[j]
            if j in handled or rb.kind != ra.kind:
                continue
            if _values_equal(ra, cb) and _values_equal(rb, ca) and not _values_equal(rb, cb):
                handled |= {i, j}
                changed = True
                swapped_kinds.add(ra.kind)
                if ra.kind == "fill" and "line" in swapped_kinds:
                    break  # the outline lines of these areas were swapped too: reported once
                na = _q(ra.label) if ra.label else f"{ordinal(ra.index + 1)} series"
                nb = _q(rb.label) if rb.label else f"{ordinal(rb.index + 1)} series"
                out.add("data_error", 3, f"series {na} and {nb}{where}",
                        f"The data of series {na} and {nb}{where} are swapped in the candidate.")
                break
    line_xs: set = set()
    fill_events: list[tuple[_Series, set]] = []
    for i, (r, c) in enumerate(pairs):
        if i in handled or _data_equal(r, c):
            continue
        if r.kind == "fill":
            fill_events.append((r, c))
            continue
        changed = True
        name = _series_name(r)
        if r.kind in ("shapes", "segments") or r.kind.startswith("collection:"):
            out.add("data_error", 2, f"{name}{where}",
                    f"The {name}{where} have a different size or position in the candidate than in the reference.")
            continue
        if r.kind == "aux_line":
            continue
        if r.kind == "pie":
            ra, ca = r.data, c.data
            if len(ra) != len(ca):
                out.add("data_error", 3, f"pie wedges{where}",
                        f"The pie{where} has {len(ra)} wedges in the reference but {len(ca)} in the candidate.")
            else:
                _cmp_pie(out, ra, ca, where)
            continue
        if r.kind in ("image", "mesh"):
            _cmp_grid_values(out, r, c, where)
            continue
        a, b = r.data, c.data
        xa, xb = (r.item.get("x", []), c.item.get("x", [])) if r.kind == "line" else (r.item.get("positions", []), c.item.get("positions", []))
        if r.kind == "scatter":
            a, b = [tuple(p) for p in a], [tuple(p) for p in b]
        n_a = r.item.get("n", len(a))
        n_b = c.item.get("n", len(b))
        if len(a) != len(b) or n_a != n_b:
            unit = {"bar": "bars", "barh": "bars", "scatter": "points", "line": "points"}.get(r.kind, "values")
            out.add("data_error", 3, f"{name}{where}",
                    f"The {name}{where} has {n_a} {unit} in the reference but {n_b} in the candidate.")
            continue
        idx = _value_changes(a, b)
        sa, sb = r.item.get("sizes") or [], c.item.get("sizes") or []
        if r.kind == "scatter" and not idx and len(set(sa)) > 1 and len(sa) == len(sb):
            idx = _value_changes(sa, sb)  # bubble charts encode data in the marker area
            a, b = sa, sb
        if r.kind in ("line", "bar", "barh") and xa and xb and len(xa) == len(xb):
            idx = sorted(set(idx) | set(_value_changes(xa, xb)))
        if not idx:
            continue
        if r.kind == "line":
            line_xs.update(xa[i] for i in idx if i < len(xa))
        unit = {"bar": "bar", "barh": "bar", "scatter": "point", "line": "point"}.get(r.kind, "value")
        _report_changes(out, a, b, idx, name, unit, where, r.kind)
    # filled areas: one discrepancy per changed x position not already explained by a line change
    if skip_fills and fill_events:  # a stacked layer is missing: the layers above moved with it
        fill_events = []
        changed = True
    for r, c in fill_events:
        xa, xb = r.item.get("_xs", []), c.item.get("_xs", [])
        a, b = r.data, c.data
        name = _series_name(r)
        if len(a) != len(b) or not _seq_close(xa, xb):
            changed = True
            out.add("data_error", 2, f"{name}{where}",
                    f"The {name}{where} covers a different range in the candidate than in the reference.")
            continue
        # the line drawn on top of an area shows the same change: count it once
        idx = [i for i in _value_changes(a, b) if not any(_close(xa[i], lx, 1e-3, 1e-6) for lx in line_xs)]
        if idx:
            changed = True
            _report_changes(out, a, b, idx, name, "point", where, "fill")
        elif line_xs:
            changed = True
    return changed or bool(handled)


def _cmp_errorbars(out: _Out, ra: list, ca: list, where: str) -> bool:
    """Error-bar sizes (segment lengths: a moved point moves its bar but keeps its length)."""
    changed = False
    if len(ra) != len(ca):  # a series was dropped: pair the rest by label
        labels = [e.get("label") for e in ca]
        pairs = [(a, ca[labels.index(a.get("label"))]) for a in ra if a.get("label") and a.get("label") in labels]
    else:
        pairs = list(zip(ra, ca))
    for k, (a, b) in enumerate(pairs):
        la = [_seg_len(s) for s in a.get("segments", [])]
        lb = [_seg_len(s) for s in b.get("segments", [])]
        if len(la) != len(lb):
            continue  # the number of points changed: reported with the series
        idx = _value_changes(la, lb)
        if not idx:
            continue
        changed = True
        name = f"error bars of series {_q(a['label'])}" if a.get("label") else "error bars"
        if _swapped(la, lb, idx):
            out.add("data_error", 2, f"{name}{where}",
                    f"Two {name}{where} have their sizes swapped in the candidate.")
        elif len(idx) > 3:
            out.add("data_error", 3, f"{name}{where}",
                    f"{len(idx)} of the {name}{where} have a different size in the candidate than in the reference.")
        else:
            for i in idx:
                sev = severity_for_change(la[i], lb[i]) if la[i] and lb[i] else 2
                out.add("data_error", sev, f"{ordinal(i + 1)} of the {name}{where}",
                        f"The {ordinal(i + 1)} of the {name}{where} spans {_fmt(la[i])} in the reference but "
                        f"{_fmt(lb[i])} in the candidate.")
    return changed


def _seg_len(seg: list) -> float | None:
    try:
        (x0, y0), (x1, y1) = seg
        return round(math.hypot(x1 - x0, y1 - y0), 6)
    except (TypeError, ValueError):
        return None


def _cmp_pie(out: _Out, ra: list, ca: list, where: str) -> None:
    """Wedge angles are shares of the total: one changed value rescales every wedge, so undo the common scale."""
    ratios = [c / r for r, c in zip(ra, ca) if r]
    scale = None
    for cand in ratios:
        if sum(1 for x in ratios if _close(x, cand, 1e-3)) >= 2:
            scale = cand
            break
    if scale:
        cb = [c / scale for c in ca]
        idx = _value_changes(ra, cb)
        if 0 < len(idx) <= 3:
            swaps, rest = _split_swaps(ra, cb, idx)
            for i, j in swaps:
                out.add("data_error", 2, f"pie wedges{where}",
                        f"The {ordinal(i + 1)} and {ordinal(j + 1)} wedges of the pie{where} are swapped "
                        f"({ra[i] / 3.6:.1f}% and {ra[j] / 3.6:.1f}% in the reference).")
            for i in rest:
                out.add("data_error", severity_for_change(ra[i], cb[i]), f"{ordinal(i + 1)} wedge of the pie{where}",
                        f"The {ordinal(i + 1)} wedge of the pie{where} spans {ra[i] / 3.6:.1f}% in the reference but "
                        f"{ca[i] / 3.6:.1f}% in the candidate.")
            return
    idx = _value_changes(ra, ca)
    k = max(idx, key=lambda i: abs(ca[i] - ra[i]) / (abs(ra[i]) or 1)) if idx else 0
    out.add("data_error", severity_for_change(ra[k], ca[k]) if idx else 2, f"pie wedges{where}",
            f"The pie wedge proportions{where} differ: the {ordinal(k + 1)} wedge spans "
            f"{ra[k] / 3.6:.1f}% in the reference but {ca[k] / 3.6:.1f}% in the candidate.")


def _split_swaps(a: list, b: list, idx: list[int]) -> tuple[list[tuple[int, int]], list[int]]:
    pairs, used = [], set()
    for x in idx:
        if x in used:
            continue
        for y in idx:
            if y != x and y not in used and _swapped(a, b, [x, y]):
                pairs.append((x, y))
                used |= {x, y}
                break
    return pairs, [i for i in idx if i not in used]


def _report_changes(out: _Out, a: list, b: list, idx: list[int], name: str, unit: str, where: str, kind: str) -> None:
    """One discrepancy per changed value; a swapped pair, a moved histogram sample or a wholesale change count once."""
    swaps, rest = _split_swaps(a, b, idx)
    for i, j in swaps:
        out.add("data_error", 2, f"{name}{where}",
                f"The {ordinal(i + 1)} and {ordinal(j + 1)} {unit}s of the {name}{where} are swapped "
                f"({_fmt_v(a[i])} and {_fmt_v(a[j])} in the reference).")
    if not rest:
        return
    numeric = all(isinstance(v, (int, float)) for v in a + b)
    if len(rest) == 2 and kind in ("bar", "barh") and numeric and _close(sum(a), sum(b)):
        i, j = rest
        out.add("data_error", 2, f"{name}{where}",
                f"The {ordinal(i + 1)} and {ordinal(j + 1)} {unit}s of the {name}{where} differ ({_fmt(a[i])} and "
                f"{_fmt(a[j])} in the reference, {_fmt(b[i])} and {_fmt(b[j])} in the candidate).")
    elif len(rest) > 3:
        out.add("data_error", 3, f"{name}{where}",
                f"{len(rest)} of the {len(a)} {unit}s of the {name}{where} differ from the reference "
                f"(e.g. the {ordinal(rest[0] + 1)} is {_fmt_v(a[rest[0]])} vs {_fmt_v(b[rest[0]])}).")
    else:
        for i in rest:
            sev = severity_for_change(a[i], b[i]) if isinstance(a[i], (int, float)) and isinstance(b[i], (int, float)) else 2
            out.add("data_error", sev, f"{ordinal(i + 1)} {unit} of the {name}{where}",
                    f"The {ordinal(i + 1)} {unit} of the {name}{where} is {_fmt_v(a[i])} in the reference but "
                    f"{_fmt_v(b[i])} in the candidate.")


def _fmt_v(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return _fmt(v)


def _cmp_grid_values(out: _Out, r: _Series, c: _Series, where: str) -> None:
    name = "heatmap" if r.kind == "image" else "colour mesh"
    a, b = r.data, c.data
    if r.kind == "image" and r.item.get("shape") != c.item.get("shape"):
        out.add("data_error", 3, f"{name}{where}",
                f"The {name}{where} has shape {r.item.get('shape')} in the reference but {c.item.get('shape')} in the candidate.")
        return
    if not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b):
        out.add("data_error", 3, f"{name}{where}", f"The {name}{where} shows different values in the candidate.")
        return
    cells = []
    if a and isinstance(a[0], list):
        for i, (ra, rb) in enumerate(zip(a, b)):
            for j in _value_changes(ra, rb):
                cells.append((i, j, ra[j], rb[j]))
    else:
        cells = [(None, j, a[j], b[j]) for j in _value_changes(a, b)]
    if not cells:
        return
    swaps, rest = _split_swaps([c[2] for c in cells], [c[3] for c in cells], list(range(len(cells))))
    for p, q in swaps:
        (i1, j1, x1, _), (i2, j2, x2, _) = cells[p], cells[q]
        out.add("data_error", 2, f"{name}{where}",
                f"The cells (row {(i1 or 0) + 1}, column {j1 + 1}) and (row {(i2 or 0) + 1}, column {j2 + 1}) of the "
                f"{name}{where} are swapped ({_fmt(x1)} and {_fmt(x2)} in the reference).")
    cells = [cells[k] for k in rest]
    if not cells:
        return
    if len(cells) > 3:
        out.add("data_error", 3, f"{name}{where}",
                f"{len(cells)} cells of the {name}{where} differ from the reference.")
        return
    for i, j, x, y in cells:
        cell = f"cell (row {i + 1}, column {j + 1})" if i is not None else f"{ordinal(j + 1)} cell"
        sev = severity_for_change(x, y) if x is not None and y is not None else 2
        out.add("data_error", sev, f"{cell} of the {name}{where}",
                f"The {cell} of the {name}{where} is {_fmt(x)} in the reference but {_fmt(y)} in the candidate.")


# ---- style comparison -----------------------------------------------------------------------------------------


def _cmp_series_style(out: _Out, pairs: list[tuple[_Series, _Series]], where: str) -> None:
    aux_diff = False
    for r, c in pairs:
        name = _series_name(r)
        a, b = r.item, c.item
        if r.kind == "aux_line":
            if any(a.get(k) != b.get(k) for k in ("color", "linestyle", "linewidth")):
                aux_diff = True
            continue
        if r.kind in ("bar", "barh"):
            if a.get("colors") != b.get("colors"):
                k = next((i for i, (x, y) in enumerate(zip(a.get("colors", []), b.get("colors", []))) if x != y), 0)
                ca, cb = (a.get("colors") or [None])[min(k, len(a.get("colors") or [None]) - 1)], \
                         (b.get("colors") or [None])[min(k, len(b.get("colors") or [None]) - 1)]
                out.add("style_error", 1, f"colour of the {name}{where}",
                        f"The {name}{where} are filled with {ca} in the reference but {cb} in the candidate"
                        + (f" (from the {ordinal(k + 1)} bar)." if len(set(a.get('colors', []))) > 1 else "."))
            if a.get("edgecolors") != b.get("edgecolors"):
                out.add("style_error", 1, f"edge colour of the {name}{where}",
                        f"The edges of the {name}{where} differ in colour between the reference and the candidate.")
            elif a.get("linewidth") != b.get("linewidth") and (a.get("edgecolors") or ["none"])[0] != "none":
                out.add("style_error", 1, f"edge width of the {name}{where}",
                        f"The edge width of the {name}{where} is {_fmt(a.get('linewidth'))} in the reference but "
                        f"{_fmt(b.get('linewidth'))} in the candidate.")
            if a.get("hatch") != b.get("hatch"):
                out.add("style_error", 1, f"hatch of the {name}{where}",
                        f"The {name}{where} use hatch {_q(a.get('hatch'))} in the reference but {_q(b.get('hatch'))} in the candidate.")
        elif r.kind == "line":
            if a.get("color") != b.get("color"):
                out.add("style_error", 1, f"colour of the {name}{where}",
                        f"The {name}{where} is {a.get('color')} in the reference but {b.get('color')} in the candidate.")
            if a.get("linestyle") != b.get("linestyle"):
                out.add("style_error", 1, f"line style of the {name}{where}",
                        f"The {name}{where} is drawn with linestyle {_q(a.get('linestyle'))} in the reference but "
                        f"{_q(b.get('linestyle'))} in the candidate.")
            if a.get("marker") != b.get("marker"):
                out.add("style_error", 1, f"markers of the {name}{where}",
                        f"The {name}{where} uses marker {_q(a.get('marker') or 'none')} in the reference but "
                        f"{_q(b.get('marker') or 'none')} in the candidate.")
            if not _close(a.get("linewidth"), b.get("linewidth"), 0.01) and a.get("linestyle") not in ("None", "none", ""):
                out.add("style_error", 1, f"line width of the {name}{where}",
                        f"The {name}{where} is {_fmt(a.get('linewidth'))} pt wide in the reference but "
                        f"{_fmt(b.get('linewidth'))} pt in the candidate.")
            elif a.get("marker") == b.get("marker") and a.get("marker") and not _close(a.get("markersize"), b.get("markersize"), 0.01):
                out.add("style_error", 1, f"marker size of the {name}{where}",
                        f"The markers of the {name}{where} are size {_fmt(a.get('markersize'))} in the reference but "
                        f"{_fmt(b.get('markersize'))} in the candidate.")
        elif r.kind in ("scatter", "fill", "segments", "mesh") or r.kind.startswith("collection:"):
            if a.get("facecolors") != b.get("facecolors") and not (a.get("cmap") and a.get("cmap") != b.get("cmap")):
                out.add("style_error", 1, f"colour of the {name}{where}",
                        f"The {name}{where} are {_colors_phrase(a.get('facecolors'))} in the reference but "
                        f"{_colors_phrase(b.get('facecolors'))} in the candidate.")
            elif a.get("edgecolors") != b.get("edgecolors") and r.kind != "fill" and a.get("marker") == b.get("marker"):
                out.add("style_error", 1, f"edge colour of the {name}{where}",
                        f"The edges of the {name}{where} are {_colors_phrase(a.get('edgecolors'))} in the reference but "
                        f"{_colors_phrase(b.get('edgecolors'))} in the candidate.")
            if a.get("cmap") != b.get("cmap"):
                out.add("style_error", 1, f"colormap of the {name}{where}",
                        f"The {name}{where} uses the colormap {a.get('cmap')} in the reference but {b.get('cmap')} in the candidate.")
            if r.kind == "scatter":
                if a.get("marker") != b.get("marker"):
                    out.add("style_error", 1, f"markers of the {name}{where}",
                            f"The {name}{where} use a different marker shape in the candidate than in the reference.")
                elif a.get("sizes") != b.get("sizes") and len(set(a.get("sizes") or [])) <= 1:
                    out.add("style_error", 1, f"marker size of the {name}{where}",
                            f"The {name}{where} are drawn larger or smaller in the candidate than in the reference.")
                elif not _close(a.get("linewidth"), b.get("linewidth"), 0.01) and \
                        (b.get("edgecolors") or []) not in ([], ["none"]):
                    out.add("style_error", 1, f"marker edge width of the {name}{where}",
                            f"The marker edges of the {name}{where} are {_fmt(a.get('linewidth'))} pt in the reference "
                            f"but {_fmt(b.get('linewidth'))} pt in the candidate.")
            elif r.kind == "segments" and (a.get("linestyle") != b.get("linestyle")):
                out.add("style_error", 1, f"line style of the {name}{where}",
                        f"The {name}{where} use a different line style in the candidate than in the reference.")
            elif r.kind == "segments" and not _close(a.get("linewidth"), b.get("linewidth"), 0.01):
                out.add("style_error", 1, f"line width of the {name}{where}",
                        f"The {name}{where} are {_fmt(a.get('linewidth'))} pt wide in the reference but "
                        f"{_fmt(b.get('linewidth'))} pt in the candidate.")
            if r.kind == "fill" and not _close(a.get("linewidth"), b.get("linewidth"), 0.01) and \
                    (a.get("edgecolors") or []) not in ([], ["none"]):
                out.add("style_error", 1, f"edge width of the {name}{where}",
                        f"The outline of the {name}{where} is {_fmt(a.get('linewidth'))} pt in the reference but "
                        f"{_fmt(b.get('linewidth'))} pt in the candidate.")
        elif r.kind == "image":
            if a.get("cmap") != b.get("cmap"):
                out.add("style_error", 1, f"colormap of the heatmap{where}",
                        f"The heatmap{where} uses the colormap {a.get('cmap')} in the reference but {b.get('cmap')} in the candidate.")
        elif r.kind == "pie":
            wa = [w.get("facecolor") for w in a.get("wedges", [])]
            wb = [w.get("facecolor") for w in b.get("wedges", [])]
            ea = [(w.get("edgecolor"), w.get("linewidth")) for w in a.get("wedges", [])]
            eb = [(w.get("edgecolor"), w.get("linewidth")) for w in b.get("wedges", [])]
            if wa == wb and ea != eb and len(ea) == len(eb):
                out.add("style_error", 1, f"wedge outlines of the pie{where}",
                        f"The wedges of the pie{where} are outlined differently in the candidate than in the reference.")
            if wa != wb:
                k = next((i for i, (x, y) in enumerate(zip(wa, wb)) if x != y), 0)
                out.add("style_error", 1, f"wedge colours of the pie{where}",
                        f"The {ordinal(k + 1)} wedge of the pie{where} is {wa[k] if k < len(wa) else '?'} in the "
                        f"reference but {wb[k] if k < len(wb) else '?'} in the candidate.")
        elif r.kind == "shapes":
            fa = Counter(p.get("facecolor") for p in a.get("patches", []))
            fb = Counter(p.get("facecolor") for p in b.get("patches", []))
            if fa != fb:
                out.add("style_error", 1, f"shape colours{where}",
                        f"The fill colours of the shapes (boxes, polygons){where} differ between the reference and the candidate.")
    if aux_diff:
        out.add("style_error", 1, f"reference lines{where}",
                f"The colour, style or width of the short line elements (whiskers, caps, reference lines){where} differ.")


def _colors_phrase(cols: list | None) -> str:
    if not cols:
        return "uncoloured"
    if len(cols) == 1:
        return cols[0]
    return "coloured " + ", ".join(cols[:3]) + ("…" if len(cols) > 3 else "")


# ----------------------------------------------------------------------------------------------------------------
# rendering both programs, and the evaluation against operator gold labels
# ----------------------------------------------------------------------------------------------------------------


def critique_programs(ref_program: str, cand_program: str, pool: Any) -> Critique:
    """Render both programs with ``inspect=True`` through ``pool`` and critique the figures.

    Raises ``RuntimeError`` when either program does not render (the caller decides what a failure scores).
    """
    from visual_erm.render.api import RenderJob, RenderOptions

    opts = RenderOptions(inspect=True)
    ref, cand = pool.render([RenderJob("reference", "chart", ref_program, opts),
                             RenderJob("candidate", "chart", cand_program, opts)])
    for r in (ref, cand):
        if not r.ok or r.figure is None:
            raise RuntimeError(f"the {r.id} program did not render: {r.status.value} {r.message}".strip())
    return critique(ref.figure, cand.figure)


#: Seeds used in development and unit tests lie below this; the evaluation draws held-out seeds above it.
HELD_OUT_SEED_BASE = 10_000_000


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def evaluate_chart_critic(n: int = 100, seed: int = 0, pool: Any = None, *, max_edits: int = 3,
                          identity_share: float = 0.1, return_items: bool = False) -> dict:
    """Score the structural critic against operator gold labels on ``n`` held-out generated charts.

    Each item is a generated program (seed ``HELD_OUT_SEED_BASE + seed * 100_003 + i``, never used in development)
    with 1–``max_edits`` composed operator edits, each kept only if it changes the rendered PNG; about
    ``identity_share`` of the items are unedited (all their predictions are false positives). Predictions are matched
    to gold one-to-one by category. Returns micro precision/recall/F1 overall and per category, recall per operator
    (on items where that operator applied), and counts of items skipped because the reference did not render.

    Args:
        n: Number of (reference, candidate) items.
        seed: Evaluation seed; the same seed gives the same items.
        pool: A render pool with ``render(jobs)`` (``visual_erm.render.pool.RenderPool``); one is started if None.
        max_edits: Most operator edits composed into one candidate.
        identity_share: Share of unedited candidates.
        return_items: Also return every item's gold and predicted critiques.
    """
    if pool is None:
        from visual_erm.render.pool import RenderPool

        with RenderPool() as own:
            return evaluate_chart_critic(n, seed, own, max_edits=max_edits, identity_share=identity_share,
                                         return_items=return_items)
    from visual_erm.render.api import RenderJob, RenderOptions
    from visual_erm.tasks.chart import OPERATORS, generate_seed

    opts = RenderOptions(inspect=True)
    rng = random.Random(f"chart-critic-eval-{seed}")
    items = []
    for i in range(n):
        sp = generate_seed(HELD_OUT_SEED_BASE + seed * 100_003 + i)
        k = 0 if rng.random() < identity_share else rng.randint(1, max_edits)
        items.append({"seed_id": sp.seed_id, "kind": sp.kind, "ref": sp.program, "cur": sp.program, "want": k,
                      "gold": [], "ops": [], "rng": random.Random(f"{seed}-{i}")})
    results = pool.render([RenderJob(f"ref-{i}", "chart", it["ref"], opts) for i, it in enumerate(items)])
    skipped = 0
    for it, r in zip(items, results):
        it["ref_fig"] = r.figure if r.ok else None
        it["cur_png"] = r.png if r.ok else None
        it["cur_fig"] = it["ref_fig"]
        if not r.ok:
            skipped += 1
    for round_ in range(max_edits):
        jobs, pending = [], []
        for i, it in enumerate(items):
            if it["ref_fig"] is None or len(it["gold"]) >= it["want"]:
                continue
            ops = list(OPERATORS)
            it["rng"].shuffle(ops)
            edit = None
            for op in ops:
                if op.name in it["ops"]:
                    continue
                try:
                    edit = op.apply(it["cur"], it["rng"])
                except Exception:  # an operator bug must not stop the evaluation; it is counted below
                    edit = None
                if edit is not None:
                    break
            if edit is None:
                it["want"] = len(it["gold"])
                continue
            jobs.append(RenderJob(f"edit-{i}-{round_}", "chart", edit.program, opts))
            pending.append((it, edit))
        if not jobs:
            break
        for (it, edit), r in zip(pending, pool.render(jobs)):
            if r.ok and r.png != it["cur_png"] and r.figure is not None:
                it["cur"], it["cur_png"], it["cur_fig"] = edit.program, r.png, r.figure
                it["gold"].append(edit.discrepancy)
                it["ops"].append(edit.operator)
            else:
                it["ops"].append(edit.operator)  # tried; do not retry this operator on this item
                it["ops"].append("__invisible__")
    cats = CATEGORIES["chart"]
    totals = {c: [0, 0, 0] for c in cats}
    per_op: dict[str, list[int]] = {}
    out_items = []
    n_scored = 0
    for it in items:
        if it["ref_fig"] is None:
            continue
        n_scored += 1
        pred = critique(it["ref_fig"], it["cur_fig"])
        g = Counter(e.category for e in it["gold"])
        p = Counter(e.category for e in pred.errors)
        for c in cats:
            totals[c][0] += min(g[c], p[c])
            totals[c][1] += max(p[c] - g[c], 0)
            totals[c][2] += max(g[c] - p[c], 0)
        kept = _kept(it)
        if len(kept) == 1:  # per-operator recall on single-edit items, where attribution is unambiguous
            rec = per_op.setdefault(kept[0], [0, 0])
            rec[1] += 1
            rec[0] += int(p[it["gold"][0].category] >= 1)
        if return_items:
            out_items.append({"seed_id": it["seed_id"], "kind": it["kind"], "operators": _kept(it),
                              "gold": [e.to_json_dict() for e in it["gold"]], "pred": pred.to_json_dict()})
    tp = sum(v[0] for v in totals.values())
    fp = sum(v[1] for v in totals.values())
    fn = sum(v[2] for v in totals.values())
    report = {
        "n": n, "seed": seed, "scored": n_scored, "skipped_unrendered": skipped,
        "overall": _prf(tp, fp, fn),
        "per_category": {c: _prf(*totals[c]) for c in cats},
        "per_operator_recall": {k: round(v[0] / v[1], 4) for k, v in sorted(per_op.items())},
        "gold_errors": sum(len(it["gold"]) for it in items),
    }
    if return_items:
        report["items"] = out_items
    return report


def _kept(it: dict) -> list[str]:
    """Operators whose edit was kept, in order (an invisible edit is followed by an ``__invisible__`` marker)."""
    ops = it["ops"]
    kept = []
    for k, o in enumerate(ops):
        if o == "__invisible__":
            continue
        if k + 1 < len(ops) and ops[k + 1] == "__invisible__":
            continue
        kept.append(o)
    return kept
