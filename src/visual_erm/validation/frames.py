"""Datasets on disk → pandas frames of per-row (and per-shard, per-category, per-manifest-key) statistics.

Great Expectations validates these frames, never the raw rows: everything that needs Python (parsing the gold
critique, opening a PNG, hashing images, comparing with the manifest) is computed here once, so the suites are
plain column expectations. Every frame has an ``id`` column (pair id, shard path, ``task/category``, manifest key)
so that a failed expectation names the offending rows.

Whatever cannot be loaded at all (a corrupt Parquet shard, a missing or truncated ``manifest.json``) becomes a
:class:`LoadProblem` instead: it is reported as a failure with a message, without Great Expectations.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from visual_erm.schema import CATEGORIES, TASKS, count_key, normalize_category
from visual_erm.synth.dataset import PAIR_COLUMNS, sha256_file

KIND_BY_FORMAT = {
    "visual-erm-pairs/1": "pairs",
    "visual-erm-rl-prompts/1": "rl-prompts",
    "visual-erm-bench/1": "bench",
}
FORMAT_BY_KIND = {v: k for k, v in KIND_BY_FORMAT.items()}
KINDS = tuple(FORMAT_BY_KIND)

_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
#: Columns (and Arrow types) of an RL prompt set shard.
RL_COLUMNS: dict[str, pa.DataType] = {
    "id": pa.string(), "task": pa.string(), "split": pa.string(), "seed_id": pa.string(),
    "reference_image": _IMAGE, "reference_code": pa.string(), "prompt": pa.string(),
}
PAIR_TYPES: dict[str, pa.DataType] = {name: typ for name, (typ, _) in PAIR_COLUMNS.items()}
#: Fields of a VC-RewardBench item.
BENCH_FIELDS = ("id", "category", "gt_img_path", "pred_img_path", "human_errors")
#: Every error category of every task, in a stable order (one stated/listed count column pair each).
ALL_CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(c for t in TASKS for c in CATEGORIES[t]))

MANIFEST = "manifest.json"


@dataclass
class Thresholds:
    """Tunable limits of the suites (``validate_dataset(**thresholds)``)."""

    #: Each category of a task must label at least this many errors ...
    min_per_category: int = 1
    #: ... once the dataset holds at least this many pairs of that task (smaller tasks are not checked).
    min_pairs_for_balance: int = 200
    #: Bounds of the share of identity (error-free) pairs, per task and overall.
    identity_share_min: float = 0.0
    identity_share_max: float = 0.5
    #: Bounds of image width and height in pixels.
    min_image_side: int = 16
    max_image_side: int = 4096
    #: A reference whose pixels share one colour for at least this fraction is blank (computed on a thumbnail).
    blank_fraction: float = 0.999
    #: Offending ids listed per failed expectation (the count is always given).
    max_listed_ids: int = 20
    #: A missing manifest.json is a failure (set False for an external benchmark without one).
    require_manifest: bool = True
    #: Processes that open and check images (0 = one per core, 1 = in this process).
    workers: int = 0

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> "Thresholds":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        t = cls(**kwargs)
        if not 0.0 <= t.identity_share_min <= t.identity_share_max <= 1.0:
            raise ValueError("identity_share_min/max must satisfy 0 <= min <= max <= 1")
        if t.min_image_side > t.max_image_side:
            raise ValueError("min_image_side must not exceed max_image_side")
        return t


@dataclass(frozen=True)
class LoadProblem:
    """Something that could not be loaded and so cannot be validated by Great Expectations."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class Frames:
    kind: str
    frames: dict[str, pd.DataFrame]
    problems: list[LoadProblem] = field(default_factory=list)
    manifest: dict | None = None
    rows: int = 0


# ----------------------------------------------------------------------------------------------------- manifest


