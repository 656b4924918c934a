"""The warm render worker: imports the plotting stack once, then forks a fresh, confined child per job.

Runs inside bubblewrap (see :mod:`visual_erm.render.sandbox`). It talks to the pool over its stdin/stdout with
length-prefixed frames: the pool sends one JSON request, the zygote answers one JSON header followed by
``header["png_len"]`` bytes of PNG. Everything a job does happens in a forked child that has dropped to an
unprivileged uid, installed rlimits and a seccomp filter, and chdir'ed into a private scratch directory; the
zygote itself never runs job code and never decodes job output (a second confined child does that).
"""

from __future__ import annotations

import gc
import io
import json
import os
import select
import signal
import struct
import sys
import time

from visual_erm.render import sandbox as sb

_HDR = struct.Struct(">I")
MAX_REQUEST = 64 << 20
OUTPUT_NAME = "out.png"
SCRATCH_ROOT_SANDBOX = "/tmp/s"


# --------------------------------------------------------------------------------------------------- framing
def read_exact(fd: int, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def send_frame(fd: int, header: dict, payload: bytes = b"") -> None:
    blob = json.dumps(header).encode()
    write_all(fd, _HDR.pack(len(blob)) + blob + payload)


def recv_frame(fd: int) -> dict:
    (n,) = _HDR.unpack(read_exact(fd, 4))
    if n > MAX_REQUEST:
        raise ValueError("request too large")
    return json.loads(read_exact(fd, n))


# --------------------------------------------------------------------------------------------------- zygote
class Zygote:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.sandboxed: bool = cfg["sandboxed"]
        self.switch_uid: bool = cfg["switch_uid"]
        self.uid_base: int = cfg.get("uid_base", 0)
        self.uid_count: int = max(1, cfg.get("uid_count", 1))
        self.limits = sb.Limits(**cfg.get("limits", {}))
        self.scratch_root: str = cfg.get("scratch_root") or SCRATCH_ROOT_SANDBOX
        self.labels: dict = cfg.get("path_labels", {})
        self.seq = 0
        self.seccomp_template: bytes | None = None
        self.base_vsz = 0
        self.versions: dict = {}
        self.checker: dict | None = None
        # jobs rotate over uid_base .. uid_base+uid_count-2; the output checker has the block's last uid
        self.checker_uid: int | None = self.uid_base + self.uid_count - 1 if self.switch_uid else None

    # -- start-up -------------------------------------------------------------------------------------------
    def prepare_dirs(self) -> None:
        for var in ("HOME", "XDG_CACHE_HOME", "MPLCONFIGDIR"):
            os.makedirs(os.environ[var], exist_ok=True)
        os.makedirs(self.scratch_root, mode=0o711, exist_ok=True)
        os.chmod(self.scratch_root, 0o711)
        src = "/opt/mplcache"
        if self.sandboxed and os.path.isdir(src):
            import shutil

            for name in os.listdir(src):
                if name.startswith("fontlist") and name.endswith(".json"):
                    shutil.copyfile(os.path.join(src, name), os.path.join(os.environ["MPLCONFIGDIR"], name))

    def warm_up(self) -> None:
        """Import the plotting stack and exercise it once so children start warm and identical."""
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
        import numpy as np
        import PIL.Image  # noqa: F401  (decoding outputs)

        from visual_erm.render import blank, execute  # noqa: F401

        optional = {}
        try:  # chart jobs with inspect=True describe the figure with it
            import visual_erm.render.inspect  # noqa: F401
        except Exception:  # noqa: BLE001
            pass
        for name in ("seaborn", "networkx", "squarify", "matplotlib_venn", "cairosvg", "pandas", "scipy"):
            try:
                mod = __import__(name)
                optional[name] = getattr(mod, "__version__", "?")
            except Exception:  # optional: a job importing it will pay the import or fail on its own
                optional[name] = None
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot(np.arange(5), np.arange(5) ** 2, label="warm $x^2$")
        ax.bar([1, 2], [3, 1])
        ax.legend()
        ax.set_title("warm-up")
        fig.tight_layout()
        fig.savefig(io.BytesIO(), format="png")
        plt.close("all")
        if optional.get("cairosvg"):
            execute.render_svg('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" '
                               'height="4" fill="red"/><text x="0" y="3">a</text></svg>', width=8, height=8)
        execute.reset_matplotlib()
        self.versions = {"python": sys.version.split()[0], "matplotlib": matplotlib.__version__,
                         "numpy": np.__version__, **{k: v for k, v in optional.items() if v}}

    def self_test(self) -> str | None:
        """Fork a confined child and check that it really cannot fork or open an inet socket."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                self._confine(uid=self._uid_for(0), cpu_s=5, as_bytes=None)
                problems = []
                try:
                    p = os.fork()
                    if p == 0:
                        os._exit(0)
                    problems.append("fork allowed")
                except OSError:
                    pass
                import socket

                try:
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    problems.append("inet socket allowed")
                except OSError:
                    pass
                if self.switch_uid and os.getuid() == 0:
                    problems.append("uid switch failed")
                os.write(w, "; ".join(problems).encode() or b"ok")
            except BaseException as exc:  # noqa: BLE001
                os.write(w, f"self-test crashed: {type(exc).__name__}: {exc}".encode()[:500])
            os._exit(0)
        os.close(w)
        msg = b""
        while chunk := os.read(r, 4096):
            msg += chunk
        os.close(r)
        os.waitpid(pid, 0)
        self._kill_uid(self._uid_for(0))
        text = msg.decode(errors="replace")
        return None if text == "ok" else (text or "self-test child died")

    # -- per-job confinement ----------------------------------------------------------------------------------
    def _uid_for(self, seq: int) -> int | None:
        return self.uid_base + (seq % max(1, self.uid_count - 1)) if self.switch_uid else None

    def _confine(self, *, uid: int | None, cpu_s: int, as_bytes: int | None) -> None:
        """In a freshly forked child: rlimits, drop to ``uid``, then seccomp (when sandboxed)."""
        sb.apply_rlimits(cpu_s=cpu_s, as_bytes=as_bytes, limits=self.limits, nproc=uid is not None or os.getuid() != 0)
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if self.sandboxed:
            sb.load_seccomp(sb.patch_pid(self.seccomp_template, os.getpid()))

    def _kill_uid(self, uid: int | None) -> int:
        """SIGKILL every process of ``uid`` visible here (the sandbox's own pid namespace). Returns how many."""
        if uid is None:
            return 0
        killed = 0
        for _ in range(3):
            found = False
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/status", "rb") as fh:
                        for line in fh:
                            if line.startswith(b"Uid:"):
                                if int(line.split()[1]) == uid:
                                    os.kill(int(entry), signal.SIGKILL)
                                    found = True
                                    killed += 1
                                break
                except (OSError, ValueError):
                    continue
            if not found:
                break
            time.sleep(0.005)
        return killed

    def _fork_child(self, *, uid, scratch, cpu_s, as_bytes, target, out_w, res_w) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:
            os.setsid()
            devnull = os.open("/dev/null", os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.dup2(res_w, 3)
            os.closerange(4, 1 << 16)
            os.chdir(scratch)
            os.umask(0o077)
            os.environ["TMPDIR"] = scratch
            import tempfile

            tempfile.tempdir = scratch
            self._confine(uid=uid, cpu_s=cpu_s, as_bytes=as_bytes)
            code = target()
        except BaseException:  # noqa: BLE001  (report anything, then leave without running zygote code)
            try:
                import traceback

                traceback.print_exc()
            except BaseException:  # noqa: BLE001
                pass
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except BaseException:  # noqa: BLE001
                pass
            os._exit(code if isinstance(code, int) else 1)

    def _supervise(self, pid: int, uid, deadline: float, out_r: int, res_r: int) -> tuple[int, bool, bytes, bytes]:
        status, timed_out, tail, res, _cpu = self._supervise_cpu(pid, uid, deadline, out_r, res_r)
        return status, timed_out, tail, res

    def _supervise_cpu(self, pid, uid, deadline, out_r, res_r):
        """Wait for the child until ``deadline``; keep the output's tail and the (capped) result message."""
        pidfd = os.pidfd_open(pid)
        tail = bytearray()
        res = bytearray()
        timed_out = False
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        open_fds = {out_r, res_r}
        for fd in open_fds:
            poller.register(fd, select.POLLIN)
        keep = self.limits.stderr_tail_chars * 4
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            events = poller.poll(remaining * 1000)
            done = False
            for fd, _ev in events:
                if fd == pidfd:
                    done = True
                elif fd in open_fds:
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        poller.unregister(fd)
                        open_fds.discard(fd)
                    elif fd == out_r:
                        tail += chunk
                        if len(tail) > keep:
                            del tail[: len(tail) - keep]
                    elif len(res) < (4 << 20):
                        res += chunk
            if done:
                break
        if timed_out:
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        _, status, rusage = os.wait4(pid, 0)
        cpu_s = rusage.ru_utime + rusage.ru_stime
        os.close(pidfd)
        self._kill_uid(uid)  # nothing should be left (no fork), but a leftover of this uid dies here
        for fd in list(open_fds):  # drain what the child wrote just before exiting
            os.set_blocking(fd, False)
            for _ in range(64):
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                if fd == out_r:
                    tail += chunk
                    if len(tail) > keep:
                        del tail[: len(tail) - keep]
                elif len(res) < (4 << 20):
                    res += chunk
        return status, timed_out, bytes(tail), bytes(res), cpu_s

    # -- jobs ------------------------------------------------------------------------------------------------
    def run_job(self, req: dict) -> tuple[dict, bytes]:
        self.seq += 1
        uid = self._uid_for(self.seq)
        scratch = os.path.join(self.scratch_root, f"j{self.seq}")
        os.mkdir(scratch, 0o700)
        if uid is not None:
            os.chown(scratch, uid, uid)
        dir_fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        timeout = float(req.get("timeout_s", 15.0))
        as_bytes = self.base_vsz + (self.limits.memory_mb << 20)
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        t0 = time.monotonic()
        try:
            pid = self._fork_child(uid=uid, scratch=scratch, cpu_s=int(timeout) + 2, as_bytes=as_bytes,
                                   target=lambda: _job_main(req, self.limits), out_w=out_w, res_w=res_w)
            os.close(out_w)
            os.close(res_w)
            status, timed_out, tail, res, cpu_s = self._supervise_cpu(pid, uid, t0 + timeout, out_r, res_r)
            exec_ms = (time.monotonic() - t0) * 1000
            header = self._classify(status, timed_out, tail, res, timeout)
            png = b""
            if header["status"] == "ok":
                try:
                    png = sb.safe_read_output(dir_fd, OUTPUT_NAME, self.limits.max_output_bytes)
                    w, h = sb.png_dimensions(png)
                    if w < 1 or h < 1 or w > self.limits.max_side_px or h > self.limits.max_side_px \
                            or w * h > self.limits.max_pixels:
                        raise sb.OutputRejected(f"image dimensions {w}x{h} exceed the caps")
                    t_check = time.monotonic()
                    header.update(self._check_png(png, uid, scratch))
                    header["check_ms"] = (time.monotonic() - t_check) * 1000
                except sb.OutputRejected as exc:
                    header.update(status="error", message=str(exc))
                if header["status"] not in ("ok", "blank"):
                    png = b""
            header["exec_ms"] = exec_ms
            header["cpu_ms"] = cpu_s * 1000
            header["stderr_tail"] = sb.scrub(tail.decode("utf-8", "replace"), self._labels(scratch),
                                             self.limits.stderr_tail_chars)
            header["message"] = sb.scrub(header.get("message", "")[:1000], self._labels(scratch), 1000)[:500]
            header["png_len"] = len(png)
            header["zygote_ms"] = (time.monotonic() - t0) * 1000
            return header, png
        finally:
            for fd in (out_r, res_r, dir_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._kill_uid(uid)
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)

    def _labels(self, scratch: str) -> dict:
        return {**self.labels, scratch: "<scratch>"}

    def _classify(self, status: int, timed_out: bool, tail: bytes, res: bytes, timeout: float) -> dict:
        msg: dict = {}
        if res:
            try:
                msg = json.loads(res.decode("utf-8", "replace").strip().splitlines()[-1])
                if not isinstance(msg, dict):
                    msg = {}
            except (ValueError, IndexError):
                msg = {}
        message = str(msg.get("message", ""))[:2000]
        if timed_out:
            return {"status": "timeout", "message": f"killed after the {timeout:g} s wall-clock deadline"}
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            if sig == signal.SIGXCPU:
                return {"status": "timeout", "message": "CPU time limit exceeded"}
            if sig == signal.SIGKILL:
                return {"status": "memory", "message": "killed by SIGKILL (out of memory?)"}
            return {"status": "crash", "message": f"killed by signal {name}"}
        code = os.WEXITSTATUS(status)
        if code == 0 and msg.get("status") == "ok":
            out = {"status": "ok", "message": ""}
            if isinstance(msg.get("figure"), dict):
                out["figure"] = msg["figure"]
            return out
        kind = msg.get("status") if msg.get("status") in ("memory", "error", "rejected") else "error"
        if not message:
            lines = [ln for ln in tail.decode("utf-8", "replace").splitlines() if ln.strip()]
            message = lines[-1].strip() if lines else f"exited with status {code}"
            if "MemoryError" in message:
                kind = "memory"
        return {"status": kind, "message": message}

    # -- output checker ---------------------------------------------------------------------------------------
    #: A checker is replaced after this many images (bounds the damage of a decoder exploit, and its CPU rlimit).
    CHECKER_MAX_JOBS = 500

    def _start_checker(self) -> None:
        """Fork the long-lived, confined process that decodes job outputs (own uid, rlimits, seccomp).

        Decoding untrusted PNGs never happens in the zygote, and a per-job decoder fork would cost ~10 ms a job.
        """
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                os.dup2(to_r, 0)
                os.dup2(from_w, 1)
                os.closerange(3, 1 << 16)
                os.chdir("/")
                self._confine(uid=self.checker_uid, cpu_s=3600,
                              as_bytes=self.base_vsz + (self.limits.memory_mb << 20))
                _checker_loop(0, 1, self.limits.max_pixels)
            except BaseException:  # noqa: BLE001
                pass
            os._exit(0)
        os.close(to_r)
        os.close(from_w)
        self.checker = {"pid": pid, "w": to_w, "r": from_r, "jobs": 0}

    def _stop_checker(self) -> None:
        c, self.checker = self.checker, None
        if not c:
            return
        for fd in (c["w"], c["r"]):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.kill(c["pid"], signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(c["pid"], 0)
        except ChildProcessError:
            pass

    def _check_png(self, png: bytes, uid, scratch: str) -> dict:
        """Have the checker decode the PNG: PIL must load it; a flat image is ``blank``."""
        if self.checker is None or self.checker["jobs"] >= self.CHECKER_MAX_JOBS:
            self._stop_checker()
            self._start_checker()
        c = self.checker
        c["jobs"] += 1
        try:
            write_all(c["w"], _HDR.pack(len(png)) + png)
            deadline = time.monotonic() + 10
            buf = b""
            while not buf.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([c["r"]], [], [], remaining)[0]:
                    raise TimeoutError("the output check timed out")
                chunk = os.read(c["r"], 4096)
                if not chunk:
                    raise EOFError("the output checker died")
                buf += chunk
                if len(buf) > 4096:
                    raise ValueError("oversized checker reply")
            info = json.loads(buf)
        except (OSError, EOFError, TimeoutError, ValueError) as exc:
            self._stop_checker()  # never reuse a checker after a failure
            return {"status": "error", "message": f"output is not a decodable PNG ({exc})"}
        if "error" in info:
            return {"status": "error", "message": f"output is not a decodable PNG: {str(info['error'])[:200]}"}
        w, h, blank = int(info["w"]), int(info["h"]), bool(info["blank"])
        if blank:
            return {"status": "blank", "message": "the image is a single flat colour", "width": w, "height": h}
        return {"width": w, "height": h}

    # -- main loop -------------------------------------------------------------------------------------------
    def serve(self, fd_in: int, fd_out: int) -> None:
        while True:
            try:
                req = recv_frame(fd_in)
            except EOFError:
                return
            if req.get("op") == "ping":
                send_frame(fd_out, {"pong": True, "seq": self.seq})
                continue
            try:
                header, png = self.run_job(req)
            except Exception as exc:  # noqa: BLE001  (the zygote's own failure: report, keep serving)
                header, png = {"status": "infra_error", "message": f"zygote: {type(exc).__name__}: {exc}"[:500],
                               "png_len": 0}, b""
            send_frame(fd_out, header, png)


def _checker_loop(fd_in: int, fd_out: int, max_pixels: int) -> None:
    """Runs confined: read length-prefixed PNGs, answer one JSON line each (size, blank) or an error."""
    from PIL import Image

    from visual_erm.render.blank import is_blank

    Image.MAX_IMAGE_PIXELS = max_pixels
    while True:
        try:
            (n,) = _HDR.unpack(read_exact(fd_in, 4))
            data = read_exact(fd_in, n)
        except EOFError:
            return
        try:
            with Image.open(io.BytesIO(data)) as im:
                if im.format != "PNG":
                    raise ValueError(f"format {im.format}")
                im.load()
                w, h = im.size
                reply = {"w": w, "h": h, "blank": is_blank(im)}
        except Exception as exc:  # noqa: BLE001  (Image.DecompressionBombError, truncated data, ...)
            reply = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        write_all(fd_out, (json.dumps(reply) + "\n").encode())


def _job_main(req: dict, limits: sb.Limits) -> int:
    """Runs in the confined child: seed, render, report on fd 3. The output file is checked by the zygote."""
    from visual_erm.render import execute

    execute.seed_everything(0)
    result: dict = {"status": "ok"}
    try:
        if req["kind"] in ("svg", "svg-b64"):
            import base64

            svg = base64.b64decode(req["svg"]) if req["kind"] == "svg-b64" else req["svg"]
            png = execute.render_svg(svg, width=int(req.get("width", 336)), height=int(req.get("height", 336)),
                                     max_bytes=limits.svg_max_bytes)
            with open(OUTPUT_NAME, "wb") as fh:
                fh.write(png)
        else:
            out = execute.exec_chart(req["program"], dpi=int(req.get("dpi", 100)), inspect=bool(req.get("inspect")),
                                     output_path=OUTPUT_NAME)
            if out.figure is not None:
                result["figure"] = out.figure
    except MemoryError:
        result = {"status": "memory", "message": "MemoryError: the program exceeded its memory limit"}
    except SystemExit as exc:
        result = {"status": "error", "message": f"the program called exit({exc.code!r}) before saving"}
    except BaseException as exc:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        name = type(exc).__name__
        status = "rejected" if name == "SvgTooLarge" else ("memory" if "MemoryError" in name else "error")
        result = {"status": status, "message": f"{name}: {exc}"[:1000]}
    try:
        blob = json.dumps(result, default=str)
    except (TypeError, ValueError):
        blob = json.dumps({"status": result["status"], "message": result.get("message", "")})
    try:
        sys.stdout.flush()
    except BaseException:  # noqa: BLE001
        pass
    write_all(3, ("\n" + blob + "\n").encode())
    return 0 if result["status"] == "ok" else 1


def main(argv: list[str]) -> None:
    cfg = json.loads(argv[0])
    fd_in, fd_out = os.dup(0), os.dup(1)
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    zy = Zygote(cfg)
    try:
        zy.prepare_dirs()
        zy.warm_up()
        if zy.sandboxed:
            zy.seccomp_template = sb.compile_seccomp_template()
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    zy.base_vsz = int(line.split()[1]) * 1024
        problem = zy.self_test() if zy.sandboxed else None
    except Exception as exc:  # noqa: BLE001
        send_frame(fd_out, {"hello": False, "error": f"{type(exc).__name__}: {exc}"[:1000]})
        return
    if problem:
        send_frame(fd_out, {"hello": False, "error": f"sandbox self-test failed: {problem}"})
        return
    gc.collect()
    gc.freeze()  # children inherit a frozen heap: fewer copy-on-write faults from the collector
    send_frame(fd_out, {"hello": True, "versions": zy.versions, "uid_base": zy.uid_base,
                        "uid_count": max(1, zy.uid_count - 1), "checker_uid": zy.checker_uid,
                        "switch_uid": zy.switch_uid, "sandboxed": zy.sandboxed, "base_vsz": zy.base_vsz})
    zy.serve(fd_in, fd_out)
