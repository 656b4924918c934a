"""A toy pair dataset for tests and smoke runs: drawn shapes and hand-made gold critiques, no rendering.

Rows follow :data:`visual_erm.synth.dataset.PAIR_COLUMNS`; the layout is the one ``verm synth`` writes
(``data/<split>/<task>-00000.parquet`` + ``manifest.json`` last), so every consumer reads it the same way.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

from visual_erm.schema import CATEGORIES, Critique, Discrepancy

_COLOURS = ["red", "blue", "green", "orange", "purple", "black"]


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _draw(size: tuple[int, int], colour: str, shape: int) -> Image.Image:
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    w, h = size
    box = (w // 6, h // 6, w - w // 6, h - h // 6)
    (d.rectangle if shape % 2 else d.ellipse)(box, outline=colour, width=3, fill=None if shape % 3 else colour)
    return img


def toy_pair_rows(n_per_task: int = 4, seed: int = 0, *, size: tuple[int, int] = (160, 120),
                  splits: tuple[str, ...] = ("train", "train", "train", "test")) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for task in ("chart", "table", "svg"):
        for i in range(n_per_task):
            colour, other = rng.sample(_COLOURS, 2)
            shape = rng.randrange(6)
            ref = _draw(size, colour, shape)
            identical = i % 4 == 3
            cand = ref if identical else _draw(size, other, shape)
            errors = () if identical else (Discrepancy(
                category=CATEGORIES[task][i % len(CATEGORIES[task])], severity=1 + i % 3,
                location="main shape", description=f"The shape is {colour} in the reference but {other}."),)
            gold = Critique(task=task, errors=errors)
            rows.append({
                "id": f"{task}-toy-{seed}-{i}", "task": task, "split": splits[i % len(splits)],
                "seed_id": f"{task}-toy-{seed}-{i}", "seed_kind": "toy",
                "origin": "identity" if identical else "edit:toy_colour", "operators": [] if identical else ["toy"],
                "reference_code": "", "reference_image": {"bytes": _png(ref), "path": None},
                "candidate_code": "", "candidate_image": {"bytes": _png(cand), "path": None},
                "gold": gold.to_json(), "n_errors": len(errors), "severity_sum": gold.severity_sum,
                "changed_fraction": 0.0 if identical else 0.2, "diff_bbox": [], "structural_critique": gold.to_json(),
                "renderer": "toy", "width": size[0], "height": size[1],
            })
    return rows


def write_toy_pair_dataset(out_dir: str | Path, n_per_task: int = 4, seed: int = 0, **kw) -> Path:
    """Write a toy pair dataset directory (shards, then ``manifest.json``) and return it."""
    from visual_erm.synth.dataset import write_shard

    out = Path(out_dir)
    rows = toy_pair_rows(n_per_task, seed, **kw)
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["split"], r["task"]), []).append(r)
    for (split, task), group in sorted(groups.items()):
        write_shard(group, out / "data" / split / f"{task}-00000.parquet")
    (out / "manifest.json").write_text(json.dumps({"kind": "toy", "counts": {"pairs": len(rows)}, "seed": seed}))
    return out