def read_manifest(dataset_dir: Path, required: bool = True) -> tuple[dict | None, list[LoadProblem]]:
    """The parsed manifest, or the reasons it cannot be used."""
    path = dataset_dir / MANIFEST
    if not path.exists():
        if not required:
            return None, []
        return None, [LoadProblem(MANIFEST, "missing: the dataset is incomplete (the manifest is written last); "
                                            "finish or rerun the build into the same directory")]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [LoadProblem(MANIFEST, f"not valid JSON ({exc}); the file is truncated or corrupt — rerun the "
                                            "build into the same directory to rewrite it")]
    except OSError as exc:
        return None, [LoadProblem(MANIFEST, f"cannot be read ({exc})")]
    if not isinstance(data, dict):
        return None, [LoadProblem(MANIFEST, f"must be a JSON object, got {type(data).__name__}; rewrite it")]
    return data, []


def detect_kind(dataset_dir: Path, manifest: dict | None) -> str:
    """The dataset kind from the manifest's ``format``, else from the files and columns present."""
    if manifest is not None and manifest.get("format") in KIND_BY_FORMAT:
        return KIND_BY_FORMAT[manifest["format"]]
    if manifest is not None and manifest.get("format"):
        raise ValueError(f"{dataset_dir / MANIFEST}: unknown format {manifest['format']!r}; known: "
                         f"{', '.join(KIND_BY_FORMAT)} (or pass the kind explicitly)")
    for shard in sorted((dataset_dir / "data").glob("*/*.parquet")):
        try:
            names = set(pq.read_schema(shard).names)
        except Exception:
            continue
        if "gold" in names or "candidate_image" in names:
            return "pairs"
        if "prompt" in names:
            return "rl-prompts"
        if "gt_img_path" in names:
            return "bench"
    if _bench_files(dataset_dir):
        return "bench"
    return "pairs"


# ------------------------------------------------------------------------------------------------------- images


def _digest(data: bytes | None) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest() if data else ""


