"""Structural SVG critic: diff two SVG documents element by element and write a paper-format critique.

Both documents are parsed into their visible drawables (:mod:`visual_erm.tasks.svg_geom`): geometry sampled in
normalised icon coordinates (so a 24×24 and a 64×64 icon compare directly, as their renders do), effective style
(inheritance, ``style="..."``, ``currentColor``, gradients) and text. Drawables are matched one-to-one (Hungarian
assignment with scipy when installed, else greedy) on a cost from geometry (chamfer distance, also after aligning
position and size), identical local geometry under a different transform, element kind, paint and paint order.
Then:

* **structure_error** — missing / extra elements and groups, elements moved / scaled / rotated (a transform change,
  reported once per group when a whole group moved), paint order changed where overlapping shapes differ;
* **shape_error** — the outline of a matched element differs (distorted path, changed radius / size, missing part);
* **style_error** — effective fill / stroke colour, gradient stops, stroke width, opacity, dashing;
* **text_symbol_error** — text content changed, missing or extra text.

Severities follow :mod:`visual_erm.tasks.svg_ops`, so the critic's labels agree with the operators' gold labels.
:func:`evaluate_svg_critic` measures that agreement on held-out generated icons (or real ones).
"""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np

from visual_erm.schema import CATEGORIES, Critique, Discrepancy
from visual_erm.tasks import svg_geom as G

GEOM_TOL = 0.012  # 95th-percentile outline distance (fraction of the icon) below which two outlines are the same
MATCH_MAX = 0.12  # assignment cost above which two drawables are not the same element
COLOR_TOL = 0.10
BIG = 1e6


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _err(cat: str, sev: int, loc: str, desc: str) -> Discrepancy:
    return Discrepancy(category=cat, severity=max(1, min(3, int(sev))), location=loc, description=desc)


# ------------------------------------------------------------------------------------------- matching

