"""RL prompt sets: one row per reference image, the policy prompt for its task, the reference program kept for
evaluation (the reward itself needs only the reference image).

Layout (the pair datasets' layout, Hugging Face image feature)::

    data/<split>/<task>-00000.parquet   id, task, split, seed_id, reference_image, reference_code, prompt
    manifest.json                       written last: format visual-erm-rl-prompts/1, counts, shard sha256s

``prompt`` is the chat (JSON text) a policy gets: one user turn ``[image, policy instruction]`` with the
instruction of :mod:`visual_erm.policy_prompts`. Sources:

- a pair dataset (``verm synth`` output): one row per seed (every candidate of a seed shares its reference), rows
  with the same reference image collapse into one, blank references are dropped;
- a user corpus (JSONL of ``{"task", "code", "id"?}``, see :mod:`visual_erm.synth.corpus`): every program is
  rendered in the sandboxed pool and becomes a reference; splits are assigned by hashing the seed id.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Iterable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from visual_erm.policy_prompts import policy_prompt
from visual_erm.synth.dataset import image_cell, sha256_file, write_json

FORMAT = "visual-erm-rl-prompts/1"
TASKS = ("chart", "table", "svg")
SPLITS = ("train", "validation", "test")

_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
_STR = {"dtype": "string", "_type": "Value"}
#: Column name → (arrow type, HF feature), in shard column order.
RL_PROMPT_COLUMNS: dict[str, tuple[pa.DataType, dict]] = {
    "id": (pa.string(), _STR), "task": (pa.string(), _STR), "split": (pa.string(), _STR),
    "seed_id": (pa.string(), _STR), "reference_image": (_IMAGE, {"_type": "Image"}),
    "reference_code": (pa.string(), _STR), "prompt": (pa.string(), _STR),
}
RL_PROMPT_SCHEMA = pa.schema(
    [(n, t) for n, (t, _) in RL_PROMPT_COLUMNS.items()],
    metadata={"huggingface": json.dumps({"info": {"features": {n: f for n, (_, f) in RL_PROMPT_COLUMNS.items()}}})},
)


class PromptSetError(ValueError):
    pass


def policy_messages(task: str) -> list[dict]:
    """The policy's chat for ``task``: one user turn, the reference image then the task's instruction."""
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": policy_prompt(task)}]}]


def _parse_list(value: str | Sequence[str] | None, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    if value is None or value == "all" or value == ["all"]:
        return tuple(allowed)
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise PromptSetError(f"{what} must be 'all' or a comma list of {', '.join(allowed)} (got {value!r})")
    return tuple(dict.fromkeys(items))


def _png_bytes(cell) -> bytes | None:
    if cell is None:
        return None
    if isinstance(cell, (bytes, bytearray)):
        return bytes(cell)
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return bytes(cell["bytes"])
        if cell.get("path"):
            return Path(cell["path"]).read_bytes()
    return None


def _rows_from_pairs(dataset_dir: Path) -> Iterable[dict]:
    shards = sorted((dataset_dir / "data").glob("*/*.parquet"))
    if not shards:
        raise PromptSetError(f"{dataset_dir} holds no Parquet shards under data/<split>/ (is it a pair dataset?)")
    cols = ["id", "task", "split", "seed_id", "reference_code", "reference_image"]
    for shard in shards:
        names = pq.read_schema(shard).names
        missing = [c for c in cols if c not in names and c != "seed_id"]
        if missing:
            raise PromptSetError(f"{shard}: missing columns {missing}; a pair dataset has {', '.join(cols)}")
        table = pq.read_table(shard, columns=[c for c in cols if c in names])
        for r in table.to_pylist():
            r.setdefault("seed_id", r["id"])
            yield r


def _rows_from_corpus(path: Path, tasks: Sequence[str], *, workers: int | None,
                      unsafe_no_sandbox: bool) -> Iterable[dict]:
    from visual_erm.render.api import RenderJob
    from visual_erm.render.pool import RenderPool
    from visual_erm.synth.corpus import read_corpus
    from visual_erm.synth.splits import split_of

    seeds = [s for t, ss in read_corpus(path).items() if t in tasks for s in ss]
    if not seeds:
        return []
    with RenderPool(workers=workers, unsafe_no_sandbox=unsafe_no_sandbox) as pool:
        results = pool.render([RenderJob(s.seed_id, s.task, s.program) for s in seeds])
    rows = []
    for s, res in zip(seeds, results):
        if res.ok and res.png:
            rows.append({"id": s.seed_id, "task": s.task, "split": split_of(s.seed_id), "seed_id": s.seed_id,
                         "reference_code": s.program, "reference_image": image_cell(res.png)})
    return rows


def _order_key(seed_id: str) -> str:
    # a hash order spreads a small n over the seed kinds instead of taking the alphabetically first ones
    return hashlib.sha256(seed_id.encode()).hexdigest()


def build_prompt_set(source: str | Path, out_dir: str | Path, tasks: str | Sequence[str] = "all",
                     n: int | None = None, split: str | Sequence[str] = "train", *, workers: int | None = None,
                     unsafe_no_sandbox: bool = False, workdir: str | Path | None = None) -> dict:
    """Build an RL prompt set from a pair dataset or a user corpus and return its manifest.

    Args:
        source: A pair dataset directory (local or ``s3://``) or a JSONL corpus of reference programs.
        out_dir: Output directory (created); ``manifest.json`` is written last.
        tasks: ``all`` or a list / comma list of chart, table, svg.
        n: At most this many prompts per task (None: all), chosen in a stable hash order of the seed ids.
        split: ``all`` or a list / comma list of train, validation, test (pair splits are kept as they are).
        workers: Render workers for a corpus source.
        unsafe_no_sandbox: Render corpus programs without the sandbox (trusted corpora only).
        workdir: Where an ``s3://`` source is downloaded.
    """
    from visual_erm import storage
    from visual_erm.render.blank import is_blank

    tasks_t = _parse_list(tasks, TASKS, "tasks")
    splits_t = _parse_list(split, SPLITS, "split")
    t0 = time.time()
    src = str(source)
    if storage.is_s3_uri(src):
        src_path = storage.resolve_input(src, workdir or Path(out_dir).parent / ".verm-inputs")
    else:
        src_path = Path(src)
    if src_path.is_file():
        raw = _rows_from_corpus(src_path, tasks_t, workers=workers, unsafe_no_sandbox=unsafe_no_sandbox)
        kind = "corpus"
    elif src_path.is_dir():
        raw = _rows_from_pairs(src_path)
        kind = "pairs"
    else:
        raise PromptSetError(f"{source} is neither a pair dataset directory nor a corpus file")

    seen_seed: set[tuple[str, str]] = set()
    seen_image: set[str] = set()
    dropped = {"duplicate_seed": 0, "duplicate_image": 0, "blank_reference": 0, "no_image": 0, "no_code": 0}
    candidates: dict[str, list[dict]] = {t: [] for t in tasks_t}
    for r in sorted(raw, key=lambda r: (r["task"], r["seed_id"] or "", r["id"])):
        if r["task"] not in tasks_t or r["split"] not in splits_t:
            continue
        key = (r["task"], r["seed_id"])
        if key in seen_seed:
            dropped["duplicate_seed"] += 1
            continue
        seen_seed.add(key)
        png = _png_bytes(r.get("reference_image"))
        if not png:
            dropped["no_image"] += 1
            continue
        if not (r.get("reference_code") or "").strip():
            dropped["no_code"] += 1
            continue
        digest = hashlib.sha256(png).hexdigest()
        if digest in seen_image:
            dropped["duplicate_image"] += 1
            continue
        if is_blank(png):
            dropped["blank_reference"] += 1
            continue
        seen_image.add(digest)
        task = r["task"]
        candidates[task].append({
            "id": f"{r['seed_id']}-prompt", "task": task, "split": r["split"], "seed_id": r["seed_id"],
            "reference_image": image_cell(png), "reference_code": r["reference_code"],
            "prompt": json.dumps(policy_messages(task), ensure_ascii=False),
        })
    rows: list[dict] = []
    for task in tasks_t:
        chosen = sorted(candidates[task], key=lambda r: _order_key(r["seed_id"]))
        rows.extend(chosen[:n] if n is not None else chosen)
    if not rows:
        raise PromptSetError(f"no prompts: {source} has no usable rows for tasks {list(tasks_t)} in splits "
                             f"{list(splits_t)} (dropped: {dropped})")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)  # an interrupted rebuild must not look complete
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["split"], r["task"]), []).append(r)
    shards: dict[str, str] = {}
    for old in (out / "data").glob("*/*.parquet") if (out / "data").is_dir() else []:
        old.unlink()
    for (sp, task), group in sorted(groups.items()):
        rel = f"data/{sp}/{task}-00000.parquet"
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(pa.Table.from_pylist(sorted(group, key=lambda r: r["id"]), schema=RL_PROMPT_SCHEMA), tmp,
                       compression="zstd")
        tmp.replace(path)
        shards[rel] = sha256_file(path)
    by_task: dict[str, int] = {}
    by_split: dict[str, int] = {}
    for r in rows:
        by_task[r["task"]] = by_task.get(r["task"], 0) + 1
        by_split[f"{r['task']}/{r['split']}"] = by_split.get(f"{r['task']}/{r['split']}", 0) + 1
    manifest = {
        "format": FORMAT,
        "counts": {"prompts": len(rows), "by_task": dict(sorted(by_task.items())),
                   "by_split": dict(sorted(by_split.items()))},
        "shards": shards,
        "source": {"uri": str(source), "kind": kind},
        "config": {"tasks": list(tasks_t), "splits": list(splits_t), "n_per_task": n},
        "dropped": dropped,
        "seconds": round(time.time() - t0, 2),
    }
    write_json(out / "manifest.json", manifest)
    return manifest


def read_prompt_rows(prompt_dir: str | Path, split: str | Sequence[str] = "train",
                     tasks: str | Sequence[str] = "all") -> list[dict]:
    """The rows of an RL prompt set (complete sets only: manifest.json must exist), sorted by id."""
    d = Path(prompt_dir)
    manifest_path = d / "manifest.json"
    if not manifest_path.is_file():
        raise PromptSetError(f"{d} has no manifest.json: not an RL prompt set, or its build did not finish")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT:
        raise PromptSetError(f"{d}: format {manifest.get('format')!r}, expected {FORMAT!r} (build it with "
                             "`verm build-prompts`)")
    splits_t = _parse_list(split, SPLITS, "split")
    tasks_t = _parse_list(tasks, TASKS, "tasks")
    rows: list[dict] = []
    for rel in sorted(manifest["shards"]):
        for r in pq.read_table(d / rel).to_pylist():
            if r["split"] in splits_t and r["task"] in tasks_t:
                rows.append(r)
    return sorted(rows, key=lambda r: r["id"])
