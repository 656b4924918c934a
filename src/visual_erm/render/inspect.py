"""Describe what a matplotlib figure shows, as a JSON-safe dict (the chart critic's view of a render).

:func:`describe_figure` is called by :func:`visual_erm.render.execute.exec_chart` (``inspect=True``) at save time,
inside the render worker. It reads only what is drawn — axes, texts, artists, colours — never the program, so the
structural critic (:mod:`visual_erm.critics.chart_structural`) judges what is visible. It never raises: any part
that cannot be read is recorded as ``None`` (or skipped) and the rest is still described. Sizes are capped so a
hostile figure cannot blow up the result: at most :data:`MAX_POINTS` points per line or collection (evenly sampled),
:data:`MAX_PATCHES` patches, :data:`MAX_TEXTS` texts and :data:`MAX_AXES` axes.

Shape (abridged)::

    {"figsize": [w, h], "facecolor": "#ffffff", "suptitle": str | None, "texts": [...], "legends": [...],
     "axes": [{"index", "position", "grid_spec", "is_colorbar", "twin_of", "projection", "visible",
               "title", "title_left", "title_right", "xlabel", "ylabel", "xlim", "ylim", "xscale", "yscale",
               "xlim_auto", "ylim_auto", "xticklabels", "yticklabels", "xticks_fixed", "yticks_fixed",
               "grid": {"x", "y"}, "facecolor", "legend": {...} | None,
               "bars": [{"label", "orientation", "values", "positions", "colors", "edgecolors", "n"}],
               "patches": [...], "wedges": [...], "lines": [...], "collections": [...], "images": [...],
               "texts": [...]}]}
"""

from __future__ import annotations

import math
from typing import Any

MAX_POINTS = 200
MAX_PATCHES = 500
MAX_TEXTS = 200
MAX_AXES = 64
MAX_IMAGE_SIDE = 24


def _num(value: Any, digits: int = 6) -> float | None:
    """A finite float rounded to ``digits`` significant digits, else None (NaN, inf, masked, non-numeric)."""
    try:
        v = float(value)
    except Exception:
        return None
    if not math.isfinite(v):
        return None
    if v == 0:
        return 0.0
    return float(f"{v:.{digits}g}")


def _color(value: Any) -> str | None:
    """A colour as ``#rrggbb`` (``#rrggbbaa`` when translucent); None when absent or unreadable."""
    try:
        from matplotlib.colors import to_hex, to_rgba

        rgba = to_rgba(value)
        if rgba[3] == 0:
            return "none"
        return to_hex(rgba, keep_alpha=rgba[3] < 1)
    except Exception:
        return None


def _colors(values: Any, cap: int = MAX_POINTS) -> list[str | None]:
    try:
        import numpy as np

        arr = np.asarray(values)
        if arr.ndim == 1 and arr.size in (3, 4) and arr.dtype.kind == "f":
            return [_color(arr)]
        out = [_color(v) for v in list(values)[:cap]]
        return out
    except Exception:
        return []


def _sample_indices(n: int, cap: int = MAX_POINTS) -> list[int]:
    if n <= cap:
        return list(range(n))
    step = (n - 1) / (cap - 1)
    return sorted({int(round(i * step)) for i in range(cap)})


def _nums(values: Any, cap: int = MAX_POINTS) -> list[float | None]:
    try:
        import numpy as np

        arr = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan).ravel()
    except Exception:
        try:
            # Dates, categories: matplotlib converts them to floats on the axes already; give up on the rest.
            return [None] * min(len(values), cap)
        except Exception:
            return []
    return [_num(arr[i]) for i in _sample_indices(len(arr), cap)]


def _text(t: Any) -> str:
    try:
        return str(t.get_text())
    except Exception:
        return ""


def _safe(fn, default=None):
    try:
        return fn()
    except Exception:
        return default


def _text_item(t: Any) -> dict | None:
    s = _text(t)
    if not s.strip() or not _safe(lambda: t.get_visible(), True):
        return None
    pos = _safe(lambda: t.get_position(), (None, None))
    return {
        "text": s,
        "x": _num(pos[0], 4) if pos is not None else None,
        "y": _num(pos[1], 4) if pos is not None else None,
        "color": _color(_safe(lambda: t.get_color())),
        "fontsize": _num(_safe(lambda: t.get_fontsize()), 3),
        "kind": "annotation" if type(t).__name__ == "Annotation" else "text",
    }


