"""Regenerate the values table of a chart's README from its values.yaml (helm-docs style `# --` comments).

    python charts/gen_readme.py charts/visual-erm            # rewrite the table in README.md
    python charts/gen_readme.py charts/visual-erm --check    # exit 1 if README.md is stale

A key is documented by a `# -- text` comment (continued by further `#` lines) right above it. A documented key
whose value is a mapping or a list is one row (its default shown whole); an undocumented mapping is a section
whose keys must each be documented. The table sits between the README's `values-table` markers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

START = "<!-- values-table:start -->"
END = "<!-- values-table:end -->"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?:\s|$)")


def parse_values_doc(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(documented key paths with their descriptions, undocumented leaf key paths), in file order."""
    documented: list[tuple[str, str]] = []
    undocumented: list[str] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing sections
    doc: list[str] | None = None
    skip_below: int | None = None  # inside a documented key's value
    lines = text.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if skip_below is not None:
            if not stripped or indent > skip_below or stripped.startswith("- ") or stripped == "-":
                continue
            skip_below = None
        if stripped.startswith("# --"):
            doc = [stripped[4:].strip()]
            continue
        if stripped.startswith("#"):
            if doc is not None:
                doc.append(stripped[1:].strip())
            continue
        if not stripped:
            doc = None
            continue
        m = _KEY.match(line)
        if not m:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [m["key"]])
        rest = line[m.end():].strip()
        is_section = rest == "" and _next_is_mapping(lines, i, indent)
        if doc is not None:
            documented.append((path, " ".join(d for d in doc if d)))
            skip_below = indent
        elif is_section:
            stack.append((indent, m["key"]))
        else:
            undocumented.append(path)
        doc = None
    return documented, undocumented


def _next_is_mapping(lines: list[str], i: int, indent: int) -> bool:
    for nxt in lines[i + 1:]:
        s = nxt.strip()
        if not s or s.startswith("#"):
            continue
        nind = len(nxt) - len(nxt.lstrip(" "))
        return nind > indent and not s.startswith("-")
    return False


def _lookup(values: dict, path: str):
    node = values
    for part in path.split("."):
        node = node[part]
    return node


def _type_of(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def render_table(values_text: str) -> str:
    values = yaml.safe_load(values_text) or {}
    documented, _ = parse_values_doc(values_text)
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for path, desc in documented:
        value = _lookup(values, path)
        default = json.dumps(value, separators=(",", ":"))
        desc = desc.replace("|", "\\|")
        rows.append(f"| `{path}` | {_type_of(value)} | `{default}` | {desc} |")
    return "\n".join(rows)


def update_readme(chart_dir: Path, check: bool = False) -> bool:
    """Rewrite (or, with ``check``, compare) the README table; returns True when it was already up to date."""
    readme = chart_dir / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: no {START} ... {END} markers")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    table = render_table((chart_dir / "values.yaml").read_text())
    new = f"{head}{START}\n{table}\n{END}{tail}"
    if new == text:
        return True
    if not check:
        readme.write_text(new)
    return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("chart", type=Path)
    p.add_argument("--check", action="store_true", help="fail if README.md is stale instead of rewriting it")
    args = p.parse_args(argv)
    _, undocumented = parse_values_doc((args.chart / "values.yaml").read_text())
    if undocumented:
        print(f"undocumented values (add a `# --` comment): {', '.join(undocumented)}", file=sys.stderr)
        return 1
    fresh = update_readme(args.chart, check=args.check)
    if args.check and not fresh:
        print(f"{args.chart}/README.md is stale: run python charts/gen_readme.py {args.chart}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
