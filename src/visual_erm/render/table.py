"""Table renderer: long-lived headless Chromium (one per worker), a fresh browser context per job.

Design (see design.md §5 and machine-notes.md "Rendering"):

* Each worker is a thread with its own ``sync_playwright`` (the sync API is per-thread) driving one Debian Chromium
  (``/usr/lib/chromium/chromium``, the real binary behind the ``/usr/bin/chromium`` launcher script). The browser is
  reused across jobs, recycled every ``pages_per_browser`` pages, and relaunched after a crash or a kill.
* Containment. Chromium is launched through a generated wrapper script that execs it inside bubblewrap:
  ``--unshare-net`` (a network namespace with only a down loopback: no connection can leave, not even to
  127.0.0.1 of the host), new pid/ipc/uts namespaces (it cannot see or signal other processes, nor read their
  ``/proc/*/environ``), ``--die-with-parent``, a read-only view of ``/usr`` plus the font configuration only (no
  ``/work``, ``/root``, ``/home``, ``/etc`` secrets), private ``/tmp``, ``/dev/shm``, ``/run`` and ``/var``, and a
  clean environment. The CDP connection is Playwright's ``--remote-debugging-pipe`` (inherited file descriptors), so
  the browser needs no port. If bubblewrap does not work on the machine (``containment="auto"``) the browser runs
  uncontained and the remaining layers still hold: every context has JavaScript off, is offline and aborts every
  request; the page is set with ``set_content`` (never ``file://``) under a CSP that forbids all fetches, frames and
  objects, with ``<meta>``/``<base>``/``<link>`` stripped (see :mod:`visual_erm.render.table_page`).
* Deadlines. Each job gets ``min(renderer timeout, job.options.timeout_s)`` for Playwright's own timeouts; a watchdog
  thread per worker SIGKILLs the browser's process group if a call is still stuck ``KILL_GRACE_S`` after that, so a
  hung page costs its own job (status ``timeout``) and one browser restart, never the worker.
* Output. Full-page screenshot clipped to ``MAX_CAPTURE`` CSS px (a 10k-row table is cut, not rasterised whole), crop
  to the non-white content plus 12 px, Lanczos thumbnail so the longest side is ≤ ``job.options.max_side``, PNG.
  Same HTML → same bytes.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import io
import itertools
import math
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from visual_erm.render.api import RenderJob, RenderResult, Status
from visual_erm.render.table_page import build_page, extractor_name, table_fragment

#: Bumped whenever the output bytes for the same job may change (page CSS, flags, crop, thumbnail).
RENDERER_VERSION = "table-chromium-1"

CHROMIUM_BINARY = "/usr/lib/chromium/chromium"
CHROMIUM_LAUNCHER = "/usr/bin/chromium"
BWRAP = "/usr/bin/bwrap"

VIEWPORT = {"width": 1280, "height": 720}
CROP_PAD = 12
#: Largest region captured, CSS px (width, height); bigger pages are clipped to their top-left corner.
MAX_CAPTURE = (4096, 4096)
#: Sources larger than this are rejected before any browser sees them.
MAX_SOURCE_CHARS = 1_000_000
#: After a job's deadline, how long a stuck Playwright call may take before the browser is killed.
KILL_GRACE_S = 3.0
LAUNCH_TIMEOUT_S = 30.0

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--no-pings",
    "--dns-prefetch-disable",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
    "--font-render-hinting=none",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,InterestFeedContentSuggestions",
]

BROWSER_ENV = {"HOME": "/tmp", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC"}


def _bwrap_argv() -> list[str]:
    argv = [
        BWRAP,
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent",
        "--ro-bind", "/usr", "/usr",
    ]
    for name in ("lib", "lib64", "bin", "sbin"):
        target = os.path.join("/", name)
        if os.path.islink(target):
            argv += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            argv += ["--ro-bind", target, target]
    argv += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm",
             "--tmpfs", "/run", "--tmpfs", "/var"]
    for path in ("/etc/fonts", "/etc/ld.so.cache", "/etc/localtime", "/var/cache/fontconfig"):
        if os.path.exists(path):
            argv += ["--ro-bind", path, path]
    argv += ["--setenv", "HOME", "/tmp", "--unsetenv", "VERM_PIDFILE", "--chdir", "/tmp"]
    return argv


_BWRAP_OK: bool | None = None
_BWRAP_LOCK = threading.Lock()


def bwrap_available() -> bool:
    """True when bubblewrap can run a program with the sandbox's flags on this machine (probed once)."""
    global _BWRAP_OK
    with _BWRAP_LOCK:
        if _BWRAP_OK is None:
            ok = False
            if os.path.exists(BWRAP) and os.path.exists(CHROMIUM_BINARY):
                try:
                    proc = subprocess.run(
                        _bwrap_argv() + ["/usr/bin/test", "-x", CHROMIUM_BINARY],
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        timeout=10, env=BROWSER_ENV,
                    )
                    ok = proc.returncode == 0
                except (OSError, subprocess.SubprocessError):
                    ok = False
            _BWRAP_OK = ok
        return _BWRAP_OK