def _legend(leg: Any) -> dict | None:
    if leg is None:
        return None
    texts = [_text(t) for t in _safe(lambda: leg.get_texts(), [])][:MAX_TEXTS]
    loc = _safe(lambda: leg._loc)
    loc_names = {0: "best", 1: "upper right", 2: "upper left", 3: "lower left", 4: "lower right", 5: "right",
                 6: "center left", 7: "center right", 8: "lower center", 9: "upper center", 10: "center"}
    if isinstance(loc, int):
        loc = loc_names.get(loc, str(loc))
    elif loc is not None and not isinstance(loc, str):
        loc = [_num(v, 4) for v in loc] if hasattr(loc, "__len__") else str(loc)
    bbox = _safe(lambda: leg.get_bbox_to_anchor())
    anchor = None
    if bbox is not None:
        anchor = _safe(lambda: [_num(v, 4) for v in bbox.transformed(leg.parent.transAxes.inverted()).bounds]
                       if hasattr(leg.parent, "transAxes") else None)
    title = _safe(lambda: _text(leg.get_title()), "")
    return {
        "texts": texts,
        "title": title or None,
        "loc": loc,
        "anchor": anchor,
        "visible": bool(_safe(lambda: leg.get_visible(), True)),
        "ncols": _safe(lambda: int(leg._ncols), None),
    }


def _grid_on(axis: Any) -> bool:
    try:
        lines = axis.get_gridlines()
        return any(line.get_visible() for line in lines)
    except Exception:
        return False


def _is_fixed_formatter(axis: Any) -> bool:
    try:
        from matplotlib.category import StrCategoryFormatter
        from matplotlib.ticker import FixedFormatter, FuncFormatter, StrMethodFormatter, FormatStrFormatter, PercentFormatter

        fmt = axis.get_major_formatter()
        return isinstance(fmt, (FixedFormatter, StrCategoryFormatter, FuncFormatter, StrMethodFormatter,
                                FormatStrFormatter, PercentFormatter))
    except Exception:
        return False


def _tick_labels(axis: Any) -> list[str]:
    try:
        locs = axis.get_majorticklocs()
        lo, hi = sorted(axis.get_view_interval())
        span = (hi - lo) or 1.0
        labels = axis.get_majorticklabels()
        out = []
        for loc, lab in zip(locs, labels):
            if lo - 1e-9 * span <= loc <= hi + 1e-9 * span and lab.get_visible():
                s = lab.get_text()
                if s.strip():
                    out.append(s)
        return out[:MAX_TEXTS]
    except Exception:
        return []


def _bar_containers(ax: Any) -> tuple[list[dict], set[int]]:
    """Bar series (one per BarContainer) and the ids of the patches they own."""
    from matplotlib.container import BarContainer

    bars, owned = [], set()
    for c in _safe(lambda: list(ax.containers), []):
        if not isinstance(c, BarContainer):
            continue
        patches = list(c.patches)[:MAX_PATCHES]
        owned.update(id(p) for p in c.patches)
        orientation = getattr(c, "orientation", None)
        if orientation not in ("vertical", "horizontal"):
            orientation = _guess_orientation(patches)
        values, positions, bases = [], [], []
        for p in patches:
            x, y, w, h = (_safe(lambda: p.get_x(), 0), _safe(lambda: p.get_y(), 0), _safe(lambda: p.get_width(), 0), _safe(lambda: p.get_height(), 0))
            if orientation == "horizontal":
                values.append(_num(w, 5))
                positions.append(_num(y + h / 2, 5))
                bases.append(_num(x, 5))
            else:
                values.append(_num(h, 5))
                positions.append(_num(x + w / 2, 5))
                bases.append(_num(y, 5))
        label = _safe(lambda: c.get_label(), None)
        bars.append({
            "label": label if label and not str(label).startswith("_") else None,
            "orientation": orientation,
            "n": len(c.patches),
            "values": values,
            "positions": positions,
            "bases": bases,
            "colors": [_color(_safe(lambda: p.get_facecolor())) for p in patches],
            "edgecolors": [_color(_safe(lambda: p.get_edgecolor())) for p in patches],
            "hatch": _safe(lambda: patches[0].get_hatch(), None) if patches else None,
            "linewidth": _num(_safe(lambda: patches[0].get_linewidth()), 3) if patches else None,
            "visible": any(_safe(lambda: p.get_visible(), True) for p in patches),
        })
    return bars, owned


