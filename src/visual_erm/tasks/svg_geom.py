"""SVG document model shared by the SVG operators and the structural critic.

Parses an SVG string with lxml (namespaces respected, entities and network off), and describes every visible
drawable element: its geometry sampled to points in *normalised* icon coordinates (the viewBox mapped to the unit
square, aspect ratio kept, as cairosvg renders it), its effective style (presentation attributes, ``style="..."``,
inheritance from ancestors including the root ``<svg>``, ``currentColor``), its text and a human-readable location.

Pure Python + numpy; no rendering.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from lxml import etree

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
SHAPE_TAGS = ("path", "rect", "circle", "ellipse", "line", "polyline", "polygon")
DRAW_TAGS = SHAPE_TAGS + ("text",)
NON_RENDERED = {
    "defs", "clipPath", "mask", "symbol", "marker", "pattern", "linearGradient", "radialGradient", "style", "title",
    "desc", "metadata", "filter", "script", "foreignObject",
}
INHERITED = (
    "fill", "stroke", "stroke-width", "stroke-dasharray", "stroke-dashoffset", "stroke-linecap", "stroke-linejoin",
    "stroke-miterlimit", "fill-opacity", "stroke-opacity", "fill-rule", "color", "font-size", "font-family",
    "font-weight", "font-style", "text-anchor", "visibility", "dominant-baseline", "letter-spacing",
)
NON_INHERITED = ("opacity", "display", "transform")
KIND_NAMES = {
    "path": "path", "rect": "rectangle", "circle": "circle", "ellipse": "ellipse", "line": "line",
    "polyline": "polyline", "polygon": "polygon", "text": "text", "g": "group",
}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False,
                          recover=True)


# ---------------------------------------------------------------------------------------------------- parsing

def parse_svg(text: str) -> etree._Element:
    """Parse an SVG document; raises ValueError when there is no ``<svg>`` root."""
    data = text.encode() if isinstance(text, str) else text
    data = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:  # pragma: no cover - recover=True rarely raises
        raise ValueError(f"not an SVG document: {exc}") from None
    if root is None or local(root) != "svg":
        raise ValueError("not an SVG document: no <svg> root element")
    return root


def serialize(root: etree._Element) -> str:
    return etree.tostring(root, encoding="unicode")


def local(el) -> str:
    """Tag without namespace ('' for comments and processing instructions)."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def fmt(v: float) -> str:
    """Compact number formatting for attributes (3 decimals, no trailing zeros)."""
    if abs(v) < 5e-4:
        return "0"
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def num(value, default: float = 0.0, ref: float | None = None) -> float:
    """A length/number attribute as float (units ignored, % relative to ``ref``)."""
    if value is None:
        return default
    m = _NUM.match(str(value).strip())
    if not m:
        return default
    v = float(m.group(0))
    if ref is not None and str(value).strip().endswith("%"):
        v = v / 100.0 * ref
    return v


def numbers(text: str | None) -> list[float]:
    return [float(x) for x in _NUM.findall(text or "")]


# ---------------------------------------------------------------------------------------------------- paths

_CMD_ARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}


def _scan_path(d: str):
    """Yield (command, [args]) with the exact arity, handling compact arc flags (``a1 1 0 011 1``)."""
    i, n = 0, len(d)
    cmd = None
    out = []
    num_re = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

    def skip(i):
        while i < n and d[i] in " \t\r\n,":
            i += 1
        return i

    while True:
        i = skip(i)
        if i >= n:
            break
        ch = d[i]
        if ch.upper() in _CMD_ARGS:
            cmd = ch
            i += 1
            if ch in "Zz":
                out.append((ch, []))
                continue
        elif cmd is None:
            raise ValueError(f"path data does not start with a command: {d[:20]!r}")
        elif cmd in "Zz":
            raise ValueError("numbers after Z")
        arity = _CMD_ARGS[cmd.upper()]
        args = []
        for k in range(arity):
            i = skip(i)
            if i >= n:
                raise ValueError("truncated path data")
            if cmd in "Aa" and k in (3, 4):
                if d[i] not in "01":
                    raise ValueError("bad arc flag")
                args.append(float(d[i]))
                i += 1
                continue
            m = num_re.match(d, i)
            if not m:
                raise ValueError(f"bad number in path data at {i}: {d[i:i + 10]!r}")
            args.append(float(m.group(0)))
            i = m.end()
        out.append((cmd, args))
        if cmd == "M":
            cmd = "L"
        elif cmd == "m":
            cmd = "l"
    return out


@lru_cache(maxsize=4096)
def _parse_path_cached(d: str) -> tuple:
    return tuple((c, tuple(a)) for c, a in _abs_path(_scan_path(d)))


def parse_path(d: str) -> list[tuple[str, list[float]]]:
    """Absolute, simplified segments: M, L, C, Q, A, Z (H/V → L, S → C, T → Q). Raises ValueError if malformed."""
    return [(c, list(a)) for c, a in _parse_path_cached(d or "")]


