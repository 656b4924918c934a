"""Pixel-level comparison of two renders: did anything change, how much, and where."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image


def decode_rgb(png: bytes) -> np.ndarray:
    """PNG bytes → H×W×3 uint8 array (alpha composited on white)."""
    with Image.open(io.BytesIO(png)) as im:
        if im.mode in ("RGBA", "LA", "P"):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, im)
        return np.asarray(im.convert("RGB"))


@dataclass(frozen=True)
class PixelDiff:
    """Fraction of pixels that differ and their bounding box ``[x0, y0, x1, y1]`` (None when identical)."""

    changed_fraction: float
    bbox: tuple[int, int, int, int] | None
    same_size: bool

    @property
    def identical(self) -> bool:
        return self.same_size and self.changed_fraction == 0.0


def pixel_diff(a_png: bytes, b_png: bytes) -> PixelDiff:
    """Compare two PNGs pixel by pixel. Different sizes count as a full change (bbox = the larger canvas)."""
    if a_png == b_png:
        return PixelDiff(0.0, None, True)
    a, b = decode_rgb(a_png), decode_rgb(b_png)
    if a.shape != b.shape:
        h, w = max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])
        return PixelDiff(1.0, (0, 0, w, h), False)
    mask = np.any(a != b, axis=2)
    if not mask.any():
        return PixelDiff(0.0, None, True)
    ys, xs = np.nonzero(mask)
    bbox = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return PixelDiff(float(mask.mean()), bbox, True)
