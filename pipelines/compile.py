"""Compile every pipeline into a folder: ``python -m pipelines.compile [--out pipelines/compiled]``.

The same as ``verm pipeline compile``; kept as a module so the freshness test and CI need nothing but the repo.

Why PYTHONHASHSEED: kfp 2.17.0 writes the header comment of a compiled pipeline (``# Inputs: ... [Default: ...]``)
from the defaults after a round trip through protobuf, and the key order of a dict inside a list default (our
``k8s_gpu_tolerations``) then follows Python's per-process string hashing. The YAML body is deterministic. A fixed
seed makes the committed files stable between runs (no churn in diffs); the freshness test compares those header
defaults as values anyway.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="pipelines/compiled", help="output folder (default: pipelines/compiled)")
    p.add_argument("--stage", action="append", default=[], help="compile only this pipeline (repeatable)")
    args = p.parse_args(argv)
    if os.environ.get("PYTHONHASHSEED") != "0":  # see the module docstring
        cmd = [sys.executable, "-m", "pipelines.compile", "--out", args.out]
        for stage in args.stage:
            cmd += ["--stage", stage]
        os.execve(sys.executable, cmd, {**os.environ, "PYTHONHASHSEED": "0"})
    from visual_erm.pipeline_cli import compile_all

    for path in compile_all(args.out, stages=args.stage or None):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