def _pair_dists(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    return float(d.min(axis=1).mean()), float(d.min(axis=0).mean())


def _norm_shape(d: G.Drawable) -> np.ndarray:
    c = np.array(d.center)
    return (d.points - c) / max(d.diag, 1e-6)


def _cost(r: G.Drawable, c: G.Drawable, rn: int, cn: int) -> float:
    if (r.tag == "text") != (c.tag == "text"):
        return BIG
    center = math.dist(r.center, c.center)
    if r.tag == "text":
        cost = 0.4 * center + (0.0 if r.text == c.text else 0.04)
        return cost + 0.01 * abs(r.index / max(rn, 1) - c.index / max(cn, 1))
    ab, ba = _pair_dists(r.points, c.points)
    d_abs = 0.7 * min(ab, ba) + 0.3 * max(ab, ba)
    ab2, ba2 = _pair_dists(_norm_shape(r), _norm_shape(c))
    size = abs(math.log(max(r.diag, 1e-4) / max(c.diag, 1e-4)))
    d_rel = 0.5 * (ab2 + ba2) * min(r.diag, c.diag) + 0.35 * center + 0.05 * size
    cost = min(d_abs, d_rel)
    if r.tag == c.tag == "path":  # one outline contained in the other: the same path with a part missing / added
        cost = min(cost, min(ab, ba) + 0.15 * max(ab, ba))
    if r.key == c.key:
        cost = min(cost, 0.02 + 0.2 * center)
    if r.tag != c.tag:
        cost += 0.02
    if r.paints() and c.paints() and min(G.color_distance(x, y) for x in r.paints() for y in c.paints()) > 0.3:
        cost += 0.01
    return cost + 0.01 * abs(r.index / max(rn, 1) - c.index / max(cn, 1))


def match(ref: list[G.Drawable], cand: list[G.Drawable]) -> list[tuple[int, int]]:
    """One-to-one pairs (ref index, cand index) of drawables that are the same element."""
    if not ref or not cand:
        return []
    cost = np.array([[_cost(r, c, len(ref), len(cand)) for c in cand] for r in ref])
    try:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(np.minimum(cost, 10.0))
        pairs = list(zip(rows.tolist(), cols.tolist()))
    except ImportError:  # greedy fallback
        pairs, used_r, used_c = [], set(), set()
        for flat in np.argsort(cost, axis=None):
            i, j = divmod(int(flat), cost.shape[1])
            if i not in used_r and j not in used_c:
                pairs.append((i, j))
                used_r.add(i)
                used_c.add(j)
    return sorted((i, j) for i, j in pairs if cost[i, j] <= MATCH_MAX)


# ------------------------------------------------------------------------------------------- helpers

def _lis_keep(seq: list[int]) -> set[int]:
    """Positions of one longest increasing subsequence of ``seq``."""
    n = len(seq)
    if n == 0:
        return set()
    best = [1] * n
    prev = [-1] * n
    for i in range(n):
        for j in range(i):
            if seq[j] < seq[i] and best[j] + 1 > best[i]:
                best[i] = best[j] + 1
                prev[i] = j
    k = max(range(n), key=lambda i: best[i])
    keep = set()
    while k != -1:
        keep.add(k)
        k = prev[k]
    return keep


def same_local(r: G.Drawable, c: G.Drawable) -> bool:
    """Same element geometry in its own user space (only the transforms may differ)."""
    if r.key == c.key:
        return True
    if r.tag != c.tag or r.tag == "text":
        return False
    try:
        # c's outline brought into r's frame: same local geometry ⇔ it coincides with r's outline there
        m = r.matrix @ np.linalg.inv(c.matrix)
    except np.linalg.LinAlgError:
        return False
    c_out = [G.apply_tf(m, pl) for pl in c.outline]
    c_pts = G.apply_tf(m, G.dense_points(c))
    gap = max(float(G.to_outline(G.dense_points(r), c_out).max()), float(G.to_outline(c_pts, r.outline).max()))
    return gap < GEOM_TOL / 2


def _delta(r: G.Drawable, c: G.Drawable) -> np.ndarray:
    return c.matrix @ np.linalg.inv(r.matrix)


def _decompose(D: np.ndarray, center, pts: np.ndarray):
    """(translation vector of the center, uniform scale, visible rotation in degrees) of the change D."""
    cx, cy = center
    moved = D @ np.array([cx, cy, 1.0])
    t = (moved[0] - cx, moved[1] - cy)
    lin = D[:2, :2]
    s = abs(np.linalg.det(lin)) ** 0.5
    rot = math.degrees(math.atan2(lin[1, 0], lin[0, 0]))
    if abs(rot) >= 4:
        a = math.radians(rot)
        R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        rp = (pts - [cx, cy]) @ R.T + [cx, cy]
        if G.chamfer(pts, rp)[1] < GEOM_TOL:  # symmetric shape: the rotation does not show
            rot = 0.0
    else:
        rot = 0.0
    return t, s, rot


def _transform_errors(loc: str, t, s: float, rot: float, size: float) -> list[Discrepancy]:
    out = []
    mag = math.hypot(*t)
    if mag >= GEOM_TOL:
        out.append(_err("structure_error", 1 if mag < 0.04 else 2, loc,
                        f"{_cap(loc)} is shifted {G.directions(*t)} by about {max(1, round(mag * 100))}% of the icon "
                        f"size in the candidate."))
    if abs(s - 1) >= 0.06:
        frac = abs(s - 1) * size
        out.append(_err("structure_error", 1 if frac < 0.04 else 2, loc,
                        f"{_cap(loc)} is drawn about {round(abs(s - 1) * 100)}% {'larger' if s > 1 else 'smaller'} "
                        f"in the candidate than in the reference."))
    if rot:
        frac = 2 * (size / 2) * math.sin(math.radians(abs(rot)) / 2)
        out.append(_err("structure_error", 1 if frac < 0.04 else 2, loc,
                        f"{_cap(loc)} is rotated about {round(abs(rot))}° "
                        f"{'clockwise' if rot > 0 else 'counter-clockwise'} in the candidate."))
    return out


def _same_delta(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a[:2, :2], b[:2, :2], atol=0.02) and np.allclose(a[:2, 2], b[:2, 2], atol=0.01))


def _groups(ds: list[G.Drawable]) -> list:
    out = []
    for d in ds:
        for g in d.groups:
            if g not in out:
                out.append(g)
    return out


