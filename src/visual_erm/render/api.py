"""The render service's data types: what a caller submits and what it gets back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

RenderTask = Literal["chart", "table", "svg"]


class Status(str, Enum):
    """Outcome of one render. Policy failures and infrastructure failures are kept distinct."""

    OK = "ok"
    TIMEOUT = "timeout"  # the program ran past its wall-clock deadline (killed)
    MEMORY = "memory"  # the program hit its address-space limit
    CRASH = "crash"  # killed by a signal (segfault, seccomp violation, ...)
    ERROR = "error"  # the program raised / exited non-zero / produced no valid image
    BLANK = "blank"  # it rendered, but the image is a single flat colour
    REJECTED = "rejected"  # refused before running (no code found, too large, bad options)
    INFRA_ERROR = "infra_error"  # the renderer itself failed; not the program's fault

    @property
    def is_policy_failure(self) -> bool:
        return self not in (Status.OK, Status.INFRA_ERROR)


@dataclass(frozen=True)
class RenderOptions:
    """Per-job rendering knobs. Defaults follow the paper's released code."""

    timeout_s: float = 15.0
    dpi: int = 100
    width: int = 336  # svg canvas width (px)
    height: int = 336  # svg canvas height (px)
    max_side: int = 768  # tables: thumbnail longest side
    inspect: bool = False  # charts: also return a description of the figure's contents

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RenderJob:
    """One program to render. ``source`` is the program (or a model response it is extracted from)."""

    id: str
    task: RenderTask
    source: str
    options: RenderOptions = field(default_factory=RenderOptions)
    extract: bool = False  # True: ``source`` is a model response; extract the program the released code's way

    def content_hash(self, renderer_version: str) -> str:
        """Cache key: everything that determines the output bytes."""
        blob = json.dumps(
            [renderer_version, self.task, self.source, self.options.to_dict(), self.extract], sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class RenderResult:
    """What came back for one job, in the order the jobs were submitted."""

    id: str
    task: RenderTask
    status: Status
    png: bytes | None = None
    width: int | None = None
    height: int | None = None
    sha256: str | None = None
    message: str = ""  # short, scrubbed: the exception line or the reason for the status
    stderr_tail: str = ""
    queue_ms: float = 0.0
    exec_ms: float = 0.0
    total_ms: float = 0.0
    cpu_ms: float = 0.0  # CPU time of the job's process (user + system), when the renderer measures it
    cached: bool = False
    figure: dict | None = None  # charts with inspect=True: texts, artists, colours, axes (see render.inspect)

    @property
    def ok(self) -> bool:
        return self.status == Status.OK
