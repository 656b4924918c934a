"""Seed generator for the SVG modality: realistic, varied icons as SVG source.

Every icon is drawn in a 24-unit design grid and written in a 24×24 or 64×64 viewBox. Icons use paths with cubic
curves and arcs, basic shapes, groups with transforms, strokes (width, caps, joins, dashes), fills, linear/radial
gradients in ``<defs>``, opacity, ``style="..."`` attributes, ``currentColor`` inherited from the root, and text badges.
"""

from __future__ import annotations

import math
import random

from visual_erm.tasks.svg_geom import fmt

PALETTES = [
    ("#2563eb", "#93c5fd", "#1e3a8a"),  # blue
    ("#dc2626", "#fca5a5", "#7f1d1d"),  # red
    ("#16a34a", "#86efac", "#14532d"),  # green
    ("#d97706", "#fcd34d", "#78350f"),  # amber
    ("#7c3aed", "#c4b5fd", "#4c1d95"),  # violet
    ("#0891b2", "#67e8f9", "#164e63"),  # cyan
    ("#db2777", "#f9a8d4", "#831843"),  # pink
    ("#475569", "#cbd5e1", "#0f172a"),  # slate
]
INKS = ["#0f172a", "#1f2937", "#334155", "#111827", "#3f3f46"]