def _guess_orientation(patches: list) -> str:
    try:
        ys = {round(p.get_y(), 6) for p in patches}
        xs = {round(p.get_x(), 6) for p in patches}
        return "horizontal" if len(xs) == 1 and len(ys) > 1 else "vertical"
    except Exception:
        return "vertical"


def _patch_item(p: Any) -> dict:
    kind = type(p).__name__
    item: dict = {
        "kind": kind,
        "facecolor": _color(_safe(lambda: p.get_facecolor())),
        "edgecolor": _color(_safe(lambda: p.get_edgecolor())),
        "label": None,
    }
    label = _safe(lambda: p.get_label(), None)
    if label and not str(label).startswith("_"):
        item["label"] = str(label)
    if kind == "Rectangle":
        item.update(x=_num(_safe(lambda: p.get_x()), 5), y=_num(_safe(lambda: p.get_y()), 5),
                    width=_num(_safe(lambda: p.get_width()), 5), height=_num(_safe(lambda: p.get_height()), 5))
    else:
        ext = _safe(lambda: p.get_path().get_extents(p.get_patch_transform() if kind != "Polygon" else None))
        if ext is not None:
            item["extent"] = [_num(v, 4) for v in ext.bounds]
    return item


def _wedge_item(w: Any) -> dict:
    return {
        "theta1": _num(_safe(lambda: w.theta1), 5),
        "theta2": _num(_safe(lambda: w.theta2), 5),
        "r": _num(_safe(lambda: w.r), 4),
        "width": _num(_safe(lambda: w.width), 4),
        "center": [_num(v, 4) for v in _safe(lambda: w.center, (0, 0))],
        "facecolor": _color(_safe(lambda: w.get_facecolor())),
        "edgecolor": _color(_safe(lambda: w.get_edgecolor())),
        "label": _safe(lambda: w.get_label(), None),
    }


def _line_item(line: Any, role: str = "series") -> dict:
    xs = _safe(lambda: line.get_xdata(), [])
    ys = _safe(lambda: line.get_ydata(), [])
    marker = _safe(lambda: line.get_marker(), None)
    label = _safe(lambda: line.get_label(), None)
    try:
        n = len(ys)
    except Exception:
        n = 0
    return {
        "label": label if label and not str(label).startswith("_") else None,
        "role": role,
        "n": n,
        "x": _nums(xs),
        "y": _nums(ys),
        "color": _color(_safe(lambda: line.get_color())),
        "linestyle": str(_safe(lambda: line.get_linestyle(), "-")),
        "linewidth": _num(_safe(lambda: line.get_linewidth()), 3),
        "marker": None if marker in (None, "None", "none", "", " ") else str(marker),
        "markersize": _num(_safe(lambda: line.get_markersize()), 3),
        "markerfacecolor": _color(_safe(lambda: line.get_markerfacecolor())),
        "alpha": _num(_safe(lambda: line.get_alpha()), 3),
        "drawstyle": str(_safe(lambda: line.get_drawstyle(), "default")),
        "visible": bool(_safe(lambda: line.get_visible(), True)),
        "z": _nums(_safe(lambda: line.get_data_3d()[2], [])) if hasattr(line, "get_data_3d") else None,
    }


