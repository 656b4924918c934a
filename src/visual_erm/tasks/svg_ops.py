"""Corruption operators for SVG icons: edits of the XML tree (lxml) that report the exact discrepancy they cause.

Every operator is ``fn(program, rng) -> Edit | None``. It parses the SVG, looks only at *visible* drawables (effective
style: presentation attributes, ``style="..."``, inheritance from the root ``<svg>``, ``currentColor``), picks a
target with ``rng`` and returns None when the icon offers nothing the edit would visibly change (e.g. a stroke colour
change on a fill-only icon). ``Edit.detail["targets"]`` lists the XPaths of the touched elements (before the edit)
so that callers composing several edits can keep them disjoint.

Severity (see :mod:`visual_erm.tasks.base`): geometric edits are measured as a fraction of the icon size (the
viewBox's longer side): transforms (move/scale/rotate) are 1 below 4 % and 2 above; shape edits use
:func:`~visual_erm.tasks.svg_geom.geom_severity` (1 / 2 / 3 at 4 % and 30 %); a dropped element is 3 when it is a large
part (diagonal ≥ 25 % of the icon) else 2; a dropped group is 3; colour, width, opacity, dash and gradient edits are 1;
a changed glyph is 2; a dropped text is 3 when it is a main label (font ≥ 20 % of the icon) else 2.
"""

from __future__ import annotations

import math
import random

import numpy as np

from visual_erm.schema import Discrepancy
from visual_erm.tasks.base import Edit, FunctionOperator
from visual_erm.tasks import svg_geom as G

# saturated, mutually distinct colours to draw replacement paints from
COLORS = ["#e11d48", "#f97316", "#eab308", "#22c55e", "#06b6d4", "#2563eb", "#7c3aed", "#db2777", "#0f766e",
          "#92400e", "#111827", "#9ca3af", "#65a30d", "#1d4ed8", "#be123c"]
SYMBOLS = "%$€#+!-&@?*"


def _xp(el) -> str:
    return el.getroottree().getpath(el)


def _load(program: str):
    try:
        return G.load(program)
    except (ValueError, TypeError):
        return None


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _edit(doc, name, category, severity, location, description, targets, **detail) -> Edit:
    return Edit(
        program=G.serialize(doc.root),
        discrepancy=Discrepancy(category=category, severity=severity, location=location, description=description),
        operator=name,
        detail={"targets": targets, **detail},
    )


def _new_color(rng: random.Random, old) -> str:
    pool = [c for c in COLORS if G.color_distance(G.parse_color(c), old) >= 0.35] if old is not None else COLORS
    return rng.choice(pool or COLORS)


def _root_units(doc) -> float:
    """User units of the root per normalised unit (the viewBox's longer side)."""
    return max(doc.viewbox[2], doc.viewbox[3])


def _parent_linear(el) -> np.ndarray:
    parent = el.getparent()
    return G.ctm(parent)[:2, :2] if parent is not None else np.eye(2)


def _to_parent(doc, el, point_norm) -> np.ndarray:
    """A point in normalised coordinates expressed in the element's parent user space."""
    m = doc.norm @ G.ctm(el.getparent()) if el.getparent() is not None else doc.norm
    return (np.linalg.inv(m) @ np.array([point_norm[0], point_norm[1], 1.0]))[:2]


def _prepend_transform(el, tf: str) -> None:
    old = el.get("transform")
    el.set("transform", f"{tf} {old}" if old else tf)


def _drawable_groups(doc) -> list:
    """``<g>`` elements (not the root) holding at least two drawables but not every drawable."""
    out = []
    for d in doc.drawables:
        for g in d.groups:
            if g not in out:
                out.append(g)
    n = len(doc.drawables)
    return [g for g in out if 2 <= len(G.group_drawables(g, doc.drawables)) < n
            and any(not d.hidden for d in G.group_drawables(g, doc.drawables))]


def _transform_targets(doc, rng, group_p=0.35):
    """(element, label, members) for a transform edit: a drawable or, sometimes, a group."""
    groups = _drawable_groups(doc)
    if groups and rng.random() < group_p:
        g = rng.choice(groups)
        return g, G.describe_group(g, doc.drawables), G.group_drawables(g, doc.drawables)
    vis = G.visible(doc)
    if not vis:
        return None
    d = rng.choice(vis)
    return d.el, G.describe_drawable(d, doc.drawables), [d]


