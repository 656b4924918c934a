"""Structural SVG critic: equivalences it must ignore, differences it must name, agreement with operator labels."""

from __future__ import annotations

import builtins
import random
import sys
from pathlib import Path

import pytest
from lxml import etree

sys.path.insert(0, str(Path(__file__).parent))

from icons import icons_or_skip  # noqa: E402

from visual_erm.critics import svg_structural as S  # noqa: E402
from visual_erm.critics.svg_structural import (  # noqa: E402
    compose_edits,
    critique,
    equivalent_rewrite,
    evaluate_svg_critic,
)
from visual_erm.schema import parse_critique  # noqa: E402
from visual_erm.tasks import svg_geom as G  # noqa: E402
from visual_erm.tasks.svg import generate_seed  # noqa: E402

NS = 'xmlns="http://www.w3.org/2000/svg"'
BASE = (f'<svg {NS} viewBox="0 0 24 24"><defs><linearGradient id="g"><stop offset="0" stop-color="#fde047"/>'
        f'<stop offset="1" stop-color="#f59e0b"/></linearGradient></defs>'
        f'<rect x="2" y="10" width="12" height="12" fill="#2563eb"/>'
        f'<circle cx="18" cy="6" r="4" fill="url(#g)" stroke="#111827" stroke-width="1"/>'
        f'<path d="M3 3L9 3L9 7" fill="none" stroke="#111827" stroke-width="2"/>'
        f'<g id="badge"><circle cx="18" cy="18" r="3" fill="#dc2626"/><circle cx="18" cy="18" r="1" fill="white"/></g>'
        f'<text x="12" y="8" font-size="5" text-anchor="middle" fill="#111827">12</text></svg>')


def cats(c):
    return sorted(e.category for e in c.errors)


# ------------------------------------------------------------------------------------------- equivalences

def _to_absolute(svg):
    root = G.parse_svg(svg)
    for el in root.iter():
        if G.local(el) == "path" and el.get("d"):
            el.set("d", G.path_to_d(G.parse_path(el.get("d"))))
    return G.serialize(root)


def _attrs_to_style(svg):
    root = G.parse_svg(svg)
    for el in root.iter():
        if not isinstance(el.tag, str) or G.local(el) == "svg":
            continue
        moved = {k: el.attrib.pop(k) for k in list(el.attrib) if k in ("fill", "stroke", "stroke-width", "opacity")}
        if moved:
            moved.update(G.parse_style_attr(el.get("style")))
            el.set("style", ";".join(f"{k}:{v}" for k, v in moved.items()))
    return G.serialize(root)


def _rescale_viewbox(svg, f=2.5):
    root = G.parse_svg(svg)
    x, y, w, h = G.numbers(root.get("viewBox"))
    root.set("viewBox", f"{x * f} {y * f} {w * f} {h * f}")
    ns = root.nsmap.get(None)
    g = etree.SubElement(root, f"{{{ns}}}g" if ns else "g")
    g.set("transform", f"scale({f})")
    for child in list(root):
        if child is not g and G.local(child) != "defs":
            g.append(child)
    return G.serialize(root)


def _rect_to_path(svg):
    root = G.parse_svg(svg)
    for el in list(root.iter()):
        if G.local(el) == "rect" and not el.get("rx") and not el.get("ry"):
            x, y, w, h = (G.num(el.get(a)) for a in ("x", "y", "width", "height"))
            el.tag = el.tag.replace("rect", "path")
            for a in ("x", "y", "width", "height"):
                el.attrib.pop(a, None)
            el.set("d", f"M{x} {y}H{x + w}V{y + h}H{x}Z")
    return G.serialize(root)


def _prefixed(svg):
    return (svg.replace(NS, 'xmlns:svg="http://www.w3.org/2000/svg"').replace("<", "<svg:").replace("<svg:/", "</svg:"))


REWRITES = [_to_absolute, _attrs_to_style, _rescale_viewbox, _rect_to_path, _prefixed]


@pytest.mark.parametrize("rewrite", REWRITES, ids=lambda f: f.__name__)
def test_equivalent_rewrites_have_no_errors(rewrite):
    progs = [BASE] + [generate_seed(s).program for s in range(0, 44, 4)]
    for p in progs:
        assert critique(p, p).errors == ()
        assert critique(p, rewrite(p)).errors == (), (rewrite.__name__, p)