def _collection_item(c: Any) -> dict:
    kind = type(c).__name__
    offsets = _safe(lambda: c.get_offsets(), None)
    item: dict = {"kind": kind, "label": None}
    label = _safe(lambda: c.get_label(), None)
    if label and not str(label).startswith("_"):
        item["label"] = str(label)
    try:
        import numpy as np

        off = np.ma.filled(np.ma.asarray(offsets, dtype=float), np.nan) if offsets is not None else np.zeros((0, 2))
        if off.ndim != 2:
            off = off.reshape(-1, 2)
    except Exception:
        off = None
    n_paths = len(_safe(lambda: c.get_paths(), []) or [])
    item["n_paths"] = n_paths
    if off is not None and len(off) and not (len(off) == 1 and n_paths > 1):
        idx = _sample_indices(len(off))
        item["n"] = int(len(off))
        item["offsets"] = [[_num(off[i, 0], 5), _num(off[i, 1], 5)] for i in idx]
    else:
        item["n"] = n_paths
        item["offsets"] = []
    fc = _safe(lambda: c.get_facecolor(), [])
    ec = _safe(lambda: c.get_edgecolor(), [])
    item["facecolors"] = _unique_colors(fc)
    item["edgecolors"] = _unique_colors(ec)
    arr = _safe(lambda: c.get_array(), None)
    cmap = _safe(lambda: c.get_cmap().name, None) if arr is not None else None
    item["cmap"] = cmap
    if arr is not None:
        item["array"] = _nums(arr, MAX_IMAGE_SIDE * MAX_IMAGE_SIDE)
        item["clim"] = [_num(v, 4) for v in _safe(lambda: c.get_clim(), (None, None))]
    sizes = _safe(lambda: c.get_sizes(), [])
    item["sizes"] = _nums(sizes, 20) if sizes is not None and len(sizes) else []
    lw = _safe(lambda: c.get_linewidths(), [])
    item["linewidth"] = _num(lw[0], 3) if lw is not None and len(lw) else None
    ls = _safe(lambda: c.get_linestyles(), None)
    item["linestyle"] = _dash_name(ls[0]) if ls else None
    item["alpha"] = _num(_safe(lambda: c.get_alpha()), 3)
    item["hatch"] = _safe(lambda: c.get_hatch(), None)
    if kind in ("PolyCollection", "FillBetweenPolyCollection"):
        item["extent"] = _collection_extent(c)
        item["kind"] = "PolyCollection"
        item["outline"] = _poly_outline(c)
    if kind == "PathCollection":
        item["marker"] = _path_signature(c)
    return item


def _path_signature(c: Any) -> str | None:
    """A short fingerprint of a scatter's marker shape (its first path's vertices and codes)."""
    try:
        p = c.get_paths()[0]
        v = p.vertices[:40]
        codes = list(p.codes[:40]) if p.codes is not None else []
        return f"{len(p.vertices)}:" + ",".join(f"{x:.2f}/{y:.2f}" for x, y in v) + ":" + ",".join(map(str, codes))
    except Exception:
        return None


def _dash_name(ls: Any) -> str | None:
    try:
        offset, dashes = ls
        if dashes is None:
            return "-"
        return "dashed:" + ",".join(f"{d:.3g}" for d in dashes)
    except Exception:
        return str(ls)


def _unique_colors(values: Any, cap: int = 20) -> list[str]:
    out: list[str] = []
    try:
        for v in values:
            c = _color(v)
            if c is not None and c not in out:
                out.append(c)
                if len(out) >= cap:
                    break
    except Exception:
        pass
    return out


def _collection_extent(c: Any) -> list | None:
    try:
        ext = None
        for p in c.get_paths()[:MAX_PATCHES]:
            e = p.get_extents()
            ext = e if ext is None else type(e).union([ext, e])
        return [_num(v, 4) for v in ext.bounds] if ext is not None else None
    except Exception:
        return None


def _poly_outline(c: Any) -> list:
    """The first polygon's vertices (sampled): a fill's shape follows the data it was drawn from."""
    try:
        paths = c.get_paths()
        if not paths:
            return []
        v = paths[0].vertices
        idx = _sample_indices(len(v), MAX_POINTS)
        return [[_num(v[i, 0], 4), _num(v[i, 1], 4)] for i in idx]
    except Exception:
        return []


def _image_item(im: Any) -> dict:
    item: dict = {"kind": type(im).__name__}
    try:
        import numpy as np

        arr = np.ma.filled(np.ma.asarray(im.get_array(), dtype=float), np.nan)
        item["shape"] = list(arr.shape)
        if arr.ndim == 2:
            rs = _sample_indices(arr.shape[0], MAX_IMAGE_SIDE)
            cs = _sample_indices(arr.shape[1], MAX_IMAGE_SIDE)
            item["values"] = [[_num(arr[r, c], 5) for c in cs] for r in rs]
        else:
            item["values"] = None
            item["mean"] = _num(np.nanmean(arr), 5)
    except Exception:
        item["shape"] = None
        item["values"] = None
    item["cmap"] = _safe(lambda: im.get_cmap().name, None)
    item["clim"] = [_num(v, 4) for v in _safe(lambda: im.get_clim(), (None, None))]
    item["extent"] = [_num(v, 4) for v in _safe(lambda: im.get_extent(), [])]
    item["interpolation"] = _safe(lambda: im.get_interpolation(), None)
    item["alpha"] = _num(_safe(lambda: im.get_alpha()), 3)
    return item


