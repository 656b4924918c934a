"""Pixel metrics for rendered outputs (SVG icons mainly): SSIM and MSE, plus the UniSVG-style composite score.

Conventions (fixed, so numbers are comparable across runs):

* Both images are flattened onto a white background (alpha composited), converted to 8-bit grayscale
  (PIL ``"L"``, ITU-R 601-2 luma) and scaled to float in [0, 1].
* If the sizes differ, the *candidate* is resized to the *reference* size with PIL bicubic resampling.
* SSIM: ``skimage.metrics.structural_similarity(ref, cand, data_range=1.0)`` with scikit-image's defaults —
  a 7×7 uniform (box) window, K1 = 0.01, K2 = 0.03, sample covariance (``use_sample_covariance=True``), no Gaussian
  weighting; the mean of the SSIM map with a (7−1)/2 = 3 px border cropped is returned. Images smaller than 7 px on a side use the
  largest odd window that fits (at least 3).
* MSE: mean of squared differences of the same [0, 1] grayscale arrays (0 = identical, 1 = black vs white).

UniSVG's ISVGEN score (per the paper notes) is ``0.2·SSIM + 0.2·(100 − LPIPS) + 0.6·CLIP`` with SSIM, LPIPS and
CLIP similarity all on a 0–100 scale. LPIPS and CLIP need network weights that this project cannot download;
:func:`unisvg_score` therefore takes them as callables (or precomputed values) and raises
:class:`MissingModelError` when they are not supplied.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from os import PathLike
from typing import Union

import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity

__all__ = ["to_gray", "align", "ssim", "mse", "image_metrics", "unisvg_score", "MissingModelError"]

ImageLike = Union[Image.Image, np.ndarray, bytes, str, PathLike]


class MissingModelError(RuntimeError):
    """A metric needs model weights (LPIPS, CLIP) that were not provided."""


def _open(img: ImageLike) -> Image.Image:
    if isinstance(img, Image.Image):
        return img
    if isinstance(img, (bytes, bytearray)):
        return Image.open(io.BytesIO(img))
    if isinstance(img, np.ndarray):
        arr = img
        if np.issubdtype(arr.dtype, np.floating):  # float arrays are taken to be in [0, 1]
            arr = (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        elif arr.dtype != np.uint8:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        return Image.fromarray(arr)
    return Image.open(img)


def to_gray(img: ImageLike) -> Image.Image:
    """Flatten onto white and convert to 8-bit grayscale (``"L"``)."""
    im = _open(img)
    im.load()
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return im.convert("L")


def align(reference: ImageLike, candidate: ImageLike) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float grayscale arrays in [0, 1], the candidate resized (bicubic) to the reference's size."""
    ref, cand = to_gray(reference), to_gray(candidate)
    if cand.size != ref.size:
        cand = cand.resize(ref.size, Image.Resampling.BICUBIC)
    return (np.asarray(ref, dtype=np.float64) / 255.0, np.asarray(cand, dtype=np.float64) / 255.0)


def ssim(reference: ImageLike, candidate: ImageLike) -> float:
    """Mean SSIM in [-1, 1] (1 = identical) under the conventions in the module docstring."""
    ref, cand = align(reference, candidate)
    side = min(ref.shape)
    win = 7 if side >= 7 else max(3, side if side % 2 else side - 1)
    if side < 3:
        raise ValueError(f"images of {ref.shape[1]}×{ref.shape[0]} px are too small for SSIM (need ≥ 3 px a side)")
    return float(structural_similarity(ref, cand, data_range=1.0, win_size=win))


def mse(reference: ImageLike, candidate: ImageLike) -> float:
    """Mean squared error in [0, 1] of the aligned [0, 1] grayscale images."""
    ref, cand = align(reference, candidate)
    return float(np.mean((ref - cand) ** 2))


def image_metrics(reference: ImageLike, candidate: ImageLike) -> dict[str, float]:
    """``{"ssim": …, "mse": …}`` for one pair."""
    return {"ssim": ssim(reference, candidate), "mse": mse(reference, candidate)}


def unisvg_score(reference: ImageLike, candidate: ImageLike, *,
                 lpips: Callable[[ImageLike, ImageLike], float] | float | None = None,
                 clip: Callable[[ImageLike, ImageLike], float] | float | None = None) -> float:
    """UniSVG-style score in [0, 100]: ``0.2·SSIM + 0.2·(100 − LPIPS) + 0.6·CLIP`` (each term on 0–100).

    ``lpips``: LPIPS distance in [0, 1] (a callable on the two images, or the precomputed value); ``clip``: CLIP
    image-image cosine similarity in [0, 1] (callable or value). Both need model weights, which are not bundled:
    without them this raises :class:`MissingModelError` rather than returning a partial score.
    """
    missing = [name for name, v in (("LPIPS", lpips), ("CLIP", clip)) if v is None]
    if missing:
        raise MissingModelError(
            f"the UniSVG score needs {' and '.join(missing)} model weights, which are not available here; "
            "pass lpips=/clip= as callables (or precomputed values), or report SSIM and MSE alone")
    lp = float(lpips(reference, candidate) if callable(lpips) else lpips)
    cl = float(clip(reference, candidate) if callable(clip) else clip)
    s = ssim(reference, candidate)
    return 0.2 * (100.0 * s) + 0.2 * (100.0 - 100.0 * lp) + 0.6 * (100.0 * cl)
