"""SSIM / MSE conventions: identity, a known perturbation, size mismatch, alpha, input types, UniSVG guard."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from skimage.metrics import structural_similarity

from visual_erm.bench.image_metrics import MissingModelError, align, image_metrics, mse, ssim, unisvg_score


def icon(size: int = 64, shift: int = 0, color: str = "black") -> Image.Image:
    im = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(im)
    s = size / 64
    draw.ellipse([(12 + shift) * s, 12 * s, (52 + shift) * s, 52 * s], outline=color, width=max(1, int(4 * s)))
    draw.line([(20 + shift) * s, 32 * s, (44 + shift) * s, 32 * s], fill=color, width=max(1, int(3 * s)))
    return im


def test_identical_images():
    a = icon()
    assert ssim(a, a.copy()) == pytest.approx(1.0)
    assert mse(a, a.copy()) == 0.0
    assert image_metrics(a, a) == {"ssim": pytest.approx(1.0), "mse": 0.0}


def test_known_perturbations_lower_ssim_monotonically():
    ref = icon()
    small, big = icon(shift=2), icon(shift=8)
    assert 0.0 < ssim(ref, big) < ssim(ref, small) < 1.0
    assert 0.0 < mse(ref, small) < mse(ref, big)


def test_black_vs_white_mse_is_one():
    assert mse(Image.new("L", (16, 16), 0), Image.new("L", (16, 16), 255)) == 1.0


def test_matches_skimage_default_convention():
    rng = np.random.default_rng(0)
    a = rng.random((40, 50))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    a8 = (a * 255 + 0.5).astype(np.uint8)
    b8 = (b * 255 + 0.5).astype(np.uint8)
    expected = structural_similarity(a8 / 255.0, b8 / 255.0, data_range=1.0)  # 7×7 uniform window
    assert ssim(a, b) == pytest.approx(expected)
    assert ssim(Image.fromarray(a8), Image.fromarray(b8)) == pytest.approx(expected)


def test_size_mismatch_resizes_candidate_to_reference():
    ref = icon(64)
    cand = icon(128)  # same drawing at twice the size
    r, c = align(ref, cand)
    assert r.shape == c.shape == (64, 64)
    assert ssim(ref, cand) > 0.7
    assert ssim(ref, cand) > ssim(ref, icon(64, shift=8))


def test_alpha_is_flattened_on_white_and_bytes_paths_are_accepted(tmp_path):
    transparent = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    white = Image.new("RGB", (32, 32), "white")
    assert mse(transparent, white) == 0.0
    buf = io.BytesIO()
    icon().save(buf, format="PNG")
    path = tmp_path / "a.png"
    icon().save(path)
    assert ssim(buf.getvalue(), str(path)) == pytest.approx(1.0)


def test_tiny_images():
    a = Image.new("L", (5, 5), 100)
    assert ssim(a, a) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ssim(Image.new("L", (2, 2)), Image.new("L", (2, 2)))


def test_unisvg_needs_model_weights():
    with pytest.raises(MissingModelError, match="LPIPS and CLIP"):
        unisvg_score(icon(), icon())
    with pytest.raises(MissingModelError, match="CLIP"):
        unisvg_score(icon(), icon(), lpips=0.1)
    # With values supplied: 0.2·100·SSIM + 0.2·(100 − 100·LPIPS) + 0.6·100·CLIP
    assert unisvg_score(icon(), icon(), lpips=0.0, clip=lambda a, b: 1.0) == pytest.approx(100.0)
    assert unisvg_score(icon(), icon(), lpips=0.5, clip=0.5) == pytest.approx(20 + 10 + 30)