def _abs_path(raw):
    segs = []
    cx = cy = sx = sy = 0.0
    last_c2 = last_q = None
    for cmd, a in raw:
        rel = cmd.islower()
        C = cmd.upper()
        ox, oy = (cx, cy) if rel else (0.0, 0.0)
        if C == "M":
            cx, cy = a[0] + ox, a[1] + oy
            sx, sy = cx, cy
            segs.append(("M", [cx, cy]))
            last_c2 = last_q = None
        elif C == "L":
            cx, cy = a[0] + ox, a[1] + oy
            segs.append(("L", [cx, cy]))
            last_c2 = last_q = None
        elif C == "H":
            cx = a[0] + (cx if rel else 0.0)
            segs.append(("L", [cx, cy]))
            last_c2 = last_q = None
        elif C == "V":
            cy = a[0] + (cy if rel else 0.0)
            segs.append(("L", [cx, cy]))
            last_c2 = last_q = None
        elif C == "C":
            p = [a[0] + ox, a[1] + oy, a[2] + ox, a[3] + oy, a[4] + ox, a[5] + oy]
            segs.append(("C", p))
            last_c2 = (p[2], p[3])
            cx, cy = p[4], p[5]
            last_q = None
        elif C == "S":
            c1 = (2 * cx - last_c2[0], 2 * cy - last_c2[1]) if last_c2 else (cx, cy)
            p = [c1[0], c1[1], a[0] + ox, a[1] + oy, a[2] + ox, a[3] + oy]
            segs.append(("C", p))
            last_c2 = (p[2], p[3])
            cx, cy = p[4], p[5]
            last_q = None
        elif C == "Q":
            p = [a[0] + ox, a[1] + oy, a[2] + ox, a[3] + oy]
            segs.append(("Q", p))
            last_q = (p[0], p[1])
            cx, cy = p[2], p[3]
            last_c2 = None
        elif C == "T":
            q = (2 * cx - last_q[0], 2 * cy - last_q[1]) if last_q else (cx, cy)
            p = [q[0], q[1], a[0] + ox, a[1] + oy]
            segs.append(("Q", p))
            last_q = q
            cx, cy = p[2], p[3]
            last_c2 = None
        elif C == "A":
            p = [a[0], a[1], a[2], a[3], a[4], a[5] + ox, a[6] + oy]
            segs.append(("A", p))
            cx, cy = p[5], p[6]
            last_c2 = last_q = None
        elif C == "Z":
            segs.append(("Z", []))
            cx, cy = sx, sy
            last_c2 = last_q = None
    return segs


def path_to_d(segs) -> str:
    parts = []
    for cmd, a in segs:
        if cmd == "A":
            parts.append("A" + " ".join([fmt(a[0]), fmt(a[1]), fmt(a[2]), str(int(a[3])), str(int(a[4])),
                                         fmt(a[5]), fmt(a[6])]))
        else:
            parts.append(cmd + " ".join(fmt(x) for x in a))
    return "".join(parts)


def seg_end(seg, start=None):
    cmd, a = seg
    if cmd == "Z":
        return start
    return (a[-2], a[-1])


def subpaths(segs) -> list[list]:
    """Split absolute segments into subpaths, each starting with an M."""
    out: list[list] = []
    for s in segs:
        if s[0] == "M" or not out:
            out.append([])
        out[-1].append(s)
    return out


def _arc_points(x1, y1, rx, ry, phi_deg, fa, fs, x2, y2, steps=12):
    """Points along an SVG elliptical arc (endpoint → centre parameterisation, SVG spec F.6.5)."""
    if rx == 0 or ry == 0 or (x1 == x2 and y1 == y2):
        return [(x2, y2)]
    rx, ry = abs(rx), abs(ry)
    phi = math.radians(phi_deg)
    cp, sp = math.cos(phi), math.sin(phi)
    dx, dy = (x1 - x2) / 2, (y1 - y2) / 2
    x1p, y1p = cp * dx + sp * dy, -sp * dx + cp * dy
    lam = (x1p / rx) ** 2 + (y1p / ry) ** 2
    if lam > 1:
        s = math.sqrt(lam)
        rx, ry = rx * s, ry * s
    num_ = rx * rx * ry * ry - rx * rx * y1p * y1p - ry * ry * x1p * x1p
    den = rx * rx * y1p * y1p + ry * ry * x1p * x1p
    coef = math.sqrt(max(0.0, num_ / den)) if den else 0.0
    if fa == fs:
        coef = -coef
    cxp, cyp = coef * rx * y1p / ry, -coef * ry * x1p / rx
    cx = cp * cxp - sp * cyp + (x1 + x2) / 2
    cy = sp * cxp + cp * cyp + (y1 + y2) / 2

    def ang(ux, uy, vx, vy):
        a = math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)
        return a

    t1 = ang(1, 0, (x1p - cxp) / rx, (y1p - cyp) / ry)
    dt = ang((x1p - cxp) / rx, (y1p - cyp) / ry, (-x1p - cxp) / rx, (-y1p - cyp) / ry)
    if not fs and dt > 0:
        dt -= 2 * math.pi
    elif fs and dt < 0:
        dt += 2 * math.pi
    if steps is None:  # about 7.5° a step, so the chord error stays far below the comparison tolerance
        steps = max(2, math.ceil(abs(dt) / (math.pi / 24)))
    pts = []
    for k in range(1, steps + 1):
        t = t1 + dt * k / steps
        x, y = rx * math.cos(t), ry * math.sin(t)
        pts.append((cp * x - sp * y + cx, sp * x + cp * y + cy))
    return pts