def _paint_desc(p: G.Paint) -> str:
    if p.kind == "url":
        return "a gradient"
    if p.kind == "color":
        return G.color_name(p.rgb)
    return "none"


def _stops_differ(a: tuple, b: tuple) -> bool:
    if len(a) != len(b):
        return True
    for (oa, ca, pa), (ob, cb, pb) in zip(a, b):
        if abs(oa - ob) > 0.05 or G.color_distance(ca, cb) >= COLOR_TOL or abs(pa - pb) > 0.1:
            return True
    return False


# ------------------------------------------------------------------------------------------- critique

def critique(reference_svg: str, candidate_svg: str) -> Critique:
    """Paper-format critique (task ``svg``) of the candidate SVG against the reference SVG."""
    ref_doc = G.load(reference_svg)  # a broken reference is the caller's error
    try:
        cand_doc = G.load(candidate_svg)
    except (ValueError, TypeError):
        return Critique(task="svg", errors=(_err("structure_error", 3, "the whole icon",
                                                 "The candidate is not a valid SVG document, so nothing is drawn."),))
    R, C = ref_doc.drawables, cand_doc.drawables
    if R and not any(not c.hidden for c in C):
        return Critique(task="svg", errors=(_err("structure_error", 3, "the whole icon",
                                                 "The candidate draws nothing; every shape of the reference is missing."),))
    pairs = match(R, C)
    m_r = {i: j for i, j in pairs}
    m_c = {j: i for i, j in pairs}
    errors: list[Discrepancy] = []
    handled_r: set[int] = set()
    handled_c: set[int] = set()

    # -- missing groups (every member unmatched) and extra groups
    for docs, ds, mm, handled, word in ((ref_doc, R, m_r, handled_r, "missing"), (cand_doc, C, m_c, handled_c, "extra")):
        for g in _groups(ds):
            members = [d for d in ds if g in d.groups and not d.hidden]
            if len(members) < 2 or any(d.index in mm or d.index in handled for d in members):
                continue
            if len(members) == len([d for d in ds if not d.hidden]):
                continue
            loc = G.describe_group(g, ds)
            kinds = ", ".join(sorted({m.kind for m in members}))
            desc = (f"{_cap(loc)} ({len(members)} shapes: {kinds}) is missing in the candidate." if word == "missing"
                    else f"The candidate draws an extra {loc.removeprefix('the ')} ({len(members)} shapes: {kinds}) "
                         f"that the reference does not have.")
            errors.append(_err("structure_error", 3, loc, desc))
            handled.update(d.index for d in ds if g in d.groups)

    # -- group-level transforms: every member same geometry, same non-identity change
    for g in _groups(R):
        members = [d for d in R if g in d.groups]
        if len(members) < 2 or any(d.index in handled_r for d in members):
            continue
        if not all(d.index in m_r and same_local(d, C[m_r[d.index]]) for d in members):
            continue
        deltas = [_delta(d, C[m_r[d.index]]) for d in members]
        if np.allclose(deltas[0], np.eye(3), atol=1e-3) or not all(_same_delta(deltas[0], x) for x in deltas[1:]):
            continue
        bb = G.group_bbox(members)
        center = ((bb[0] + bb[2]) / 2, (bb[1] + bb[3]) / 2)
        pts = np.concatenate([d.points for d in members])
        t, s, rot = _decompose(deltas[0], center, pts)
        errs = _transform_errors(G.describe_group(g, R), t, s, rot, max(bb[2] - bb[0], bb[3] - bb[1]))
        errors.extend(errs)
        if errs:
            for d in members:
                d._transform_done = (s,)  # type: ignore[attr-defined]

    # -- paint order: matched elements whose order flipped against an overlapping, differently painted one
    from visual_erm.tasks.svg_ops import visibly_stacked

    order = [(i, m_r[i]) for i in sorted(m_r)]
    keep = _lis_keep([j for _, j in order])
    for pos, (i, j) in enumerate(order):
        if pos in keep or i in handled_r:
            continue
        r = R[i]
        partners = [R[k] for k, l in order if k != i and ((k < i) != (l < j)) and visibly_stacked(r, R[k])]
        if partners:
            p = partners[0]
            above = p.index < i
            loc = G.describe_drawable(r, R)
            errors.append(_err("structure_error", 2, loc,
                               f"{_cap(loc)} is drawn {'in front of' if above else 'behind'} "
                               f"{G.describe_drawable(p, R)} in the reference but {'behind' if above else 'in front of'} "
                               f"it in the candidate, which changes what is visible where they overlap."))

    # -- matched pairs
    grad_done: set = set()
    for i, j in pairs:
        r, c = R[i], C[j]
        if r.hidden and c.hidden:
            continue
        loc = G.describe_drawable(r, R)
        scale = 1.0
        if r.tag == "text" and r.text != c.text:
            errors.append(_err("text_symbol_error", 2, loc,
                               f"The text reads '{r.text}' in the reference but '{c.text}' in the candidate."))
        done = getattr(r, "_transform_done", None)
        if done:
            scale = done[0]
        elif same_local(r, c):
            D = _delta(r, c)
            if not np.allclose(D, np.eye(3), atol=1e-3):
                t, scale, rot = _decompose(D, r.center, r.points)
                errors.extend(_transform_errors(loc, t, scale, rot, max(r.bbox[2] - r.bbox[0], r.bbox[3] - r.bbox[1])))
        elif r.tag == "text":
            t = (c.center[0] - r.center[0], c.center[1] - r.center[1])
            if math.hypot(*t) >= 0.03:
                errors.extend(_transform_errors(loc, t, 1.0, 0.0, r.diag))
        else:
            errors.extend(_geometry_errors(r, c, loc))
        errors.extend(_style_errors(r, c, loc, scale, R, grad_done))

    # -- unmatched elements
    for d in R:
        if d.index in m_r or d.index in handled_r or d.hidden:
            continue
        loc = G.describe_drawable(d, R)
        if d.tag == "text":
            fs = G.num(d.style.get("font-size"), 16.0) * abs(np.linalg.det(d.matrix[:2, :2])) ** 0.5
            errors.append(_err("text_symbol_error", 3 if fs >= 0.2 else 2, loc,
                               f"The text '{d.text}' {G.region(*d.center)} of the icon is missing in the candidate."))
        else:
            errors.append(_err("structure_error", G.drop_severity(d.diag), loc,
                               f"{_cap(loc)} ({G.appearance(d)} {d.kind}) is missing in the candidate."))
    for d in C:
        if d.index in m_c or d.index in handled_c or d.hidden:
            continue
        where = G.region(*d.center)
        if d.tag == "text":
            errors.append(_err("text_symbol_error", 2, f"the text '{d.text}'",
                               f"The candidate has an extra text '{d.text}' {where} that the reference does not have."))
        else:
            errors.append(_err("structure_error", G.drop_severity(d.diag), f"the {d.kind} {where}",
                               f"The candidate draws an extra {G.appearance(d)} {d.kind} {where} that the reference "
                               f"does not have."))
    return Critique(task="svg", errors=tuple(errors))


