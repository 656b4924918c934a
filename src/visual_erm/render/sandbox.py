"""Isolation primitives for render workers: the bubblewrap command, the seccomp filter, rlimits, safe output reads.

Threat model: a job is an arbitrary Python program (or SVG document) written by a policy being trained. It may loop,
allocate, fork, flood, read files, connect out, signal or inspect its parents, or leave a trap for the trusted code
that reads its output. The layers, outermost first:

1. **bubblewrap** (started by the pool, one per worker): new pid/net/ipc/uts/cgroup namespaces, a read-only view of
   only ``/usr``, the Python installation, the venv and this package's source; no ``/root`` or home (except the
   read-only Python prefix when it lives there), no host ``/tmp``, a fresh ``/proc`` that shows only the sandbox's
   processes, a size-capped tmpfs ``/tmp``, a cleared environment, a new session (no TIOCSTI), killed with its parent.
   When the pool runs as root, bwrap runs without a user namespace and keeps only the capabilities the zygote needs
   to drop privileges for each job (SETUID, SETGID, CHOWN, DAC_OVERRIDE, FOWNER, KILL).
2. **A per-job unprivileged uid** (root pools): every forked job child calls ``setgroups([])``/``setresgid``/
   ``setresuid`` to a uid of its own from the worker's block. The kernel then refuses it signals to, ptrace of and
   ``/proc/<pid>/environ`` of the zygote (root) and everything else, and ``RLIMIT_NPROC`` is enforced (it is not
   for root). Leftover processes of that uid are killed by uid after each job.
3. **rlimits** per job: CPU, address space, file size, open files, processes/threads, no core dumps.
4. **seccomp** (libseccomp via pyseccomp, compiled once per worker to BPF, the child's pid patched in per job): no
   new processes (``fork``/``vfork``/``clone`` without ``CLONE_THREAD``; ``clone3`` answers ENOSYS so glibc falls back
   to ``clone``), no ``execve``, sockets of the AF_UNIX family only, no ptrace/process_vm_*/pidfd_getfd, signals only
   to itself, no mount/namespace/keyring/bpf/perf/io_uring/module syscalls.  **Threads are allowed** (numpy, BLAS
   and a few plotting libraries may start them); BLAS/OpenMP pools are pinned to one thread through the
   environment and a thread flood stops at ``RLIMIT_NPROC``.
5. **The trusted side** reads the output with ``O_NOFOLLOW|O_NONBLOCK`` relative to the scratch directory's fd,
   requires a regular file, caps the size, checks the PNG magic and the IHDR dimensions, and decodes pixels only in
   another unprivileged, seccomp-confined child.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import stat
import struct
import sys
from dataclasses import dataclass, field

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: Placeholder for the child's pid in the precompiled seccomp program (patched per job).
_PID_MAGIC = 0x7EADBEEF

CLONE_THREAD = 0x00010000
AF_UNIX = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

#: Syscalls no chart program needs; they answer EPERM.
_DENIED_SYSCALLS = (
    "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    "pidfd_send_signal", "tkill", "kcmp", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "move_mount", "open_tree", "fsopen", "fsmount", "fspick", "mount_setattr", "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "syslog", "acct", "quotactl", "open_by_handle_at", "name_to_handle_at", "personality", "setpriority",
    "ioprio_set", "sched_setattr", "lookup_dcookie", "fanotify_init", "iopl", "ioperm", "uselib",
)
#: Signal-sending syscalls whose first argument is the target pid: allowed only for the job itself.
_SELF_ONLY_SIGNALS = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up here (missing bwrap, seccomp, ...). The pool fails closed on it."""


class OutputRejected(Exception):
    """The job's output file is not a plain, bounded, PNG regular file."""


# --------------------------------------------------------------------------------------------------- seccomp
def compile_seccomp_template() -> bytes:
    """Compile the job filter once to classic BPF, with a placeholder where the job's own pid goes."""
    import pyseccomp as sc  # libseccomp2 via ctypes; imported lazily so the host side does not need it loaded

    flt = sc.SyscallFilter(sc.ALLOW)
    eperm = sc.ERRNO(errno.EPERM)
    for name in _DENIED_SYSCALLS:
        try:
            flt.add_rule(eperm, name)
        except Exception:  # the syscall does not exist on this architecture
            continue
    flt.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    try:
        flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    except Exception:
        pass
    flt.add_rule(sc.ERRNO(errno.EACCES), "socket", sc.Arg(0, sc.NE, AF_UNIX))
    flt.add_rule(sc.ERRNO(errno.EACCES), "socketpair", sc.Arg(0, sc.NE, AF_UNIX))
    for name in _SELF_ONLY_SIGNALS:
        flt.add_rule(eperm, name, sc.Arg(0, sc.NE, _PID_MAGIC))
    import tempfile

    with tempfile.TemporaryFile() as fh:
        flt.export_bpf(fh)
        fh.seek(0)
        prog = fh.read()
    if not prog or len(prog) % 8:
        raise SandboxUnavailable("libseccomp produced no BPF program")
    return prog