def flatten_path(segs, steps: int = 10) -> list[list[tuple[float, float]]]:
    """Polylines approximating each subpath (closed subpaths end at their start)."""
    lines: list[list] = []
    cur = None
    start = None
    for cmd, a in segs:
        if cmd == "M":
            cur = (a[0], a[1])
            start = cur
            lines.append([cur])
            continue
        if cur is None:
            cur = start = (0.0, 0.0)
            lines.append([cur])
        if cmd == "L":
            lines[-1].append((a[0], a[1]))
            cur = (a[0], a[1])
        elif cmd == "C":
            x0, y0 = cur
            for k in range(1, steps + 1):
                t = k / steps
                u = 1 - t
                x = u ** 3 * x0 + 3 * u * u * t * a[0] + 3 * u * t * t * a[2] + t ** 3 * a[4]
                y = u ** 3 * y0 + 3 * u * u * t * a[1] + 3 * u * t * t * a[3] + t ** 3 * a[5]
                lines[-1].append((x, y))
            cur = (a[4], a[5])
        elif cmd == "Q":
            x0, y0 = cur
            for k in range(1, steps + 1):
                t = k / steps
                u = 1 - t
                lines[-1].append((u * u * x0 + 2 * u * t * a[0] + t * t * a[2], u * u * y0 + 2 * u * t * a[1] + t * t * a[3]))
            cur = (a[2], a[3])
        elif cmd == "A":
            lines[-1].extend(_arc_points(cur[0], cur[1], a[0], a[1], a[2], a[3], a[4], a[5], a[6], None))
            cur = (a[5], a[6])
        elif cmd == "Z":
            lines[-1].append(start)
            cur = start
            lines.append([cur])
    return [ln for ln in lines if len(ln) >= 2]


# ---------------------------------------------------------------------------------------------------- transforms

_TF = re.compile(r"(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)")


def parse_transform(text: str | None) -> np.ndarray:
    m = np.eye(3)
    for name, args in _TF.findall(text or ""):
        v = numbers(args)
        t = np.eye(3)
        if name == "matrix" and len(v) == 6:
            t = np.array([[v[0], v[2], v[4]], [v[1], v[3], v[5]], [0, 0, 1.0]])
        elif name == "translate" and v:
            t[0, 2] = v[0]
            t[1, 2] = v[1] if len(v) > 1 else 0.0
        elif name == "scale" and v:
            t[0, 0] = v[0]
            t[1, 1] = v[1] if len(v) > 1 else v[0]
        elif name == "rotate" and v:
            a = math.radians(v[0])
            r = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1.0]])
            if len(v) >= 3:
                c = np.array([[1, 0, v[1]], [0, 1, v[2]], [0, 0, 1.0]])
                ci = np.array([[1, 0, -v[1]], [0, 1, -v[2]], [0, 0, 1.0]])
                r = c @ r @ ci
            t = r
        elif name == "skewX" and v:
            t[0, 1] = math.tan(math.radians(v[0]))
        elif name == "skewY" and v:
            t[1, 0] = math.tan(math.radians(v[0]))
        m = m @ t
    return m