def _sh_quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _write_wrapper(directory: str, contained: bool) -> str:
    """A launcher Playwright starts as ``executable_path``: records its pid, then execs (bwrap →) Chromium."""
    binary = CHROMIUM_BINARY if os.path.exists(CHROMIUM_BINARY) else CHROMIUM_LAUNCHER
    argv = (_bwrap_argv() if contained else []) + [binary]
    path = os.path.join(directory, "chromium-wrapper.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n")
        f.write('[ -n "$VERM_PIDFILE" ] && echo $$ > "$VERM_PIDFILE"\n')
        f.write("exec " + " ".join(_sh_quote(a) for a in argv) + ' "$@"\n')
    os.chmod(path, 0o700)
    return path


def _proc_starttime(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # the comm field may contain spaces and parens: split after the last ')'
    rest = data[data.rfind(")") + 2:].split()
    try:
        return int(rest[19])  # field 22 overall
    except (IndexError, ValueError):
        return None


@dataclass
class _Batch:
    results: list
    remaining: int
    cond: threading.Condition = field(default_factory=threading.Condition)

    def put(self, idx: int, res: RenderResult) -> None:
        with self.cond:
            if self.results[idx] is None:
                self.results[idx] = res
                self.remaining -= 1
            self.cond.notify_all()


class _BrowserGone(Exception):
    """The browser died under a job (not by the watchdog)."""


class _Killed(Exception):
    """The watchdog killed the browser: the job ran past its deadline."""


class _PageCrashed(Exception):
    pass


def _abort_route(route) -> None:
    try:
        route.abort()
    except Exception:  # the page may already be gone
        pass


class _Worker(threading.Thread):
    """One thread, one Playwright, one Chromium at a time."""

    def __init__(self, owner: TableRenderer, index: int):
        super().__init__(name=f"table-render-{index}", daemon=True)
        self.owner = owner
        self.index = index
        self.ready = threading.Event()
        self.startup_error: str | None = None
        self._pw = None
        self._browser = None
        self._browser_pid: int | None = None
        self._browser_start: int | None = None
        self._pages = 0
        self._launches = itertools.count()
        self._lock = threading.Lock()
        self._kill_at: float | None = None
        self._killed = False
        self._halt = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name=f"table-watchdog-{index}", daemon=True)
        self.restarts = 0
        self.launched: list[tuple[int, int | None]] = []  # (pid, start time) of every browser this worker ran

    # --- watchdog ------------------------------------------------------------------------------------------------

    def _arm(self, kill_at: float) -> None:
        with self._lock:
            self._kill_at = kill_at
            self._killed = False

    def _disarm(self) -> bool:
        """Stop the clock; True when the watchdog fired since the last arm."""
        with self._lock:
            self._kill_at = None
            return self._killed

    def _watch(self) -> None:
        while not self._halt.wait(0.05):
            with self._lock:
                fire = self._kill_at is not None and time.monotonic() > self._kill_at
                if fire:
                    self._kill_at = None
                    self._killed = True
            if fire:
                self._kill_browser_process()

    def _kill_browser_process(self) -> None:
        pid, start = self._browser_pid, self._browser_start
        if not pid or _proc_starttime(pid) != start:
            return
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # --- browser lifecycle ---------------------------------------------------------------------------------------

    def _launch(self) -> None:
        n = next(self._launches)
        if n > 0:
            self.restarts += 1
        pidfile = os.path.join(self.owner._tmpdir, f"w{self.index}-{n}.pid")
        env = dict(BROWSER_ENV, VERM_PIDFILE=pidfile)
        self._arm(time.monotonic() + LAUNCH_TIMEOUT_S + KILL_GRACE_S)
        try:
            browser = self._pw.chromium.launch(
                executable_path=self.owner._wrapper,
                args=CHROMIUM_ARGS,
                env=env,
                timeout=LAUNCH_TIMEOUT_S * 1000,
                handle_sigint=False,
                handle_sigterm=False,
                handle_sighup=False,
            )
        except BaseException:
            # a launch that failed half-way must not leave its process behind
            pid = _read_pid(pidfile)
            if pid and _proc_starttime(pid) is not None:
                self._browser_pid, self._browser_start = pid, _proc_starttime(pid)
                self._kill_browser_process()
                self._browser_pid = self._browser_start = None
            raise
        finally:
            self._disarm()
        pid = _read_pid(pidfile)
        self._browser = browser
        self._browser_pid = pid
        self._browser_start = _proc_starttime(pid) if pid else None
        self._pages = 0
        if pid:
            self.launched.append((pid, self._browser_start))

    def _close_browser(self) -> None:
        browser, pid, start = self._browser, self._browser_pid, self._browser_start
        self._browser = None
        if browser is not None:
            self._arm(time.monotonic() + 10.0)
            try:
                browser.close()
            except Exception:
                pass
            finally:
                self._disarm()
        if pid:
            deadline = time.monotonic() + 5.0
            while _proc_starttime(pid) == start and time.monotonic() < deadline:
                time.sleep(0.02)
            self._kill_browser_process()  # no-op when it is gone
        self._browser_pid = self._browser_start = None

    def _ensure_browser(self) -> str | None:
        """Make sure a live browser is up; returns an error message when it cannot be started."""
        if self._browser is not None and (self._pages >= self.owner.pages_per_browser or not self._browser.is_connected()):
            self._close_browser()
        if self._browser is None:
            try:
                self._launch()
            except Exception as e:  # launch failed: infrastructure, not the job
                self._close_browser()
                return f"browser launch failed: {_first_line(e)}"
        return None

    # --- thread body ---------------------------------------------------------------------------------------------

    def run(self) -> None:
        self._watchdog.start()
        try:
            from playwright.sync_api import sync_playwright

            self._pw_cm = sync_playwright()
            self._pw = self._pw_cm.start()
        except Exception as e:
            self.startup_error = f"playwright failed to start: {_first_line(e)}"
        if self._pw is not None and self.owner._eager:
            err = self._ensure_browser()
            if err:
                self.startup_error = err
        self.ready.set()
        try:
            while True:
                item = self.owner._queue.get()
                if item is None:
                    break
                idx, job, t_submit, batch = item
                t0 = time.monotonic()
                try:
                    res = self._render_job(job)
                except Exception as e:  # a bug here must not lose the job or the worker
                    res = RenderResult(id=job.id, task=job.task, status=Status.INFRA_ERROR,
                                       message=f"renderer error: {_first_line(e)}")
                if isinstance(res, RenderResult):
                    _finish(batch, idx, res, t_submit, t0)
                else:  # a screenshot: crop/thumbnail/encode on the post-processing pool while the next job renders
                    self.owner._post.submit(_postprocess_job, batch, idx, job, res, t_submit, t0)
        finally:
            self._close_browser()
            if self._pw is not None:
                try:
                    self._pw_cm.__exit__(None, None, None)
                except Exception:
                    pass
            self._halt.set()

    # --- one job -------------------------------------------------------------------------------------------------

    def _render_job(self, job: RenderJob) -> RenderResult | bytes:
        """A final result, or the raw screenshot bytes still to be post-processed."""
        def result(status: Status, message: str = "", **kw) -> RenderResult:
            return RenderResult(id=job.id, task=job.task, status=status, message=message[:300], **kw)

        if job.task != "table":
            return result(Status.REJECTED, f"not a table job: {job.task!r}")
        if not isinstance(job.source, str) or len(job.source) > MAX_SOURCE_CHARS:
            return result(Status.REJECTED, f"source too large (> {MAX_SOURCE_CHARS} chars)")
        if job.options.max_side < 16 or job.options.timeout_s <= 0:
            return result(Status.REJECTED, "bad options: max_side < 16 or timeout_s <= 0")
        try:
            fragment = table_fragment(job.source, extract=job.extract)
        except Exception as e:
            return result(Status.REJECTED, f"extraction failed: {_first_line(e)}")
        if fragment is None:
            return result(Status.REJECTED, "no table HTML found")
        page_html = build_page(fragment)
        timeout_s = min(self.owner.timeout_s, job.options.timeout_s)

        if self._pw is None:
            return result(Status.INFRA_ERROR, self.startup_error or "playwright not running")
        for attempt in (0, 1):
            err = self._ensure_browser()
            if err:
                return result(Status.INFRA_ERROR, err)
            try:
                raw = self._capture(page_html, timeout_s)
            except _Killed:
                self._close_browser()
                return result(Status.TIMEOUT, f"page did not finish within {timeout_s:g} s; browser killed")
            except _PageCrashed:
                return result(Status.CRASH, "page crashed")
            except _BrowserGone as e:
                self._close_browser()
                if attempt == 0:
                    continue
                return result(Status.CRASH, f"browser died twice on this job: {e}")
            except TimeoutError as e:
                return result(Status.TIMEOUT, f"page did not finish within {timeout_s:g} s: {e}")
            except Exception as e:
                # Static, script-free HTML rarely makes Chromium fail; an unexplained error may be the browser's
                # hiccup, so retry once on a fresh browser before charging the job with it.
                self._close_browser()
                if attempt == 0:
                    continue
                return result(Status.ERROR, f"render failed twice: {_first_line(e)}")
            return raw
        return result(Status.INFRA_ERROR, "unreachable")

    def _capture(self, page_html: str, timeout_s: float) -> bytes:
        from playwright.sync_api import Error as PWError
        from playwright.sync_api import TimeoutError as PWTimeout

        browser = self._browser
        deadline = time.monotonic() + timeout_s

        def remaining_ms() -> float:
            return max(1.0, (deadline - time.monotonic()) * 1000.0)

        crashed: list[bool] = []
        ctx = None
        self._arm(deadline + KILL_GRACE_S)
        try:
            try:
                ctx = browser.new_context(
                    java_script_enabled=False,
                    offline=True,
                    viewport=VIEWPORT,
                    device_scale_factor=1,
                    service_workers="block",
                    accept_downloads=False,
                    color_scheme="light",
                    reduced_motion="reduce",
                    locale="en-US",
                    timezone_id="UTC",
                )
                ctx.set_default_timeout(remaining_ms())
                ctx.route("**/*", _abort_route)
                page = ctx.new_page()
                self._pages += 1
                page.on("crash", lambda _p: crashed.append(True))
                page.set_content(page_html, wait_until="load", timeout=remaining_ms())
                # Playwright's screenshot() re-encodes slowly; CDP with optimizeForSpeed gives the same pixels
                # (checked) in about half the time. These CDP calls have no timeout of their own: the watchdog
                # bounds them.
                cdp = ctx.new_cdp_session(page)
                size = cdp.send("Page.getLayoutMetrics")["cssContentSize"]
                clip = {
                    "x": 0, "y": 0, "scale": 1,
                    "width": max(1, min(MAX_CAPTURE[0], math.ceil(size["width"]))),
                    "height": max(1, min(MAX_CAPTURE[1], math.ceil(size["height"]))),
                }
                shot = cdp.send("Page.captureScreenshot", {
                    "format": "png", "optimizeForSpeed": True, "captureBeyondViewport": True,
                    "fromSurface": True, "clip": clip,
                })
                return base64.b64decode(shot["data"])
            finally:
                if ctx is not None and not self._killed:
                    # closing a context whose renderer is stuck must not wedge us either
                    self._arm(time.monotonic() + KILL_GRACE_S)
                    try:
                        ctx.close()
                    except Exception:
                        pass
        except PWTimeout as e:
            if self._disarm():
                raise _Killed() from None
            raise TimeoutError(_first_line(e)) from None
        except PWError as e:
            killed = self._disarm()
            if killed:
                raise _Killed() from None
            if crashed:
                raise _PageCrashed() from None
            if not browser.is_connected():
                raise _BrowserGone(_first_line(e)) from None
            raise
        finally:
            # (if the watchdog fired during ctx.close() after a good capture, the next job sees a dead browser and
            # relaunches it)
            self._disarm()