def _two_dimensional(d: G.Drawable) -> bool:
    """A 2-D outline (not a stroke-like segment) big enough for its proportions to be judged."""
    w, h = d.bbox[2] - d.bbox[0], d.bbox[3] - d.bbox[1]
    return d.tag not in ("line", "polyline") and min(w, h) >= 0.25 * max(w, h) and d.diag >= 0.05


def _outline_gaps(r: G.Drawable, c: G.Drawable) -> tuple[float, float]:
    """(largest distance from r's outline to c's, from c's outline to r's), exact point-to-segment."""
    missing = float(G.to_outline(G.dense_points(r), c.outline).max())
    extra = float(G.to_outline(G.dense_points(c), r.outline).max())
    return missing, extra


def _gap_after(r: G.Drawable, c: G.Drawable, scale: float) -> float:
    """Largest outline gap after mapping r's center onto c's and scaling r by ``scale`` about it."""
    rc, cc = np.array(r.center), np.array(c.center)
    probe = (G.dense_points(r) - rc) * scale + cc
    outline = [(pl - rc) * scale + cc for pl in r.outline]
    return max(float(G.to_outline(probe, c.outline).max()), float(G.to_outline(G.dense_points(c), outline).max()))


def _complex(d: G.Drawable) -> bool:
    """More than a few straight strokes: a scaled copy of it is unlikely to be a coincidence of an edit."""
    return sum(len(pl) - 1 for pl in d.outline) >= 5


