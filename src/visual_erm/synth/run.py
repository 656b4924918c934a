"""One call that builds a dataset with its own render pool: what the CLI, the demo and the KFP component use."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from visual_erm.synth.engine import SynthConfig, SynthReport, synthesize


def synthesize_dataset(cfg: SynthConfig, out_dir: Path, *, workers: int | None = None,
                       progress: Callable[[int, int], None] | None = None) -> SynthReport:
    """Start a sandboxed render pool and synthesize ``cfg`` into ``out_dir`` (resuming what is already there)."""
    from visual_erm.render.pool import RenderPool

    with RenderPool(workers=workers) as pool:
        return synthesize(cfg, out_dir, render=pool.render, progress=progress)