def _read_pid(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _finish(batch: _Batch, idx: int, res: RenderResult, t_submit: float, t0: float) -> None:
    t1 = time.monotonic()
    res.queue_ms = (t0 - t_submit) * 1000.0
    res.exec_ms = (t1 - t0) * 1000.0
    res.total_ms = (t1 - t_submit) * 1000.0
    batch.put(idx, res)


def _postprocess_job(batch: _Batch, idx: int, job: RenderJob, raw: bytes, t_submit: float, t0: float) -> None:
    res = RenderResult(id=job.id, task=job.task, status=Status.ERROR)
    try:
        status, png, msg = postprocess(raw, job.options.max_side)
        res.status, res.message = status, msg
        if status == Status.OK:
            res.png = png
            res.width, res.height = _png_size(png)
            res.sha256 = hashlib.sha256(png).hexdigest()
    except Exception as e:
        res.status, res.message = Status.ERROR, f"screenshot unreadable: {_first_line(e)}"
    except BaseException as e:  # never leave a batch waiting
        res.status, res.message = Status.INFRA_ERROR, f"post-processing failed: {_first_line(e)}"
        _finish(batch, idx, res, t_submit, t0)
        raise
    _finish(batch, idx, res, t_submit, t0)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def _png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def postprocess(raw: bytes, max_side: int) -> tuple[Status, bytes | None, str]:
    """Screenshot → (status, PNG, message): crop to non-white content + CROP_PAD, thumbnail ≤ max_side."""
    from PIL import Image, ImageChops

    with Image.open(io.BytesIO(raw)) as im:
        im.load()
        img = im.convert("RGB")
    white = Image.new("RGB", img.size, (255, 255, 255))
    bbox = ImageChops.difference(img, white).getbbox()
    if bbox is None:
        return Status.BLANK, None, "nothing rendered (all white)"
    left, top, right, bottom = bbox
    img = img.crop((max(0, left - CROP_PAD), max(0, top - CROP_PAD),
                    min(img.width, right + CROP_PAD), min(img.height, bottom + CROP_PAD)))
    if all(lo == hi for lo, hi in img.getextrema()):
        return Status.BLANK, None, "rendered a single flat colour"
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False, compress_level=6)
    return Status.OK, out.getvalue(), ""


