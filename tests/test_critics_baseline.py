"""Baseline critics: the pixel-difference critic on hand-built images, the structural adapter, the registry."""

import io
import re

import pytest
from PIL import Image

from visual_erm.critics.base import Critic, CritiqueFailure, CritiqueInput
from visual_erm.critics.pixel import PixelCritic, location_name
from visual_erm.critics.registry import (StructuralCritic, available_critics, get_critic, register_critic)
from visual_erm.render.api import RenderResult, Status
from visual_erm.schema import Critique, Discrepancy


def png(size=(200, 200), squares=(), bg="white") -> bytes:
    """A PNG with filled squares [(x, y, side, colour)] on a flat background."""
    im = Image.new("RGB", size, bg)
    for x, y, side, colour in squares:
        im.paste(Image.new("RGB", (side, side), colour), (x, y))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def box_of(description: str) -> tuple[int, int, int, int]:
    m = re.search(r"box x (\d+)–(\d+), y (\d+)–(\d+)", description)
    assert m, description
    x0, x1, y0, y1 = map(int, m.groups())
    return x0, y0, x1, y1


# ------------------------------------------------------------------------------------------------------ pixel


def test_identical_images_give_an_empty_critique():
    a = png(squares=[(20, 20, 40, "red")])
    critic = PixelCritic()
    assert critic.critique("svg", a, a).errors == ()
    # same pixels, different bytes (another compression level): still empty
    im = Image.open(io.BytesIO(a))
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    assert buf.getvalue() != a
    assert critic.critique("chart", a, buf.getvalue()).errors == ()


def test_moved_square_is_one_located_error_in_the_right_region():
    ref = png(squares=[(20, 20, 40, "red")])
    cand = png(squares=[(32, 30, 40, "red")])  # moved 12 px right, 10 px down: both outlines merge into one region
    c = PixelCritic().critique("svg", ref, cand)
    assert len(c.errors) == 1
    e = c.errors[0]
    assert e.location == "top-left region"
    assert e.category == "structure_error"  # content moved (shape IoU below 0.5), not a colour change
    x0, y0, x1, y1 = box_of(e.description)
    assert (x0, y0) == (20, 20) and (x1, y1) == (72, 70)


def test_far_moves_give_two_regions_in_reading_order():
    ref = png(squares=[(10, 10, 30, "blue")])
    cand = png(squares=[(150, 150, 30, "blue")])
    c = PixelCritic().critique("svg", ref, cand)
    assert [e.location for e in c.errors] == ["top-left region", "bottom-right region"]
    assert "missing in the candidate" in c.errors[0].description
    assert "extra content" in c.errors[1].description


def test_colour_only_change_is_a_style_error_for_svg_and_chart():
    ref = png(squares=[(80, 80, 40, "#1d4ed8")])
    cand = png(squares=[(80, 80, 40, "#22c55e")])
    for task in ("svg", "chart"):
        c = PixelCritic().critique(task, ref, cand)
        assert len(c.errors) == 1, c.errors
        e = c.errors[0]
        assert e.category == "style_error"
        assert e.location == "center region"
        assert e.severity == 1
        assert "blue" in e.description and "green" in e.description


def test_table_changes_are_text_errors_and_large_ones_layout():
    ref = png(size=(300, 200), squares=[(10, 10, 20, "black")])
    cand = png(size=(300, 200), squares=[(10, 10, 20, "black"), (200, 150, 10, "black")])
    assert [e.category for e in PixelCritic().critique("table", ref, cand).errors] == ["text_error"]
    big = png(size=(300, 200), squares=[(10, 10, 20, "black"), (50, 20, 150, "black")])
    assert [e.category for e in PixelCritic().critique("table", ref, big).errors] == ["layout_error"]


def test_chart_margin_changes_are_text_errors():
    ref = png(size=(400, 300), squares=[(150, 120, 60, "orange")])
    title = png(size=(400, 300), squares=[(150, 120, 60, "orange"), (180, 5, 20, "black")])
    assert [e.category for e in PixelCritic().critique("chart", ref, title).errors] == ["text_error"]
    data = png(size=(400, 300), squares=[(150, 120, 60, "orange"), (250, 150, 30, "orange")])  # a new bar
    assert [e.category for e in PixelCritic().critique("chart", ref, data).errors] == ["data_error"]


def test_anti_aliasing_noise_is_tolerated():
    ref = png(squares=[(20, 20, 40, "red")])
    shifted = png(squares=[(21, 20, 40, "red")])  # a one-pixel edge shift
    faint = png(squares=[(20, 20, 40, (255, 10, 10))])  # a colour difference below the tolerance
    assert PixelCritic().critique("svg", ref, shifted).errors == ()
    assert PixelCritic().critique("svg", ref, faint).errors == ()
    assert PixelCritic(jitter_px=0).critique("svg", ref, shifted).errors != ()


def test_size_change_is_a_structure_or_layout_error():
    ref = png(size=(200, 200), squares=[(20, 20, 40, "red")])
    cand = png(size=(200, 300), squares=[(20, 20, 40, "red")])
    for task, cat in (("svg", "structure_error"), ("chart", "structure_error"), ("table", "layout_error")):
        c = PixelCritic().critique(task, ref, cand)
        assert c.errors[0].category == cat and c.errors[0].location == "whole image"
        assert c.errors[0].severity == 3  # 50 % taller
    small = png(size=(200, 202), squares=[(20, 20, 40, "red")])  # 1 % is within the size tolerance
    assert all(e.location != "whole image" for e in PixelCritic().critique("svg", ref, small).errors)


