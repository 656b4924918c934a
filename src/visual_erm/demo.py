"""The embedded default run: a gallery of rendered sample programs and a small verified pair dataset."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from visual_erm.render.api import RenderJob
from visual_erm.schema import TASKS
from visual_erm.synth.engine import SynthConfig
from visual_erm.synth.run import synthesize_dataset
from visual_erm.tasks import get_task


def write_gallery(out: Path, per_task: int = 4, seed: int = 0) -> Path:
    """Render ``per_task`` generated programs of every task in the sandbox and write ``gallery.html``."""
    from visual_erm.render.pool import RenderPool

    seeds = [get_task(t).generate_seed(seed * 1000 + i) for t in TASKS for i in range(per_task)]
    with RenderPool() as pool:
        results = pool.render([RenderJob(s.seed_id, s.task, s.program) for s in seeds])
    cells = []
    for s, r in zip(seeds, results):
        img = (f"<img src='data:image/png;base64,{base64.b64encode(r.png).decode()}'>" if r.ok and r.png
               else f"<p>{html.escape(r.status.value)}: {html.escape(r.message)}</p>")
        cells.append(f"<figure>{img}<figcaption>{html.escape(s.task)} · {html.escape(s.kind)} · "
                     f"{r.status.value} · {r.total_ms:.0f} ms</figcaption></figure>")
    page = ("<!doctype html><meta charset='utf-8'><title>Visual-ERM render gallery</title><style>"
            "body{font-family:sans-serif}figure{display:inline-block;margin:8px;vertical-align:top}"
            "img{max-width:320px;max-height:260px;border:1px solid #ddd}</style><h1>Render gallery</h1>"
            + "".join(cells))
    out.mkdir(parents=True, exist_ok=True)
    path = out / "gallery.html"
    path.write_text(page)
    return path


def run_demo(out: Path, n: int = 30) -> dict[str, Path]:
    """Gallery + an ``n``-pair dataset over all three tasks; returns the paths a user should open."""
    gallery = write_gallery(out)
    dataset = out / "dataset"
    synthesize_dataset(SynthConfig(n=n, seed=0, chunk_seeds=5), dataset)
    return {"gallery": gallery, "dataset": dataset, "preview": dataset / "preview.html",
            "manifest": dataset / "manifest.json"}