class _Icon:
    """Small builder: numbers written in the 24-unit grid are scaled to the icon's viewBox."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.size = rng.choice([24, 24, 64])
        self.k = self.size / 24
        self.defs: list[str] = []
        self.body: list[str] = []
        self.root_attrs: dict[str, str] = {}
        self.n_ids = 0
        pal = rng.sample(PALETTES, 3)
        self.main, self.light, self.dark = pal[0]
        self.accent = pal[1][0]
        self.accent2 = pal[2][0]
        self.ink = rng.choice(INKS)

    def s(self, v: float) -> str:
        return fmt(v * self.k)

    def pts(self, pts) -> str:
        return " ".join(f"{self.s(x)},{self.s(y)}" for x, y in pts)

    def sw(self, v: float) -> str:
        return fmt(v * self.k)

    def jit(self, v: float, amount: float = 0.6) -> float:
        return v + self.rng.uniform(-amount, amount)

    def gradient(self, kind: str, c1: str, c2: str) -> str:
        self.n_ids += 1
        gid = f"g{self.n_ids}"
        if kind == "linear":
            x2, y2 = self.rng.choice([("0", "1"), ("1", "1"), ("1", "0")])
            self.defs.append(
                f'<linearGradient id="{gid}" x1="0" y1="0" x2="{x2}" y2="{y2}">'
                f'<stop offset="0" stop-color="{c1}"/><stop offset="1" stop-color="{c2}"/></linearGradient>')
        else:
            self.defs.append(
                f'<radialGradient id="{gid}" cx="0.4" cy="0.35" r="0.7">'
                f'<stop offset="0" stop-color="{c1}"/><stop offset="1" stop-color="{c2}"/></radialGradient>')
        return f"url(#{gid})"

    def stroke_attrs(self, color: str, width: float, cap: str | None = None, join: str | None = None,
                     dash: str | None = None) -> str:
        a = f'stroke="{color}" stroke-width="{self.sw(width)}"'
        if cap:
            a += f' stroke-linecap="{cap}"'
        if join:
            a += f' stroke-linejoin="{join}"'
        if dash:
            a += f' stroke-dasharray="{dash}"'
        return a

    def text(self, x, y, content, size, fill, weight="bold", anchor="middle") -> str:
        return (f'<text x="{self.s(x)}" y="{self.s(y)}" font-family="DejaVu Sans, Arial, sans-serif" '
                f'font-size="{self.s(size)}" font-weight="{weight}" text-anchor="{anchor}" fill="{fill}" stroke="none">{content}</text>')

    def badge(self, cx, cy, r, label: str | None) -> str:
        inner = f'<circle cx="{self.s(cx)}" cy="{self.s(cy)}" r="{self.s(r)}" fill="{self.accent}" stroke="white" stroke-width="{self.sw(0.8)}"/>'
        if label:
            inner += self.text(cx, cy + r * 0.42, label, r * 1.25, "white")
        return f'<g id="badge">{inner}</g>'

    def svg(self) -> str:
        attrs = " ".join(f'{k}="{v}"' for k, v in self.root_attrs.items())
        defs = f"<defs>{''.join(self.defs)}</defs>" if self.defs else ""
        sz = self.size
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{sz}" height="{sz}" viewBox="0 0 {sz} {sz}"'
                f'{" " + attrs if attrs else ""}>{defs}{"".join(self.body)}</svg>')


# ---------------------------------------------------------------------------------------------------- kinds

def _calendar(ic: _Icon) -> None:
    r = ic.rng
    x0, y0, x1, y1 = ic.jit(3, .5), ic.jit(4.5, .4), ic.jit(21, .5), ic.jit(21, .4)
    head = y0 + r.uniform(4, 5.5)
    ic.root_attrs.update({"fill": "none", "stroke-linecap": "round", "stroke-linejoin": "round"})
    ic.body.append(f'<rect x="{ic.s(x0)}" y="{ic.s(y0)}" width="{ic.s(x1 - x0)}" height="{ic.s(y1 - y0)}" '
                   f'rx="{ic.s(r.uniform(1, 2.5))}" fill="white" {ic.stroke_attrs(ic.ink, r.choice([1.5, 2]))}/>')
    hfill = ic.gradient("linear", ic.main, ic.dark) if r.random() < 0.5 else ic.main
    rr = 1.5
    ic.body.append(f'<path d="M{ic.s(x0)} {ic.s(head)}V{ic.s(y0 + rr)}A{ic.s(rr)} {ic.s(rr)} 0 0 1 {ic.s(x0 + rr)} '
                   f'{ic.s(y0)}H{ic.s(x1 - rr)}A{ic.s(rr)} {ic.s(rr)} 0 0 1 {ic.s(x1)} {ic.s(y0 + rr)}V{ic.s(head)}Z" '
                   f'fill="{hfill}"/>')
    rings = f'<g id="rings" stroke="{ic.ink}" stroke-width="{ic.sw(2)}">'
    for x in (x0 + 4, x1 - 4):
        rings += f'<line x1="{ic.s(x)}" y1="{ic.s(y0 - 2)}" x2="{ic.s(x)}" y2="{ic.s(y0 + 2)}"/>'
    ic.body.append(rings + "</g>")
    day = str(r.randint(1, 31))
    ic.body.append(ic.text((x0 + x1) / 2, y1 - 2.6, day, r.uniform(7, 8.5), ic.ink))
    if r.random() < 0.5:
        ic.body.append(f'<circle cx="{ic.s(x1 - 3)}" cy="{ic.s(head + 2.5)}" r="{ic.s(1)}" fill="{ic.accent}" opacity="0.8"/>')


def _tag(ic: _Icon) -> None:
    r = ic.rng
    ang = r.choice([-45, -30, 0, 15])
    fill = ic.gradient("linear", ic.light, ic.main) if r.random() < 0.5 else ic.main
    w = r.uniform(1.5, 2)
    g = f'<g id="tag" transform="rotate({ang} 12 12)">'
    g += (f'<path d="M3 8.5C3 7.1 4.1 6 5.5 6H14L21 12L14 18H5.5C4.1 18 3 16.9 3 15.5Z" fill="{fill}" '
          f'{ic.stroke_attrs(ic.dark, w, join="round")} transform="scale({fmt(ic.k)})"/>')
    g += f'<circle cx="{ic.s(15.5)}" cy="{ic.s(12)}" r="{ic.s(1.4)}" fill="white" stroke="{ic.dark}" stroke-width="{ic.sw(1)}"/>'
    g += ic.text(8.8, 14.6, r.choice(["%", "$", "€", "#"]), r.uniform(7, 8), "white")
    ic.body.append(g + "</g>")
    if r.random() < 0.6:
        ic.body.append(ic.badge(19.5, 5, 3.3, r.choice(["5", "10", "-", "2"])))


def _weather(ic: _Icon) -> None:
    r = ic.rng
    cx, cy = ic.jit(9, 1), ic.jit(9, 1)
    sun = ic.gradient("radial", "#fde047", "#f59e0b") if r.random() < 0.6 else "#fbbf24"
    n = r.choice([6, 8])
    rays = f'<g id="rays" stroke="#f59e0b" stroke-width="{ic.sw(1.5)}" stroke-linecap="round">'
    for k in range(n):
        rays += (f'<line x1="{ic.s(cx)}" y1="{ic.s(cy - 5.2)}" x2="{ic.s(cx)}" y2="{ic.s(cy - 7)}" '
                 f'transform="rotate({fmt(360 * k / n)} {ic.s(cx)} {ic.s(cy)})"/>')
    ic.body.append(rays + "</g>")
    ic.body.append(f'<circle cx="{ic.s(cx)}" cy="{ic.s(cy)}" r="{ic.s(r.uniform(3.6, 4.3))}" fill="{sun}"/>')
    cloud = ic.gradient("linear", "#ffffff", ic.light) if r.random() < 0.5 else ic.light
    bx, by = ic.jit(5, .8), ic.jit(20, .6)
    ic.body.append(f'<path d="M{ic.s(bx)} {ic.s(by)}A{ic.s(3.5)} {ic.s(3.5)} 0 0 1 {ic.s(bx + 1.5)} {ic.s(by - 6.6)}'
                   f'A{ic.s(5)} {ic.s(5)} 0 0 1 {ic.s(bx + 11)} {ic.s(by - 7.5)}A{ic.s(4)} {ic.s(4)} 0 0 1 '
                   f'{ic.s(bx + 14.5)} {ic.s(by)}Z" fill="{cloud}" {ic.stroke_attrs(ic.dark, 1.2, join="round")}/>')
    if r.random() < 0.5:
        drops = ""
        for i in range(3):
            x = bx + 3 + 4 * i
            drops += f'<line x1="{ic.s(x)}" y1="{ic.s(by + 1.3)}" x2="{ic.s(x - 1)}" y2="{ic.s(by + 3.3)}"/>'
        ic.body.append(f'<g id="rain" stroke="{ic.main}" stroke-width="{ic.sw(1.4)}" stroke-linecap="round">{drops}</g>')


def _battery(ic: _Icon) -> None:
    r = ic.rng
    y0, h = ic.jit(7, .5), r.uniform(9, 10.5)
    ic.body.append(f'<rect x="{ic.s(2)}" y="{ic.s(y0)}" width="{ic.s(17)}" height="{ic.s(h)}" rx="{ic.s(2)}" '
                   f'fill="none" {ic.stroke_attrs(ic.ink, r.choice([1.5, 2]))}/>')
    ic.body.append(f'<rect x="{ic.s(19.5)}" y="{ic.s(y0 + h / 2 - 2)}" width="{ic.s(2)}" height="{ic.s(4)}" rx="{ic.s(.8)}" fill="{ic.ink}"/>')
    level = r.randint(1, 4)
    color = ic.main if level > 1 else "#dc2626"
    cells = ""
    for i in range(level):
        cells += f'<rect x="{ic.s(4 + 3.6 * i)}" y="{ic.s(y0 + 2)}" width="{ic.s(2.8)}" height="{ic.s(h - 4)}" rx="{ic.s(.5)}"/>'
    ic.body.append(f'<g id="cells" fill="{color}">{cells}</g>')
    if r.random() < 0.5:
        ic.body.append(f'<polygon points="{ic.pts([(11.5, y0 - 1.5), (8, y0 + h / 2 + .5), (10.5, y0 + h / 2 + .5), (9.5, y0 + h + 1.5), (13.5, y0 + h / 2 - 1), (11, y0 + h / 2 - 1)])}" '
                       f'fill="#facc15" stroke="{ic.ink}" stroke-width="{ic.sw(.8)}" stroke-linejoin="round"/>')
    else:
        ic.body.append(ic.text(10.5, y0 + h + 5.5, f"{25 * level}%", 4.2, ic.ink))


def _chat(ic: _Icon) -> None:
    r = ic.rng
    fill = ic.gradient("linear", ic.light, ic.main) if r.random() < 0.4 else ic.light
    ic.body.append(f'<path d="M{ic.s(4)} {ic.s(5)}H{ic.s(18)}C{ic.s(19.7)} {ic.s(5)} {ic.s(21)} {ic.s(6.3)} {ic.s(21)} {ic.s(8)}'
                   f'V{ic.s(14)}C{ic.s(21)} {ic.s(15.7)} {ic.s(19.7)} {ic.s(17)} {ic.s(18)} {ic.s(17)}H{ic.s(9)}L{ic.s(5)} '
                   f'{ic.s(21)}V{ic.s(17)}H{ic.s(4)}C{ic.s(2.3)} {ic.s(17)} {ic.s(1)} {ic.s(15.7)} {ic.s(1)} {ic.s(14)}V{ic.s(8)}'
                   f'C{ic.s(1)} {ic.s(6.3)} {ic.s(2.3)} {ic.s(5)} {ic.s(4)} {ic.s(5)}Z" fill="{fill}" '
                   f'style="stroke:{ic.dark};stroke-width:{ic.sw(1.5)};stroke-linejoin:round"/>')
    dots = f'<g id="dots" fill="{ic.dark}">'
    for x in (6.5, 11, 15.5):
        dots += f'<circle cx="{ic.s(x)}" cy="{ic.s(11)}" r="{ic.s(r.uniform(1.1, 1.4))}"/>'
    ic.body.append(dots + "</g>")
    if r.random() < 0.7:
        ic.body.append(ic.badge(19.5, 5, 3.5, str(r.randint(1, 9))))


def _folder(ic: _Icon) -> None:
    r = ic.rng
    ic.body.append(f'<rect x="{ic.s(6)}" y="{ic.s(5)}" width="{ic.s(12)}" height="{ic.s(10)}" fill="white" '
                   f'{ic.stroke_attrs(ic.ink, 1)} transform="rotate({r.choice([-8, -5, 6])} {ic.s(12)} {ic.s(10)})"/>')
    fill = ic.gradient("linear", ic.light, ic.main) if r.random() < 0.6 else ic.main
    ic.body.append(f'<path d="M{ic.s(2)} {ic.s(7)}C{ic.s(2)} {ic.s(5.9)} {ic.s(2.9)} {ic.s(5)} {ic.s(4)} {ic.s(5)}H{ic.s(9)}'
                   f'L{ic.s(11)} {ic.s(7.5)}H{ic.s(20)}C{ic.s(21.1)} {ic.s(7.5)} {ic.s(22)} {ic.s(8.4)} {ic.s(22)} {ic.s(9.5)}'
                   f'V{ic.s(18)}C{ic.s(22)} {ic.s(19.1)} {ic.s(21.1)} {ic.s(20)} {ic.s(20)} {ic.s(20)}H{ic.s(4)}'
                   f'C{ic.s(2.9)} {ic.s(20)} {ic.s(2)} {ic.s(19.1)} {ic.s(2)} {ic.s(18)}Z" fill="{fill}" '
                   f'{ic.stroke_attrs(ic.dark, r.choice([1, 1.5]), join="round")}/>')
    if r.random() < 0.5:
        ic.body.append(f'<line x1="{ic.s(6)}" y1="{ic.s(16.5)}" x2="{ic.s(14)}" y2="{ic.s(16.5)}" '
                       f'{ic.stroke_attrs("white", 1.5, cap="round", dash=f"{ic.s(2)} {ic.s(1.5)}")}/>')
    else:
        ic.body.append(ic.badge(18.5, 16.5, 3.3, r.choice(["+", "3", "!"])))


def _pin(ic: _Icon) -> None:
    r = ic.rng
    ic.body.append(f'<ellipse cx="{ic.s(12)}" cy="{ic.s(21.5)}" rx="{ic.s(r.uniform(4, 6))}" ry="{ic.s(1.3)}" fill="{ic.ink}" opacity="{r.choice(["0.25", "0.3", "0.35"])}"/>')
    fill = ic.gradient("radial", ic.light, ic.main) if r.random() < 0.6 else ic.main
    ic.body.append(f'<path d="M{ic.s(12)} {ic.s(21)}C{ic.s(12)} {ic.s(21)} {ic.s(5)} {ic.s(14.5)} {ic.s(5)} {ic.s(9)}'
                   f'A{ic.s(7)} {ic.s(7)} 0 0 1 {ic.s(19)} {ic.s(9)}C{ic.s(19)} {ic.s(14.5)} {ic.s(12)} {ic.s(21)} {ic.s(12)} {ic.s(21)}Z" '
                   f'fill="{fill}" {ic.stroke_attrs(ic.dark, 1.2, join="round")}/>')
    inner = r.choice(["circle", "star"])
    if inner == "circle":
        ic.body.append(f'<circle cx="{ic.s(12)}" cy="{ic.s(9)}" r="{ic.s(r.uniform(2.4, 3))}" fill="white"/>')
    else:
        pts = []
        for k in range(10):
            rad = 3.2 if k % 2 == 0 else 1.4
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((12 + rad * math.cos(a), 9.3 + rad * math.sin(a)))
        ic.body.append(f'<polygon points="{ic.pts(pts)}" fill="white"/>')


def _bar_chart(ic: _Icon) -> None:
    r = ic.rng
    ic.root_attrs.update({"stroke-linecap": "round"})
    ic.body.append(f'<polyline points="{ic.pts([(3, 3), (3, 21), (21, 21)])}" fill="none" '
                   f'{ic.stroke_attrs(ic.ink, r.choice([1.5, 2]), join="round")}/>')
    bars = '<g id="bars">'
    hs = [r.uniform(4, 14) for _ in range(3)]
    cols = [ic.main, ic.accent, ic.accent2]
    for i, hgt in enumerate(hs):
        bars += (f'<rect x="{ic.s(6 + 5 * i)}" y="{ic.s(19 - hgt)}" width="{ic.s(3.4)}" height="{ic.s(hgt)}" '
                 f'rx="{ic.s(.4)}" fill="{cols[i]}"/>')
    ic.body.append(bars + "</g>")
    line_pts = [(7.7 + 5 * i, 17 - hs[i] - 1.2) for i in range(3)]
    ic.body.append(f'<polyline points="{ic.pts(line_pts)}" fill="none" '
                   f'{ic.stroke_attrs(ic.dark, 1.2, join="round", dash=f"{ic.s(1.5)} {ic.s(1)}")}/>')
    for x, y in line_pts:
        ic.body.append(f'<circle cx="{ic.s(x)}" cy="{ic.s(y)}" r="{ic.s(1)}" fill="white" stroke="{ic.dark}" stroke-width="{ic.sw(.8)}"/>')


def _shield(ic: _Icon) -> None:
    r = ic.rng
    ic.root_attrs.update({"color": ic.dark})
    fill = ic.gradient("linear", ic.main, ic.dark) if r.random() < 0.5 else ic.main
    ic.body.append(f'<path d="M{ic.s(12)} {ic.s(2)}L{ic.s(20)} {ic.s(5)}V{ic.s(11)}C{ic.s(20)} {ic.s(16)} {ic.s(16.6)} '
                   f'{ic.s(20)} {ic.s(12)} {ic.s(22)}C{ic.s(7.4)} {ic.s(20)} {ic.s(4)} {ic.s(16)} {ic.s(4)} {ic.s(11)}V{ic.s(5)}Z" '
                   f'fill="{fill}" stroke="currentColor" stroke-width="{ic.sw(1.5)}" stroke-linejoin="round"/>')
    if r.random() < 0.5:
        ic.body.append(f'<polyline points="{ic.pts([(8, 12), (11, 15), (16.5, 8.5)])}" fill="none" '
                       f'{ic.stroke_attrs("white", r.choice([2, 2.5]), cap="round", join="round")}/>')
    else:
        ic.body.append(f'<g transform="translate({ic.s(12)} {ic.s(11.5)})" stroke="white" '
                       f'stroke-width="{ic.sw(2.2)}" stroke-linecap="round"><line x1="{ic.s(-3)}" y1="{ic.s(-3)}" '
                       f'x2="{ic.s(3)}" y2="{ic.s(3)}"/><line x1="{ic.s(3)}" y1="{ic.s(-3)}" x2="{ic.s(-3)}" y2="{ic.s(3)}"/></g>')


def _mail(ic: _Icon) -> None:
    r = ic.rng
    ic.root_attrs.update({"fill": "none", "stroke": "currentColor", "stroke-width": ic.sw(r.choice([1.5, 2])),
                          "stroke-linejoin": "round", "color": ic.ink})
    ic.body.append(f'<rect x="{ic.s(2.5)}" y="{ic.s(5.5)}" width="{ic.s(19)}" height="{ic.s(14)}" rx="{ic.s(2)}" fill="{ic.light}"/>')
    ic.body.append(f'<polyline points="{ic.pts([(3, 7), (12, 13.5), (21, 7)])}"/>')
    if r.random() < 0.5:
        ic.body.append(f'<path d="M{ic.s(3)} {ic.s(19)}L{ic.s(9.5)} {ic.s(12)}M{ic.s(21)} {ic.s(19)}L{ic.s(14.5)} {ic.s(12)}" '
                       f'stroke-opacity="0.6"/>')
    ic.body.append(ic.badge(19.5, 5.5, 3.6, str(r.randint(1, 12))))


def _gear(ic: _Icon) -> None:
    r = ic.rng
    n = r.choice([6, 8])
    pts = []
    for k in range(n * 2):
        a = 2 * math.pi * k / (2 * n)
        for da in (-0.16, 0.16):
            rad = 9.5 if k % 2 == 0 else 7
            pts.append((12 + rad * math.cos(a + da), 12 + rad * math.sin(a + da)))
    fill = ic.gradient("radial", ic.light, ic.main) if r.random() < 0.5 else ic.main
    ic.body.append(f'<g id="gear" transform="rotate({r.choice([0, 10, 20])} {ic.s(12)} {ic.s(12)})">'
                   f'<polygon points="{ic.pts(pts)}" fill="{fill}" {ic.stroke_attrs(ic.dark, 1, join="round")}/>'
                   f'<circle cx="{ic.s(12)}" cy="{ic.s(12)}" r="{ic.s(3)}" fill="white" {ic.stroke_attrs(ic.dark, 1)}/></g>')
    if r.random() < 0.5:
        ic.body.append(f'<g transform="translate({ic.s(15)} {ic.s(15)}) scale(0.45)" opacity="0.9">'
                       f'<circle cx="{ic.s(12)}" cy="{ic.s(12)}" r="{ic.s(8)}" fill="{ic.accent}"/>'
                       f'<path d="M{ic.s(8)} {ic.s(12)}H{ic.s(16)}M{ic.s(12)} {ic.s(8)}V{ic.s(16)}" '
                       f'{ic.stroke_attrs("white", 2.5, cap="round")}/></g>')


GENERATORS = {
    "calendar": _calendar, "discount_tag": _tag, "weather": _weather, "battery": _battery, "chat_badge": _chat,
    "folder": _folder, "map_pin": _pin, "bar_chart": _bar_chart, "shield": _shield, "mail_badge": _mail,
    "gear": _gear,
}
KINDS: tuple[str, ...] = tuple(GENERATORS)


def generate_icon(seed: int) -> tuple[str, str]:
    """(kind, svg source) for an integer seed; deterministic."""
    rng = random.Random(f"svg-seed-{seed}")
    kind = KINDS[rng.randrange(len(KINDS))]
    ic = _Icon(rng)
    GENERATORS[kind](ic)
    return kind, ic.svg()