def _subplot_grid(ax: Any) -> dict | None:
    try:
        ss = ax.get_subplotspec()
        if ss is None:
            return None
        gs = ss.get_gridspec()
        nrows, ncols = gs.get_geometry()
        return {"nrows": int(nrows), "ncols": int(ncols), "rows": [int(ss.rowspan.start), int(ss.rowspan.stop)],
                "cols": [int(ss.colspan.start), int(ss.colspan.stop)]}
    except Exception:
        return None


def _describe_axes(ax: Any, index: int, all_axes: list) -> dict:
    from matplotlib.container import ErrorbarContainer
    from matplotlib.patches import Wedge

    d: dict = {"index": index}
    pos = _safe(lambda: ax.get_position().bounds)
    d["position"] = [_num(v, 4) for v in pos] if pos is not None else None
    d["grid_spec"] = _subplot_grid(ax)
    d["is_colorbar"] = bool(_safe(lambda: hasattr(ax, "_colorbar") or ax.get_label() == "<colorbar>", False))
    d["projection"] = _safe(lambda: ax.name, "rectilinear")
    d["visible"] = bool(_safe(lambda: ax.get_visible(), True))
    d["axis_on"] = bool(_safe(lambda: ax.axison, True))
    d["twin_of"] = None
    d["shares_x"] = d["shares_y"] = False
    for j, other in enumerate(all_axes):
        if other is ax:
            continue
        try:
            same_box = other.bbox.bounds == ax.bbox.bounds
            if not same_box and other in ax.get_shared_x_axes().get_siblings(ax):
                d["shares_x"] = True
            if not same_box and other in ax.get_shared_y_axes().get_siblings(ax):
                d["shares_y"] = True
        except Exception:
            continue
    for j, other in enumerate(all_axes[:index]):
        try:
            if other.bbox.bounds == ax.bbox.bounds and (
                other in ax.get_shared_x_axes().get_siblings(ax) or other in ax.get_shared_y_axes().get_siblings(ax)
            ):
                d["twin_of"] = j
                break
        except Exception:
            continue
    d["title"] = _safe(lambda: ax.get_title("center"), "")
    d["title_left"] = _safe(lambda: ax.get_title("left"), "")
    d["title_right"] = _safe(lambda: ax.get_title("right"), "")
    d["title_fontsize"] = _num(_safe(lambda: ax.title.get_fontsize()), 3)
    d["xlabel"] = _safe(lambda: ax.get_xlabel(), "")
    d["ylabel"] = _safe(lambda: ax.get_ylabel(), "")
    d["xlim"] = [_num(v, 4) for v in _safe(lambda: ax.get_xlim(), (None, None))]
    d["ylim"] = [_num(v, 4) for v in _safe(lambda: ax.get_ylim(), (None, None))]
    d["xlim_auto"] = bool(_safe(lambda: ax.get_autoscalex_on(), True))
    d["ylim_auto"] = bool(_safe(lambda: ax.get_autoscaley_on(), True))
    d["xscale"] = _safe(lambda: ax.get_xscale(), "linear")
    d["yscale"] = _safe(lambda: ax.get_yscale(), "linear")
    d["xticklabels"] = _tick_labels(ax.xaxis) if hasattr(ax, "xaxis") else []
    d["yticklabels"] = _tick_labels(ax.yaxis) if hasattr(ax, "yaxis") else []
    d["xticks_fixed"] = _is_fixed_formatter(ax.xaxis) if hasattr(ax, "xaxis") else False
    d["yticks_fixed"] = _is_fixed_formatter(ax.yaxis) if hasattr(ax, "yaxis") else False
    d["grid"] = {"x": _grid_on(ax.xaxis) if hasattr(ax, "xaxis") else False,
                 "y": _grid_on(ax.yaxis) if hasattr(ax, "yaxis") else False}
    d["facecolor"] = _color(_safe(lambda: ax.get_facecolor()))
    d["spines"] = {k: bool(_safe(lambda: s.get_visible(), True)) for k, s in _safe(lambda: dict(ax.spines), {}).items()}
    d["legend"] = _legend(_safe(lambda: ax.get_legend()))

    bars, owned = _bar_containers(ax)
    d["bars"] = bars
    wedges, patches = [], []
    for p in _safe(lambda: list(ax.patches), [])[: MAX_PATCHES * 2]:
        if id(p) in owned:
            continue
        if isinstance(p, Wedge):
            if len(wedges) < MAX_PATCHES:
                wedges.append(_wedge_item(p))
        elif len(patches) < MAX_PATCHES:
            patches.append(_patch_item(p))
    d["wedges"] = wedges
    d["patches"] = patches

    err_lines, err_cols = set(), set()
    err_labels: dict[int, str] = {}
    errorbars = []
    for c in _safe(lambda: list(ax.containers), []):
        if isinstance(c, ErrorbarContainer):
            data_line, caplines, barlinecols = c.lines
            label = _safe(lambda: c.get_label(), None)
            if data_line is not None and label and not str(label).startswith("_"):
                err_labels[id(data_line)] = str(label)
            for ln in caplines or ():
                err_lines.add(id(ln))
            for col in barlinecols or ():
                err_cols.add(id(col))
            label = _safe(lambda: c.get_label(), None)
            errorbars.append({
                "label": label if label and not str(label).startswith("_") else None,
                "has_line": data_line is not None,
                "n_caps": len(caplines or ()),
                "color": _color(_safe(lambda: barlinecols[0].get_color()[0])) if barlinecols else None,
                "segments": _segments_summary(barlinecols),
            })
    d["errorbars"] = errorbars
    lines = []
    for ln in _safe(lambda: list(ax.lines), [])[:MAX_PATCHES]:
        item = _line_item(ln, "errorbar_cap" if id(ln) in err_lines else "series")
        if item["label"] is None and id(ln) in err_labels:
            item["label"] = err_labels[id(ln)]
        lines.append(item)
    d["lines"] = lines
    cols = []
    for c in _safe(lambda: list(ax.collections), [])[:MAX_PATCHES]:
        item = _collection_item(c)
        if id(c) in err_cols:
            item["role"] = "errorbar"
        else:
            item["role"] = "series"
        cols.append(item)
    d["collections"] = cols
    d["images"] = [_image_item(im) for im in _safe(lambda: list(ax.images), [])[:16]]
    texts = []
    for t in _safe(lambda: list(ax.texts), [])[:MAX_TEXTS]:
        item = _text_item(t)
        if item is not None:
            texts.append(item)
    d["texts"] = texts
    return d


