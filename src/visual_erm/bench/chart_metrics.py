"""ChartMimic's low-level chart metrics (text, layout, chart type, colour F1), read from finished figures.

ChartMimic (Shi et al., 2024) scores a generated matplotlib program against the reference program by running both
with matplotlib *instrumented* (its plotting functions wrapped to log their arguments) and comparing the logs:

* **text F1** — the multiset of drawn strings (titles, axis labels, legend entries, annotations, suptitle; tick
  labels excluded), exact string match;
* **layout F1** — per axes, the grid-spec geometry (rows, columns) and the row/column span it occupies;
* **chart-type F1** — the multiset of plotting calls (bar, plot, scatter, pie, hist, boxplot, …);
* **colour F1** — the colours given to each plotting function, paired across the two programs by best assignment
  with similarity ``1 − CIEDE2000 / 100``.

Each is precision / recall / F1; the low-level score is the mean of the four F1s. ChartMimic's instrumentation
targets the matplotlib of 2024 and breaks on current releases, so this module reimplements the four metrics on the
figure description that the render sandbox records at save time (:func:`visual_erm.render.inspect.describe_figure`,
``RenderOptions(inspect=True)``). Both programs are rendered the same way; nothing of the candidate program runs in
the calling process.

Definitions (multisets throughout; ``|A ∩ B|`` is the multiset intersection):

* ``P = |A_cand ∩ A_ref| / |A_cand|``, ``R = |A_cand ∩ A_ref| / |A_ref|``, ``F1 = 2PR / (P + R)``. Both empty →
  P = R = F1 = 1 (nothing to reproduce, nothing extra drawn); exactly one empty → 0.
* **Texts**: the figure's suptitle, supxlabel, supylabel, figure texts and figure-legend entries and titles; per
  visible axes the three titles, the x and y labels (colorbar labels included), legend entries and legend title, and
  every text / annotation on the axes (pie labels and percentages, value labels). Tick labels are excluded. Strings
  are compared exactly after stripping leading and trailing whitespace; empty strings are dropped.
* **Layout**: one entry per visible, non-colorbar axes: ``(nrows, ncols, row_start, row_stop, col_start,
  col_stop)`` of its subplot spec. Axes without one (``fig.add_axes``, ``plt.axes``, insets) get a grid *derived
  from their positions*: the distinct left/right edges (and bottom/top edges) of all such axes, clustered within
  0.02 of the figure size, cut the figure into columns (rows, counted from the top); an axes spans the columns
  (rows) between its edges. A lone free axes is therefore ``(1, 1, 0, 1, 0, 1)``, the same as ``plt.subplots()``.
  Twin axes (``twinx``) share the host's spec and count once each, as ChartMimic counts axes.
* **Chart types**: one entry per plotting call, recovered from the artists (see :func:`figure_types` for the
  mapping): ``bar``/``barh`` (one per bar container), ``line`` (one per visible, non-empty Line2D that is not an
  errorbar cap or an errorbar's data line), ``scatter``, ``pie`` (one per group of wedges with the same centre and
  radius), ``errorbar`` (one per errorbar container, except the error bars a ``bar(yerr=…)`` call draws itself),
  ``boxplot`` (one per axes that holds boxplot boxes), ``fill`` (fill_between, stackplot, fill, violin bodies),
  ``lines`` (vlines, hlines, LineCollections), ``heatmap`` (imshow, pcolormesh, seaborn heatmaps), ``contour`` /
  ``contourf``, ``quiver``, ``surface3d``, ``arrow``, ``rectangle``, ``stairs``, ``patch``, and ``colorbar``
  (one per colorbar axes).
* **Colours**: per chart-type entry, its distinct colours: a bar series' face and edge colours, a line's colour and
  marker face colour, a scatter's face colours, a pie's wedge face and edge colours, a fill's face colours, a
  boxplot's box colours, an errorbar's bar and data-line colours, a patch's face and edge colours; for colour-mapped
  artists (images, meshes, contours, scatters with ``c=``) the colormap sampled at 0, ¼, ½, ¾ and 1. Alpha is
  ignored (the colour as specified, as ChartMimic logs it); edges that are not drawn and fully transparent colours
  (``none``) are dropped. For each chart type the reference and candidate colours are paired by
  :func:`scipy.optimize.linear_sum_assignment` maximising the summed similarity ``max(0, 1 − ΔE00 / 100)``
  (:func:`skimage.color.deltaE_ciede2000` on CIE Lab, D65); similarities are summed over types;
  ``P = Σsim / n_cand``, ``R = Σsim / n_ref``.

Deviations from ChartMimic (all because we read the finished figure rather than the calls):

* calls that leave no artist (``plt.plot([])``, a ``bar`` with no data) or artists hidden with
  ``set_visible(False)`` are not counted; artists added without a plotting call (``ax.add_patch``) are;
* ``hist`` draws a bar container and is counted as ``bar`` (``describe_figure`` keeps no bar widths, so
  histogram bins cannot be told from bars); ``violinplot`` counts as its parts (``fill`` bodies, ``lines`` for the
  extrema and medians); one call drawing several lines (``plot(x, y1, x, y2)``) counts once per line;
* a boxplot is detected from its artists (whisker and cap segments, boxes as lines or patches, medians, fliers)
  and counted once per axes; its artists are not counted again as lines or patches;
* ``imshow`` and ``pcolormesh`` are both ``heatmap`` (they draw the same picture);
* colours of colour-mapped artists are colormap samples rather than the ``cmap`` argument's name;
* the layout entry is the subplot spec the figure description records, i.e. the axes' *own* spec: after
  ``fig.colorbar(..., ax=ax)`` (which re-homes the axes in a nested grid spec) that is the nested spec, so two
  programs that differ only in the outer grid of colorbar-carrying axes can score layout 1.0;
* changes that do not show in the saved figure (an edit to a figure the program never saves, ``sharex``) do not
  count. Measured on the 500 ChartMimic programs (454 render): an identical copy scores 1.0 on all four metrics
  for all 454; the synth engine's operators drop their metric for 435/436 title edits (text), 353/363 colour edits
  (colour), 296/299 chart-type edits (type) and 105/109 layout edits (layout); the misses are edits the saved
  figure does not show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ChartScores", "PRF", "chart_scores", "color_f1", "figure_colors", "figure_layout", "figure_texts",
    "figure_types", "layout_f1", "multiset_prf", "text_f1", "type_f1",
]

#: Edge clustering tolerance (figure fraction) when deriving a grid from axes positions.
POSITION_TOLERANCE = 0.02
#: Where a colormap is sampled for the colours of a colour-mapped artist.
CMAP_SAMPLES = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float

    def to_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def _prf(tp: float, n_pred: int, n_ref: int) -> PRF:
    if n_pred == 0 and n_ref == 0:
        return PRF(1.0, 1.0, 1.0)
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_ref if n_ref else 0.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return PRF(p, r, f1)


def multiset_prf(reference: Iterable, candidate: Iterable) -> PRF:
    """P/R/F1 of two multisets (exact element match); both empty → 1.0."""
    ref, cand = Counter(reference), Counter(candidate)
    tp = sum((ref & cand).values())
    return _prf(tp, sum(cand.values()), sum(ref.values()))


# ----------------------------------------------------------------------------------------------------- texts
def _visible_axes(fig: dict) -> list[dict]:
    return [a for a in (fig or {}).get("axes") or [] if "error" not in a and a.get("visible", True)]


def _add(out: list[str], s) -> None:
    if isinstance(s, str) and s.strip():
        out.append(s.strip())


def _legend_texts(out: list[str], leg: dict | None) -> None:
    if leg and leg.get("visible", True):
        for t in leg.get("texts") or []:
            _add(out, t)
        _add(out, leg.get("title"))


def figure_texts(fig: dict) -> list[str]:
    """Every drawn string of a figure description except tick labels (see the module docstring)."""
    out: list[str] = []
    if not fig:
        return out
    for key in ("suptitle", "supxlabel", "supylabel"):
        _add(out, fig.get(key))
    for t in fig.get("texts") or []:
        _add(out, t.get("text"))
    for leg in fig.get("legends") or []:
        _legend_texts(out, leg)
    for ax in _visible_axes(fig):
        for key in ("title", "title_left", "title_right", "xlabel", "ylabel"):
            _add(out, ax.get(key))
        _legend_texts(out, ax.get("legend"))
        for t in ax.get("texts") or []:
            _add(out, t.get("text"))
    return out


# ----------------------------------------------------------------------------------------------------- layout
def _cluster(values: Sequence[float], tol: float) -> list[float]:
    """Sorted representatives of ``values``, merging those within ``tol`` of the previous representative."""
    reps: list[float] = []
    for v in sorted(values):
        if not reps or v - reps[-1] > tol:
            reps.append(v)
    return reps


def _index(reps: list[float], v: float) -> int:
    return min(range(len(reps)), key=lambda i: abs(reps[i] - v))


def _derived_grid(boxes: list[tuple[float, float, float, float]], tol: float = POSITION_TOLERANCE) -> list[tuple]:
    """Layout entries for axes without a subplot spec, from their (left, bottom, width, height) boxes."""
    xs = _cluster([b[0] for b in boxes] + [b[0] + b[2] for b in boxes], tol)
    ys = _cluster([b[1] for b in boxes] + [b[1] + b[3] for b in boxes], tol)
    ncols, nrows = max(1, len(xs) - 1), max(1, len(ys) - 1)
    out = []
    for left, bottom, width, height in boxes:
        c0, c1 = _index(xs, left), _index(xs, left + width)
        y0, y1 = _index(ys, bottom), _index(ys, bottom + height)
        # rows are counted from the top, as in a gridspec
        r0, r1 = len(ys) - 1 - y1, len(ys) - 1 - y0
        out.append((nrows, ncols, r0, max(r1, r0 + 1), c0, max(c1, c0 + 1)))
    return out


def figure_layout(fig: dict) -> list[tuple[int, int, int, int, int, int]]:
    """One ``(nrows, ncols, row_start, row_stop, col_start, col_stop)`` per visible non-colorbar axes."""
    out: list[tuple] = []
    free: list[tuple[float, float, float, float]] = []
    for ax in _visible_axes(fig):
        if ax.get("is_colorbar"):
            continue
        gs = ax.get("grid_spec")
        if gs:
            out.append((int(gs["nrows"]), int(gs["ncols"]), int(gs["rows"][0]), int(gs["rows"][1]),
                        int(gs["cols"][0]), int(gs["cols"][1])))
            continue
        pos = ax.get("position")
        if pos and len(pos) == 4 and all(isinstance(v, (int, float)) for v in pos):
            free.append(tuple(float(v) for v in pos))  # type: ignore[arg-type]
        else:
            out.append((1, 1, 0, 1, 0, 1))
    if free:
        out.extend(_derived_grid(free))
    return out


# ---------------------------------------------------------------------------------------------------- artists
def _real(colors: Iterable) -> list[str]:
    """Distinct colours in order, alpha dropped, ``none``/unknown removed."""
    out: list[str] = []
    for c in colors or []:
        if not isinstance(c, str) or not c.startswith("#") or len(c) not in (7, 9):
            continue
        c = c[:7].lower()
        if c not in out:
            out.append(c)
    return out


def _cmap_colors(name) -> list[str]:
    """The colormap ``name`` sampled at :data:`CMAP_SAMPLES` (a registered name only; unknown → [])."""
    if not isinstance(name, str) or not name:
        return []
    try:
        import matplotlib
        from matplotlib.colors import to_hex

        cmap = matplotlib.colormaps[name]
    except Exception:  # noqa: BLE001 - an unknown or hostile name is simply not a colour
        return []
    return _real(to_hex(cmap(v)) for v in CMAP_SAMPLES)


def _is_seg(line: dict, const: str) -> bool:
    """A two-point line whose ``const`` coordinate ("x" or "y") is the same at both ends."""
    vals = line.get(const) or []
    return line.get("n") == 2 and len(vals) == 2 and vals[0] is not None and vals[0] == vals[1]


def _is_box(line: dict) -> bool:
    """A closed axis-aligned rectangle drawn as a line (a boxplot box without patch_artist)."""
    x, y = line.get("x") or [], line.get("y") or []
    if line.get("n") not in (5, 6) or len(x) != len(y) or None in x or None in y:
        return False
    return x[0] == x[-1] and y[0] == y[-1] and len(set(x)) == 2 and len(set(y)) == 2


def _boxplot_lines(lines: list[dict]) -> set[int]:
    """Indices of the lines that belong to boxplots (whiskers, caps, boxes, medians, means, fliers).

    A box is recognised by matplotlib's artist order for each box: two whiskers (two-point segments along the
    value axis, at the same position), two caps (segments across it), then optionally the box as a line, the
    median, the mean and the fliers (marker-only lines).
    """
    used: set[int] = set()
    i, n = 0, len(lines)
    while i + 3 < n:
        w1, w2, c1, c2 = lines[i: i + 4]
        vertical = all(_is_seg(ln, "x") for ln in (w1, w2)) and all(_is_seg(ln, "y") for ln in (c1, c2))
        horizontal = all(_is_seg(ln, "y") for ln in (w1, w2)) and all(_is_seg(ln, "x") for ln in (c1, c2))
        axis = "x" if vertical else "y" if horizontal else None
        if axis is None or (w1.get(axis) or [None])[0] != (w2.get(axis) or [None])[0]:
            i += 1
            continue
        other = "y" if axis == "x" else "x"
        j = i + 4
        while j < n:
            ln = lines[j]
            if _is_box(ln) or _is_seg(ln, other) or (ln.get("marker") and ln.get("linestyle") in ("None", "none", "")):
                j += 1
                # stop at the next box's first whisker
                if j + 1 < n and _is_seg(lines[j], axis) and _is_seg(lines[j + 1], axis):
                    break
            else:
                break
        used.update(range(i, j))
        i = j
    return used


def _key(v: float) -> str:
    """A coordinate compared at 3 significant digits (the description rounds segments and data differently)."""
    return f"{v:.3g}"


def _line_at_segments(line: dict, segments: list) -> bool:
    """Whether a line's points sit on an errorbar's segments (same x for vertical bars, same y for horizontal)."""
    xs = {_key(v) for v in line.get("x") or [] if v is not None}
    ys = {_key(v) for v in line.get("y") or [] if v is not None}
    sx, sy = set(), set()
    try:
        for (x0, y0), (x1, y1) in segments:
            if x0 == x1 and x0 is not None:
                sx.add(_key(x0))
            if y0 == y1 and y0 is not None:
                sy.add(_key(y0))
    except (TypeError, ValueError):
        return False
    return bool((sx and xs and sx <= xs) or (sy and ys and sy <= ys))


def _axes_entries(ax: dict) -> list[tuple[str, list[str]]]:
    """(chart type, colours) for every plotting call recovered from one axes description."""
    entries: list[tuple[str, list[str]]] = []
    if ax.get("is_colorbar"):
        return [("colorbar", [])]

    bars = ax.get("bars") or []
    for b in bars:
        if not b.get("visible", True) or not b.get("n"):
            continue
        entries.append(("barh" if b.get("orientation") == "horizontal" else "bar",
                        _real(list(b.get("colors") or []) + list(b.get("edgecolors") or []))))
    bar_positions = {_key(p) for b in bars for p in (b.get("positions") or []) if p is not None}

    lines = [ln for ln in ax.get("lines") or [] if ln.get("role") != "errorbar_cap" and ln.get("visible", True)]
    box_idx = _boxplot_lines(lines)
    patches = ax.get("patches") or []
    if box_idx:
        box_patches = [p for p in patches if p.get("kind") == "PathPatch"]
        colours = _real(c for p in box_patches for c in (p.get("facecolor"), p.get("edgecolor"))) if box_patches else \
            _real(ln.get("color") for k, ln in enumerate(lines) if k in box_idx and _is_box(ln))
        entries.append(("boxplot", colours))
        patches = [p for p in patches if p.get("kind") != "PathPatch"]
    series = [ln for k, ln in enumerate(lines) if k not in box_idx and (ln.get("n") or 0) > 0]

    for e in ax.get("errorbars") or []:
        segs = e.get("segments") or []
        if not e.get("has_line") and bar_positions and segs:
            mids = set()
            for s in segs:
                (x0, y0), (x1, y1) = s
                mids.add(_key(x0) if x0 == x1 else _key(y0) if y0 == y1 else None)
            if mids and mids <= bar_positions:  # the error bars of a bar(yerr=...) call: part of that call
                continue
        colours = [e.get("color")]
        if e.get("has_line"):  # its data line is in ax.lines: part of this call, not a separate plot call
            pick = next((k for k, ln in enumerate(series) if e.get("label") and ln.get("label") == e.get("label")),
                        None)
            if pick is None:
                pick = next((k for k, ln in enumerate(series) if _line_at_segments(ln, segs)), None)
            if pick is None:
                pick = next((k for k, ln in enumerate(series) if ln.get("color") == e.get("color")), None)
            if pick is not None:
                colours.append(series.pop(pick).get("color"))
        entries.append(("errorbar", _real(colours)))

    for ln in series:
        entries.append(("line", _real([ln.get("color"), ln.get("markerfacecolor") if ln.get("marker") else None])))

    pies: dict[tuple, list] = {}
    for w in ax.get("wedges") or []:
        key = (tuple(w.get("center") or ()), w.get("r"))
        pies.setdefault(key, []).extend([w.get("facecolor"), w.get("edgecolor")])
    for colours in pies.values():
        entries.append(("pie", _real(colours)))

    for c in ax.get("collections") or []:
        if c.get("role") == "errorbar":
            continue
        kind = c.get("kind") or ""
        colours = _cmap_colors(c.get("cmap")) if c.get("cmap") else []
        if not colours:  # not colour-mapped, or mapped through an unnamed colormap (contour(colors=...))
            colours = _real(c.get("facecolors")) or _real(c.get("edgecolors"))
        if kind in ("PathCollection", "Path3DCollection", "CircleCollection", "RegularPolyCollection"):
            t = "scatter"
        elif kind in ("PolyCollection", "FillBetweenPolyCollection"):
            t = "fill"
        elif kind == "Poly3DCollection":
            t = "surface3d"
        elif kind in ("LineCollection", "Line3DCollection", "EventCollection"):
            t = "lines"
        elif kind in ("QuadMesh", "PolyQuadMesh", "TriMesh"):
            t = "heatmap"
        elif "Contour" in kind:
            t = "contourf" if _real(c.get("facecolors")) else "contour"
        elif kind in ("Quiver", "Barbs"):
            t = kind.lower()
        else:
            t = kind.lower() or "collection"
        entries.append((t, colours))

    for im in ax.get("images") or []:
        entries.append(("heatmap", _cmap_colors(im.get("cmap"))))

    patch_types = {"Polygon": "fill", "Rectangle": "rectangle", "FancyArrow": "arrow", "FancyArrowPatch": "arrow",
                   "Arrow": "arrow", "StepPatch": "stairs"}
    for p in patches:
        entries.append((patch_types.get(p.get("kind") or "", "patch"), _real([p.get("facecolor"), p.get("edgecolor")])))
    return entries


def figure_entries(fig: dict) -> list[tuple[str, list[str]]]:
    """(chart type, colours) of every plotting call recovered from a figure description, all axes together."""
    out: list[tuple[str, list[str]]] = []
    for ax in _visible_axes(fig):
        out.extend(_axes_entries(ax))
    return out


def figure_types(fig: dict) -> list[str]:
    """The chart-type multiset of a figure (one entry per recovered plotting call)."""
    return [t for t, _ in figure_entries(fig)]


def figure_colors(fig: dict) -> dict[str, list[str]]:
    """Colours per chart type (colorbars carry none)."""
    out: dict[str, list[str]] = {}
    for t, colours in figure_entries(fig):
        if colours:
            out.setdefault(t, []).extend(colours)
    return out


# ------------------------------------------------------------------------------------------------------ colours
def _to_lab(colors: Sequence[str]):
    import numpy as np
    from skimage.color import rgb2lab

    rgb = np.array([[int(c[i:i + 2], 16) / 255.0 for i in (1, 3, 5)] for c in colors], dtype=float)
    return rgb2lab(rgb.reshape(1, -1, 3)).reshape(-1, 3)


def color_similarity(reference: Sequence[str], candidate: Sequence[str]):
    """The matrix ``max(0, 1 − ΔE00/100)`` of two colour lists (``#rrggbb``), reference rows × candidate columns."""
    import numpy as np
    from skimage.color import deltaE_ciede2000

    if not reference or not candidate:
        return np.zeros((len(reference), len(candidate)))
    a, b = _to_lab(reference), _to_lab(candidate)
    de = deltaE_ciede2000(a[:, None, :], b[None, :, :], channel_axis=-1)
    return np.clip(1.0 - de / 100.0, 0.0, 1.0)


def color_prf(reference: dict[str, list[str]], candidate: dict[str, list[str]]) -> PRF:
    """Colour P/R/F1: per chart type, the best one-to-one pairing of colours (summed similarity)."""
    from scipy.optimize import linear_sum_assignment

    total = 0.0
    for t in set(reference) & set(candidate):
        sim = color_similarity(reference[t], candidate[t])
        if sim.size:
            rows, cols = linear_sum_assignment(sim, maximize=True)
            total += float(sim[rows, cols].sum())
    n_ref = sum(len(v) for v in reference.values())
    n_cand = sum(len(v) for v in candidate.values())
    return _prf(total, n_cand, n_ref)


# ------------------------------------------------------------------------------------------------------ scores
def text_f1(reference: dict, candidate: dict) -> PRF:
    return multiset_prf(figure_texts(reference), figure_texts(candidate))


def layout_f1(reference: dict, candidate: dict) -> PRF:
    return multiset_prf(figure_layout(reference), figure_layout(candidate))


def type_f1(reference: dict, candidate: dict) -> PRF:
    return multiset_prf(figure_types(reference), figure_types(candidate))


def color_f1(reference: dict, candidate: dict) -> PRF:
    return color_prf(figure_colors(reference), figure_colors(candidate))


METRICS = ("text", "layout", "type", "color")


@dataclass(frozen=True)
class ChartScores:
    text: PRF
    layout: PRF
    type: PRF
    color: PRF

    @property
    def low_level(self) -> float:
        """The mean of the four F1s (ChartMimic's low-level score, here in [0, 1])."""
        return (self.text.f1 + self.layout.f1 + self.type.f1 + self.color.f1) / 4.0

    def to_dict(self) -> dict:
        out: dict = {m: getattr(self, m).to_dict() for m in METRICS}
        out["low_level"] = self.low_level
        return out

    def flat(self) -> dict[str, float]:
        """``{"text_f1": …, "layout_f1": …, "type_f1": …, "color_f1": …, "low_level": …}``."""
        out = {f"{m}_f1": getattr(self, m).f1 for m in METRICS}
        out["low_level"] = self.low_level
        return out


ZERO = ChartScores(PRF(0.0, 0.0, 0.0), PRF(0.0, 0.0, 0.0), PRF(0.0, 0.0, 0.0), PRF(0.0, 0.0, 0.0))


def chart_scores(reference: dict, candidate: dict | None) -> ChartScores:
    """The four low-level metrics of a candidate figure description against the reference's.

    A candidate that did not render (``None``) scores 0 on every metric, as ChartMimic scores failed programs.
    """
    if candidate is None:
        return ZERO
    if reference is None:
        raise ValueError("the reference figure description is required")
    return ChartScores(text_f1(reference, candidate), layout_f1(reference, candidate),
                       type_f1(reference, candidate), color_f1(reference, candidate))
