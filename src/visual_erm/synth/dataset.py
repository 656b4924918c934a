"""Pair datasets on disk: Parquet shards in the Hugging Face image layout, ``manifest.json`` and ``preview.html``.

Layout of a dataset directory::

    data/<split>/<task>-<chunk>.parquet   pair rows (images as PNG bytes, HF ``Image`` feature)
    chunks/<chunk>.json                   one marker per finished chunk: its shards, their sha256, its stats
    config.json                           the synthesis config (a rerun must match it)
    manifest.json                         written last: counts, hashes, config, versions (the dataset is complete)
    preview.html                          sampled pairs side by side with their gold critiques

``datasets.load_dataset("parquet", data_files={"train": "DIR/data/train/*.parquet", ...})`` decodes the images.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])

#: Column name → (arrow type, HF feature). Order is the column order of every shard.
PAIR_COLUMNS: dict[str, tuple[pa.DataType, dict]] = {
    "id": (pa.string(), {"dtype": "string", "_type": "Value"}),
    "task": (pa.string(), {"dtype": "string", "_type": "Value"}),
    "split": (pa.string(), {"dtype": "string", "_type": "Value"}),
    "seed_id": (pa.string(), {"dtype": "string", "_type": "Value"}),
    "seed_kind": (pa.string(), {"dtype": "string", "_type": "Value"}),
    "origin": (pa.string(), {"dtype": "string", "_type": "Value"}),
    "operators": (pa.list_(pa.string()), {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"}),
    "reference_code": (pa.string(), {"dtype": "string", "_type": "Value"}),
    "reference_image": (_IMAGE, {"_type": "Image"}),
    "candidate_code": (pa.string(), {"dtype": "string", "_type": "Value"}),
    "candidate_image": (_IMAGE, {"_type": "Image"}),
    "gold": (pa.string(), {"dtype": "string", "_type": "Value"}),
    "n_errors": (pa.int32(), {"dtype": "int32", "_type": "Value"}),
    "severity_sum": (pa.int32(), {"dtype": "int32", "_type": "Value"}),
    "changed_fraction": (pa.float64(), {"dtype": "float64", "_type": "Value"}),
    "diff_bbox": (pa.list_(pa.int32()), {"feature": {"dtype": "int32", "_type": "Value"}, "_type": "List"}),
    "structural_critique": (pa.string(), {"dtype": "string", "_type": "Value"}),
    "renderer": (pa.string(), {"dtype": "string", "_type": "Value"}),
    "width": (pa.int32(), {"dtype": "int32", "_type": "Value"}),
    "height": (pa.int32(), {"dtype": "int32", "_type": "Value"}),
}

PAIR_SCHEMA = pa.schema(
    [(name, typ) for name, (typ, _) in PAIR_COLUMNS.items()],
    metadata={"huggingface": json.dumps({"info": {"features": {n: f for n, (_, f) in PAIR_COLUMNS.items()}}})},
)


def image_cell(png: bytes) -> dict:
    return {"bytes": png, "path": None}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_shard(rows: list[dict], path: Path) -> str:
    """Write rows (sorted by id) as one Parquet shard, atomically; returns its sha256."""
    rows = sorted(rows, key=lambda r: r["id"])
    table = pa.Table.from_pylist(rows, schema=PAIR_SCHEMA)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=256)
    tmp.replace(path)
    return sha256_file(path)


def read_rows(dataset_dir: Path, columns: list[str] | None = None) -> list[dict]:
    """All rows of a dataset directory (every split), in shard order."""
    out: list[dict] = []
    for shard in sorted((dataset_dir / "data").glob("*/*.parquet")):
        out.extend(pq.read_table(shard, columns=columns).to_pylist())
    return out


def summarize(rows: Iterable[dict]) -> dict[str, Any]:
    """Counts per task, split, origin kind, category, severity and operator (deterministic key order)."""
    by_task: Counter = Counter()
    by_split: Counter = Counter()
    by_origin: Counter = Counter()
    by_cat: dict[str, Counter] = {}
    by_sev: Counter = Counter()
    by_op: Counter = Counter()
    identity = 0
    for r in rows:
        by_task[r["task"]] += 1
        by_split[f'{r["task"]}/{r["split"]}'] += 1
        by_origin[r["origin"].split(":")[0]] += 1
        identity += r["origin"] == "identity"
        for op in r["operators"]:
            by_op[f'{r["task"]}/{op}'] += 1
        for e in json.loads(r["gold"])["errors"]:
            by_cat.setdefault(r["task"], Counter())[e["category"]] += 1
            by_sev[str(e["severity"])] += 1

    def srt(c: Counter) -> dict:
        return {k: c[k] for k in sorted(c)}

    return {
        "pairs": sum(by_task.values()),
        "identity_pairs": identity,
        "by_task": srt(by_task),
        "by_split": srt(by_split),
        "by_origin": srt(by_origin),
        "by_category": {t: srt(c) for t, c in sorted(by_cat.items())},
        "by_severity": srt(by_sev),
        "by_operator": srt(by_op),
    }


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def write_preview(rows: list[dict], path: Path, *, per_task: int = 8, title: str = "Visual-ERM pairs") -> None:
    """An HTML page with sampled pairs per task: reference | candidate | gold critique."""
    parts = [
        "<!doctype html><meta charset='utf-8'><title>", html.escape(title), "</title>",
        "<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}"
        "td{border:1px solid #ccc;padding:6px;vertical-align:top}img{max-width:360px;max-height:300px}"
        "pre{white-space:pre-wrap;max-width:420px;font-size:12px}</style>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    by_task: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["id"]):
        by_task.setdefault(r["task"], []).append(r)
    for task, trows in by_task.items():
        step = max(1, len(trows) // per_task)
        parts.append(f"<h2>{html.escape(task)} ({len(trows)} pairs)</h2><table>")
        parts.append("<tr><th>reference</th><th>candidate</th><th>gold critique</th></tr>")
        for r in trows[::step][:per_task]:
            gold = json.dumps(json.loads(r["gold"]), indent=1, ensure_ascii=False)
            parts.append(
                f"<tr><td><img src='{_data_url(r['reference_image']['bytes'])}'><br>{html.escape(r['id'])}</td>"
                f"<td><img src='{_data_url(r['candidate_image']['bytes'])}'><br>{html.escape(r['origin'])}</td>"
                f"<td><pre>{html.escape(gold)}</pre></td></tr>"
            )
        parts.append("</table>")
    path.write_text("".join(parts))