def _segments_summary(barlinecols: Any) -> list:
    out = []
    try:
        for col in barlinecols or ():
            segs = col.get_segments()
            for i in _sample_indices(len(segs), 60):
                s = segs[i]
                out.append([[_num(s[0][0], 4), _num(s[0][1], 4)], [_num(s[-1][0], 4), _num(s[-1][1], 4)]])
    except Exception:
        pass
    return out


def describe_figure(fig: Any) -> dict:
    """A JSON-safe description of everything a figure shows; never raises."""
    out: dict = {"version": 1}
    try:
        size = fig.get_size_inches()
        out["figsize"] = [_num(size[0], 4), _num(size[1], 4)]
    except Exception:
        out["figsize"] = None
    out["facecolor"] = _color(_safe(lambda: fig.get_facecolor()))
    st = _safe(lambda: fig._suptitle, None)
    out["suptitle"] = _text(st) if st is not None and _text(st).strip() else None
    sx = _safe(lambda: fig._supxlabel, None)
    sy = _safe(lambda: fig._supylabel, None)
    out["supxlabel"] = _text(sx) if sx is not None and _text(sx).strip() else None
    out["supylabel"] = _text(sy) if sy is not None and _text(sy).strip() else None
    texts = []
    for t in _safe(lambda: list(fig.texts), [])[:MAX_TEXTS]:
        if t is st:
            continue
        item = _text_item(t)
        if item is not None:
            texts.append(item)
    out["texts"] = texts
    out["legends"] = [x for x in (_legend(leg) for leg in _safe(lambda: list(fig.legends), [])[:8]) if x]
    axes_out = []
    all_axes = _safe(lambda: list(fig.axes), [])[:MAX_AXES]
    for i, ax in enumerate(all_axes):
        try:
            axes_out.append(_describe_axes(ax, i, all_axes))
        except Exception as exc:  # one broken axes must not lose the others
            axes_out.append({"index": i, "error": f"{type(exc).__name__}: {exc}"[:200]})
    out["axes"] = axes_out
    return out