class TableRenderer:
    """Render table jobs in long-lived headless Chromium browsers, one per worker thread.

    Use as a context manager::

        with TableRenderer(workers=2) as r:
            results = r.render_many(jobs)   # in submission order

    ``containment``: ``"auto"`` (bubblewrap when it works here, else none), ``"bwrap"`` (required) or ``"none"``.
    """

    def __init__(self, workers: int = 1, pages_per_browser: int = 200, timeout_s: float = 15.0,
                 containment: str = "auto", eager: bool = True):
        if workers < 1 or pages_per_browser < 1 or timeout_s <= 0:
            raise ValueError("workers and pages_per_browser must be >= 1, timeout_s > 0")
        if containment not in ("auto", "bwrap", "none"):
            raise ValueError("containment must be 'auto', 'bwrap' or 'none'")
        self.workers = workers
        self.pages_per_browser = pages_per_browser
        self.timeout_s = float(timeout_s)
        self._requested_containment = containment
        self._eager = eager
        self.containment: str | None = None  # what is actually in force once started
        self.extractor = extractor_name()
        self._queue: queue.Queue = queue.Queue()
        self._post: ThreadPoolExecutor | None = None
        self._workers: list[_Worker] = []
        self._tmpdir: str | None = None
        self._wrapper: str | None = None
        self._started = False
        self._closed = False

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> TableRenderer:
        if self._started:
            return self
        if self._requested_containment == "none":
            contained = False
        else:
            contained = bwrap_available()
            if not contained and self._requested_containment == "bwrap":
                raise RuntimeError("bubblewrap containment requested but bwrap cannot run Chromium here")
        self.containment = "bwrap" if contained else "none"
        self._tmpdir = tempfile.mkdtemp(prefix="verm-table-")
        self._wrapper = _write_wrapper(self._tmpdir, contained)
        self._post = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="table-post")
        self._workers = [_Worker(self, i) for i in range(self.workers)]
        for w in self._workers:
            w.start()
        for w in self._workers:
            w.ready.wait(LAUNCH_TIMEOUT_S + 30)
        self._started = True
        # a renderer used without ``with``/close() still takes its browsers down when the interpreter exits
        ref = weakref.ref(self)
        atexit.register(lambda: (r := ref()) is not None and r.close())
        return self

    def close(self) -> None:
        if not self._started or self._closed:
            return
        self._closed = True
        for _ in self._workers:
            self._queue.put(None)
        for w in self._workers:
            w.join(timeout=60)
            if w.is_alive():  # should not happen: make sure its browser at least is dead
                w._kill_browser_process()
        if self._post is not None:
            self._post.shutdown(wait=True)
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> TableRenderer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- rendering ----------------------------------------------------------------------------------------------

    @property
    def restarts(self) -> int:
        return sum(w.restarts for w in self._workers)

    def browser_pids(self) -> list[int]:
        """Process-group leaders of the browsers running now (the wrapper/bwrap process), for monitoring."""
        return [w._browser_pid for w in self._workers if w._browser_pid]

    def launched_browsers(self) -> list[tuple[int, int | None]]:
        """(pid, /proc start time) of every browser launched so far, restarts included."""
        return [x for w in self._workers for x in w.launched]

    def render_many(self, jobs: list[RenderJob]) -> list[RenderResult]:
        if not self._started:
            self.start()
        if self._closed:
            raise RuntimeError("TableRenderer is closed")
        batch = _Batch(results=[None] * len(jobs), remaining=len(jobs))
        t = time.monotonic()
        for i, job in enumerate(jobs):
            self._queue.put((i, job, t, batch))
        with batch.cond:
            while batch.remaining > 0:
                batch.cond.wait(1.0)
                if batch.remaining > 0 and not any(w.is_alive() for w in self._workers):
                    for i, job in enumerate(jobs):
                        if batch.results[i] is None:
                            batch.results[i] = RenderResult(id=job.id, task=job.task, status=Status.INFRA_ERROR,
                                                            message="no render worker alive")
                    batch.remaining = 0
        return list(batch.results)

    def render(self, job: RenderJob) -> RenderResult:
        return self.render_many([job])[0]


def render_fresh_browser(job: RenderJob, *, timeout_s: float = 15.0, containment: str = "auto") -> RenderResult:
    """The naive baseline: start Playwright and one Chromium for this render alone, then shut both down."""
    with TableRenderer(workers=1, pages_per_browser=1, timeout_s=timeout_s, containment=containment) as r:
        return r.render(job)
