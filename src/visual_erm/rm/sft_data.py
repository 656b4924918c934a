"""SFT rows for the reward model, built from a pair dataset (``visual_erm.synth.dataset`` layout).

One row per pair::

    {"images": [reference, candidate],            # PIL images, downscaled as the paper does
     "messages": [{"role": "user", "content": [image, image, prompt]},
                  {"role": "assistant", "content": [{"type": "text", "text": <gold critique JSON>}]}],
     "task": "chart", "id": "..."}

The gold critique is re-serialized with :meth:`visual_erm.schema.Critique.to_json` (the paper's key order), so the
model learns one canonical form. Images: the longest side is reduced to 1024 px (chart, SVG) or 768 px (tables),
never enlarged; transparency is flattened onto white.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Iterable

import pyarrow.parquet as pq
from PIL import Image

from visual_erm.rm.prompts import rm_messages
from visual_erm.schema import Critique

#: The paper's longest-side limits per task.
PAPER_MAX_SIDE: dict[str, int] = {"chart": 1024, "svg": 1024, "table": 768}


def to_pil(cell) -> Image.Image:
    """An image from a dataset cell ({bytes, path} struct), raw bytes, a path or a PIL image; RGB on white."""
    if isinstance(cell, Image.Image):
        img = cell
    elif isinstance(cell, (bytes, bytearray)):
        img = Image.open(io.BytesIO(cell))
    elif isinstance(cell, dict):
        img = Image.open(io.BytesIO(cell["bytes"])) if cell.get("bytes") else Image.open(cell["path"])
    else:
        img = Image.open(cell)
    img.load()
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        bg = Image.new("RGB", img.size, "white")
        bg.paste(img, mask=img.getchannel("A"))
        return bg
    return img.convert("RGB")


def resize_for_task(img: Image.Image, task: str, max_side: dict[str, int] | None = None) -> Image.Image:
    """Downscale so the longest side is at most the task's limit (aspect kept, LANCZOS); never enlarge."""
    limit = (max_side or PAPER_MAX_SIDE)[task]
    w, h = img.size
    if max(w, h) <= limit:
        return img
    scale = limit / max(w, h)
    return img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)


def canonical_gold(task: str, gold: str) -> str:
    """The gold critique as ``Critique.to_json()`` writes it."""
    return Critique.from_json_dict(task, json.loads(gold)).to_json()


def pair_rows(dataset_dir: str | Path, split: str | None = None, columns: list[str] | None = None) -> list[dict]:
    """Rows of a pair dataset directory (one split or all), in shard order."""
    base = Path(dataset_dir) / "data"
    pattern = f"{split}/*.parquet" if split else "*/*.parquet"
    rows: list[dict] = []
    for shard in sorted(base.glob(pattern)):
        rows.extend(pq.read_table(shard, columns=columns).to_pylist())
    return rows


def available_splits(dataset_dir: str | Path) -> list[str]:
    base = Path(dataset_dir) / "data"
    return sorted(p.name for p in base.iterdir() if p.is_dir() and any(p.glob("*.parquet"))) if base.is_dir() else []


def sft_row(pair: dict, max_side: dict[str, int] | None = None) -> dict:
    """One SFT row from one pair row."""
    task = pair["task"]
    return {
        "id": pair["id"],
        "task": task,
        "images": [resize_for_task(to_pil(pair["reference_image"]), task, max_side),
                   resize_for_task(to_pil(pair["candidate_image"]), task, max_side)],
        "messages": rm_messages(task, canonical_gold(task, pair["gold"])),
    }


def sft_rows(pairs: Iterable[dict], max_side: dict[str, int] | None = None) -> list[dict]:
    return [sft_row(p, max_side) for p in pairs]


def build_sft_dataset(dataset_dir: str | Path, split: str = "train", *, max_side: dict[str, int] | None = None,
                      limit: int | None = None):
    """A ``datasets.Dataset`` of SFT rows for one split (``images`` as an image-list feature)."""
    import datasets

    pairs = pair_rows(dataset_dir, split)
    if limit is not None:
        pairs = pairs[:limit]
    if not pairs:
        raise ValueError(f"{dataset_dir} has no pairs in split {split!r} (splits: {available_splits(dataset_dir)})")
    rows = sft_rows(pairs, max_side)
    return datasets.Dataset.from_list(rows)
