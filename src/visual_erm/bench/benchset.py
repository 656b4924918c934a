"""Critic benchmark sets in the VC-RewardBench record layout, built from the test split of a pair dataset.

Layout of a bench directory (format ``visual-erm-bench/1``)::

    bench.jsonl        one item per line (below), sorted by task then id
    images/<task>/<id>-ref.png, images/<task>/<id>-cand.png
    manifest.json      written last: format, source dataset, counts, sha256 of bench.jsonl and of the images

An item is the VC-RewardBench record — ``id``, ``category`` (chart|table|svg: the task), ``gt_img_path`` (reference
render), ``pred_img_path`` (candidate render), ``human_errors`` (the gold errors in the paper's format) — plus
extras in their own fields: ``origin``, ``seed_id``, ``operators``, ``reference_code``, ``candidate_code``.

:func:`load_benchset` reads this layout and the official VC-RewardBench JSONL: image paths relative to the JSONL's
folder (or absolute), ``human_errors`` as a list, a JSON string or an object with ``errors``, errors with ``type``
instead of ``category``, missing extras.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from visual_erm.schema import TASKS, Critique, CritiqueParseError

__all__ = ["FORMAT", "BenchItem", "BenchSet", "BenchSetError", "build_benchset", "is_pair_dataset", "load_benchset"]

FORMAT = "visual-erm-bench/1"
BENCH_FILE = "bench.jsonl"
MANIFEST = "manifest.json"


class BenchSetError(ValueError):
    """A bench set that cannot be built or read; the message says which file/line and what to fix."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "item"


def _round_robin(rows_by_task: dict[str, list], limit: int) -> list:
    """Up to ``limit`` rows, alternating over tasks (in TASKS order) so that every task is represented."""
    out: list[dict] = []
    queues = {t: list(rows_by_task.get(t, [])) for t in TASKS}
    while len(out) < limit and any(queues.values()):
        for t in TASKS:
            if queues[t] and len(out) < limit:
                out.append(queues[t].pop(0))
    return out


def is_pair_dataset(path: str | Path) -> bool:
    """True for a pair dataset directory written by the synth engine (``data/<split>/*.parquet``)."""
    path = Path(path)
    if not path.is_dir() or (path / BENCH_FILE).is_file():
        return False
    return any((path / "data").glob("*/*.parquet"))