def _geometry_errors(r: G.Drawable, c: G.Drawable, loc: str) -> list[Discrepancy]:
    missing, extra = _outline_gaps(r, c)
    h = max(missing, extra)
    if h < GEOM_TOL:
        return []
    t = (c.center[0] - r.center[0], c.center[1] - r.center[1])
    # same outline, only moved (e.g. a model wrote other coordinates): a placement error
    if math.hypot(*t) >= GEOM_TOL and _gap_after(r, c, 1.0) < GEOM_TOL:
        return _transform_errors(loc, t, 1.0, 0.0, r.diag)
    ratio = c.diag / max(r.diag, 1e-6)
    if (_two_dimensional(r) and _two_dimensional(c) and 0.25 <= ratio <= 4 and _complex(r)
            and abs(ratio - 1) >= 0.06 and _gap_after(r, c, ratio) < GEOM_TOL):
        if r.tag == c.tag and r.tag in ("circle", "ellipse", "rect"):  # a size attribute changed
            return [_err("shape_error", G.geom_severity(abs(c.diag - r.diag) / math.sqrt(2)), loc,
                         f"{_cap(loc)} is {'larger' if ratio > 1 else 'smaller'} in the candidate "
                         f"(about {round(abs(ratio - 1) * 100)}%).")]
        # the same outline, placed and sized differently: a composition (transform-like) error
        return _transform_errors(loc, t, ratio, 0.0, max(r.bbox[2] - r.bbox[0], r.bbox[3] - r.bbox[1]))
    if missing >= GEOM_TOL and extra < GEOM_TOL:
        desc = f"Part of {loc} is missing in the candidate (up to {round(missing * 100)}% of the icon size)."
    elif extra >= GEOM_TOL and missing < GEOM_TOL:
        desc = f"{_cap(loc)} has an extra part in the candidate (up to {round(extra * 100)}% of the icon size)."
    else:
        desc = f"The outline of {loc} is distorted in the candidate, by up to {round(h * 100)}% of the icon size."
    return [_err("shape_error", G.geom_severity(h), loc, desc)]


