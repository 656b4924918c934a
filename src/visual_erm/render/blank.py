"""Blank-image detection: a render that is (almost) a single flat colour counts as a failure (status ``blank``)."""

from __future__ import annotations

import io

#: Fraction of pixels that must equal the top-left corner's colour for an image to count as blank.
BLANK_FRACTION = 0.999


def blank_fraction(image) -> float:
    """Fraction of pixels equal to the top-left pixel (RGBA, exact match). ``image`` is a PIL image."""
    import numpy as np

    arr = np.asarray(image.convert("RGBA"))
    if arr.size == 0:
        return 1.0
    flat = arr.reshape(-1, 4).view(np.uint32).ravel()
    return float(np.count_nonzero(flat == flat[0])) / flat.size


def is_blank(image_or_png, threshold: float = BLANK_FRACTION) -> bool:
    """True when at least ``threshold`` of the pixels share the corner colour. Accepts a PIL image or PNG bytes."""
    if isinstance(image_or_png, (bytes, bytearray, memoryview)):
        from PIL import Image

        with Image.open(io.BytesIO(bytes(image_or_png))) as im:
            im.load()
            return blank_fraction(im) >= threshold
    return blank_fraction(image_or_png) >= threshold