def patch_pid(template: bytes, pid: int) -> bytes:
    """Replace the pid placeholder in the BPF program's JEQ immediates."""
    out = bytearray(template)
    hits = 0
    for off in range(0, len(out), 8):
        code, jt, jf, k = struct.unpack_from("=HBBI", out, off)
        if k == _PID_MAGIC:
            struct.pack_into("=HBBI", out, off, code, jt, jf, pid)
            hits += 1
    if hits == 0:
        raise SandboxUnavailable("seccomp template has no pid placeholder")
    return bytes(out)


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


_libc = None


def _prctl():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc.prctl


def load_seccomp(prog: bytes) -> None:
    """Install a BPF filter on the calling (single-threaded) process; sets no_new_privs first."""
    prctl = _prctl()
    if prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
    n = len(prog) // 8
    buf = (_SockFilter * n).from_buffer_copy(prog)
    fprog = _SockFprog(n, ctypes.cast(buf, ctypes.POINTER(_SockFilter)))
    if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP failed")


# --------------------------------------------------------------------------------------------------- limits
@dataclass(frozen=True)
class Limits:
    """Per-job resource caps (the wall-clock deadline comes from the job's options)."""

    memory_mb: int = 2048  # address space above the zygote's own mappings
    max_output_bytes: int = 32 << 20
    max_file_bytes: int = 64 << 20  # RLIMIT_FSIZE: any single file the job writes
    max_open_files: int = 64
    max_threads: int = 32  # RLIMIT_NPROC for the job uid (threads count)
    max_side_px: int = 16384
    max_pixels: int = 64_000_000
    scratch_mb: int = 256  # the worker's tmpfs
    svg_max_bytes: int = 8 << 20  # raw and decompressed svg(z)
    stderr_tail_chars: int = 2000

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def apply_rlimits(*, cpu_s: int, as_bytes: int | None, limits: Limits, nproc: bool) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    if as_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_threads, limits.max_threads))