def apply_tf(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    if len(pts) == 0:
        return pts
    return pts @ m[:2, :2].T + m[:2, 2]


def viewbox_matrix(root) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Matrix from root user space to the normalised unit square (aspect kept, centred), and the viewBox."""
    vb = numbers(root.get("viewBox"))
    if len(vb) == 4 and vb[2] > 0 and vb[3] > 0:
        x, y, w, h = vb
    else:
        w = num(root.get("width"), 0.0) or 300.0
        h = num(root.get("height"), 0.0) or 150.0
        x = y = 0.0
    s = 1.0 / max(w, h)
    ox = (1 - w * s) / 2
    oy = (1 - h * s) / 2
    return np.array([[s, 0, ox - x * s], [0, s, oy - y * s], [0, 0, 1.0]]), (x, y, w, h)


# ---------------------------------------------------------------------------------------------------- style

def parse_style_attr(text: str | None) -> dict[str, str]:
    out = {}
    for part in (text or "").split(";"):
        if ":" in part:
            k, v = part.split(":", 1)
            out[k.strip().lower()] = v.strip().replace("!important", "").strip()
    return out


def own_props(el) -> dict[str, str]:
    """Properties set on the element itself (presentation attributes, overridden by ``style``)."""
    props = {}
    for k in INHERITED + ("opacity", "display"):
        v = el.get(k)
        if v is not None:
            props[k] = v.strip()
    props.update({k: v for k, v in parse_style_attr(el.get("style")).items() if k in INHERITED or k in ("opacity", "display")})
    return props


def set_prop(el, name: str, value: str | None) -> None:
    """Set (or with None remove) a property on the element where it takes effect: in ``style`` if set there."""
    st = parse_style_attr(el.get("style"))
    if name in st:
        if value is None:
            del st[name]
        else:
            st[name] = value
        if st:
            el.set("style", ";".join(f"{k}:{v}" for k, v in st.items()))
        else:
            del el.attrib["style"]
        if value is None and name in el.attrib:
            del el.attrib[name]
        return
    if value is None:
        if name in el.attrib:
            del el.attrib[name]
    else:
        el.set(name, value)


def computed_style(el) -> dict:
    """Effective style: inherited properties merged root→element, ``opacity`` multiplied along the chain."""
    chain = []
    e = el
    while e is not None and isinstance(e.tag, str):
        chain.append(e)
        e = e.getparent()
    style: dict = {"fill": "black", "stroke": "none", "stroke-width": "1", "color": "black", "font-size": "16",
                   "fill-opacity": "1", "stroke-opacity": "1", "text-anchor": "start"}
    opacity = 1.0
    display = True
    for e in reversed(chain):
        p = own_props(e)
        for k in INHERITED:
            if k in p and p[k] != "inherit":
                style[k] = p[k]
        if "opacity" in p:
            opacity *= max(0.0, min(1.0, num(p["opacity"], 1.0)))
        if p.get("display", "").strip() == "none":
            display = False
    style["_opacity"] = opacity
    style["_display"] = display
    return style


@lru_cache(maxsize=1)
def _named_colors() -> dict[str, str]:
    try:
        from matplotlib.colors import CSS4_COLORS

        return {k.lower(): v for k, v in CSS4_COLORS.items()}
    except Exception:  # pragma: no cover - matplotlib is a dependency
        return {"black": "#000000", "white": "#ffffff", "red": "#ff0000", "green": "#008000", "blue": "#0000ff"}


def parse_color(value: str | None, current: str | None = None) -> tuple[float, float, float] | None:
    """RGB in [0,1] for a CSS colour; ``currentColor`` resolves to ``current``; None when not a colour."""
    if value is None:
        return None
    v = value.strip().lower()
    if v == "currentcolor":
        return parse_color(current or "black", None) if (current or "black").strip().lower() != "currentcolor" else (0.0, 0.0, 0.0)
    if v in ("none", "transparent", ""):
        return None
    if v.startswith("#"):
        h = v[1:]
        if len(h) in (3, 4):
            h = "".join(c * 2 for c in h[:3])
        if len(h) in (6, 8):
            try:
                return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]
            except ValueError:
                return None
        return None
    if v.startswith("rgb"):
        vals = numbers(v)[:3]
        if len(vals) == 3:
            if "%" in v:
                return tuple(min(1.0, x / 100) for x in vals)  # type: ignore[return-value]
            return tuple(min(1.0, x / 255) for x in vals)  # type: ignore[return-value]
        return None
    named = _named_colors().get(v)
    return parse_color(named) if named else None


_URL = re.compile(r"url\(\s*['\"]?#([^)'\"]+)['\"]?\s*\)")


@dataclass(frozen=True)
class Paint:
    kind: str  # "none" | "color" | "url"
    rgb: tuple[float, float, float] | None = None
    ref: str | None = None  # gradient id for url()
    stops: tuple = ()  # resolved gradient stops ((offset, rgb, opacity), ...)

    @property
    def visible(self) -> bool:
        return self.kind != "none"

    def mean_rgb(self) -> tuple[float, float, float] | None:
        if self.kind == "color":
            return self.rgb
        if self.kind == "url" and self.stops:
            arr = np.array([s[1] for s in self.stops])
            return tuple(arr.mean(axis=0))  # type: ignore[return-value]
        return None


def resolve_paint(value: str | None, style: dict, ids: dict) -> Paint:
    if value is None:
        return Paint("none")
    m = _URL.search(value)
    if m:
        grad = ids.get(m.group(1))
        if grad is not None and local(grad) in ("linearGradient", "radialGradient"):
            stops = gradient_stops(grad, ids)
            if stops:
                return Paint("url", None, m.group(1), stops)
        # unresolvable url: the fallback colour after it, if any, else none
        rest = value[m.end():].strip()
        return resolve_paint(rest, style, ids) if rest else Paint("none")
    rgb = parse_color(value, style.get("color"))
    return Paint("color", rgb) if rgb is not None else Paint("none")


def gradient_stops(grad, ids: dict, depth: int = 0) -> tuple:
    stops = [s for s in grad if local(s) == "stop"]
    if not stops and depth < 5:
        href = grad.get("href") or grad.get(f"{{{XLINK_NS}}}href")
        if href and href.startswith("#") and href[1:] in ids:
            return gradient_stops(ids[href[1:]], ids, depth + 1)
    out = []
    for s in stops:
        p = own_props(s)
        st = parse_style_attr(s.get("style"))
        color = st.get("stop-color", s.get("stop-color", "black"))
        op = num(st.get("stop-opacity", s.get("stop-opacity", "1")), 1.0)
        off = num(s.get("offset"), 0.0)
        if str(s.get("offset", "")).strip().endswith("%"):
            off /= 100.0
        rgb = parse_color(color, computed_style(s).get("color") if p is not None else None) or (0.0, 0.0, 0.0)
        out.append((round(off, 4), tuple(round(c, 4) for c in rgb), round(op, 4)))
    return tuple(out)


def color_distance(a, b) -> float:
    """Euclidean RGB distance scaled to [0, 1]."""
    if a is None or b is None:
        return 1.0 if (a is None) != (b is None) else 0.0
    return math.dist(a, b) / math.sqrt(3)


def color_hex(rgb) -> str:
    return "#" + "".join(f"{int(round(c * 255)):02x}" for c in rgb)


def color_name(rgb) -> str:
    """A coarse human colour name with the hex value, e.g. 'blue (#1f77b4)'."""
    if rgb is None:
        return "none"
    import colorsys

    r, g, b = rgb
    h, l, s = colorsys.rgb_to_hls(r, g, b)
    if s < 0.15 or l < 0.08 or l > 0.95:
        name = "black" if l < 0.15 else "white" if l > 0.92 else "dark gray" if l < 0.4 else "gray" if l < 0.7 else "light gray"
    else:
        deg = h * 360
        names = [(15, "red"), (40, "orange"), (65, "yellow"), (160, "green"), (195, "teal"), (255, "blue"),
                 (290, "purple"), (335, "pink"), (361, "red")]
        name = next(n for lim, n in names if deg < lim)
        if name == "orange" and l < 0.35:
            name = "brown"
        if l < 0.3:
            name = f"dark {name}"
        elif l > 0.75:
            name = f"light {name}"
    return f"{name} ({color_hex(rgb)})"


# ---------------------------------------------------------------------------------------------------- geometry

def _ellipse_pts(cx, cy, rx, ry, n=64):
    t = np.linspace(0, 2 * np.pi, n + 1)
    return [list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))]


def local_polylines(el, vb=(0, 0, 24, 24)) -> list[list[tuple[float, float]]]:
    """The element's outline in its own user space, as polylines."""
    tag = local(el)
    W, H = vb[2], vb[3]
    if tag == "path":
        try:
            return flatten_path(parse_path(el.get("d", "")))
        except ValueError:
            return []
    if tag == "rect":
        x, y = num(el.get("x"), 0, W), num(el.get("y"), 0, H)
        w, h = num(el.get("width"), 0, W), num(el.get("height"), 0, H)
        if w <= 0 or h <= 0:
            return []
        rx = el.get("rx")
        ry = el.get("ry")
        rxv = num(rx if rx is not None else ry, 0, W)
        ryv = num(ry if ry is not None else rx, 0, H)
        rxv, ryv = min(rxv, w / 2), min(ryv, h / 2)
        if rxv <= 0 or ryv <= 0:
            return [[(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)]]
        pts = []
        for (cx, cy, a0) in ((x + w - rxv, y + ryv, -90), (x + w - rxv, y + h - ryv, 0), (x + rxv, y + h - ryv, 90),
                             (x + rxv, y + ryv, 180)):
            for k in range(5):
                a = math.radians(a0 + k * 22.5)
                pts.append((cx + rxv * math.cos(a), cy + ryv * math.sin(a)))
        pts.append(pts[0])
        return [pts]
    if tag == "circle":
        r = num(el.get("r"), 0, math.hypot(W, H) / math.sqrt(2))
        if r <= 0:
            return []
        return _ellipse_pts(num(el.get("cx"), 0, W), num(el.get("cy"), 0, H), r, r)
    if tag == "ellipse":
        rx, ry = num(el.get("rx"), 0, W), num(el.get("ry"), 0, H)
        if rx <= 0 or ry <= 0:
            return []
        return _ellipse_pts(num(el.get("cx"), 0, W), num(el.get("cy"), 0, H), rx, ry)
    if tag == "line":
        return [[(num(el.get("x1"), 0, W), num(el.get("y1"), 0, H)), (num(el.get("x2"), 0, W), num(el.get("y2"), 0, H))]]
    if tag in ("polyline", "polygon"):
        v = numbers(el.get("points"))
        pts = list(zip(v[0::2], v[1::2]))
        if len(pts) < 2:
            return []
        if tag == "polygon":
            pts.append(pts[0])
        return [pts]
    if tag == "text":
        content = text_content(el)
        if not content.strip():
            return []
        st = computed_style(el)
        fs = num(st.get("font-size"), 16.0)
        x = num(el.get("x"), 0.0)
        y = num(el.get("y"), 0.0)
        w = 0.6 * fs * len(content)
        anchor = st.get("text-anchor", "start")
        x0 = x - w / 2 if anchor == "middle" else x - w if anchor == "end" else x
        base = st.get("dominant-baseline", "")
        top = y - 0.5 * fs * 1.4 if base in ("middle", "central") else y - 0.72 * fs
        h = 0.72 * fs
        return [[(x0, top), (x0 + w, top), (x0 + w, top + h), (x0, top + h), (x0, top)]]
    return []


def text_content(el) -> str:
    return "".join(el.itertext()).strip()


def resample(polylines: list[np.ndarray], n: int = 96) -> np.ndarray:
    """Points spaced evenly by arc length over all polylines (vertices always included)."""
    segs = []
    for pl in polylines:
        if len(pl) >= 2:
            segs.append((pl[:-1], pl[1:]))
    if not segs:
        allp = np.concatenate(polylines) if polylines else np.zeros((0, 2))
        return allp
    a = np.concatenate([s[0] for s in segs])
    b = np.concatenate([s[1] for s in segs])
    lens = np.linalg.norm(b - a, axis=1)
    total = lens.sum()
    verts = np.concatenate(polylines)
    if total <= 1e-12:
        return verts
    ts = (np.arange(n) + 0.5) / n * total
    cum = np.concatenate([[0], np.cumsum(lens)])
    idx = np.clip(np.searchsorted(cum, ts, side="right") - 1, 0, len(lens) - 1)
    frac = np.where(lens[idx] > 0, (ts - cum[idx]) / np.maximum(lens[idx], 1e-12), 0)
    pts = a[idx] + (b[idx] - a[idx]) * frac[:, None]
    return np.concatenate([pts, verts[:: max(1, len(verts) // 64)]])


def ctm(el, stop=None) -> np.ndarray:
    """Product of the ``transform`` attributes of the element and its ancestors (below the root svg)."""
    m = np.eye(3)
    e = el
    while e is not None and isinstance(e.tag, str) and e is not stop:
        if local(e) == "svg" and e.getparent() is None:
            break
        t = e.get("transform")
        if t:
            m = parse_transform(t) @ m
        e = e.getparent()
    return m


def geometry_key(el) -> tuple:
    """A hashable summary of the element's own geometry attributes (no transform), for identity checks."""
    tag = local(el)
    if tag == "path":
        try:
            segs = parse_path(el.get("d", ""))
            return ("path", tuple((c, tuple(round(x, 2) for x in a)) for c, a in segs))
        except ValueError:
            return ("path", el.get("d", ""))
    attrs = {"rect": ("x", "y", "width", "height", "rx", "ry"), "circle": ("cx", "cy", "r"),
             "ellipse": ("cx", "cy", "rx", "ry"), "line": ("x1", "y1", "x2", "y2"), "text": ("x", "y")}
    if tag in ("polyline", "polygon"):
        return (tag, tuple(round(x, 2) for x in numbers(el.get("points"))))
    return (tag, tuple(round(num(el.get(a), 0.0), 2) for a in attrs.get(tag, ())))


# ---------------------------------------------------------------------------------------------------- drawables

@dataclass
class Drawable:
    el: object
    tag: str
    index: int
    points: np.ndarray  # normalised coordinates (unit square = the icon)
    bbox: tuple[float, float, float, float]
    fill: Paint
    stroke: Paint
    stroke_width: float  # normalised units
    opacity: float
    fill_opacity: float
    stroke_opacity: float
    dasharray: str
    text: str | None
    key: tuple
    matrix: np.ndarray  # local user space → normalised
    groups: tuple = ()  # ancestor <g> elements, outermost first
    style: dict = field(default_factory=dict)
    length: float = 0.0  # outline length, normalised
    outline: list = field(default_factory=list)  # normalised polylines
    hidden: bool = False  # fully covered by opaque shapes painted after it

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.bbox
        return ((x0 + x1) / 2, (y0 + y1) / 2)

    @property
    def diag(self) -> float:
        x0, y0, x1, y1 = self.bbox
        return math.hypot(x1 - x0, y1 - y0)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.bbox
        return max(x1 - x0, 0.0) * max(y1 - y0, 0.0)

    @property
    def filled(self) -> bool:
        return self.fill.visible and self.fill_opacity * self.opacity > 0.02

    @property
    def stroked(self) -> bool:
        return self.stroke.visible and self.stroke_width > 1e-4 and self.stroke_opacity * self.opacity > 0.02

    @property
    def kind(self) -> str:
        return KIND_NAMES.get(self.tag, self.tag)

    def paints(self) -> list:
        out = []
        if self.filled:
            out.append(self.fill.mean_rgb())
        if self.stroked:
            out.append(self.stroke.mean_rgb())
        return [p for p in out if p is not None]


@dataclass
class SvgDoc:
    root: object
    drawables: list[Drawable]
    ids: dict
    viewbox: tuple[float, float, float, float]
    norm: np.ndarray


def id_map(root) -> dict:
    return {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}


def _rendered(el) -> bool:
    e = el.getparent()
    while e is not None:
        if local(e) in NON_RENDERED:
            return False
        e = e.getparent()
    return True


def analyse(root) -> SvgDoc:
    """Every visible drawable element of the document, in document (paint) order."""
    norm, vb = viewbox_matrix(root)
    ids = id_map(root)
    scale_ref = max(vb[2], vb[3])
    out = []
    for el in root.iter():
        tag = local(el)
        if tag not in DRAW_TAGS or not _rendered(el):
            continue
        st = computed_style(el)
        if not st["_display"] or st.get("visibility") in ("hidden", "collapse"):
            continue
        lines = local_polylines(el, vb)
        if not lines:
            continue
        m = norm @ ctm(el)
        lin = np.abs(np.linalg.det(m[:2, :2])) ** 0.5
        pls = [apply_tf(m, np.asarray(pl, dtype=float)) for pl in lines]
        pts = resample(pls)
        if len(pts) == 0 or not np.all(np.isfinite(pts)):
            continue
        fill = resolve_paint(st.get("fill"), st, ids)
        stroke = resolve_paint(st.get("stroke"), st, ids)
        if tag in ("line", "polyline") and tag == "line":
            fill = Paint("none")  # lines have no interior
        sw = num(st.get("stroke-width"), 1.0, scale_ref) * lin
        allp = np.concatenate(pls)
        x0, y0 = allp.min(axis=0)
        x1, y1 = allp.max(axis=0)
        length = float(sum(np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p in pls))
        dash = (st.get("stroke-dasharray") or "none").strip()
        if dash in ("0", ""):
            dash = "none"
        d = Drawable(
            el=el, tag=tag, index=len(out), points=pts, bbox=(float(x0), float(y0), float(x1), float(y1)), fill=fill,
            stroke=stroke, stroke_width=sw, opacity=st["_opacity"],
            fill_opacity=max(0.0, min(1.0, num(st.get("fill-opacity"), 1.0))),
            stroke_opacity=max(0.0, min(1.0, num(st.get("stroke-opacity"), 1.0))),
            dasharray=dash, text=text_content(el) if tag == "text" else None, key=geometry_key(el), matrix=m,
            groups=tuple(a for a in reversed(list(el.iterancestors())) if local(a) == "g"), style=st, length=length,
            outline=pls,
        )
        if not d.filled and not d.stroked:
            continue
        if d.tag != "text" and not d.stroked and d.area < 1e-7:
            continue  # zero-area fill: nothing drawn
        out.append(d)
    for i, d in enumerate(out):
        d.index = i
    _mark_hidden(out)
    return SvgDoc(root, out, ids, vb, norm)


def _mark_hidden(ds: list[Drawable]) -> None:
    """Flag drawables whose outline (widened by half the stroke) lies inside opaque fills painted later."""
    from matplotlib.path import Path as MPath

    covers = []
    for e in ds:
        if e.tag == "text" or not e.filled or e.fill_opacity * e.opacity < 0.95 or e.area < 1e-4:
            covers.append(None)
            continue
        verts, codes = [], []
        for pl in e.outline:
            verts.extend(pl.tolist())
            codes.extend([MPath.MOVETO] + [MPath.LINETO] * (len(pl) - 1))
        covers.append(MPath(np.asarray(verts), codes))
    for i, d in enumerate(ds):
        later = [(e, c) for e, c in zip(ds[i + 1:], covers[i + 1:]) if c is not None]
        if not later:
            continue
        r = d.stroke_width / 2 if d.stroked else 0.0
        probe = d.points
        if r > 0:
            probe = np.concatenate([d.points + [r, 0], d.points - [r, 0], d.points + [0, r], d.points - [0, r]])
        inside = np.zeros(len(probe), dtype=bool)
        for e, c in later:
            x0, y0, x1, y1 = e.bbox
            if x1 < d.bbox[0] or x0 > d.bbox[2] or y1 < d.bbox[1] or y0 > d.bbox[3]:
                continue
            inside |= c.contains_points(probe, radius=-1e-3) | c.contains_points(probe, radius=1e-3)
            if inside.all():
                break
        d.hidden = bool(inside.mean() >= 0.98)


def visible(doc: SvgDoc) -> list[Drawable]:
    """Drawables not hidden behind opaque shapes painted after them (the ones an edit can visibly change)."""
    return [d for d in doc.drawables if not d.hidden]


def load(program: str) -> SvgDoc:
    return analyse(parse_svg(program))


# ---------------------------------------------------------------------------------------------------- locations

def region(cx: float, cy: float) -> str:
    col = "left" if cx < 0.4 else "right" if cx > 0.6 else ""
    row = "top" if cy < 0.4 else "bottom" if cy > 0.6 else ""
    if row and col:
        return f"at the {row} {col}"
    if row:
        return f"at the {row}"
    if col:
        return f"on the {col}"
    return "in the center"


def describe_drawable(d: Drawable, drawables: list[Drawable]) -> str:
    """'the text '12'', "the circle 'sun'", 'the circle at the top right', 'the second path at the bottom left'."""
    if d.tag == "text":
        return f"the text '{d.text}'"
    ident = d.el.get("id")
    if ident:
        return f"the {d.kind} '{ident}'"
    same = [x for x in drawables if x.tag == d.tag]
    where = region(*d.center)
    if len(same) <= 1:
        return f"the {d.kind} {where}"
    pos = next((i for i, x in enumerate(same) if x is d), 0) + 1
    return f"the {ordinal(pos)} {d.kind} {where}"


def group_drawables(g, drawables: list[Drawable]) -> list[Drawable]:
    return [d for d in drawables if g in d.groups]


def group_bbox(members: list[Drawable]) -> tuple[float, float, float, float]:
    return (min(d.bbox[0] for d in members), min(d.bbox[1] for d in members), max(d.bbox[2] for d in members),
            max(d.bbox[3] for d in members))


def describe_group(g, drawables: list[Drawable]) -> str:
    members = group_drawables(g, drawables)
    ident = g.get("id")
    if ident:
        return f"the group '{ident}'"
    if not members:
        return "a group"
    x0, y0, x1, y1 = group_bbox(members)
    groups = []
    for d in drawables:
        for a in d.groups:
            if a not in groups:
                groups.append(a)
    pos = groups.index(g) + 1 if g in groups else 1
    kinds = sorted({m.kind for m in members})
    what = f"group of {len(members)} shapes ({', '.join(kinds)})"
    prefix = f"{ordinal(pos)} " if len(groups) > 1 else ""
    return f"the {prefix}{what} {region((x0 + x1) / 2, (y0 + y1) / 2)}"


def appearance(d: Drawable) -> str:
    """Short paint summary: 'filled blue (#2563eb)', 'outlined black (#000000)', 'gradient-filled'."""
    parts = []
    if d.filled:
        parts.append("gradient-filled" if d.fill.kind == "url" else f"filled {color_name(d.fill.rgb)}")
    if d.stroked:
        parts.append("gradient-outlined" if d.stroke.kind == "url" else f"outlined {color_name(d.stroke.rgb)}")
    return " and ".join(parts)


def ordinal(n: int) -> str:
    from visual_erm.tasks.base import ordinal as _ord

    return _ord(n)


def geom_severity(frac: float) -> int:
    """Severity of a geometric change measured as a fraction of the icon size: <4 % → 1, 4–30 % → 2, >30 % → 3."""
    if frac < 0.04:
        return 1
    if frac < 0.30:
        return 2
    return 3


def drop_severity(diag: float) -> int:
    """Severity of a missing/extra element by its size: a large part (diagonal ≥ 25 % of the icon) is severe."""
    return 3 if diag >= 0.25 else 2


def directions(dx: float, dy: float) -> str:
    parts = []
    if abs(dy) > 0.35 * max(abs(dx), abs(dy)):
        parts.append("down" if dy > 0 else "up")
    if abs(dx) > 0.35 * max(abs(dx), abs(dy)):
        parts.append("right" if dx > 0 else "left")
    return " and ".join(parts) or "slightly"


def chamfer(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(mean, 95th-percentile) symmetric nearest-point distance between two point sets."""
    if len(a) == 0 or len(b) == 0:
        return (1.0, 1.0)
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    ab = d.min(axis=1)
    ba = d.min(axis=0)
    return (float((ab.mean() + ba.mean()) / 2), float(max(np.percentile(ab, 95), np.percentile(ba, 95))))


def dense_points(d: "Drawable", spacing: float = 0.004, cap: int = 2500) -> np.ndarray:
    """Points along the outline about ``spacing`` apart (normalised units)."""
    n = int(min(cap, max(96, d.length / spacing)))
    return resample(d.outline, n) if d.outline else d.points


def to_outline(points: np.ndarray, polylines: list) -> np.ndarray:
    """Distance from each point to the nearest segment of the polylines."""
    segs = [(pl[:-1], pl[1:]) for pl in polylines if len(pl) >= 2]
    if not segs or len(points) == 0:
        return np.full(len(points), 1.0)
    a = np.concatenate([x for x, _ in segs])
    b = np.concatenate([y for _, y in segs])
    ab = b - a
    L = (ab ** 2).sum(-1)
    out = np.empty(len(points))
    for k in range(0, len(points), 256):
        p = points[k:k + 256]
        t = ((p[:, None, :] - a[None]) * ab[None]).sum(-1) / np.maximum(L[None], 1e-18)
        t = np.clip(t, 0, 1)
        proj = a[None] + t[..., None] * ab[None]
        out[k:k + 256] = np.sqrt(((p[:, None, :] - proj) ** 2).sum(-1)).min(axis=1)
    return out


def directed(a: np.ndarray, b: np.ndarray) -> float:
    """95th-percentile distance from points of a to the nearest point of b."""
    if len(a) == 0 or len(b) == 0:
        return 1.0
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    return float(np.percentile(d.min(axis=1), 95))