# ------------------------------------------------------------------------------------------- structure_error

def drop_element(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None or len(G.visible(doc)) < 2:
        return None
    cands = [d for d in G.visible(doc) if d.tag != "text"]
    if not cands:
        return None
    d = rng.choice(cands)
    loc = G.describe_drawable(d, doc.drawables)
    xp = _xp(d.el)
    look = G.appearance(d)
    _remove(d.el)
    return _edit(doc, "drop_element", "structure_error", G.drop_severity(d.diag), loc,
                 f"{_cap(loc)} ({look} {d.kind}) is missing in the candidate.", [xp], tag=d.tag)


def _remove(el) -> None:
    parent = el.getparent()
    tail = el.tail
    prev = el.getprevious()
    parent.remove(el)
    if tail and tail.strip():  # keep text that followed the element (rare in SVG)
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def drop_group(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    groups = _drawable_groups(doc)
    if not groups:
        return None
    g = rng.choice(groups)
    members = G.group_drawables(g, doc.drawables)
    loc = G.describe_group(g, doc.drawables)
    xp = _xp(g)
    _remove(g)
    kinds = ", ".join(sorted({m.kind for m in members}))
    return _edit(doc, "drop_group", "structure_error", 3, loc,
                 f"{_cap(loc)} ({len(members)} shapes: {kinds}) is missing in the candidate.", [xp],
                 members=len(members))


def _overlap(a, b) -> float:
    """Overlap area of two bboxes as a fraction of the smaller one."""
    x0, y0 = max(a.bbox[0], b.bbox[0]), max(a.bbox[1], b.bbox[1])
    x1, y1 = min(a.bbox[2], b.bbox[2]), min(a.bbox[3], b.bbox[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    small = max(min(a.area, b.area), 1e-9)
    return inter / small if inter > 0 else 0.0


def paints_differ(a, b, threshold: float = 0.2) -> bool:
    if a.fill.kind == "url" or b.fill.kind == "url":
        return True
    pa, pb = a.paints(), b.paints()
    if not pa or not pb:
        return False
    return min(G.color_distance(x, y) for x in pa for y in pb) >= threshold


def visibly_stacked(a, b) -> bool:
    """Swapping the paint order of a and b changes pixels: they overlap and differ in paint."""
    return (a.filled or b.filled) and _overlap(a, b) >= 0.1 and min(a.area, b.area) > 2e-4 and paints_differ(a, b)


def reorder_layers(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    ds = doc.drawables
    pairs = []
    vis = G.visible(doc)
    for i, a in enumerate(vis):
        for b in vis[i + 1:]:
            if a.el.getparent() is not b.el.getparent() or not visibly_stacked(a, b):
                continue
            between = [x for x in ds[a.index + 1:b.index]]
            if any(visibly_stacked(x, b) or visibly_stacked(x, a) for x in between):
                continue
            pairs.append((a, b))
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    la, lb = G.describe_drawable(a, ds), G.describe_drawable(b, ds)
    xa, xb = _xp(a.el), _xp(b.el)
    parent = b.el.getparent()
    tail = b.el.tail
    parent.remove(b.el)
    b.el.tail = tail
    a.el.addprevious(b.el)
    return _edit(doc, "reorder_layers", "structure_error", 2, lb,
                 f"{_cap(lb)} is drawn in front of {la} in the reference but behind it in the candidate, "
                 f"so the overlapping part is hidden.", [xa, xb], moved=xb, below=xa)


def move_element(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    t = _transform_targets(doc, rng)
    if t is None:
        return None
    el, loc, members = t
    mag = rng.uniform(0.025, 0.04) if rng.random() < 0.2 else rng.uniform(0.06, 0.22)
    ang = rng.choice([0, 45, 90, 135, 180, 225, 270, 315]) + rng.uniform(-15, 15)
    dx, dy = mag * math.cos(math.radians(ang)), mag * math.sin(math.radians(ang))
    d_user = np.array([dx, dy]) * _root_units(doc)
    d_par = np.linalg.solve(_parent_linear(el), d_user)
    xp = _xp(el)
    _prepend_transform(el, f"translate({G.fmt(d_par[0])} {G.fmt(d_par[1])})")
    sev = 1 if mag < 0.04 else 2
    return _edit(doc, "move_element", "structure_error", sev, loc,
                 f"{_cap(loc)} is shifted {G.directions(dx, dy)} by about {round(mag * 100)}% of the icon size "
                 f"in the candidate.", [xp], dx=dx, dy=dy)


def scale_element(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    for _ in range(4):
        t = _transform_targets(doc, rng)
        if t is None:
            return None
        el, loc, members = t
        x0, y0, x1, y1 = G.group_bbox(members)
        size = max(x1 - x0, y1 - y0)
        if size >= 0.08:
            break
    else:
        return None
    s = rng.uniform(0.55, 0.78) if rng.random() < 0.5 else rng.uniform(1.25, 1.6)
    c = _to_parent(doc, el, ((x0 + x1) / 2, (y0 + y1) / 2))
    xp = _xp(el)
    _prepend_transform(el, f"translate({G.fmt(c[0])} {G.fmt(c[1])}) scale({G.fmt(s)}) "
                           f"translate({G.fmt(-c[0])} {G.fmt(-c[1])})")
    frac = abs(s - 1) * size
    sev = 1 if frac < 0.04 else 2
    word = "larger" if s > 1 else "smaller"
    return _edit(doc, "scale_element", "structure_error", sev, loc,
                 f"{_cap(loc)} is drawn about {round(abs(s - 1) * 100)}% {word} in the candidate than in the "
                 f"reference.", [xp], scale=s)


def rotate_element(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    for _ in range(5):
        t = _transform_targets(doc, rng)
        if t is None:
            return None
        el, loc, members = t
        x0, y0, x1, y1 = G.group_bbox(members)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        ang = rng.choice([-1, 1]) * rng.uniform(20, 75)
        a = math.radians(ang)
        pts = np.concatenate([m.points for m in members])
        rot = (pts - [cx, cy]) @ np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]]) + [cx, cy]
        if G.chamfer(pts, rot)[1] >= 0.03:  # not rotationally symmetric: the rotation shows
            break
    else:
        return None
    c = _to_parent(doc, el, (cx, cy))
    xp = _xp(el)
    _prepend_transform(el, f"rotate({G.fmt(ang)} {G.fmt(c[0])} {G.fmt(c[1])})")
    r = float(np.max(np.linalg.norm(pts - [cx, cy], axis=1)))
    frac = 2 * r * math.sin(abs(a) / 2)
    sev = 1 if frac < 0.04 else 2
    way = "clockwise" if ang > 0 else "counter-clockwise"
    return _edit(doc, "rotate_element", "structure_error", sev, loc,
                 f"{_cap(loc)} is rotated about {round(abs(ang))}° {way} in the candidate.", [xp], angle=ang)


# ------------------------------------------------------------------------------------------- shape_error

def _local_scale(d) -> float:
    return abs(np.linalg.det(d.matrix[:2, :2])) ** 0.5


def perturb_path(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    cands = []
    for d in G.visible(doc):
        if d.tag != "path":
            continue
        segs = G.parse_path(d.el.get("d", ""))
        if sum(1 for c, _ in segs if c not in "MZ") >= 1:
            cands.append((d, segs))
    if not cands:
        return None
    d, segs = rng.choice(cands)
    lin_inv = np.linalg.inv(d.matrix[:2, :2])
    idx = [i for i, (c, _) in enumerate(segs) if c not in "Z"]
    for _ in range(6):
        i = rng.choice(idx)
        mag = rng.uniform(0.05, 0.18)
        ang = rng.uniform(0, 2 * math.pi)
        dl = lin_inv @ np.array([mag * math.cos(ang), mag * math.sin(ang)])
        new = [(c, list(a)) for c, a in segs]
        c, a = new[i]
        a[-2] += dl[0]
        a[-1] += dl[1]
        if c == "C":
            a[2] += dl[0]
            a[3] += dl[1]
        if i + 1 < len(new) and new[i + 1][0] == "C":
            new[i + 1][1][0] += dl[0]
            new[i + 1][1][1] += dl[1]
        old_pts = d.points
        lines = G.flatten_path(new)
        if not lines:
            continue
        new_pts = G.resample([G.apply_tf(d.matrix, np.asarray(p)) for p in lines])
        if G.chamfer(old_pts, new_pts)[1] >= 0.02:
            break
    else:
        return None
    loc = G.describe_drawable(d, doc.drawables)
    vx, vy = G.apply_tf(d.matrix, np.array([[segs[i][1][-2], segs[i][1][-1]]]))[0]
    xp = _xp(d.el)
    d.el.set("d", G.path_to_d(new))
    return _edit(doc, "perturb_path", "shape_error", G.geom_severity(mag), loc,
                 f"The outline of {loc} is distorted: a point near the {G.region(vx, vy).split(' ', 2)[-1]} of the "
                 f"icon is displaced by about {round(mag * 100)}% of the icon size.", [xp], vertex=i, displacement=mag)


def change_shape_geometry(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    cands = [d for d in G.visible(doc) if d.tag in ("rect", "circle", "ellipse", "line", "polyline", "polygon")]
    rng.shuffle(cands)
    for d in cands:
        lin = _local_scale(d)
        el = d.el
        f = rng.uniform(0.5, 0.72) if rng.random() < 0.5 else rng.uniform(1.35, 1.7)
        loc = G.describe_drawable(d, doc.drawables)
        xp = _xp(el)
        if d.tag == "circle":
            r = G.num(el.get("r"))
            frac = abs(r * f - r) * lin
            if frac < 0.02:
                continue
            el.set("r", G.fmt(r * f))
            desc = f"The radius of {loc} is {'larger' if f > 1 else 'smaller'} in the candidate (about {round(abs(f - 1) * 100)}%)."
            detail = {"attr": "r", "old": r, "new": r * f}
        elif d.tag in ("ellipse", "rect"):
            attr = rng.choice(["rx", "ry"] if d.tag == "ellipse" else ["width", "height"])
            v = G.num(el.get(attr))
            frac = abs(v * f - v) * lin
            if frac < 0.02 or v <= 0:
                continue
            el.set(attr, G.fmt(v * f))
            what = {"rx": "horizontal radius", "ry": "vertical radius", "width": "width", "height": "height"}[attr]
            desc = (f"The {what} of {loc} is {'larger' if f > 1 else 'smaller'} in the candidate "
                    f"(about {round(abs(f - 1) * 100)}%).")
            detail = {"attr": attr, "old": v, "new": v * f}
        else:
            mag = rng.uniform(0.05, 0.18)
            ang = rng.uniform(0, 2 * math.pi)
            dl = np.linalg.solve(d.matrix[:2, :2], np.array([mag * math.cos(ang), mag * math.sin(ang)]))
            frac = mag
            if d.tag == "line":
                end = rng.choice(["1", "2"])
                el.set(f"x{end}", G.fmt(G.num(el.get(f"x{end}")) + dl[0]))
                el.set(f"y{end}", G.fmt(G.num(el.get(f"y{end}")) + dl[1]))
                desc = f"An end point of {loc} is displaced by about {round(mag * 100)}% of the icon size in the candidate."
                detail = {"attr": f"x{end},y{end}"}
            else:
                v = G.numbers(el.get("points"))
                k = rng.randrange(len(v) // 2)
                v[2 * k] += dl[0]
                v[2 * k + 1] += dl[1]
                el.set("points", " ".join(f"{G.fmt(v[j])},{G.fmt(v[j + 1])}" for j in range(0, len(v) - 1, 2)))
                desc = (f"The {G.ordinal(k + 1)} vertex of {loc} is displaced by about {round(mag * 100)}% of the "
                        f"icon size in the candidate.")
                detail = {"attr": "points", "vertex": k}
        return _edit(doc, "change_shape_geometry", "shape_error", G.geom_severity(frac), loc, desc, [xp],
                     change=frac, **detail)
    return None


def drop_path_segment(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    options = []
    for d in G.visible(doc):
        if d.tag != "path":
            continue
        segs = G.parse_path(d.el.get("d", ""))
        subs = [s for s in G.subpaths(segs) if any(c not in "MZ" for c, _ in s)]
        if len(subs) >= 2:
            for k, sp in enumerate(subs):
                pts = np.concatenate([G.apply_tf(d.matrix, np.asarray(p)) for p in G.flatten_path(sp)] or [np.zeros((0, 2))])
                if len(pts) and np.linalg.norm(pts.max(0) - pts.min(0)) >= 0.04:
                    options.append(("sub", d, subs, k, pts))
        elif len(subs) == 1:
            sp = subs[0]
            start = sp[0][1] if sp[0][0] == "M" else [0.0, 0.0]
            cur = start
            for i, (c, a) in enumerate(sp):
                if c in "LCQA":
                    piece = [("M", list(cur)), (c, a)]
                    pts = np.concatenate([G.apply_tf(d.matrix, np.asarray(p)) for p in G.flatten_path(piece)])
                    if np.linalg.norm(pts.max(0) - pts.min(0)) >= 0.05 and sum(1 for x, _ in sp if x in "LCQA") >= 3:
                        options.append(("seg", d, sp, i, pts))
                cur = G.seg_end((c, a), start) or cur
    if not options:
        return None
    kind, d, parts, k, pts = rng.choice(options)
    loc = G.describe_drawable(d, doc.drawables)
    diag = float(np.linalg.norm(pts.max(0) - pts.min(0)))
    sev = 3 if diag >= 0.3 else 2 if diag >= 0.08 else 1
    cx, cy = (pts.max(0) + pts.min(0)) / 2
    where = G.region(cx, cy)
    xp = _xp(d.el)
    if kind == "sub":
        new = [s for j, sp in enumerate(parts) for s in sp if j != k]
        desc = f"Part of {loc} is missing in the candidate: the sub-shape {where} of the icon is not drawn."
    else:
        sp = parts
        start = sp[0][1]
        c, a = sp[k]
        new = [(x, list(y)) for x, y in sp[:k]] + [("M", [a[-2], a[-1]])]
        for x, y in sp[k + 1:]:
            new.append(("L", list(start)) if x == "Z" else (x, list(y)))
        what = "straight" if c == "L" else "curved"
        desc = (f"Part of the outline of {loc} is missing in the candidate: a {what} segment {where} of the icon, "
                f"about {round(diag * 100)}% of the icon size, is not drawn.")
    d.el.set("d", G.path_to_d(new))
    return _edit(doc, "drop_path_segment", "shape_error", sev, loc, desc, [xp], part=kind, index=k, size=diag)


# ------------------------------------------------------------------------------------------- style_error

def _paint_change(program: str, rng: random.Random, prop: str) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    def alpha(d):
        return d.opacity * (d.fill_opacity if prop == "fill" else d.stroke_opacity)

    # the colour change must survive the element's transparency
    cands = [d for d in G.visible(doc) if (d.filled if prop == "fill" else d.stroked) and alpha(d) >= 0.5]
    if not cands:
        return None
    d = rng.choice(cands)
    paint = d.fill if prop == "fill" else d.stroke
    old = paint.mean_rgb()
    need = max(0.35, 0.25 / alpha(d))
    pool = [c for c in COLORS if G.color_distance(G.parse_color(c), old) >= need] if old else COLORS
    new = rng.choice(pool or COLORS)
    loc = G.describe_drawable(d, doc.drawables)
    xp = _xp(d.el)
    G.set_prop(d.el, prop, new)
    what = "fill" if prop == "fill" else "outline (stroke) colour"
    if paint.kind == "url":
        desc = f"{_cap(loc)} has a gradient {prop} in the reference but a flat {G.color_name(G.parse_color(new))} {prop} in the candidate."
    else:
        desc = (f"The {what} of {loc} is {G.color_name(paint.rgb)} in the reference but "
                f"{G.color_name(G.parse_color(new))} in the candidate.")
    return _edit(doc, f"change_{'fill' if prop == 'fill' else 'stroke_color'}", "style_error", 1, loc, desc, [xp],
                 old=G.color_hex(paint.mean_rgb()), new=new)


def change_fill(program: str, rng: random.Random) -> Edit | None:
    return _paint_change(program, rng, "fill")


def change_stroke_color(program: str, rng: random.Random) -> Edit | None:
    return _paint_change(program, rng, "stroke")


def change_stroke_width(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    cands = [d for d in G.visible(doc) if d.stroked]
    if not cands:
        return None
    d = rng.choice(cands)
    w = G.num(d.style.get("stroke-width"), 1.0)
    f = rng.choice([0.4, 0.5, 2.0, 2.5])
    if abs(d.stroke_width * f - d.stroke_width) < 0.004:
        f = 2.5 if d.stroke_width * 2.5 - d.stroke_width >= 0.004 else f
        if abs(d.stroke_width * f - d.stroke_width) < 0.004:
            return None
    loc = G.describe_drawable(d, doc.drawables)
    xp = _xp(d.el)
    G.set_prop(d.el, "stroke-width", G.fmt(w * f))
    word = "thicker" if f > 1 else "thinner"
    return _edit(doc, "change_stroke_width", "style_error", 1, loc,
                 f"The outline of {loc} is {word} in the candidate (stroke width {G.fmt(w)} in the reference, "
                 f"{G.fmt(w * f)} in the candidate).", [xp], old=w, new=w * f)


def change_opacity(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    cands = [d for d in G.visible(doc) if any(sum(p) / 3 < 0.85 for p in d.paints()) or d.fill.kind == "url"]
    if not cands:
        return None
    d = rng.choice(cands)
    own = G.num(G.own_props(d.el).get("opacity"), 1.0)
    parent = d.opacity / own if own > 0 else 1.0
    loc = G.describe_drawable(d, doc.drawables)
    xp = _xp(d.el)
    if d.opacity >= 0.85:
        new = rng.choice([0.25, 0.35, 0.5])
        G.set_prop(d.el, "opacity", G.fmt(new))
        eff = parent * new
        desc = (f"{_cap(loc)} is semi-transparent in the candidate (opacity about {eff:.2f}) but opaque in the "
                f"reference.")
    elif own < 0.85 and parent > 0.8:
        G.set_prop(d.el, "opacity", None)
        eff = parent
        desc = f"{_cap(loc)} is semi-transparent in the reference (opacity {d.opacity:.2f}) but opaque in the candidate."
    else:
        return None
    return _edit(doc, "change_opacity", "style_error", 1, loc, desc, [xp], old=d.opacity, new=eff)


def change_gradient_stop(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    users: dict[str, list] = {}
    for d in G.visible(doc):
        for p in (d.fill if d.filled else None, d.stroke if d.stroked else None):
            if p is not None and p.kind == "url":
                users.setdefault(p.ref, []).append(d)
    if not users:
        return None
    gid = rng.choice(sorted(users))
    grad = doc.ids[gid]
    seen = 0
    while not [s for s in grad if G.local(s) == "stop"] and seen < 5:
        href = grad.get("href") or grad.get(f"{{{G.XLINK_NS}}}href") or ""
        if href[1:] not in doc.ids:
            return None
        grad = doc.ids[href[1:]]
        seen += 1
    stops = [s for s in grad if G.local(s) == "stop"]
    if not stops:
        return None
    k = rng.randrange(len(stops))
    stop = stops[k]
    st = G.parse_style_attr(stop.get("style"))
    old = G.parse_color(st.get("stop-color", stop.get("stop-color", "black"))) or (0.0, 0.0, 0.0)
    new = _new_color(rng, old)
    G.set_prop(stop, "stop-color", new)
    first = users[gid][0]
    loc = f"the gradient of {G.describe_drawable(first, doc.drawables)}"
    targets = [_xp(grad)] + [_xp(u.el) for u in users[gid]]
    return _edit(doc, "change_gradient_stop", "style_error", 1, loc,
                 f"The {G.ordinal(k + 1)} colour of {loc} is {G.color_name(old)} in the reference but "
                 f"{G.color_name(G.parse_color(new))} in the candidate.", targets, gradient=gid, stop=k,
                 old=G.color_hex(old), new=new)


def change_dasharray(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    cands = [d for d in G.visible(doc) if d.stroked and (d.dasharray != "none" or d.length >= 0.25)]
    if not cands:
        return None
    d = rng.choice(cands)
    loc = G.describe_drawable(d, doc.drawables)
    xp = _xp(d.el)
    if d.dasharray == "none":
        w = G.num(d.style.get("stroke-width"), 1.0)
        lin = d.stroke_width / w if w > 0 else _local_scale(d)
        dash = max(0.05 / lin, 1.5 * w)
        gap = w * (1.0 if d.style.get("stroke-linecap", "butt") in ("round", "square") else 0.0) + max(0.04 / lin, w)
        G.set_prop(d.el, "stroke-dasharray", f"{G.fmt(dash)} {G.fmt(gap)}")
        desc = f"{_cap(loc)} is drawn with a dashed line in the candidate but a solid line in the reference."
    else:
        G.set_prop(d.el, "stroke-dasharray", "none")
        desc = f"{_cap(loc)} is drawn with a dashed line in the reference but a solid line in the candidate."
    return _edit(doc, "change_dasharray", "style_error", 1, loc, desc, [xp], old=d.dasharray)


# ------------------------------------------------------------------------------------------- text_symbol_error

def _swap_char(ch: str, rng: random.Random) -> str:
    if ch.isdigit():
        return rng.choice([c for c in "0123456789" if c != ch])
    if ch.isalpha():
        pool = "ABCDEFGHJKMNPRSTUVWXYZ" if ch.isupper() else "abcdefghjkmnpqrstuvwxyz"
        return rng.choice([c for c in pool if c != ch])
    return rng.choice([c for c in SYMBOLS if c != ch])


def change_text(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    cands = [d for d in G.visible(doc) if d.tag == "text" and d.text]
    if not cands:
        return None
    d = rng.choice(cands)
    slots = []  # (node, attribute name)
    if d.el.text:
        slots.append((d.el, "text"))
    for child in d.el.iterdescendants():
        if child.text:
            slots.append((child, "text"))
        if child.tail:
            slots.append((child, "tail"))
    positions = [(node, attr, i) for node, attr in slots for i, ch in enumerate(getattr(node, attr)) if not ch.isspace()]
    if not positions:
        return None
    node, attr, i = rng.choice(positions)
    s = getattr(node, attr)
    new_ch = _swap_char(s[i], rng)
    setattr(node, attr, s[:i] + new_ch + s[i + 1:])
    new_text = G.text_content(d.el)
    loc = f"the text '{d.text}'"
    return _edit(doc, "change_text", "text_symbol_error", 2, loc,
                 f"The text reads '{d.text}' in the reference but '{new_text}' in the candidate.", [_xp(d.el)],
                 old=d.text, new=new_text)


def drop_text(program: str, rng: random.Random) -> Edit | None:
    doc = _load(program)
    if doc is None:
        return None
    cands = [d for d in G.visible(doc) if d.tag == "text" and d.text]
    if not cands:
        return None
    d = rng.choice(cands)
    fs = G.num(d.style.get("font-size"), 16.0) * _local_scale(d)
    sev = 3 if fs >= 0.2 else 2
    xp = _xp(d.el)
    _remove(d.el)
    return _edit(doc, "drop_text", "text_symbol_error", sev, f"the text '{d.text}'",
                 f"The text '{d.text}' {G.region(*d.center)} of the icon is missing in the candidate.", [xp],
                 old=d.text)


OPERATORS = [
    FunctionOperator("drop_element", "structure_error", drop_element),
    FunctionOperator("drop_group", "structure_error", drop_group),
    FunctionOperator("reorder_layers", "structure_error", reorder_layers),
    FunctionOperator("move_element", "structure_error", move_element),
    FunctionOperator("scale_element", "structure_error", scale_element),
    FunctionOperator("rotate_element", "structure_error", rotate_element),
    FunctionOperator("perturb_path", "shape_error", perturb_path),
    FunctionOperator("change_shape_geometry", "shape_error", change_shape_geometry),
    FunctionOperator("drop_path_segment", "shape_error", drop_path_segment),
    FunctionOperator("change_fill", "style_error", change_fill),
    FunctionOperator("change_stroke_color", "style_error", change_stroke_color),
    FunctionOperator("change_stroke_width", "style_error", change_stroke_width),
    FunctionOperator("change_opacity", "style_error", change_opacity),
    FunctionOperator("change_gradient_stop", "style_error", change_gradient_stop),
    FunctionOperator("change_dasharray", "style_error", change_dasharray),
    FunctionOperator("change_text", "text_symbol_error", change_text),
    FunctionOperator("drop_text", "text_symbol_error", drop_text),
]
