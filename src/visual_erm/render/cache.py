"""Render-result cache keyed by ``RenderJob.content_hash(renderer_version)``: an in-memory LRU plus an optional
directory on disk. A damaged or foreign disk entry is a miss (and is removed). Only outcomes that depend on the
program alone are stored (ok, blank, error, rejected) — never timeouts, crashes, memory kills or infra errors,
which depend on load and limits."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import replace

from visual_erm.render.api import RenderResult, Status

CACHEABLE = frozenset({Status.OK, Status.BLANK, Status.ERROR, Status.REJECTED})
_MAGIC = b"VERMRC1\n"


class RenderCache:
    def __init__(self, max_items: int = 4096, disk_dir: str | os.PathLike | None = None):
        self.max_items = max_items
        self.disk_dir = os.fspath(disk_dir) if disk_dir else None
        self._mem: OrderedDict[str, RenderResult] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        if self.disk_dir:
            os.makedirs(self.disk_dir, exist_ok=True)

    def _path(self, key: str) -> str:
        return os.path.join(self.disk_dir, key[:2], key + ".bin")

    def get(self, key: str) -> RenderResult | None:
        with self._lock:
            hit = self._mem.get(key)
            if hit is not None:
                self._mem.move_to_end(key)
                self.hits += 1
                return replace(hit)
        if self.disk_dir:
            res = self._read_disk(key)
            if res is not None:
                with self._lock:
                    self.hits += 1
                    self._remember(key, res)
                return replace(res)
        with self._lock:
            self.misses += 1
        return None

    def put(self, key: str, result: RenderResult) -> None:
        if result.status not in CACHEABLE:
            return
        stored = replace(result, cached=False, queue_ms=0.0, total_ms=0.0)
        with self._lock:
            self._remember(key, stored)
        if self.disk_dir:
            self._write_disk(key, stored)

    def _remember(self, key: str, res: RenderResult) -> None:
        self._mem[key] = res
        self._mem.move_to_end(key)
        while len(self._mem) > self.max_items:
            self._mem.popitem(last=False)

    def _write_disk(self, key: str, res: RenderResult) -> None:
        png = res.png or b""
        meta = {
            "key": key, "id": res.id, "task": res.task, "status": res.status.value, "width": res.width,
            "height": res.height, "sha256": res.sha256, "message": res.message, "stderr_tail": res.stderr_tail,
            "exec_ms": res.exec_ms, "figure": res.figure, "png_len": len(png),
            "png_sha256": hashlib.sha256(png).hexdigest(),
        }
        blob = json.dumps(meta).encode()
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + len(blob).to_bytes(4, "big") + blob + png)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot write is only slower

    def _read_disk(self, key: str) -> RenderResult | None:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                data = fh.read(256 << 20)
        except OSError:
            return None
        try:
            if not data.startswith(_MAGIC):
                raise ValueError("bad magic")
            n = int.from_bytes(data[len(_MAGIC):len(_MAGIC) + 4], "big")
            start = len(_MAGIC) + 4
            meta = json.loads(data[start:start + n])
            png = data[start + n:]
            if meta["key"] != key or len(png) != meta["png_len"] \
                    or hashlib.sha256(png).hexdigest() != meta["png_sha256"]:
                raise ValueError("damaged entry")
            if png and meta["sha256"] != hashlib.sha256(png).hexdigest():
                raise ValueError("damaged entry")
            return RenderResult(
                id=meta["id"], task=meta["task"], status=Status(meta["status"]), png=png or None,
                width=meta["width"], height=meta["height"], sha256=meta["sha256"], message=meta["message"],
                stderr_tail=meta["stderr_tail"], exec_ms=meta["exec_ms"], figure=meta["figure"],
            )
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            try:
                os.unlink(path)
            except OSError:
                pass
            return None