def build_benchset(pairs_dir: str | Path, out_dir: str | Path, split: str = "test",
                   max_items: int | None = None) -> dict:
    """Write a bench set from the ``split`` rows of the pair dataset in ``pairs_dir``; returns the manifest.

    Only rows of ``split`` are used, and the build fails if any of their seed programs also appears in another
    split (a leak that would put training seeds into the benchmark). ``max_items`` keeps a deterministic subset:
    rows sorted by id, taken round-robin over tasks. An existing bench in ``out_dir`` is replaced (its manifest
    is removed first, so an interrupted rebuild is never mistaken for a complete one).
    """
    import pyarrow.parquet as pq

    from visual_erm.synth.dataset import read_rows

    pairs_dir, out_dir = Path(pairs_dir), Path(out_dir)
    if not (pairs_dir / "data").is_dir():
        raise BenchSetError(f"{pairs_dir} is not a pair dataset (no data/ folder); build one with `verm synth`")
    source_manifest = {}
    if (pairs_dir / MANIFEST).is_file():
        source_manifest = json.loads((pairs_dir / MANIFEST).read_text())
    rows = read_rows(pairs_dir, columns=["id", "task", "split", "seed_id"])
    seeds_elsewhere = {r["seed_id"] for r in rows if r["split"] != split}
    selected_ids = {r["id"] for r in rows if r["split"] == split}
    if not selected_ids:
        found = sorted({r["split"] for r in rows})
        raise BenchSetError(f"{pairs_dir} has no {split!r} rows (splits present: {', '.join(found) or 'none'})")
    leaked = sorted({r["seed_id"] for r in rows if r["id"] in selected_ids} & seeds_elsewhere)
    if leaked:
        raise BenchSetError(f"seed programs of the {split!r} split also appear in other splits: "
                            f"{', '.join(leaked[:5])}{' …' if len(leaked) > 5 else ''}; the dataset leaks seeds")

    full = []
    for shard in sorted((pairs_dir / "data").glob("*/*.parquet")):  # images only from shards holding the split
        if selected_ids.intersection(pq.read_table(shard, columns=["id"]).column("id").to_pylist()):
            full.extend(r for r in pq.read_table(shard).to_pylist() if r["id"] in selected_ids)
    by_task: dict[str, list[dict]] = {}
    for r in sorted(full, key=lambda r: r["id"]):
        by_task.setdefault(r["task"], []).append(r)
    chosen = _round_robin(by_task, max_items if max_items is not None else len(full))
    chosen.sort(key=lambda r: (TASKS.index(r["task"]), r["id"]))

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    if (out_dir / "images").is_dir():  # images of an earlier build must not linger beside the new records
        shutil.rmtree(out_dir / "images")
    bench_tmp = out_dir / (BENCH_FILE + ".tmp")
    image_hashes: list[str] = []
    seen: set[str] = set()
    by_cat: dict[str, Counter] = {}
    with open(bench_tmp, "w", encoding="utf-8") as fh:
        for r in chosen:
            assert r["split"] == split, f"row {r['id']} is {r['split']}, not {split}"
            assert r["seed_id"] not in seeds_elsewhere, f"row {r['id']} has a seed of another split"
            stem = _safe(r["id"])
            if stem in seen:
                raise BenchSetError(f"two items map to the same file name {stem!r}; ids must be unique")
            seen.add(stem)
            paths = {}
            for key, col, suffix in (("gt_img_path", "reference_image", "ref"), ("pred_img_path", "candidate_image", "cand")):
                rel = f"images/{r['task']}/{stem}-{suffix}.png"
                dest = out_dir / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                png = r[col]["bytes"]
                dest.write_bytes(png)
                image_hashes.append(f"{rel}\t{hashlib.sha256(png).hexdigest()}")
                paths[key] = rel
            gold = json.loads(r["gold"])
            for e in gold["errors"]:
                by_cat.setdefault(r["task"], Counter())[e["category"]] += 1
            record = {
                "id": r["id"],
                "category": r["task"],
                **paths,
                "human_errors": gold["errors"],
                "origin": r["origin"],
                "seed_id": r["seed_id"],
                "operators": list(r.get("operators") or []),
                "reference_code": r["reference_code"],
                "candidate_code": r["candidate_code"],
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    bench_tmp.replace(out_dir / BENCH_FILE)

    task_counts = Counter(r["task"] for r in chosen)
    manifest = {
        "format": FORMAT,
        "source": {
            "pairs_dir": str(pairs_dir),
            "format": source_manifest.get("format"),
            "seed": (source_manifest.get("config") or {}).get("seed"),
            "manifest_sha256": _sha256(pairs_dir / MANIFEST) if (pairs_dir / MANIFEST).is_file() else None,
        },
        "split": split,
        "max_items": max_items,
        "counts": {
            "items": len(chosen),
            "by_task": {t: task_counts[t] for t in TASKS if task_counts[t]},
            "identity_items": sum(r["origin"] == "identity" for r in chosen),
            "errors": sum(sum(c.values()) for c in by_cat.values()),
            "by_category": {t: dict(sorted(c.items())) for t, c in sorted(by_cat.items())},
            "seeds": len({r["seed_id"] for r in chosen}),
        },
        "files": {
            BENCH_FILE: _sha256(out_dir / BENCH_FILE),
            "images": len(image_hashes),
            "images_sha256": hashlib.sha256("\n".join(sorted(image_hashes)).encode()).hexdigest(),
        },
    }
    tmp = out_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(out_dir / MANIFEST)
    return manifest


# ------------------------------------------------------------------------------------------------------ loading


@dataclass(frozen=True)
class BenchItem:
    """One benchmark item, image paths resolved. ``gold`` holds the task's errors (foreign categories dropped)."""

    id: str
    task: str
    gt_img_path: Path
    pred_img_path: Path
    gold: Critique
    human_errors: list = field(default_factory=list)
    origin: str | None = None
    reference_code: str | None = None
    candidate_code: str | None = None
    record: dict = field(default_factory=dict, repr=False)

    def reference_png(self) -> bytes:
        return self.gt_img_path.read_bytes()

    def candidate_png(self) -> bytes:
        return self.pred_img_path.read_bytes()

    def to_record(self) -> dict:
        """The VC-RewardBench record (what :func:`~visual_erm.bench.critic_metrics.item_from_record` reads)."""
        return {"id": self.id, "category": self.task, "gt_img_path": str(self.gt_img_path),
                "pred_img_path": str(self.pred_img_path), "human_errors": [e.to_json_dict() for e in self.gold.errors]}


@dataclass(frozen=True)
class BenchSet:
    items: list[BenchItem]
    path: Path  # the JSONL
    manifest: dict | None = None  # ours only

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    @property
    def by_task(self) -> dict[str, int]:
        c = Counter(i.task for i in self.items)
        return {t: c[t] for t in TASKS if c[t]}

    def head(self, n: int | None) -> list[BenchItem]:
        """Up to ``n`` items taken in turn from each task (file order within a task); all items when ``n`` is
        falsy. A smoke run of a bench written task by task then still covers every task."""
        if not n:
            return list(self.items)
        by_task: dict[str, list[BenchItem]] = {}
        for it in self.items:
            by_task.setdefault(it.task, []).append(it)
        return _round_robin(by_task, n)  # type: ignore[arg-type]


_TASK_ALIASES = {"charts": "chart", "tables": "table", "svgs": "svg", "icon": "svg"}


def _errors_of(raw, where: str) -> list:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = raw.strip()
        if not raw:
            return []
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BenchSetError(f"{where}: human_errors is a string that is not JSON ({exc})") from None
    if isinstance(raw, dict):
        raw = raw.get("errors", [])
    if not isinstance(raw, list):
        raise BenchSetError(f"{where}: human_errors must be a list of errors, got {type(raw).__name__}")
    return raw


def _resolve(base: Path, value, where: str, key: str) -> Path:
    if not value or not isinstance(value, str):
        raise BenchSetError(f"{where}: missing {key}")
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)


