"""``RenderPool``: the render service's front door. Warm sandboxed zygotes for charts and SVG, a lazily created
``TableRenderer`` for tables, a content-hash cache, results in submission order.

    with RenderPool(workers=2) as pool:
        results = pool.render(jobs)

One zygote per worker (default: one per core) runs inside bubblewrap and forks a confined child per job (see
:mod:`visual_erm.render.sandbox` for the layers and :mod:`visual_erm.render.zygote` for the per-job protocol). The
pool fails closed: when bubblewrap or seccomp cannot be set up it refuses to start, unless
``unsafe_no_sandbox=True`` (trusted inputs only; it warns loudly).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import count

from visual_erm.render import sandbox as sb
from visual_erm.render.api import RenderJob, RenderResult, Status
from visual_erm.render.cache import RenderCache
from visual_erm.render.zygote import MAX_REQUEST, _HDR

log = logging.getLogger(__name__)

RENDERER_VERSION = "verm-render/1"
#: Jobs get uids from this range (far above login users and the usual subuid ranges): 64 per worker.
UID_RANGE_START = 3_000_000
UIDS_PER_WORKER = 64
_UID_BLOCKS = 100_000
_pool_counter = count()

SVG_DATA_URI = "data:image/svg+xml;base64,"


class WorkerFailure(RuntimeError):
    """The zygote died, hung or broke the protocol; the worker is restarted."""


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WorkerFailure("zygote did not answer in time")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise WorkerFailure("zygote exited")
        buf += chunk
    return bytes(buf)


def _mpl_font_cache() -> str | None:
    """A host directory holding matplotlib's font list, built once per matplotlib version (copied into workers)."""
    try:
        from importlib.metadata import version

        mpl = version("matplotlib")
    except Exception:  # noqa: BLE001
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "visual-erm", f"mpl-{mpl}")
    if os.path.isdir(path) and any(n.startswith("fontlist") for n in os.listdir(path)):
        return path
    os.makedirs(path, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        env = {"MPLCONFIGDIR": path, "HOME": home, "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env, timeout=300,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return path if any(n.startswith("fontlist") for n in os.listdir(path)) else None


class _Worker:
    """One zygote process (bwrap → python) and the pipes to it."""

    def __init__(self, index: int, plan_factory, log_dir: str, start_timeout_s: float, spawner: ThreadPoolExecutor):
        self.index = index
        self._spawner = spawner
        self._plan_factory = plan_factory
        self.log_path = os.path.join(log_dir, f"worker-{index}.log")
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.hello: dict = {}
        self.plan: sb.SandboxPlan | None = None
        self.restarts = 0

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        # bwrap --die-with-parent uses PR_SET_PDEATHSIG, which fires when the *thread* that forked it exits, so every
        # zygote is forked by the pool's one long-lived spawner thread.
        self._spawner.submit(self._spawn).result()

    def _spawn(self) -> None:
        self.plan = self._plan_factory(self.index)
        with open(self.log_path, "ab") as logfh:
            self.proc = subprocess.Popen(
                self.plan.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logfh, env=self.plan.env,
                start_new_session=True, close_fds=True, cwd="/",
            )

    def wait_ready(self) -> None:
        try:
            self.hello = self._read_frame(time.monotonic() + self.start_timeout_s)[0]
        except WorkerFailure as exc:
            self.kill()
            raise WorkerFailure(f"worker failed to start ({exc}): {self.log_tail()}") from None
        if not self.hello.get("hello"):
            self.kill()
            raise WorkerFailure(self.hello.get("error") or "worker refused to start")

    def log_tail(self, n: int = 600) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(max(0, os.path.getsize(self.log_path) - n))
                return fh.read().decode("utf-8", "replace").strip() or "(no output)"
        except OSError:
            return "(no log)"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start()

    def _read_frame(self, deadline: float) -> tuple[dict, bytes]:
        fd = self.proc.stdout.fileno()
        (n,) = _HDR.unpack(_read_exact(fd, 4, deadline))
        if n > MAX_REQUEST:
            raise WorkerFailure("oversized frame from zygote")
        header = json.loads(_read_exact(fd, n, deadline))
        png_len = int(header.get("png_len", 0))
        if png_len > (256 << 20):
            raise WorkerFailure("oversized payload from zygote")
        png = _read_exact(fd, png_len, deadline) if png_len else b""
        return header, png

    def request(self, req: dict, timeout_s: float) -> tuple[dict, bytes]:
        if not self.alive():
            raise WorkerFailure("zygote is not running")
        blob = json.dumps(req).encode()
        try:
            self.proc.stdin.write(_HDR.pack(len(blob)) + blob)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise WorkerFailure(f"cannot reach zygote: {exc}") from None
        try:
            return self._read_frame(time.monotonic() + timeout_s)
        except (ValueError, KeyError) as exc:
            raise WorkerFailure(f"protocol error: {exc}") from None


class RenderPool:
    """Warm sandboxed render workers with a cache; see the module docstring.

    Args:
        workers: Number of zygotes (parallel renders). Default: the number of usable cores.
        cache_dir: Optional directory for the on-disk result cache (memory LRU always on).
        unsafe_no_sandbox: Run workers without bubblewrap, uid switching or seccomp (trusted inputs only).
        limits: Per-job resource caps.
        start_timeout_s: How long a zygote may take to import the plotting stack.
        table_workers: Chromium instances for tables. Default: ``workers`` capped at half the usable cores, as
            one table render keeps a browser, a renderer and a raster process busy at once (on 2 cores one
            browser gave 4.9 renders/s, two 3.9/s).
    """

    def __init__(self, workers: int | None = None, cache_dir: str | os.PathLike | None = None,
                 unsafe_no_sandbox: bool = False, *, limits: sb.Limits | None = None,
                 cache_items: int = 4096, start_timeout_s: float = 120.0, table_workers: int | None = None):
        cores = len(os.sched_getaffinity(0)) or 1
        self.workers = max(1, int(workers or cores))
        self.table_workers = max(1, int(table_workers or min(self.workers, cores // 2)))
        self.unsafe = bool(unsafe_no_sandbox)
        self.limits = limits or sb.Limits()
        self.cache = RenderCache(max_items=cache_items, disk_dir=cache_dir)
        self.start_timeout_s = start_timeout_s
        self._pool_id = next(_pool_counter)
        self._workers: list[_Worker] = []
        self._idle: "queue.Queue[_Worker]"  # noqa: F821
        self._executor: ThreadPoolExecutor | None = None
        self._spawner: ThreadPoolExecutor | None = None
        self._tables = None
        self._tables_lock = threading.Lock()
        self._tmp: str | None = None
        self._mpl_cache: str | None = None
        self.startup_s: float | None = None
        self._renderer_version: str | None = None
        self._closed = False

    # -- life cycle --------------------------------------------------------------------------------------------
    def __enter__(self) -> "RenderPool":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _uid_base(self, index: int) -> int:
        block = (os.getpid() * 131 + self._pool_id * 17 + index) % _UID_BLOCKS
        return UID_RANGE_START + block * UIDS_PER_WORKER

    def _plan(self, index: int) -> sb.SandboxPlan:
        cfg = {"sandboxed": not self.unsafe, "limits": self.limits.to_dict()}
        if self.unsafe:
            scratch = os.path.join(self._tmp, f"w{index}")
            os.makedirs(scratch, exist_ok=True)
            plan = sb.unsafe_plan(scratch_root=scratch, zygote_args=[])
            cfg.update(switch_uid=False, scratch_root=os.path.join(scratch, "s"), path_labels=plan.path_labels)
        else:
            probe = sb.bwrap_plan(mpl_cache=self._mpl_cache, scratch_mb=self.limits.scratch_mb, zygote_args=[])
            cfg.update(switch_uid=probe.switch_uid, uid_base=self._uid_base(index), uid_count=UIDS_PER_WORKER,
                       path_labels=probe.path_labels)
            plan = probe
        plan.argv.append(json.dumps(cfg))
        return plan

    def start(self) -> "RenderPool":
        import queue

        t0 = time.monotonic()
        if self.unsafe:
            msg = ("RenderPool(unsafe_no_sandbox=True): jobs run WITHOUT bubblewrap, uid isolation or seccomp — "
                   "any program can read your files, reach the network and signal your processes. Trusted inputs only.")
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            log.warning(msg)
        else:
            if sys.platform != "linux":
                raise sb.SandboxUnavailable("the render sandbox needs Linux (bubblewrap, seccomp)")
            if not hasattr(os, "pidfd_open"):
                raise sb.SandboxUnavailable("os.pidfd_open is missing (Linux ≥ 5.3 needed)")
            sb.bwrap_plan(mpl_cache=None, scratch_mb=1, zygote_args=[])  # raises if bwrap is missing
            try:
                import pyseccomp  # noqa: F401
            except Exception as exc:  # noqa: BLE001
                raise sb.SandboxUnavailable(f"seccomp unavailable: cannot import pyseccomp ({exc}); "
                                            "pip install pyseccomp and apt-get install libseccomp2") from None
        self._tmp = tempfile.mkdtemp(prefix="verm-pool-")
        self._mpl_cache = _mpl_font_cache()
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verm-render-spawner")
        self._workers = [_Worker(i, self._plan, self._tmp, self.start_timeout_s, self._spawner)
                         for i in range(self.workers)]
        errors: list[str] = []

        for w in self._workers:
            w.spawn()

        def boot(w: _Worker) -> None:
            try:
                w.wait_ready()
            except Exception as exc:  # noqa: BLE001
                errors.append(str(exc))

        threads = [threading.Thread(target=boot, args=(w,), daemon=True) for w in self._workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.close()
            raise sb.SandboxUnavailable(
                "render workers could not start in the sandbox: " + errors[0]
                + (" — pass unsafe_no_sandbox=True to run without isolation (trusted inputs only)"
                   if not self.unsafe else ""))
        self._idle = queue.Queue()
        for w in self._workers:
            self._idle.put(w)
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="verm-render")
        self.startup_s = time.monotonic() - t0
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        for w in self._workers:
            w.kill()
        if self._spawner is not None:
            self._spawner.shutdown(wait=True)
        if self._tables is not None:
            try:
                self._tables.__exit__(None, None, None)
            except Exception:  # noqa: BLE001
                log.exception("closing the table renderer failed")
            self._tables = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- introspection (tests, metrics) ---------------------------------------------------------------------------
    @property
    def renderer_version(self) -> str:
        if self._renderer_version is None:
            from importlib.metadata import PackageNotFoundError, version

            parts = [RENDERER_VERSION]
            for dist in ("matplotlib", "numpy", "cairosvg", "seaborn", "pillow"):
                try:
                    parts.append(f"{dist}={version(dist)}")
                except PackageNotFoundError:
                    parts.append(f"{dist}=none")
            parts.append("limits=" + hashlib.sha256(json.dumps(self.limits.to_dict(), sort_keys=True).encode())
                         .hexdigest()[:12])
            parts.append("unsafe" if self.unsafe else "sandboxed")
            self._renderer_version = ";".join(parts)
        return self._renderer_version

    def job_uid_ranges(self) -> list[range]:
        """The uids jobs of this pool run as (empty when uids are not switched)."""
        return [range(w.hello["uid_base"], w.hello["uid_base"] + w.hello["uid_count"])
                for w in self._workers if w.hello.get("switch_uid")]

    def zygote_pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers if w.alive()]

    def healthy(self) -> bool:
        return bool(self._workers) and all(w.alive() for w in self._workers)

    @property
    def restarts(self) -> int:
        return sum(w.restarts for w in self._workers)

    # -- rendering -----------------------------------------------------------------------------------------------
    def render_one(self, job: RenderJob) -> RenderResult:
        return self.render([job])[0]

    def render(self, jobs: list[RenderJob]) -> list[RenderResult]:
        """Render ``jobs``; results come back in submission order. Identical jobs in a batch render once."""
        if self._executor is None:
            raise RuntimeError("RenderPool is not started (use it as a context manager)")
        t_submit = time.monotonic()
        results: list[RenderResult | None] = [None] * len(jobs)
        groups: dict[str, list[int]] = {}
        requests: dict[str, dict] = {}
        table_groups: dict[str, list[int]] = {}
        for i, job in enumerate(jobs):
            key = job.content_hash(self.renderer_version)
            hit = self.cache.get(key)
            if hit is not None:
                results[i] = replace(hit, id=job.id, cached=True, queue_ms=0.0,
                                     total_ms=(time.monotonic() - t_submit) * 1000)
                continue
            if job.task == "table":
                table_groups.setdefault(key, []).append(i)
                continue
            if key in groups:
                groups[key].append(i)
                continue
            req_or_reject = self._prepare(job)
            if isinstance(req_or_reject, RenderResult):
                results[i] = req_or_reject
                self.cache.put(key, req_or_reject)
                continue
            groups[key] = [i]
            requests[key] = req_or_reject
        futures = {key: self._executor.submit(self._run, requests[key], jobs[idxs[0]], t_submit)
                   for key, idxs in groups.items() if key in requests}
        if table_groups:
            firsts = [jobs[idxs[0]] for idxs in table_groups.values()]
            for (key, idxs), res in zip(table_groups.items(), self._render_tables(firsts), strict=True):
                self.cache.put(key, res)
                for i in idxs:
                    results[i] = replace(res, id=jobs[i].id)
        for key, fut in futures.items():
            res = fut.result()
            self.cache.put(key, res)
            for n, i in enumerate(groups[key]):
                results[i] = res if n == 0 else replace(res, id=jobs[i].id)
        for key, idxs in groups.items():  # duplicates of a rejected job
            if key not in requests:
                for i in idxs:
                    if results[i] is None:
                        first = next(results[j] for j in idxs if results[j] is not None)
                        results[i] = replace(first, id=jobs[i].id)
        return results  # type: ignore[return-value]

    def _prepare(self, job: RenderJob) -> dict | RenderResult:
        """Validate, extract and normalise a job into a zygote request, or a ``rejected`` result."""
        from visual_erm.render import extract

        o = job.options

        def reject(msg: str) -> RenderResult:
            return RenderResult(id=job.id, task=job.task, status=Status.REJECTED, message=msg)

        if job.task not in ("chart", "svg"):
            return reject(f"unknown task {job.task!r}")
        if not (0 < o.timeout_s <= 300):
            return reject("timeout_s must be in (0, 300]")
        if len(job.source) > (4 << 20):
            return reject("source exceeds 4 MiB")
        if job.task == "chart":
            if not (10 <= o.dpi <= 1000):
                return reject("dpi must be in [10, 1000]")
            code = extract.extract_chart_code(job.source) if job.extract else job.source
            if not code or not code.strip():
                return reject("no ```python block found in the response" if job.extract else "empty program")
            program = extract.normalize_chart_program(code, dpi=o.dpi)
            return {"kind": "chart", "program": program, "dpi": o.dpi, "timeout_s": o.timeout_s,
                    "inspect": o.inspect}
        if not (1 <= o.width <= 4096 and 1 <= o.height <= 4096):
            return reject("svg canvas must be within 4096×4096")
        svg = job.source
        if svg.startswith(SVG_DATA_URI):
            try:
                raw = base64.b64decode(svg[len(SVG_DATA_URI):], validate=True)
            except ValueError:
                return reject("bad base64 in svg data URI")
            svg = base64.b64encode(raw).decode()
            kind = "svg-b64"
        else:
            svg = extract.extract_svg(svg) if job.extract else svg
            kind = "svg"
            if not svg:
                return reject("no SVG found in the response")
        if len(svg) > self.limits.svg_max_bytes * 2:
            return reject("svg exceeds the size cap")
        return {"kind": kind, "svg": svg, "width": o.width, "height": o.height, "timeout_s": o.timeout_s}

    def _run(self, req: dict, job: RenderJob, t_submit: float) -> RenderResult:
        w = self._idle.get()
        t_start = time.monotonic()
        try:
            header, png, error = None, b"", ""
            for _attempt in range(2):
                try:
                    if not w.alive():
                        w.restart()
                    header, png = w.request(req, timeout_s=float(req["timeout_s"]) + 60)
                    break
                except WorkerFailure as exc:
                    error = str(exc)
                    log.warning("render worker %d failed (%s); restarting it. Its log: %s", w.index, exc,
                                w.log_tail())
                    try:
                        w.restart()
                    except Exception as exc2:  # noqa: BLE001
                        error = f"{error}; restart failed: {exc2}"
                        break
        finally:
            self._idle.put(w)
        t_end = time.monotonic()
        common = dict(id=job.id, task=job.task, queue_ms=(t_start - t_submit) * 1000, total_ms=(t_end - t_submit) * 1000)
        if header is None:
            return RenderResult(status=Status.INFRA_ERROR, message=f"render worker failed: {error}"[:500],
                                exec_ms=(t_end - t_start) * 1000, **common)
        try:
            status = Status(header.get("status"))
        except ValueError:
            status = Status.INFRA_ERROR
        return RenderResult(
            status=status, png=png or None, width=header.get("width") if png else None,
            height=header.get("height") if png else None,
            sha256=hashlib.sha256(png).hexdigest() if png else None, message=str(header.get("message", ""))[:500],
            stderr_tail=str(header.get("stderr_tail", "")), exec_ms=float(header.get("exec_ms", 0.0)),
            cpu_ms=float(header.get("cpu_ms", 0.0)),
            figure=header.get("figure") if status == Status.OK else None, **common,
        )

    def _render_tables(self, jobs: list[RenderJob]) -> list[RenderResult]:
        with self._tables_lock:
            if self._tables is None:
                try:
                    from visual_erm.render.table import TableRenderer

                    renderer = TableRenderer(workers=self.table_workers)
                    renderer.__enter__()
                    self._tables = renderer
                except Exception as exc:  # noqa: BLE001  (charts/SVG keep working without the table stack)
                    msg = f"table renderer unavailable: {type(exc).__name__}: {exc}"[:500]
                    return [RenderResult(id=j.id, task=j.task, status=Status.INFRA_ERROR, message=msg) for j in jobs]
        try:
            out = list(self._tables.render_many(jobs))
            if len(out) != len(jobs):
                raise RuntimeError(f"table renderer returned {len(out)} results for {len(jobs)} jobs")
            return out
        except Exception as exc:  # noqa: BLE001
            msg = f"table renderer failed: {type(exc).__name__}: {exc}"[:500]
            return [RenderResult(id=j.id, task=j.task, status=Status.INFRA_ERROR, message=msg) for j in jobs]