@pytest.mark.parametrize("name", ["feather", "bootstrap", "tabler", "heroicons"])
def test_real_icons_identity_and_rewrites(name):
    for _, svg in icons_or_skip(name, 10, seed=4):
        assert critique(svg, svg).errors == ()
        for rw in (_to_absolute, _attrs_to_style, _rescale_viewbox):
            assert critique(svg, rw(svg)).errors == (), (name, rw.__name__)


# ------------------------------------------------------------------------------------------- differences

def _one(ref, cand, category):
    c = critique(ref, cand)
    assert cats(c) == [category], c.errors
    return c.errors[0]


def test_missing_element_and_group():
    e = _one(BASE, BASE.replace('<rect x="2" y="10" width="12" height="12" fill="#2563eb"/>', ""), "structure_error")
    assert e.location == "the rectangle at the bottom left" and e.severity == 3
    cand = BASE.replace('<g id="badge"><circle cx="18" cy="18" r="3" fill="#dc2626"/><circle cx="18" cy="18" r="1" '
                        'fill="white"/></g>', "")
    e = _one(BASE, cand, "structure_error")
    assert e.location == "the group 'badge'" and e.severity == 3


def test_extra_element():
    cand = BASE.replace("</svg>", '<circle cx="5" cy="5" r="2" fill="#16a34a"/></svg>')
    e = _one(BASE, cand, "structure_error")
    assert "extra" in e.description and "top left" in e.location


def test_moved_group_reported_once():
    e = _one(BASE, BASE.replace('<g id="badge">', '<g id="badge" transform="translate(-4 0)">'), "structure_error")
    assert e.location == "the group 'badge'" and "left" in e.description


def test_moved_element_without_transform_is_placement():
    e = _one(BASE, BASE.replace('x="2" y="10" width="12"', 'x="5" y="10" width="12"'), "structure_error")
    assert "shifted right" in e.description


def test_shape_changes():
    e = _one(BASE, BASE.replace('M3 3L9 3L9 7', 'M3 3L9 3L12 9'), "shape_error")
    assert "path" in e.location
    e = _one(BASE, BASE.replace('cx="18" cy="6" r="4"', 'cx="18" cy="6" r="5.5"'), "shape_error")
    assert "larger" in e.description
    _one(BASE, BASE.replace('M3 3L9 3L9 7', 'M3 3L9 3'), "shape_error")


def test_style_changes():
    e = _one(BASE, BASE.replace('fill="#2563eb"', 'fill="#dc2626"'), "style_error")
    assert "blue" in e.description and "red" in e.description
    e = _one(BASE, BASE.replace('stop-color="#f59e0b"', 'stop-color="#7c3aed"'), "style_error")
    assert e.location.startswith("the gradient of")
    _one(BASE, BASE.replace('stroke="#111827" stroke-width="2"', 'stroke="#111827" stroke-width="4"'), "style_error")
    _one(BASE, BASE.replace('fill="#2563eb"', 'fill="#2563eb" opacity="0.4"'), "style_error")
    _one(BASE, BASE.replace('stroke-width="2"/>', 'stroke-width="2" stroke-dasharray="2 2"/>'), "style_error")
    # currentColor resolves through the root's color
    a = f'<svg {NS} viewBox="0 0 24 24" color="#2563eb" fill="currentColor"><path d="M2 2h20v20H2z"/></svg>'
    _one(a, a.replace("#2563eb", "#dc2626"), "style_error")
    assert critique(a, a.replace('color="#2563eb" fill="currentColor"', 'fill="#2563eb"')).errors == ()


def test_text_changes():
    e = _one(BASE, BASE.replace(">12</text>", ">17</text>"), "text_symbol_error")
    assert e.location == "the text '12'" and "'17'" in e.description
    e = _one(BASE, BASE.replace('<text x="12" y="8" font-size="5" text-anchor="middle" fill="#111827">12</text>', ""),
             "text_symbol_error")
    assert "missing" in e.description


