"""One module per modality behind the protocol in :mod:`visual_erm.tasks.base`."""

from __future__ import annotations

import importlib
from types import ModuleType

from visual_erm.schema import TASKS


def get_task(name: str) -> ModuleType:
    """The task module for ``chart``, ``table`` or ``svg`` (``generate_seed``, ``OPERATORS``, ``KINDS``)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return importlib.import_module(f"visual_erm.tasks.{name}")