def _style_errors(r: G.Drawable, c: G.Drawable, loc: str, scale: float, R, grad_done: set) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    rf, cf = r.filled, c.filled
    rs, cs = r.stroked, c.stroked
    if rf != cf and rs != cs and rf == cs:  # outlined ↔ filled: one visible difference, not two
        how = {True: "a filled shape", False: "an outline"}
        out.append(_err("style_error", 2, loc, f"{_cap(loc)} is drawn as {how[rf]} in the reference but as "
                                               f"{how[cf]} in the candidate."))
        return out
    for prop, rv, cv, what in (("fill", r.fill if r.filled else G.Paint("none"), c.fill if c.filled else G.Paint("none"), "fill"),
                               ("stroke", r.stroke if r.stroked else G.Paint("none"), c.stroke if c.stroked else G.Paint("none"), "outline (stroke) colour")):
        if rv.kind == "none" and cv.kind == "none":
            continue
        if rv.kind == "none" or cv.kind == "none":
            has, lacks = ("reference", "candidate") if cv.kind == "none" else ("candidate", "reference")
            paint = rv if cv.kind == "none" else cv
            out.append(_err("style_error", 2, loc, f"{_cap(loc)} has a {_paint_desc(paint)} {prop} in the {has} but "
                                                   f"no {prop} in the {lacks}."))
        elif rv.kind == "url" and cv.kind == "url":
            if _stops_differ(rv.stops, cv.stops) and rv.ref not in grad_done:
                grad_done.add(rv.ref)
                k = next((n for n, (a, b) in enumerate(zip(rv.stops, cv.stops))
                          if G.color_distance(a[1], b[1]) >= COLOR_TOL), None)
                detail = (f"its {G.ordinal(k + 1)} colour is {G.color_name(rv.stops[k][1])} in the reference but "
                          f"{G.color_name(cv.stops[k][1])} in the candidate" if k is not None else "its stops differ")
                out.append(_err("style_error", 1, f"the gradient of {loc}",
                                f"The gradient {prop} of {loc} differs: {detail}."))
        elif rv.kind == "url" or cv.kind == "url":
            out.append(_err("style_error", 1, loc, f"The {prop} of {loc} is {_paint_desc(rv)} in the reference but "
                                                   f"{_paint_desc(cv)} in the candidate."))
        elif G.color_distance(rv.rgb, cv.rgb) >= COLOR_TOL:
            out.append(_err("style_error", 1, loc, f"The {what} of {loc} is {G.color_name(rv.rgb)} in the reference "
                                                   f"but {G.color_name(cv.rgb)} in the candidate."))
    if r.stroked and c.stroked:
        wr, wc = r.stroke_width * scale, c.stroke_width
        if abs(wc - wr) >= max(0.004, 0.2 * wr):
            out.append(_err("style_error", 1, loc, f"The outline of {loc} is {'thicker' if wc > wr else 'thinner'} in "
                                                   f"the candidate (about {wc / max(wr, 1e-6):.1f}× the reference width)."))
        if (r.dasharray == "none") != (c.dasharray == "none"):
            dashed = "candidate" if r.dasharray == "none" else "reference"
            solid = "reference" if dashed == "candidate" else "candidate"
            out.append(_err("style_error", 1, loc, f"{_cap(loc)} is drawn with a dashed line in the {dashed} but a "
                                                   f"solid line in the {solid}."))
    ar = (r.opacity, r.fill_opacity if r.filled else 1.0, r.stroke_opacity if r.stroked else 1.0)
    ac = (c.opacity, c.fill_opacity if c.filled else 1.0, c.stroke_opacity if c.stroked else 1.0)
    er, ec = ar[0] * min(ar[1:]), ac[0] * min(ac[1:])
    if max(abs(x - y) for x, y in zip(ar, ac)) >= 0.1 and abs(er - ec) >= 0.08:
        out.append(_err("style_error", 1, loc, f"{_cap(loc)} is {'more' if ec < er else 'less'} transparent in the "
                                               f"candidate (opacity about {ec:.2f}) than in the reference "
                                               f"(about {er:.2f})."))
    return out


# ------------------------------------------------------------------------------------------- evaluation

from visual_erm.tasks.svg import INDEX_CHANGING as _INDEX_CHANGING  # noqa: E402
from visual_erm.tasks.svg import targets_related as _related  # noqa: E402


def compose_edits(program: str, rng: random.Random, k: int, operators=None, tries: int = 30):
    """Apply up to ``k`` edits with disjoint targets; tree-reshaping edits (drops, reorders) at most once and last.

    Returns (edited program, list of Edit).
    """
    from visual_erm.tasks.svg_ops import OPERATORS

    ops = list(operators or OPERATORS)
    edits = []
    targets: list[str] = []
    current = program
    reshaped = False
    for _ in range(tries):
        if len(edits) >= k:
            break
        op = rng.choice(ops)
        if op.name in _INDEX_CHANGING and (reshaped or len(edits) < k - 1):
            continue
        e = op.apply(current, random.Random(rng.random()))
        if e is None:
            continue
        tg = e.detail.get("targets", [])
        if any(_related(a, b) for a in tg for b in targets):
            continue
        edits.append(e)
        targets.extend(tg)
        current = e.program
        reshaped = reshaped or op.name in _INDEX_CHANGING
    return current, edits


