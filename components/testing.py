"""Test helpers shared by the component tests (``components/*/tests``): a stand-in for the output/input artifacts KFP
passes to a component's ``python_func``, and the KFP local runner set up to run components in this interpreter.

Only the standard library and kfp at module level: the component tests import this before anything heavy.
"""

from __future__ import annotations

import os
from pathlib import Path

from kfp import local


class Artifact:
    """The attributes KFP gives an artifact (path, uri, metadata, log_metric) — only for ``python_func`` calls."""

    def __init__(self, path: str | os.PathLike, metadata: dict | None = None):
        self.path = str(path)
        self.uri = str(path)
        self.metadata: dict = dict(metadata or {})

    def log_metric(self, key, value):
        self.metadata[key] = value


def local_runner(tmp_path: Path, **init_kwargs) -> Path:
    """``kfp.local.init`` with the subprocess runner in this interpreter (no venv) and the pipeline root
    ``tmp_path/"root"``; returns that root. ``init_kwargs`` go to ``local.init`` (e.g. ``raise_on_error=False``)."""
    root = Path(tmp_path) / "root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), **init_kwargs)
    return root
