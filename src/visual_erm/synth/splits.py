"""Train/val/test assignment by seed program, so no seed (and none of its pairs) ever crosses splits."""

from __future__ import annotations

import hashlib

SPLITS = ("train", "val", "test")


def split_of(seed_id: str, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """The split of a seed program: a stable hash of its id mapped onto the cumulative ``ratios``."""
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(f"split ratios must be three non-negative numbers summing to 1, got {ratios}")
    u = int(hashlib.sha256(seed_id.encode()).hexdigest()[:12], 16) / float(1 << 48)
    edge = 0.0
    for name, r in zip(SPLITS, ratios):
        edge += r
        if u < edge:
            return name
    return SPLITS[-1]


def derived_seed(*parts: object) -> int:
    """A 31-bit integer seed derived from any parts (stable across processes and Python versions)."""
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:8], 16) & 0x7FFFFFFF