def load_benchset(path: str | Path, *, check_images: bool = True) -> BenchSet:
    """Load a bench set: a directory holding ``bench.jsonl`` (or exactly one ``*.jsonl``), or a JSONL file.

    Reads our layout and the official VC-RewardBench one (see the module docstring). ``check_images`` fails early,
    naming the first missing image, instead of letting every item fail later.
    """
    path = Path(path)
    manifest = None
    if path.is_dir():
        if (path / MANIFEST).is_file():
            manifest = json.loads((path / MANIFEST).read_text())
            if manifest.get("format") not in (None, FORMAT):
                raise BenchSetError(f"{path}/manifest.json has format {manifest.get('format')!r}, not {FORMAT!r}")
        jsonl = path / BENCH_FILE
        if not jsonl.is_file():
            found = sorted(path.glob("*.jsonl"))
            if len(found) != 1:
                raise BenchSetError(f"{path} holds no {BENCH_FILE} and {len(found)} other .jsonl files; "
                                    "pass the JSONL file itself")
            jsonl = found[0]
        if manifest and manifest.get("files", {}).get(BENCH_FILE) and jsonl.name == BENCH_FILE:
            if _sha256(jsonl) != manifest["files"][BENCH_FILE]:
                raise BenchSetError(f"{jsonl} does not match the sha256 in its manifest.json (modified or truncated)")
    elif path.is_file():
        jsonl = path
    else:
        raise BenchSetError(f"bench set {path} does not exist")
    base = jsonl.parent
    items: list[BenchItem] = []
    ids: set[str] = set()
    with open(jsonl, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{jsonl}:{n}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BenchSetError(f"{where}: not JSON ({exc})") from None
            if not isinstance(rec, dict):
                raise BenchSetError(f"{where}: a record must be a JSON object")
            task = str(rec.get("category") or rec.get("task") or "").strip().lower()
            task = _TASK_ALIASES.get(task, task)
            if task not in TASKS:
                raise BenchSetError(f"{where}: category {rec.get('category')!r} is not one of {', '.join(TASKS)}")
            item_id = str(rec.get("id", f"line-{n}"))
            if item_id in ids:
                raise BenchSetError(f"{where}: duplicate id {item_id!r}")
            ids.add(item_id)
            errors = _errors_of(rec.get("human_errors"), where)
            try:
                gold = Critique.from_json_dict(task, {"errors": errors}, drop_foreign=True)
            except CritiqueParseError as exc:
                raise BenchSetError(f"{where}: human_errors: {exc.message}") from None
            gt = _resolve(base, rec.get("gt_img_path"), where, "gt_img_path")
            pred = _resolve(base, rec.get("pred_img_path"), where, "pred_img_path")
            if check_images:
                for p, key in ((gt, "gt_img_path"), (pred, "pred_img_path")):
                    if not p.is_file():
                        raise BenchSetError(f"{where}: {key} {p} does not exist")
            items.append(BenchItem(id=item_id, task=task, gt_img_path=gt, pred_img_path=pred, gold=gold,
                                   human_errors=errors, origin=rec.get("origin"),
                                   reference_code=rec.get("reference_code"), candidate_code=rec.get("candidate_code"),
                                   record=rec))
    if not items:
        raise BenchSetError(f"{jsonl} holds no items")
    return BenchSet(items, jsonl, manifest)
