"""Quick, valid datasets of any size for tests and timing (no rendering: small drawn PNGs, varied per seed/pair)."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

from visual_erm.schema import CATEGORIES, Critique, Discrepancy
from visual_erm.synth.dataset import image_cell, read_rows, summarize, write_json, write_shard
from visual_erm.synth.splits import split_of

OPERATORS = {"chart": "bar_value", "table": "cell_text", "svg": "fill_color"}


def png(seed: int, size: tuple[int, int] = (96, 72), mark: int = -1) -> bytes:
    """A small non-blank PNG unique to ``seed`` (and ``mark``: a candidate's extra rectangle)."""
    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(im)
    for _ in range(3):
        x0, y0 = rnd.randrange(w // 2), rnd.randrange(h // 2)
        d.rectangle([x0, y0, x0 + rnd.randrange(4, w // 2), y0 + rnd.randrange(4, h // 2)],
                    fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    d.point([(seed % w, (seed // w) % h)], fill=(seed % 251, 7, 9))
    if mark >= 0:
        d.rectangle([2 + mark % (w - 8), 2, 6 + mark % (w - 8), 6], fill=(mark % 256, 255 - mark % 256, 40))
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def pair_rows(n: int, tasks: tuple[str, ...] = ("chart", "table", "svg"), candidates_per_seed: int = 3,
              identity_every: int = 5, size: tuple[int, int] = (96, 72), seed: int = 0) -> list[dict]:
    """``n`` valid pair rows: each seed has one reference and ``candidates_per_seed`` distinct candidates.

    Labels cycle over every category of the task so any dataset of a few dozen pairs per task covers them all.
    """
    rows: list[dict] = []
    k = 0
    s = 0
    while len(rows) < n:
        task = tasks[s % len(tasks)]
        seed_id = f"{task}-s{seed}-{s:06d}"
        split = split_of(seed_id)
        ref = png(seed * 1_000_003 + s, size)
        for c in range(candidates_per_seed):
            if len(rows) >= n:
                break
            identity = identity_every > 0 and k % identity_every == 0
            cats = CATEGORIES[task]
            errors = () if identity else tuple(
                Discrepancy(category=cats[(k + j) % len(cats)], severity=1 + (k + j) % 3, location="here",
                            description=f"difference {j} of pair {k}")
                for j in range(1 + k % 2))
            gold = Critique(task=task, errors=errors)
            cand = ref if identity else png(seed * 1_000_003 + s, size, mark=k)
            rows.append({
                "id": f"{seed_id}-c{c}", "task": task, "split": split, "seed_id": seed_id, "seed_kind": "generated",
                "origin": "identity" if identity else "edit:" + "+".join([OPERATORS[task]] * len(errors)),
                "operators": [OPERATORS[task]] * len(errors), "reference_code": f"# program {s}",
                "reference_image": image_cell(ref), "candidate_code": f"# program {s} edit {k}",
                "candidate_image": image_cell(cand), "gold": gold.to_json(), "n_errors": len(errors),
                "severity_sum": gold.severity_sum, "changed_fraction": 0.0 if identity else 0.01,
                "diff_bbox": [] if identity else [0, 0, 4, 4], "structural_critique": "", "renderer": "test",
                "width": size[0], "height": size[1],
            })
            k += 1
        s += 1
    return rows


def manifest_for(out_dir: Path, shards: dict[str, str], fmt: str = "visual-erm-pairs/1") -> dict:
    """A manifest as the synthesis engine writes it (counts recomputed from the shards on disk)."""
    rows = read_rows(out_dir, columns=["task", "split", "origin", "operators", "gold", "seed_id"])
    seeds: dict[str, set] = {}
    for r in rows:
        seeds.setdefault(r["split"], set()).add(r["seed_id"])
    return {"format": fmt, "config": {}, "versions": {}, "counts": summarize(rows),
            "seeds_by_split": {k: len(v) for k, v in sorted(seeds.items())}, "shards": dict(sorted(shards.items()))}


def write_pair_dataset(out_dir: Path, rows: list[dict], shard_rows: int = 2000) -> dict:
    """Write rows as shards data/<split>/<task>-<chunk>.parquet and a matching manifest.json; returns the manifest."""
    out_dir = Path(out_dir)
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["split"], r["task"]), []).append(r)
    shards: dict[str, str] = {}
    for (split, task), group in sorted(groups.items()):
        for chunk, i in enumerate(range(0, len(group), shard_rows)):
            rel = f"data/{split}/{task}-{chunk:05d}.parquet"
            shards[rel] = write_shard(group[i : i + shard_rows], out_dir / rel)
    manifest = manifest_for(out_dir, shards)
    write_json(out_dir / "manifest.json", manifest)
    return manifest


def build_pair_dataset(out_dir: Path, n: int, **kwargs) -> dict:
    """A valid pair dataset of ``n`` rows in ``out_dir``; returns its manifest."""
    return write_pair_dataset(out_dir, pair_rows(n, **kwargs))


def rl_prompt_rows(n: int, size: tuple[int, int] = (96, 72)) -> list[dict]:
    tasks = ("chart", "table", "svg")
    out = []
    for i in range(n):
        task = tasks[i % 3]
        seed_id = f"{task}-p{i:06d}"
        out.append({"id": f"{seed_id}-prompt", "task": task, "split": split_of(seed_id), "seed_id": seed_id,
                    "reference_image": image_cell(png(10_000 + i, size)), "reference_code": f"# program {i}",
                    "prompt": f"Write {task} code that reproduces this image."})
    return out


def write_rl_prompt_dataset(out_dir: Path, rows: list[dict]) -> dict:
    """RL prompt shards (data/<split>/<task>-00000.parquet) and a manifest in the visual-erm-rl-prompts/1 format."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from visual_erm.synth.dataset import sha256_file
    from visual_erm.validation.frames import RL_COLUMNS

    out_dir = Path(out_dir)
    schema = pa.schema(list(RL_COLUMNS.items()))
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["split"], r["task"]), []).append(r)
    shards = {}
    for (split, task), group in sorted(groups.items()):
        rel = f"data/{split}/{task}-00000.parquet"
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(sorted(group, key=lambda r: r["id"]), schema=schema), out_dir / rel)
        shards[rel] = sha256_file(out_dir / rel)
    by_task: dict[str, int] = {}
    by_split: dict[str, int] = {}
    for r in rows:
        by_task[r["task"]] = by_task.get(r["task"], 0) + 1
        key = f"{r['task']}/{r['split']}"
        by_split[key] = by_split.get(key, 0) + 1
    manifest = {"format": "visual-erm-rl-prompts/1",
                "counts": {"prompts": len(rows), "by_task": dict(sorted(by_task.items())),
                           "by_split": dict(sorted(by_split.items()))},
                "shards": shards}
    write_json(out_dir / "manifest.json", manifest)
    return manifest


def write_bench_dataset(out_dir: Path, n: int, size: tuple[int, int] = (96, 72)) -> dict:
    """A bench set in the project's layout (visual_erm.bench.benchset): bench.jsonl, images/<task>/, manifest.json."""
    import hashlib

    from collections import Counter

    out_dir = Path(out_dir)
    tasks = ("chart", "table", "svg")
    items, image_lines = [], []
    by_cat: dict[str, Counter] = {}
    for i in range(n):
        task = tasks[i % 3]
        item_id = f"bench-{i:05d}"
        paths = {}
        for key, suffix, mark in (("gt_img_path", "ref", -1), ("pred_img_path", "cand", i)):
            rel = f"images/{task}/{item_id}-{suffix}.png"
            data = png(20_000 + i, size, mark=mark)
            (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (out_dir / rel).write_bytes(data)
            image_lines.append(f"{rel}\t{hashlib.sha256(data).hexdigest()}")
            paths[key] = rel
        cat = CATEGORIES[task][i % len(CATEGORIES[task])]
        by_cat.setdefault(task, Counter())[cat] += 1
        items.append({"id": item_id, "category": task, **paths,
                      "human_errors": [{"category": cat, "severity": 1 + i % 3, "location": "top",
                                        "description": "a mark was added"}],
                      "origin": "edit:mark", "seed_id": f"{task}-seed-{i}"})
    (out_dir / "bench.jsonl").write_text("".join(json.dumps(it) + "\n" for it in items))
    task_counts = Counter(it["category"] for it in items)
    manifest = {
        "format": "visual-erm-bench/1",
        "counts": {"items": n, "by_task": {t: task_counts[t] for t in tasks if task_counts[t]}, "identity_items": 0,
                   "errors": n, "by_category": {t: dict(sorted(c.items())) for t, c in sorted(by_cat.items())},
                   "seeds": n},
        "files": {"bench.jsonl": hashlib.sha256((out_dir / "bench.jsonl").read_bytes()).hexdigest(),
                  "images": len(image_lines),
                  "images_sha256": hashlib.sha256("\n".join(sorted(image_lines)).encode()).hexdigest()},
    }
    write_json(out_dir / "manifest.json", manifest)
    return manifest