def test_severity_grows_with_area():
    ref = png(size=(200, 200))
    tiny = png(size=(200, 200), squares=[(100, 100, 3, "black")])
    huge = png(size=(200, 200), squares=[(50, 50, 100, "black")])
    assert PixelCritic().critique("svg", ref, tiny).errors[0].severity == 1
    assert PixelCritic().critique("svg", ref, huge).errors[0].severity == 3


def test_pixel_critic_is_deterministic_and_capped():
    ref = png(size=(300, 300))
    cand = png(size=(300, 300), squares=[(x, y, 6, "black") for x in range(10, 290, 40) for y in range(10, 290, 40)])
    a = PixelCritic(max_regions=5).critique("svg", ref, cand)
    b = PixelCritic(max_regions=5).critique("svg", ref, cand)
    assert a == b and len(a.errors) == 5


def test_location_names():
    assert location_name(0.1, 0.1) == "top-left region"
    assert location_name(0.5, 0.5) == "center region"
    assert location_name(0.5, 0.9) == "bottom region"
    assert location_name(0.9, 0.5) == "right region"


def test_critique_many_turns_bad_images_into_failures():
    good = png(squares=[(20, 20, 40, "red")])
    items = [CritiqueInput("ok", "svg", good, good), CritiqueInput("bad", "svg", good, b"not a png"),
             CritiqueInput("empty", "svg", b"", good), CritiqueInput("task", "poster", good, good)]
    out = PixelCritic().critique_many(items)
    assert isinstance(out[0], Critique) and out[0].errors == ()
    assert [(f.id, f.reason) for f in out[1:]] == [("bad", "bad_image"), ("empty", "bad_image"),
                                                    ("task", "unknown_task")]


# ------------------------------------------------------------------------------------------------- structural

SVG_REF = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24">'
           '<circle cx="12" cy="12" r="6" fill="#1d4ed8"/><rect x="2" y="2" width="5" height="5" fill="#111827"/></svg>')
SVG_CAND = SVG_REF.replace("#1d4ed8", "#dc2626")


def test_structural_critic_compares_svg_programs():
    c = StructuralCritic().critique("svg", b"", b"", reference_code=SVG_REF, candidate_code=SVG_CAND)
    assert [e.category for e in c.errors] == ["style_error"]
    assert StructuralCritic().critique("svg", b"", b"", reference_code=SVG_REF, candidate_code=SVG_REF).errors == ()


def test_structural_critic_reports_missing_code_and_render_failures():
    calls = []

    def failing_render(jobs):
        calls.append([j.id for j in jobs])
        assert all(j.options.inspect for j in jobs)
        return [RenderResult(j.id, j.task, Status.ERROR, message="NameError: x") for j in jobs]

    critic = StructuralCritic(render=failing_render)
    out = critic.critique_many([
        CritiqueInput("s", "svg", b"", b"", reference_code=SVG_REF, candidate_code=None),
        CritiqueInput("c1", "chart", b"", b"", reference_code="import x", candidate_code="import y"),
        CritiqueInput("c2", "chart", b"", b"", reference_code="import x", candidate_code="import z"),
        CritiqueInput("t", "svg", b"", b"", reference_code=SVG_REF, candidate_code=SVG_CAND),
    ])
    assert isinstance(out[0], CritiqueFailure) and out[0].reason == "missing_code"
    assert [o.reason for o in out[1:3]] == ["render_failed", "render_failed"]
    assert isinstance(out[3], Critique)
    assert calls == [["c1-ref", "c1-cand", "c2-ref", "c2-cand"]]  # one batch for every missing figure


@pytest.mark.slow
def test_structural_critic_renders_chart_figures_through_the_pool(render_pool):
    ref = ("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar(['a', 'b', 'c'], [3, 5, 2])\n"
           "ax.set_title('Sales')\n")
    cand = ref.replace("'Sales'", "'Revenue'")
    critic = StructuralCritic(render=render_pool.render)
    [c] = critic.critique_many([CritiqueInput("x", "chart", b"", b"", reference_code=ref, candidate_code=cand)])
    assert isinstance(c, Critique), c
    assert any(e.category == "text_error" and "Revenue" in e.description for e in c.errors)


# --------------------------------------------------------------------------------------------------- registry


def test_registry_builds_critics_by_name():
    assert {"pixel", "structural"} <= set(available_critics())
    assert isinstance(get_critic("pixel"), PixelCritic)
    assert get_critic("pixel", tolerance=10).tolerance == 10
    assert isinstance(get_critic("structural"), StructuralCritic)
    assert isinstance(get_critic("visual_erm.critics.pixel:PixelCritic"), PixelCritic)
    with pytest.raises(ValueError, match="unknown critic 'nope'.*pixel"):
        get_critic("nope")
    with pytest.raises(ValueError, match="cannot load"):
        get_critic("visual_erm.critics.pixel:Nope")


def test_register_a_new_critic():
    class Always(Critic):
        name = "always"

        def critique(self, task, reference_png, candidate_png, **kw):
            return Critique(task=task, errors=(Discrepancy(category="style_error", severity=1, description="x"),))

    register_critic("test-always", Always)
    assert get_critic("test-always").critique("svg", b"", b"").errors[0].category == "style_error"
    with pytest.raises(ValueError, match="already registered"):
        register_critic("test-always", lambda: Always())
    register_critic("test-always", lambda: Always(), replace=True)
    register_critic("test-lazy", "visual_erm.critics.pixel:PixelCritic")
    assert isinstance(get_critic("test-lazy", merge_px=2), PixelCritic)
    with pytest.raises(ValueError, match="module:attr"):
        register_critic("test-bad-spec", "visual_erm.critics.pixel")
    register_critic("test-not-a-critic", lambda: object())
    with pytest.raises(TypeError, match="not a Critic"):
        get_critic("test-not-a-critic")