def image_stats(data: bytes | None, blank_check: bool, blank_fraction: float) -> tuple[str, int, int, bool]:
    """(problem or "", width, height, blank) of PNG bytes. Cheap: header + CRC check; full decode only for blanks.

    The blank check decodes the image and box-reduces it to at most ~128 px a side (a thin line still changes the
    reduced pixels it crosses), then counts pixels equal to the corner colour.
    """
    from PIL import Image

    if not data:
        return "missing image bytes", 0, 0, False
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (w, h) = im.format, im.size
            im.verify()
    except Exception as exc:  # noqa: BLE001 - any decoder error is a data problem
        return f"does not decode ({type(exc).__name__}: {str(exc)[:80]})", 0, 0, False
    if fmt != "PNG":
        return f"not a PNG ({fmt})", w, h, False
    blank = False
    if blank_check:
        try:
            import numpy as np

            factor = max(1, max(w, h) // 128)
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                if factor > 1 and im.mode in ("RGB", "RGBA", "L", "LA"):
                    im = im.reduce(factor)  # box-reduce before converting: half the work
                    factor = 1
                rgba = im.convert("RGBA")
            if factor > 1:
                rgba = rgba.reduce(factor)
            flat = np.asarray(rgba).reshape(-1, 4).view(np.uint32).ravel()
            blank = flat.size == 0 or np.count_nonzero(flat == flat[0]) / flat.size >= blank_fraction
        except Exception as exc:  # noqa: BLE001
            return f"does not decode ({type(exc).__name__}: {str(exc)[:80]})", w, h, False
    return "", w, h, bool(blank)


def _image_stats_batch(args: tuple[list[bytes | None], bool, float]) -> list[tuple[str, int, int, bool]]:
    items, blank_check, fraction = args
    return [image_stats(b, blank_check, fraction) for b in items]


def _workers(requested: int) -> int:
    if requested > 0:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def images_frame(images: list[bytes | None], *, blank_check: bool, th: Thresholds) -> pd.DataFrame:
    """problem, width, height, blank, hash per image; identical images are checked once, big sets in parallel."""
    hashes = [_digest(b) for b in images]
    unique: dict[str, bytes | None] = {}
    for h, b in zip(hashes, images):
        unique.setdefault(h, b)
    keys = list(unique)
    blobs = [unique[k] for k in keys]
    workers = min(_workers(th.workers), max(1, len(blobs) // 400))
    if workers > 1:
        step = -(-len(blobs) // (workers * 4))
        batches = [(blobs[i : i + step], blank_check, th.blank_fraction) for i in range(0, len(blobs), step)]
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as ex:
            results = [r for batch in ex.map(_image_stats_batch, batches) for r in batch]
    else:
        results = _image_stats_batch((blobs, blank_check, th.blank_fraction))
    by_hash = dict(zip(keys, results))
    rows = [by_hash[h] for h in hashes]
    return pd.DataFrame(
        {
            "problem": [r[0] for r in rows],
            "width": [r[1] for r in rows],
            "height": [r[2] for r in rows],
            "blank": [r[3] for r in rows],
            "hash": hashes,
        }
    )


# ------------------------------------------------------------------------------------------------ gold critiques


def _severity(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def parse_errors(raw: Any) -> tuple[str, dict | None, list[dict]]:
    """(problem or "", the parsed object, its error items) of a gold critique (JSON text or an already-parsed list)."""
    data = raw
    if isinstance(raw, (str, bytes)):
        if not str(raw).strip():
            return "empty critique", None, []
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            return f"critique is not valid JSON ({exc.msg})", None, []
    if isinstance(data, list):
        data = {"errors": data}
    if not isinstance(data, dict):
        return f"critique must be a JSON object, got {type(data).__name__}", None, []
    errors = data.get("errors")
    if not isinstance(errors, list):
        return "critique has no 'errors' list", data, []
    items = []
    for e in errors:
        if not isinstance(e, dict):
            items.append({"category": None, "raw_category": None, "severity": None, "description": "",
                          "bad_item": True})
            continue
        cat = e.get("category", e.get("type"))
        items.append({
            "category": normalize_category(cat) if isinstance(cat, str) and cat.strip() else None,
            "raw_category": e.get("category"),  # as written (the manifest counts it unnormalized)
            "severity": _severity(e.get("severity")),
            "description": e.get("description") if isinstance(e.get("description"), str) else "",
            "bad_item": False,
        })
    return "", data, items


def _errors_frame(ids: list[str], tasks: list[str], items: list[list[dict]]) -> pd.DataFrame:
    rows = {"id": [], "task": [], "index": [], "category": [], "severity": [], "description_len": [], "item_ok": []}
    for rid, task, its in zip(ids, tasks, items):
        for i, e in enumerate(its):
            rows["id"].append(rid)
            rows["task"].append(task)
            rows["index"].append(i)
            rows["category"].append(e["category"])
            rows["severity"].append(e["severity"])
            rows["description_len"].append(len(e["description"].strip()))
            rows["item_ok"].append(not e["bad_item"])
    df = pd.DataFrame(rows)
    df["severity"] = pd.to_numeric(df["severity"], errors="coerce").astype("float64")
    df["description_len"] = df["description_len"].astype("int64")
    df["index"] = df["index"].astype("int64")
    df["category"] = df["category"].astype("object")
    return df


# ------------------------------------------------------------------------------------------------------- shards


def _schema_problem(schema: pa.Schema, expected: dict[str, pa.DataType]) -> str:
    have = {f.name: f.type for f in schema}
    missing = [c for c in expected if c not in have]
    wrong = [f"{c} is {have[c]} (want {t})" for c, t in expected.items() if c in have and not have[c].equals(t)]
    parts = []
    if missing:
        parts.append("missing columns: " + ", ".join(missing))
    if wrong:
        parts.append("wrong types: " + "; ".join(wrong))
    return " | ".join(parts)


def _read_shards(
    dataset_dir: Path, expected: dict[str, pa.DataType], manifest: dict | None
) -> tuple[list[tuple[str, pa.Table]], pd.DataFrame, list[LoadProblem]]:
    """Readable shards with their tables, the per-shard frame (schema, sha256, listed) and unreadable shards."""
    problems: list[LoadProblem] = []
    tables: list[tuple[str, pa.Table]] = []
    listed: dict[str, str] = {}
    if manifest is not None and isinstance(manifest.get("shards"), dict):
        listed = {str(k): str(v) for k, v in manifest["shards"].items()}
    on_disk = sorted(p.relative_to(dataset_dir).as_posix() for p in (dataset_dir / "data").glob("*/*.parquet"))
    rows = []
    for rel in sorted(set(on_disk) | set(listed)):
        path = dataset_dir / rel
        exists = path.is_file()
        sha = sha256_file(path) if exists else ""
        schema_problem, n = "", 0
        if exists:
            try:
                schema = pq.read_schema(path)
                schema_problem = _schema_problem(schema, expected)
                cols = [c for c in expected if c in schema.names]
                table = pq.read_table(path, columns=cols)
                n = table.num_rows
                if not schema_problem:
                    tables.append((rel, table))
            except Exception as exc:  # noqa: BLE001 - any Arrow error means the shard is unusable
                problems.append(LoadProblem(rel, f"cannot be read as Parquet ({type(exc).__name__}: "
                                                 f"{str(exc)[:160]}); the shard is corrupt — rerun the build into "
                                                 "the same directory (chunks whose shards fail their sha256 are "
                                                 "rebuilt) or restore the file"))
                schema_problem = "unreadable"
        rows.append({
            "id": rel,
            "on_disk": exists,
            "in_manifest": rel in listed,
            "sha_ok": rel not in listed or not exists or listed[rel] == sha,  # a missing shard fails shard_present
            "schema_problem": schema_problem,
            "rows": n,
        })
    if not on_disk and not problems:
        problems.append(LoadProblem("data/", "no Parquet shards found under data/<split>/; the dataset is empty"))
    frame = pd.DataFrame(rows, columns=["id", "on_disk", "in_manifest", "sha_ok", "schema_problem", "rows"])
    return tables, frame, problems


def _column(tables: list[tuple[str, pa.Table]], name: str) -> list:
    out: list = []
    for _, t in tables:
        out.extend(t.column(name).to_pylist())
    return out


def _image_bytes(tables: list[tuple[str, pa.Table]], name: str) -> list[bytes | None]:
    out: list[bytes | None] = []
    for _, t in tables:
        col = t.column(name).combine_chunks()
        valid = col.is_valid().to_pylist()
        data = col.field("bytes").to_pylist()
        out.extend(b if ok else None for b, ok in zip(data, valid))
    return out


def _dir_split(tables: list[tuple[str, pa.Table]]) -> list[str]:
    out: list[str] = []
    for rel, t in tables:
        out.extend([rel.split("/")[1]] * t.num_rows)
    return out


def _seed_leaks(seed_ids: list, splits: list) -> list[str]:
    seen: dict[Any, set] = {}
    for s, sp in zip(seed_ids, splits):
        seen.setdefault(s, set()).add(sp)
    return [f"seed {s} in {'+'.join(sorted(map(str, seen[s])))}" if len(seen[s]) > 1 else ""
            for s in seed_ids]


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Nested dicts → dotted keys; an empty dict contributes no key (its absence is compared leaf by leaf)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def _manifest_frame(manifest: dict, kind: str, data: dict[str, Any], whole: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per manifest key we can recompute: the manifest's value and the data's (JSON text; 'missing').

    ``data`` maps a manifest section (``counts``) to the recomputed entries; a section's entries that we do not
    recompute (unknown keys) are not compared, except in the ``whole`` sections (every key must match).
    """
    want: dict[str, Any] = {"format": FORMAT_BY_KIND[kind]}
    have: dict[str, Any] = {"format": manifest.get("format", "missing")}
    for section, entries in data.items():
        stated = manifest.get(section)
        whole_section = section in whole or not isinstance(entries, dict)
        for sub, value in ([("", entries)] if whole_section else entries.items()):
            key = f"{section}.{sub}" if sub else section
            ours: dict[str, Any] = {}
            _flatten(key, value, ours)
            theirs: dict[str, Any] = {}
            if sub and isinstance(stated, dict) and sub in stated:
                _flatten(key, stated[sub], theirs)
            elif not sub and stated is not None:
                _flatten(key, stated, theirs)
            for k in sorted(set(ours) | set(theirs)):
                want[k] = ours.get(k, "missing")
                have[k] = theirs.get(k, "missing")
    dump = lambda v: v if isinstance(v, str) else json.dumps(v, sort_keys=True)  # noqa: E731
    keys = list(want)
    return pd.DataFrame({"id": keys, "manifest": [dump(have[k]) for k in keys], "data": [dump(want[k]) for k in keys]})


def _srt(c: Counter) -> dict:
    return {k: c[k] for k in sorted(c)}


# -------------------------------------------------------------------------------------------------------- pairs


def pair_frames(dataset_dir: Path, th: Thresholds) -> Frames:
    manifest, problems = read_manifest(dataset_dir, th.require_manifest)
    tables, shards, shard_problems = _read_shards(dataset_dir, PAIR_TYPES, manifest)
    problems += shard_problems
    ids = _column(tables, "id")
    tasks = _column(tables, "task")
    splits = _column(tables, "split")
    seed_ids = _column(tables, "seed_id")
    origins = _column(tables, "origin")
    operators = _column(tables, "operators")
    golds = _column(tables, "gold")
    parsed = [parse_errors(g) for g in golds]
    ref = images_frame(_image_bytes(tables, "reference_image"), blank_check=True, th=th)
    cand = images_frame(_image_bytes(tables, "candidate_image"), blank_check=False, th=th)

    rows: dict[str, Any] = {
        "id": ids, "task": tasks, "split": splits, "dir_split": _dir_split(tables), "seed_id": seed_ids,
        "origin": origins, "gold_problem": [p[0] for p in parsed],
        "n_errors_listed": [len(p[2]) for p in parsed], "n_errors": _column(tables, "n_errors"),
        "severity_sum_listed": [int(sum(e["severity"] or 0 for e in p[2])) for p in parsed],
        "severity_sum": _column(tables, "severity_sum"),
    }
    for cat in ALL_CATEGORIES:
        stated, listed = [], []
        for task, (problem, data, items) in zip(tasks, parsed):
            n = sum(e["category"] == cat for e in items)
            listed.append(n)
            if task in CATEGORIES and cat in CATEGORIES[task] and data is not None:
                v = data.get(count_key(cat))
                stated.append(v if isinstance(v, int) and not isinstance(v, bool) else -1)
            else:
                stated.append(n)  # not a category of this task: nothing stated (foreign labels fail elsewhere)
        rows[f"{cat}_count_stated"] = stated
        rows[f"{cat}_count_listed"] = listed
    rows.update({
        "reference_problem": ref["problem"].tolist(), "candidate_problem": cand["problem"].tolist(),
        "ref_width": ref["width"].tolist(), "ref_height": ref["height"].tolist(),
        "cand_width": cand["width"].tolist(), "cand_height": cand["height"].tolist(),
        "width": _column(tables, "width"), "height": _column(tables, "height"),
        "reference_blank": ref["blank"].tolist(),
        "pair_hash": [f"{a}:{b}" for a, b in zip(ref["hash"], cand["hash"])],
        "seed_leak": _seed_leaks(seed_ids, splits),
    })
    frame = pd.DataFrame(rows)
    for c in ("n_errors", "severity_sum", "width", "height"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")

    errors = _errors_frame(ids, tasks, [p[2] for p in parsed])
    frames = {"rows": frame, "errors": errors, "shards": shards}

    # per-task and per-category aggregates
    by_task = Counter(tasks)
    identity = Counter(t for t, o in zip(tasks, origins) if o == "identity")
    task_rows = [{"id": t, "pairs": by_task[t], "identity_pairs": identity[t],
                  "identity_share": identity[t] / by_task[t]} for t in sorted(by_task, key=str)]
    if ids:
        task_rows.append({"id": "all", "pairs": len(ids), "identity_pairs": sum(identity.values()),
                          "identity_share": sum(identity.values()) / len(ids)})
    frames["tasks"] = pd.DataFrame(task_rows, columns=["id", "pairs", "identity_pairs", "identity_share"])
    cat_counts = Counter((t, c) for t, c in zip(errors["task"], errors["category"]))
    cat_rows = []
    for t in sorted(by_task, key=str):
        if t not in CATEGORIES:
            continue
        required = th.min_per_category if by_task[t] >= th.min_pairs_for_balance else 0
        for c in CATEGORIES[t]:
            cat_rows.append({"id": f"{t}/{c}", "task": t, "category": c, "errors": cat_counts[(t, c)],
                             "required": required})
    frames["categories"] = pd.DataFrame(cat_rows, columns=["id", "task", "category", "errors", "required"])

    if manifest is not None:
        by_split, by_origin, by_op, by_sev = Counter(), Counter(), Counter(), Counter()
        by_cat: dict[str, Counter] = {}
        for t, sp, o, ops, (_, _, items) in zip(tasks, splits, origins, operators, parsed):
            by_split[f"{t}/{sp}"] += 1
            by_origin[str(o).split(":")[0]] += 1
            for op in ops or []:
                by_op[f"{t}/{op}"] += 1
            for e in items:
                by_cat.setdefault(t, Counter())[str(e["raw_category"])] += 1
                sev = e["severity"]
                by_sev[str(int(sev)) if sev is not None and sev == int(sev) else str(sev)] += 1
        seeds: dict[str, set] = {}
        for s, sp in zip(seed_ids, splits):
            seeds.setdefault(sp, set()).add(s)
        counts = {
            "pairs": len(ids), "identity_pairs": sum(identity.values()), "by_task": _srt(by_task),
            "by_split": _srt(by_split), "by_origin": _srt(by_origin),
            "by_category": {t: _srt(c) for t, c in sorted(by_cat.items())}, "by_severity": _srt(by_sev),
            "by_operator": _srt(by_op),
        }
        frames["manifest"] = _manifest_frame(
            manifest, "pairs", {"counts": counts, "seeds_by_split": {k: len(v) for k, v in sorted(seeds.items())}},
            whole=("counts", "seeds_by_split"))
    return Frames("pairs", frames, problems, manifest, len(ids))


# --------------------------------------------------------------------------------------------------- RL prompts


def _counts_section(manifest: dict, total_keys: tuple[str, ...], n: int, groups: dict[str, Counter]) -> dict:
    """The manifest count keys we can recompute, named as the manifest names them (unknown keys are ignored)."""
    counts = manifest.get("counts") if isinstance(manifest.get("counts"), dict) else {}
    out: dict[str, Any] = {}
    totals = [k for k in total_keys if k in counts] or [total_keys[0]]
    for k in totals:
        out[k] = n
    for k, c in groups.items():
        if k in counts:
            out[k] = _srt(c)
    return out


def rl_prompt_frames(dataset_dir: Path, th: Thresholds) -> Frames:
    manifest, problems = read_manifest(dataset_dir, th.require_manifest)
    tables, shards, shard_problems = _read_shards(dataset_dir, RL_COLUMNS, manifest)
    problems += shard_problems
    ids = _column(tables, "id")
    tasks = _column(tables, "task")
    splits = _column(tables, "split")
    seed_ids = _column(tables, "seed_id")
    ref = images_frame(_image_bytes(tables, "reference_image"), blank_check=True, th=th)
    frame = pd.DataFrame({
        "id": ids, "task": tasks, "split": splits, "dir_split": _dir_split(tables), "seed_id": seed_ids,
        "prompt_len": [len((p or "").strip()) for p in _column(tables, "prompt")],
        "code_len": [len((c or "").strip()) for c in _column(tables, "reference_code")],
        "reference_problem": ref["problem"].tolist(), "ref_width": ref["width"].tolist(),
        "ref_height": ref["height"].tolist(), "reference_blank": ref["blank"].tolist(),
        "reference_hash": ref["hash"].tolist(), "seed_leak": _seed_leaks(seed_ids, splits),
    })
    frames = {"rows": frame, "shards": shards}
    if manifest is not None:
        counts = _counts_section(manifest, ("prompts", "rows", "pairs"), len(ids), {
            "by_task": Counter(tasks), "by_split": Counter(f"{t}/{s}" for t, s in zip(tasks, splits)),
        })
        frames["manifest"] = _manifest_frame(manifest, "rl-prompts", {"counts": counts})
    return Frames("rl-prompts", frames, problems, manifest, len(ids))


# ---------------------------------------------------------------------------------------------------- benchmarks


def _bench_files(dataset_dir: Path) -> list[Path]:
    """Item files: bench.jsonl if present (the project's layout), else every other *.jsonl/*.json and Parquet."""
    if (dataset_dir / "bench.jsonl").is_file():
        return [dataset_dir / "bench.jsonl"]
    skip = {MANIFEST, "config.json", "run.json"}
    files = [p for p in sorted(dataset_dir.glob("*.jsonl")) + sorted(dataset_dir.glob("*.json")) if p.name not in skip]
    return files + sorted((dataset_dir / "data").glob("*/*.parquet")) + sorted((dataset_dir / "data").glob("*.parquet"))


def _read_bench_items(dataset_dir: Path) -> tuple[list[tuple[Path, dict]], list[LoadProblem]]:
    items: list[tuple[Path, dict]] = []
    problems: list[LoadProblem] = []
    files = _bench_files(dataset_dir)
    if not files:
        problems.append(LoadProblem(".", "no benchmark items found (*.jsonl, *.json or data/**/*.parquet)"))
    for f in files:
        rel = f.relative_to(dataset_dir).as_posix()
        try:
            if f.suffix == ".parquet":
                records = pq.read_table(f).to_pylist()
            elif f.suffix == ".jsonl":
                records = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
            else:
                records = json.loads(f.read_text(encoding="utf-8"))
                if isinstance(records, dict):
                    records = records.get("items", records.get("data", [records]))
        except Exception as exc:  # noqa: BLE001
            problems.append(LoadProblem(rel, f"cannot be read ({type(exc).__name__}: {str(exc)[:160]}); "
                                             "the file is corrupt or truncated — restore it"))
            continue
        if not isinstance(records, list):
            problems.append(LoadProblem(rel, "must hold a list of benchmark items"))
            continue
        for r in records:
            items.append((f.parent, r if isinstance(r, dict) else {}))
    return items, problems


def _read_file(base: Path, dataset_dir: Path, p: Any) -> bytes | None:
    if not isinstance(p, str) or not p:
        return None
    for root in (base, dataset_dir):
        path = Path(p) if os.path.isabs(p) else root / p
        if path.is_file():
            try:
                return path.read_bytes()
            except OSError:
                return None
    return None


def bench_frames(dataset_dir: Path, th: Thresholds) -> Frames:
    manifest, problems = read_manifest(dataset_dir, th.require_manifest)
    items, item_problems = _read_bench_items(dataset_dir)
    problems += item_problems
    ids = [r.get("id") for _, r in items]
    ids = [str(i) if i is not None else None for i in ids]
    tasks = [r.get("category") for _, r in items]
    gt = images_frame([_read_file(b, dataset_dir, r.get("gt_img_path")) for b, r in items], blank_check=True, th=th)
    pred = images_frame([_read_file(b, dataset_dir, r.get("pred_img_path")) for b, r in items], blank_check=False,
                        th=th)
    parsed = []
    for _, r in items:
        raw = r.get("human_errors")
        if raw is None:
            parsed.append(("human_errors missing", None, []))
        elif isinstance(raw, (list, str, dict)):
            p = parse_errors(raw)
            parsed.append((p[0].replace("critique", "human_errors"), p[1], p[2]))
        else:
            parsed.append((f"human_errors must be a list, got {type(raw).__name__}", None, []))
    missing_fields = [", ".join(f for f in BENCH_FIELDS if f not in r) for _, r in items]
    frame = pd.DataFrame({
        "id": ids, "task": tasks, "missing_fields": missing_fields, "errors_problem": [p[0] for p in parsed],
        "n_errors_listed": [len(p[2]) for p in parsed],
        "gt_problem": [p if p != "missing image bytes" else "image file missing or unreadable" for p in gt["problem"]],
        "pred_problem": [p if p != "missing image bytes" else "image file missing or unreadable"
                         for p in pred["problem"]],
        "gt_width": gt["width"], "gt_height": gt["height"], "pred_width": pred["width"],
        "pred_height": pred["height"], "gt_blank": gt["blank"],
        "pair_hash": [f"{a}:{b}" for a, b in zip(gt["hash"], pred["hash"])],
    })
    errors = _errors_frame([i or "" for i in ids], [t if isinstance(t, str) else "" for t in tasks],
                           [p[2] for p in parsed])
    frames = {"rows": frame, "errors": errors}
    if manifest is not None:
        frames["manifest"] = _manifest_frame(manifest, "bench", _bench_manifest_data(dataset_dir, manifest, items,
                                                                                      parsed))
    return Frames("bench", frames, problems, manifest, len(items))


def _bench_manifest_data(dataset_dir: Path, manifest: dict, items: list[tuple[Path, dict]], parsed: list) -> dict:
    """The manifest keys of a bench set we can recompute (``counts`` and ``files``), as the bench builder writes them."""
    tasks = [str(r.get("category")) for _, r in items]
    by_cat: dict[str, Counter] = {}
    for t, (_, _, errs) in zip(tasks, parsed):
        for e in errs:
            by_cat.setdefault(t, Counter())[str(e["raw_category"])] += 1
    every = {
        "items": len(items), "by_task": _srt(Counter(tasks)),
        "identity_items": sum(r.get("origin") == "identity" for _, r in items),
        "errors": sum(len(p[2]) for p in parsed),
        "by_category": {t: _srt(c) for t, c in sorted(by_cat.items())},
        "seeds": len({r.get("seed_id") for _, r in items}),
    }
    stated = manifest.get("counts") if isinstance(manifest.get("counts"), dict) else {}
    out: dict[str, Any] = {"counts": {k: v for k, v in every.items() if k in stated or k == "items"}}
    files = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    if files:
        want: dict[str, Any] = {}
        for name in files:
            if name not in ("images", "images_sha256") and (dataset_dir / name).is_file():
                want[name] = sha256_file(dataset_dir / name)
        if "images" in files or "images_sha256" in files:
            lines = []
            for base, r in items:
                for key in ("gt_img_path", "pred_img_path"):
                    data = _read_file(base, dataset_dir, r.get(key))
                    lines.append(f"{r.get(key)}\t{hashlib.sha256(data).hexdigest() if data else 'missing'}")
            want["images"] = len(lines)
            want["images_sha256"] = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
        out["files"] = {k: v for k, v in want.items() if k in files}
    return out


LOADERS = {"pairs": pair_frames, "rl-prompts": rl_prompt_frames, "bench": bench_frames}


def build_frames(dataset_dir: Path, kind: str | None, th: Thresholds) -> Frames:
    """Load a dataset directory of the given (or detected) kind into validation frames."""
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise FileNotFoundError(f"{dataset_dir} is not a dataset directory")
    if kind is None:
        manifest, _ = read_manifest(dataset_dir, required=False)
        kind = detect_kind(dataset_dir, manifest)
    if kind not in LOADERS:
        raise ValueError(f"unknown dataset kind {kind!r}; known: {', '.join(KINDS)}")
    return LOADERS[kind](dataset_dir, th)