# --------------------------------------------------------------------------------------------------- output
def safe_read_output(dir_fd: int, name: str, max_bytes: int) -> bytes:
    """Read a job's output file without following links, blocking on FIFOs or reading unbounded data."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0),
                     dir_fd=dir_fd)
    except FileNotFoundError:
        raise OutputRejected("the program produced no image") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputRejected("output is a symbolic link") from None
        raise OutputRejected(f"cannot open output ({errno.errorcode.get(exc.errno, exc.errno)})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OutputRejected("output is not a regular file")
        if st.st_size > max_bytes:
            raise OutputRejected(f"output exceeds {max_bytes} bytes")
        if st.st_nlink != 1:
            raise OutputRejected("output has extra hard links")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise OutputRejected(f"output exceeds {max_bytes} bytes")
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if not data.startswith(PNG_MAGIC):
        raise OutputRejected("output is not a PNG")
    return data


def png_dimensions(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk (no decoding)."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise OutputRejected("PNG has no IHDR chunk")
    return struct.unpack(">II", data[16:24])


# --------------------------------------------------------------------------------------------------- scrubbing
_SECRETISH = re.compile(
    r"(?i)\b([A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|CREDENTIAL)[A-Z0-9_]*)\s*[=:]\s*\S+"
)
_BEARER = re.compile(r"(?i)(bearer|authorization:)\s+\S+")


def scrub(text: str, replacements: dict[str, str] | None = None, limit: int = 2000) -> str:
    """Short tail of ``text`` with host paths replaced and secret-looking assignments redacted."""
    text = text[-(limit * 4):]
    for path, label in sorted((replacements or {}).items(), key=lambda kv: -len(kv[0])):
        if path:
            text = text.replace(path, label)
    text = _SECRETISH.sub(lambda m: f"{m.group(1)}=<redacted>", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} <redacted>", text)
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in text)
    return text[-limit:]


# --------------------------------------------------------------------------------------------------- bwrap
@dataclass
class SandboxPlan:
    """How one worker is launched: the argv and what the zygote is told about its own environment."""

    argv: list[str]
    env: dict[str, str]
    sandboxed: bool
    switch_uid: bool
    path_labels: dict[str, str] = field(default_factory=dict)


ZYGOTE_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "MPLBACKEND": "Agg",
    "HOME": "/tmp/home",
    "XDG_CACHE_HOME": "/tmp/cache",
    "MPLCONFIGDIR": "/tmp/mpl",
    "TMPDIR": "/tmp",
}

_ZYGOTE_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL")


def _python_roots() -> list[str]:
    """Directories the interpreter needs: the venv and the base installation it points to."""
    roots = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), os.path.realpath(sys.exec_prefix)}
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    return sorted(r for r in roots if r and r != "/" and not r.startswith("/usr"))


def package_root() -> str:
    """The directory that holds the ``visual_erm`` package (the source tree in an editable install)."""
    import visual_erm

    return os.path.dirname(os.path.dirname(os.path.abspath(visual_erm.__file__)))


def bwrap_plan(*, mpl_cache: str | None, scratch_mb: int, zygote_args: list[str]) -> SandboxPlan:
    """The bubblewrap argv for one worker; raises :class:`SandboxUnavailable` if bwrap is missing."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (`bwrap`) is not installed: apt-get install bubblewrap")
    as_root = os.geteuid() == 0
    argv = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "render", "--clearenv"]
    if not as_root:
        argv += ["--unshare-user"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "sbin", "lib", "lib64", "lib32"):
        target = os.path.join("/", link)
        if os.path.islink(target):
            argv += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            argv += ["--ro-bind", target, target]
    for etc in ("/etc/fonts", "/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives", "/etc/ssl/openssl.cnf"):
        if os.path.exists(etc):
            argv += ["--ro-bind", etc, etc]
    # The scratch tmpfs goes on before the binds: a checkout or venv under /tmp (CI clones, pytest tmp dirs) is
    # bound on top of it instead of being hidden by it.
    argv += ["--size", str(scratch_mb << 20), "--tmpfs", "/tmp"]
    labels: dict[str, str] = {}
    made: set[str] = {"/", "/usr", "/tmp", "/proc", "/dev"}

    def bind(path: str, dest: str) -> None:
        # bwrap (as root) creates missing parents 0700, which the job uid cannot traverse: make them 0755 first.
        parents = []
        parent = os.path.dirname(dest)
        while parent not in made and parent != "/":
            parents.append(parent)
            parent = os.path.dirname(parent)
        for p in reversed(parents):
            argv.extend(["--perms", "0755", "--dir", p])
            made.add(p)
        argv.extend(["--ro-bind", path, dest])
        made.add(dest)

    for root in _python_roots():
        bind(root, root)
        labels[root] = "<python>"
    src = package_root()
    bind(src, src)
    labels[src] = "<src>"
    if mpl_cache:
        bind(mpl_cache, "/opt/mplcache")
    argv += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/", "--chdir", "/tmp"]
    if as_root:
        argv += ["--cap-drop", "ALL"]
        for cap in _ZYGOTE_CAPS:
            argv += ["--cap-add", cap]
    env = dict(ZYGOTE_ENV)
    for k, v in env.items():
        argv += ["--setenv", k, v]
    argv += ["--", sys.executable, "-I", "-S", "-c", _boot_code(src)] + zygote_args
    return SandboxPlan(argv=argv, env={}, sandboxed=True, switch_uid=as_root, path_labels=labels)


def unsafe_plan(*, scratch_root: str, zygote_args: list[str]) -> SandboxPlan:
    """No namespaces, no uid switch, no seccomp: only rlimits and fork-per-job. For trusted inputs."""
    env = dict(ZYGOTE_ENV)
    env.update({"HOME": scratch_root, "XDG_CACHE_HOME": os.path.join(scratch_root, "cache"),
                "MPLCONFIGDIR": os.path.join(scratch_root, "mpl"), "TMPDIR": scratch_root})
    src = package_root()
    argv = [sys.executable, "-I", "-S", "-c", _boot_code(src)] + zygote_args
    return SandboxPlan(argv=argv, env=env, sandboxed=False, switch_uid=False,
                       path_labels={src: "<src>", scratch_root: "<scratch>"})


# ``-I -S`` ignores the caller's environment and site hooks; the venv's site-packages and the source tree are added
# explicitly so the zygote never depends on ``.pth`` processing.
_BOOT = (
    "import sys; sys.path[:0] = [{src!r}] + {site!r}; "
    "from visual_erm.render.zygote import main; main(sys.argv[1:])"
)


def _boot_code(src: str) -> str:
    import sysconfig

    site = []
    for key in ("purelib", "platlib"):
        path = sysconfig.get_path(key)
        if path not in site:
            site.append(path)
    return _BOOT.format(src=src, site=site)