def test_reordered_layers():
    ref = (f'<svg {NS} viewBox="0 0 24 24"><circle cx="12" cy="12" r="8" fill="#2563eb"/>'
           f'<rect x="8" y="8" width="8" height="8" fill="#facc15"/></svg>')
    cand = (f'<svg {NS} viewBox="0 0 24 24"><rect x="8" y="8" width="8" height="8" fill="#facc15"/>'
            f'<circle cx="12" cy="12" r="8" fill="#2563eb"/></svg>')
    e = _one(ref, cand, "structure_error")
    assert "behind" in e.description or "in front of" in e.description


def test_outline_versus_filled_variant_is_one_style_error():
    ref = f'<svg {NS} viewBox="0 0 24 24" fill="none" stroke="currentColor"><path d="M4 4h16v16H4z"/></svg>'
    cand = f'<svg {NS} viewBox="0 0 24 24" fill="currentColor"><path d="M4 4h16v16H4z"/></svg>'
    e = _one(ref, cand, "style_error")
    assert "filled shape" in e.description


def test_broken_and_blank_candidates():
    c = critique(BASE, "<html>nope</html>")
    assert cats(c) == ["structure_error"] and c.errors[0].severity == 3
    c = critique(BASE, f'<svg {NS} viewBox="0 0 24 24"></svg>')
    assert cats(c) == ["structure_error"] and c.errors[0].severity == 3


def test_critique_is_paper_json():
    c = critique(BASE, BASE.replace(">12</text>", ">17</text>").replace('fill="#2563eb"', 'fill="#dc2626"'))
    back = parse_critique(c.to_json(), "svg", strict_counts=True).critique
    assert back == c
    assert c.to_json_dict()["text_symbol_error_count"] == 1 and c.to_json_dict()["style_error_count"] == 1


def test_greedy_matching_without_scipy(monkeypatch):
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("no scipy")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    e = _one(BASE, BASE.replace(">12</text>", ">17</text>"), "text_symbol_error")
    assert e.location == "the text '12'"
    assert S.match([], []) == []


def test_natural_near_miss_pairs_are_labelled():
    """Outline vs filled variants of one real icon (no operator made them): the critic names differences."""
    outline = dict(icons_or_skip("heroicons", None))
    solid = dict(icons_or_skip("heroicons-solid", None))
    names = sorted(set(outline) & set(solid))[:8]
    assert names
    for n in names:
        c = critique(outline[n], solid[n])
        assert c.errors and "style_error" in cats(c), n


# ------------------------------------------------------------------------------------------- agreement with operators

def test_compose_edits_keeps_targets_disjoint():
    rng = random.Random(3)
    for s in range(20):
        _, edits = compose_edits(generate_seed(s).program, rng, 3)
        targets = [t for e in edits for t in e.detail["targets"]]
        assert len(targets) == len(set(targets))
        reshaping = [e for e in edits if e.operator in S._INDEX_CHANGING]
        assert len(reshaping) <= 1 and (not reshaping or edits[-1] is reshaping[0])


def test_evaluate_svg_critic_small():
    r = evaluate_svg_critic(25, seed=1)
    assert r["recall"] >= 0.9 and r["precision"] >= 0.8, r
    assert r["identity_false_positives"] == 0
    assert set(r["per_category"]) == {"structure_error", "shape_error", "style_error", "text_symbol_error"}


def test_equivalent_rewrite_is_equivalent_and_different():
    rng = random.Random(0)
    for s in range(6):
        p = generate_seed(s).program
        q = equivalent_rewrite(p, rng)
        assert critique(p, q).errors == ()


@pytest.mark.slow
@pytest.mark.parametrize("rewrite", [False, True], ids=["same-form", "rewritten"])
def test_evaluate_svg_critic_generated(rewrite):
    r = evaluate_svg_critic(200, seed=0, rewrite=rewrite)
    assert r["recall"] >= 0.9 and r["precision"] >= 0.8, r
    assert r["per_category"]["text_symbol_error"]["gold"] > 0
    assert r["identity_false_positives"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["feather", "bootstrap", "tabler", "heroicons"])
def test_evaluate_svg_critic_real_icons(name):
    progs = [svg for _, svg in icons_or_skip(name, 60, seed=9)]
    for rewrite in (False, True):
        r = evaluate_svg_critic(60, seed=2, programs=progs, rewrite=rewrite)
        assert r["recall"] >= 0.9 and r["precision"] >= 0.8, (name, rewrite, r)
