"""User corpora: JSONL files of reference programs that seed the engine alongside the built-in generators.

One JSON object per line: ``{"task": "chart"|"table"|"svg", "code": "<program>", "id": "<optional stable id>",
"kind": "<optional label>"}``. ``program`` is accepted for ``code``; a ChartMimic-style ``file`` field serves as id.
An ``image`` field is allowed but not used as the reference: references are always re-rendered by our renderer so
reference and candidate images come from the same renderer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from visual_erm.schema import TASKS
from visual_erm.tasks.base import SeedProgram


class CorpusError(ValueError):
    pass


def _guess_task(code: str) -> str | None:
    head = code.lstrip()[:2000].lower()
    if "<svg" in head:
        return "svg"
    if "<table" in head or head.startswith("|"):
        return "table"
    if "matplotlib" in head or "plt." in head:
        return "chart"
    return None


def read_corpus(path: Path) -> dict[str, list[SeedProgram]]:
    """Seed programs per task from a JSONL corpus; every bad line is reported with its line number."""
    if not path.is_file():
        raise CorpusError(f"corpus file {path} does not exist")
    out: dict[str, list[SeedProgram]] = {}
    problems: list[str] = []
    seen: set[str] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {lineno}: not JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"line {lineno}: expected an object")
            continue
        code = obj.get("code", obj.get("program"))
        if not isinstance(code, str) or not code.strip():
            problems.append(f"line {lineno}: missing 'code' (the program text)")
            continue
        task = obj.get("task") or _guess_task(code)
        if task not in TASKS:
            problems.append(f"line {lineno}: 'task' must be one of {', '.join(TASKS)} (got {task!r})")
            continue
        raw_id = obj.get("id") or obj.get("file") or hashlib.sha256(code.encode()).hexdigest()[:16]
        seed_id = f"corpus-{task}-{raw_id}"
        if seed_id in seen:
            problems.append(f"line {lineno}: duplicate id {raw_id!r}")
            continue
        seen.add(seed_id)
        out.setdefault(task, []).append(SeedProgram(seed_id, task, code, str(obj.get("kind", "corpus"))))
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise CorpusError(f"{path}: {len(problems)} bad line(s): {shown}")
    return out