def equivalent_rewrite(svg: str, rng: random.Random) -> str:
    """The same picture written differently: absolute path commands, presentation attributes moved into
    ``style="..."``, and/or the viewBox rescaled with a compensating group transform (picked with ``rng``)."""
    from lxml import etree

    root = G.parse_svg(svg)
    if rng.random() < 0.7:
        for el in root.iter():
            if G.local(el) == "path" and el.get("d"):
                try:
                    el.set("d", G.path_to_d(G.parse_path(el.get("d"))))
                except ValueError:
                    pass
    if rng.random() < 0.5:
        for el in root.iter():
            if not isinstance(el.tag, str) or G.local(el) in ("svg", "stop"):
                continue
            moved = {k: el.attrib.pop(k) for k in list(el.attrib) if k in ("fill", "stroke", "stroke-width", "opacity")}
            if moved:
                moved.update(G.parse_style_attr(el.get("style")))
                el.set("style", ";".join(f"{k}:{v}" for k, v in moved.items()))
    vb = G.numbers(root.get("viewBox"))
    if rng.random() < 0.5 and len(vb) == 4:
        f = rng.choice([0.5, 2.0, 2.5, 4.0])
        root.set("viewBox", " ".join(G.fmt(v * f) for v in vb))
        ns = root.nsmap.get(None)
        g = etree.SubElement(root, f"{{{ns}}}g" if ns else "g")
        g.set("transform", f"scale({G.fmt(f)})")
        for child in list(root):
            if child is not g and G.local(child) not in ("defs", "style"):
                g.append(child)
    return G.serialize(root)


def evaluate_svg_critic(n: int = 200, seed: int = 0, programs: list[str] | None = None,
                        identity_rate: float = 0.1, rewrite: bool = False) -> dict:
    """Precision / recall of :func:`critique` against operator gold labels, one-to-one by category.

    Held-out generated icons (seeds far from the training range) unless ``programs`` (e.g. real icons) is given.
    Each candidate gets 1–3 composed edits; ``identity_rate`` of the pairs are unedited (any error is a false
    positive). With ``rewrite`` every candidate (identity ones included) is also rewritten into an equivalent but
    differently written SVG (:func:`equivalent_rewrite`), so the critic cannot rely on the candidate sharing the
    reference's source form. Per candidate and category, matched = min(#predicted, #gold); counts are pooled (micro).
    """
    from visual_erm.tasks.svg import generate_seed

    rng = random.Random(f"svg-critic-eval-{seed}")
    tp = Counter()
    n_pred = Counter()
    n_gold = Counter()
    per_op = Counter()
    per_op_hit = Counter()
    identity_fp = 0
    n_identity = 0
    failures = []
    for k in range(n):
        if programs:
            program = programs[k % len(programs)]
        else:
            program = generate_seed(10_000_000 + seed * 100_003 + k).program
        if rng.random() < identity_rate:
            n_identity += 1
            pred = critique(program, equivalent_rewrite(program, rng) if rewrite else program)
            identity_fp += len(pred.errors)
            for e in pred.errors:
                n_pred[e.category] += 1
            continue
        edited, edits = compose_edits(program, rng, rng.choice([1, 2, 3]))
        if not edits:
            continue
        if rewrite:
            edited = equivalent_rewrite(edited, rng)
        pred = critique(program, edited)
        gold = Counter(e.discrepancy.category for e in edits)
        got = Counter(e.category for e in pred.errors)
        for cat in CATEGORIES["svg"]:
            tp[cat] += min(gold[cat], got[cat])
            n_pred[cat] += got[cat]
            n_gold[cat] += gold[cat]
        if len(edits) == 1:
            op = edits[0].operator
            per_op[op] += 1
            per_op_hit[op] += int(got[edits[0].discrepancy.category] >= 1)
        if gold != got and len(failures) < 20:
            failures.append({"item": k, "gold": [(e.operator, e.discrepancy.category) for e in edits],
                             "predicted": [(e.category, e.description) for e in pred.errors]})
    TP, P, Gd = sum(tp.values()), sum(n_pred.values()), sum(n_gold.values())
    precision = TP / P if P else 1.0
    recall = TP / Gd if Gd else 1.0
    return {
        "n": n,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "per_category": {c: {"precision": tp[c] / n_pred[c] if n_pred[c] else None,
                             "recall": tp[c] / n_gold[c] if n_gold[c] else None,
                             "gold": n_gold[c], "predicted": n_pred[c]} for c in CATEGORIES["svg"]},
        "single_edit_recall_by_operator": {op: per_op_hit[op] / per_op[op] for op in sorted(per_op)},
        "identity_pairs": n_identity,
        "identity_false_positives": identity_fp,
        "failures": failures,
    }
