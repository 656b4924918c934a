"""The pixel-difference baseline critic: where do the two renders differ, how much, and (by heuristic) what kind.

It reads only the two PNGs (no programs), so it is the floor every learned critic must beat. Deterministic: the
same two images always give the same critique.

Steps (the numbers are the defaults of :class:`PixelCritic`):

1. **Decode** both PNGs to RGB (alpha composited on white). If the sizes differ by more than
   ``size_tolerance`` (2 %) in width or height, emit one ``structure_error`` (chart, svg) / ``layout_error``
   (table) at ``"whole image"`` — severity 3 from 25 % relative change, 2 from 8 %, else 1 — then resize the
   candidate to the reference size (bilinear) and go on.
2. **Diff** with a tolerance for anti-aliasing: a pixel is *changed* when its largest channel difference exceeds
   ``tolerance`` (32/255) against every pixel of the other image within ``jitter_px`` (1 px) — in both directions —
   so sub-pixel edge shifts and smoothing noise do not count. Changed components smaller than ``min_pixels`` (2)
   are dropped as noise (table thumbnails are small: a '.' that became ',' changes two pixels).
3. **Regions**: the changed mask is dilated by ``merge_px`` (6 px) so nearby differences (the letters of one word,
   the two edges of a moved shape) merge; each connected region of the dilated mask (``scipy.ndimage.label``,
   8-connectivity) is one discrepancy whose box is the box of its changed pixels. At most ``max_regions`` (8), the
   largest; listed in reading order (top to bottom, then left to right).
4. **Location**: the box centre in a 3×3 grid of the image — ``"top-left region"``, ``"top region"``, …,
   ``"center region"`` (the project's gold labels say "center"), the description gives the box in pixels.
5. **Severity** from ``area`` = changed pixels / image pixels and ``contrast`` = mean largest-channel difference of
   the changed pixels / 255: 3 when area ≥ 3 %; 2 when area ≥ 0.5 %, or area ≥ 0.1 % with contrast ≥ 0.5;
   else 1. A colour-only region (below) is 1, or 2 from 10 % of the image: recolouring keeps content readable,
   as the paper's rubric rates style errors.
6. **Category** (per task, documented heuristics). Inside the region's box, the *foreground* of each image is the
   set of pixels farther than ``tolerance`` from the background colour (the most common colour of the reference's
   border); ``shape IoU`` = IoU of the two foregrounds. *Colour-only*: shape IoU ≥ ``shape_iou`` (0.85), the same
   shapes in other colours. *Structural*: shape IoU < ``structure_iou`` (0.5), content missing, added or moved.

   - chart: colour-only → ``style_error``; a box entirely in the outer 12 % band of the image (titles, axis
     labels, tick labels) → ``text_error``; else ``data_error``.
   - table: a box covering ≥ 25 % of the image → ``layout_error`` (rows/columns added, removed or moved shift
     everything after them); else ``text_error``.
   - svg: colour-only → ``style_error``; structural → ``structure_error``; else ``shape_error``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from visual_erm.critics.base import Critic, CriticError
from visual_erm.schema import CATEGORIES, Critique, Discrepancy

__all__ = ["PixelCritic", "Region", "find_regions", "location_name"]

_EIGHT = np.ones((3, 3), dtype=bool)


def _decode(png: bytes, which: str) -> np.ndarray:
    from visual_erm.synth.images import decode_rgb

    if not png:
        raise CriticError("bad_image", f"the {which} image is empty")
    try:
        return decode_rgb(png)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise CriticError("bad_image", f"the {which} image does not decode: {exc}") from None


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((width, height), Image.Resampling.BILINEAR))


def _channel_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest absolute channel difference per pixel (uint8 H×W)."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2).astype(np.uint8)


def _shift_min_diff(a: np.ndarray, b: np.ndarray, radius: int) -> np.ndarray:
    """Per pixel of ``a``: the smallest channel difference to any pixel of ``b`` within ``radius`` (edge-padded)."""
    if radius <= 0:
        return _channel_diff(a, b)
    h, w = a.shape[:2]
    padded = np.pad(b, ((radius, radius), (radius, radius), (0, 0)), mode="edge")
    best = np.full((h, w), 255, dtype=np.uint8)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            shifted = padded[radius + dy: radius + dy + h, radius + dx: radius + dx + w]
            np.minimum(best, _channel_diff(a, shifted), out=best)
    return best


def _background(img: np.ndarray) -> np.ndarray:
    """The most common colour of the image's one-pixel border (ties: the smallest packed value)."""
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).astype(np.uint32)
    packed = (border[:, 0] << 16) | (border[:, 1] << 8) | border[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    v = int(values[np.argmax(counts)])
    return np.array([(v >> 16) & 255, (v >> 8) & 255, v & 255], dtype=np.uint8)


def _dominant(pixels: np.ndarray) -> tuple[float, float, float] | None:
    """The most frequent colour (quantised to 16 levels, then averaged inside that bin) of an N×3 array."""
    if len(pixels) == 0:
        return None
    q = (pixels.astype(np.uint32) >> 4)
    packed = (q[:, 0] << 8) | (q[:, 1] << 4) | q[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    sel = pixels[packed == values[np.argmax(counts)]]
    return tuple(float(c) / 255.0 for c in sel.mean(axis=0))


def location_name(cx: float, cy: float) -> str:
    """A 3×3 grid name for a point given as fractions of the image: ``"top-left region"``, ``"center region"``."""
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else ""
    if row and col:
        return f"{row}-{col} region"
    return f"{row or col or 'center'} region"


@dataclass(frozen=True)
class Region:
    """One connected region of difference. ``bbox`` = (x0, y0, x1, y1), exclusive ends, in reference pixels."""

    bbox: tuple[int, int, int, int]
    changed_pixels: int
    area: float  # changed pixels / image pixels
    box_area: float  # bbox area / image pixels
    contrast: float  # mean largest-channel difference of the changed pixels, in [0, 1]
    shape_iou: float  # IoU of the reference's and the candidate's foreground inside the box
    colour_only: bool  # shape_iou ≥ shape_iou threshold: the same shapes, other colours
    structural: bool  # shape_iou < structure_iou threshold: content missing, added or moved
    ref_colour: tuple[float, float, float] | None
    cand_colour: tuple[float, float, float] | None


def find_regions(ref: np.ndarray, cand: np.ndarray, *, tolerance: int = 32, jitter_px: int = 1, min_pixels: int = 2,
                 merge_px: int = 6, shape_iou: float = 0.85, structure_iou: float = 0.5) -> list[Region]:
    """The regions of difference of two same-size RGB images (see the module docstring, steps 2–3 and 6).

    Work is confined to the box around the raw differences (plus a margin for the jitter and the merge), which
    keeps small local edits cheap on large renders.
    """
    if ref.shape != cand.shape:
        raise ValueError(f"images differ in size: {ref.shape} vs {cand.shape}")
    h, w = ref.shape[:2]
    raw_full = _channel_diff(ref, cand)
    ys, xs = np.nonzero(raw_full > tolerance)
    if len(ys) == 0:
        return []
    pad = jitter_px + merge_px + 1
    oy, ox = max(0, int(ys.min()) - pad), max(0, int(xs.min()) - pad)
    crop = (slice(oy, min(h, int(ys.max()) + 1 + pad)), slice(ox, min(w, int(xs.max()) + 1 + pad)))
    r, c, raw = ref[crop], cand[crop], raw_full[crop]
    changed = (_shift_min_diff(c, r, jitter_px) > tolerance) | (_shift_min_diff(r, c, jitter_px) > tolerance)
    if min_pixels > 1 and changed.any():
        labels, n = ndimage.label(changed, structure=_EIGHT)
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        keep = sizes >= min_pixels
        keep[0] = False
        changed = keep[labels]
    if not changed.any():
        return []
    grown = ndimage.binary_dilation(changed, structure=_EIGHT, iterations=merge_px) if merge_px > 0 else changed
    labels, n = ndimage.label(grown, structure=_EIGHT)
    bg = _background(ref)
    fg_ref = _channel_diff(r, np.broadcast_to(bg, r.shape)) > tolerance
    fg_cand = _channel_diff(c, np.broadcast_to(bg, c.shape)) > tolerance
    regions = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        own = changed[sl] & (labels[sl] == k)
        ys, xs = np.nonzero(own)
        if len(ys) == 0:
            continue
        y0, x0 = sl[0].start + int(ys.min()), sl[1].start + int(xs.min())
        y1, x1 = sl[0].start + int(ys.max()) + 1, sl[1].start + int(xs.max()) + 1
        box = (slice(y0, y1), slice(x0, x1))
        mask = changed[box] & (labels[box] == k)
        fr, fc = fg_ref[box], fg_cand[box]
        union = int((fr | fc).sum())
        iou = int((fr & fc).sum()) / union if union else 1.0
        n_px = int(mask.sum())
        regions.append(Region(
            bbox=(ox + x0, oy + y0, ox + x1, oy + y1),
            changed_pixels=n_px,
            area=n_px / (h * w),
            box_area=(x1 - x0) * (y1 - y0) / (h * w),
            contrast=float(raw[box][mask].mean()) / 255.0,
            shape_iou=iou,
            colour_only=iou >= shape_iou,
            structural=iou < structure_iou,
            ref_colour=_dominant(r[box][mask & fr]),
            cand_colour=_dominant(c[box][mask & fc]),
        ))
    return regions


class PixelCritic(Critic):
    """Pixel-difference baseline (see the module docstring for every step and threshold)."""

    name = "pixel"

    def __init__(self, *, tolerance: int = 32, jitter_px: int = 1, min_pixels: int = 2, merge_px: int = 6,
                 max_regions: int = 8, size_tolerance: float = 0.02, shape_iou: float = 0.85,
                 structure_iou: float = 0.5, margin: float = 0.12, table_layout_box: float = 0.25):
        self.tolerance = tolerance
        self.jitter_px = jitter_px
        self.min_pixels = min_pixels
        self.merge_px = merge_px
        self.max_regions = max_regions
        self.size_tolerance = size_tolerance
        self.shape_iou = shape_iou
        self.structure_iou = structure_iou
        self.margin = margin
        self.table_layout_box = table_layout_box

    # -- heuristics ------------------------------------------------------------------------------------------
    @staticmethod
    def severity(region: Region) -> int:
        """Step 5 of the module docstring (colour-only regions: 1, or 2 from 10 % of the image)."""
        if region.colour_only:
            return 2 if region.area >= 0.10 else 1
        if region.area >= 0.03:
            return 3
        if region.area >= 0.005 or (region.area >= 0.001 and region.contrast >= 0.5):
            return 2
        return 1

    def category(self, task: str, region: Region, width: int, height: int) -> str:
        """Step 6 of the module docstring."""
        x0, y0, x1, y1 = region.bbox
        if task == "chart":
            if region.colour_only:
                return "style_error"
            m = self.margin
            in_margin = (y1 <= m * height or y0 >= (1 - m) * height or x1 <= m * width or x0 >= (1 - m) * width)
            return "text_error" if in_margin else "data_error"
        if task == "table":
            return "layout_error" if region.box_area >= self.table_layout_box else "text_error"
        if task == "svg":
            if region.colour_only:
                return "style_error"
            return "structure_error" if region.structural else "shape_error"
        raise CriticError("unknown_task", f"unknown task {task!r}")

    @staticmethod
    def _describe(region: Region, location: str) -> str:
        from visual_erm.tasks.svg_geom import color_name

        x0, y0, x1, y1 = region.bbox
        box = f"box x {x0}–{x1}, y {y0}–{y1}, {100 * region.area:.1f}% of the image"
        if region.colour_only and region.ref_colour and region.cand_colour:
            return (f"The colour in the {location} ({box}) is {color_name(region.ref_colour)} in the reference but "
                    f"{color_name(region.cand_colour)} in the candidate; the shapes are the same.")
        if region.ref_colour and not region.cand_colour:
            return (f"Content in the {location} ({box}, {color_name(region.ref_colour)}) is missing in the "
                    "candidate.")
        if region.cand_colour and not region.ref_colour:
            return (f"The candidate draws extra content ({color_name(region.cand_colour)}) in the {location} "
                    f"({box}) that is not in the reference.")
        if region.structural:
            return f"Content in the {location} ({box}) is moved, added or removed in the candidate."
        return f"The shapes in the {location} ({box}) are drawn differently in the candidate."

    # -- the critic ------------------------------------------------------------------------------------------
    def critique(self, task, reference_png, candidate_png, *, reference_code=None, candidate_code=None,
                 reference_figure=None, candidate_figure=None) -> Critique:
        if task not in CATEGORIES:
            raise CriticError("unknown_task", f"unknown task {task!r}")
        if reference_png == candidate_png and reference_png:
            return Critique(task=task)
        ref = _decode(reference_png, "reference")
        cand = _decode(candidate_png, "candidate")
        h, w = ref.shape[:2]
        errors: list[Discrepancy] = []
        if cand.shape != ref.shape:
            ch, cw = cand.shape[:2]
            rel = max(abs(cw - w) / w, abs(ch - h) / h)
            if rel > self.size_tolerance:
                sev = 3 if rel >= 0.25 else 2 if rel >= 0.08 else 1
                errors.append(Discrepancy(
                    category="layout_error" if task == "table" else "structure_error", severity=sev,
                    location="whole image",
                    description=(f"The candidate image is {cw}×{ch} pixels but the reference is {w}×{h} "
                                 f"({100 * rel:.0f}% size change): the overall layout differs."),
                ))
            cand = _resize(cand, w, h)
        regions = find_regions(ref, cand, tolerance=self.tolerance, jitter_px=self.jitter_px,
                               min_pixels=self.min_pixels, merge_px=self.merge_px, shape_iou=self.shape_iou,
                               structure_iou=self.structure_iou)
        regions = sorted(regions, key=lambda r: (-r.changed_pixels, r.bbox[1], r.bbox[0]))[: self.max_regions]
        for r in sorted(regions, key=lambda r: (r.bbox[1], r.bbox[0])):
            x0, y0, x1, y1 = r.bbox
            loc = location_name((x0 + x1) / 2 / w, (y0 + y1) / 2 / h)
            errors.append(Discrepancy(category=self.category(task, r, w, h), severity=self.severity(r),
                                      location=loc, description=self._describe(r, loc)))
        return Critique(task=task, errors=tuple(errors))
