"""Hostile programs against the real sandboxed pool (no mocks).

Every case is rendered between two benign charts in one batch and must show containment: a failure status (or, for
"try and report" programs, an ``ok`` that proves every attempt failed), the benign neighbours rendered with their
reference hashes, the caller alive, the zygotes alive and not restarted, and no process of the job uids left.
"""

import base64
import gzip
import os
import secrets
import socket
import threading
import time

import pytest

from visual_erm.render.api import RenderJob, RenderOptions, Status

pytestmark = pytest.mark.slow

BENIGN_A = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.title('benign A')"
BENIGN_B = "import matplotlib.pyplot as plt\nplt.bar(['x', 'y'], [2, 5])\nplt.title('benign B')"
PLOT = "\nimport matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\n"
FAILED = {Status.TIMEOUT, Status.MEMORY, Status.CRASH, Status.ERROR, Status.BLANK, Status.REJECTED}


@pytest.fixture(scope="module")
def reference(render_pool):
    res = render_pool.render([RenderJob(id="a", task="chart", source=BENIGN_A),
                              RenderJob(id="b", task="chart", source=BENIGN_B)])
    assert all(r.ok for r in res)
    return res[0].sha256, res[1].sha256


def _job_uid_processes(pool) -> list[int]:
    ranges = pool.job_uid_ranges()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        uid = int(line.split()[1])
                        if any(uid in r for r in ranges):
                            found.append(int(entry))
                        break
        except OSError:
            continue
    return found


def contained(pool, reference, source, *, task="chart", timeout_s=5.0, **opts):
    """Render ``source`` between two benign jobs; check the neighbours, the pool and leftovers. Returns its result."""
    restarts = pool.restarts
    zygotes = set(pool.zygote_pids())
    salt = f"\n# {secrets.token_hex(4)}"  # defeat the cache so the benign jobs really render alongside
    jobs = [RenderJob(id="a", task="chart", source=BENIGN_A + salt),
            RenderJob(id="evil", task=task, source=source, options=RenderOptions(timeout_s=timeout_s, **opts)),
            RenderJob(id="b", task="chart", source=BENIGN_B + salt)]
    t0 = time.monotonic()
    res = pool.render(jobs)
    elapsed = time.monotonic() - t0
    assert [r.id for r in res] == ["a", "evil", "b"]
    # benign neighbours: same pixels as always (salted comments do not change the image)
    assert res[0].ok and res[2].ok, (res[0].message, res[2].message)
    assert (res[0].sha256, res[2].sha256) == reference
    evil = res[1]
    assert evil.status != Status.INFRA_ERROR, evil.message
    if evil.status != Status.OK:
        assert evil.message
    assert elapsed < timeout_s + 30
    assert pool.healthy() and pool.restarts == restarts and set(pool.zygote_pids()) == zygotes
    assert _job_uid_processes(pool) == []
    return evil


def chart(pool, reference, body, **kw):
    return contained(pool, reference, body, **kw)


# --------------------------------------------------------------------------------------------------- CPU / time
def test_infinite_loop(render_pool, reference):
    r = chart(render_pool, reference, "while True:\n    pass", timeout_s=2)
    assert r.status == Status.TIMEOUT


def test_sleep(render_pool, reference):
    r = chart(render_pool, reference, "import time\ntime.sleep(600)", timeout_s=2)
    assert r.status == Status.TIMEOUT


def test_blocking_show_and_input(render_pool, reference):
    t0 = time.monotonic()
    r = chart(render_pool, reference, "import matplotlib.pyplot as plt\nplt.plot([1])\ngetattr(plt, 'show')(block=True)\n"
              "input('press enter')", timeout_s=10)
    assert r.status == Status.ERROR and "EOFError" in r.message
    assert time.monotonic() - t0 < 8


# --------------------------------------------------------------------------------------------------- processes
def test_fork_bomb(render_pool, reference):
    r = chart(render_pool, reference, "import os\nwhile True:\n    os.fork()", timeout_s=5)
    assert r.status in FAILED and "PermissionError" in r.message


def test_thread_flood(render_pool, reference):
    src = ("import threading, time\nts = []\nfor i in range(100000):\n"
           "    t = threading.Thread(target=time.sleep, args=(100,), daemon=True)\n    t.start()\n    ts.append(t)")
    r = chart(render_pool, reference, src, timeout_s=5)
    assert r.status in FAILED


def test_subprocess_and_shell(render_pool, reference):
    r = chart(render_pool, reference, "import subprocess\nsubprocess.run(['/bin/sh', '-c', 'touch /tmp/pwned'])")
    assert r.status == Status.ERROR and "PermissionError" in r.message
    src = "import os\nrc = os.system('touch /tmp/pwned')\nassert rc != 0, 'shell ran'" + PLOT
    assert chart(render_pool, reference, src).status == Status.OK
    assert not os.path.exists("/tmp/pwned")


def test_double_fork_daemon(render_pool, reference):
    src = ("import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
           "        time.sleep(1000)\n    os._exit(0)\n")
    r = chart(render_pool, reference, src)
    assert r.status in FAILED


def test_signal_parent_and_group(render_pool, reference):
    src = (
        "import os, signal\nblocked = []\n"
        "for target in (os.getppid(), 1, -1, -os.getppid()):\n"
        "    try:\n        os.kill(target, signal.SIGKILL)\n    except OSError as e:\n        blocked.append(e.errno)\n"
        "for pg in (os.getpgid(os.getppid()), 1):\n"
        "    try:\n        os.killpg(pg, signal.SIGKILL)\n    except OSError as e:\n        blocked.append(e.errno)\n"
        "assert len(blocked) == 6, blocked\n"
        "try:\n    signal.pidfd_send_signal(os.pidfd_open(os.getppid()), signal.SIGKILL)\n    raise SystemExit('pidfd')\n"
        "except OSError:\n    pass\n" + PLOT
    )
    assert chart(render_pool, reference, src).status == Status.OK


def test_ptrace_and_proc_of_parent(render_pool, reference, fake_secret):
    src = (
        "import os, ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "assert libc.ptrace(16, os.getppid(), 0, 0) == -1  # PTRACE_ATTACH\n"
        "for p in (os.getppid(), 1):\n"
        "    for f in ('environ', 'mem', 'maps'):\n"
        "        try:\n            open(f'/proc/{p}/{f}', 'rb').read(100)\n            raise SystemExit(f'read {p}/{f}')\n"
        "        except PermissionError:\n            pass\n" + PLOT
    )
    assert chart(render_pool, reference, src).status == Status.OK


def test_segfault(render_pool, reference):
    r = chart(render_pool, reference, "import ctypes\nctypes.string_at(0)")
    assert r.status == Status.CRASH and "SIGSEGV" in r.message


# --------------------------------------------------------------------------------------------------- memory / disk
def test_huge_allocation(render_pool, reference):
    r = chart(render_pool, reference, "x = bytearray(64 * 2**30)")
    assert r.status == Status.MEMORY
    r = chart(render_pool, reference, "import numpy as np\na = np.ones((200000, 200000))")
    assert r.status == Status.MEMORY


def test_giant_figure(render_pool, reference):
    src = "import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(1000, 1000), dpi=1000)\nplt.plot([1, 2])\n" \
          "fig.savefig('big.png', dpi=1000)"
    r = chart(render_pool, reference, src, timeout_s=10)
    assert r.status in FAILED


def test_stdout_flood(render_pool, reference):
    r = chart(render_pool, reference, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", timeout_s=3)
    assert r.status in FAILED
    assert len(r.stderr_tail) <= 2000
    r = chart(render_pool, reference, "print('y' * (1 << 30))", timeout_s=5)
    assert r.status in FAILED and len(r.stderr_tail) <= 2000


def test_disk_fill(render_pool, reference):
    src = "i = 0\nwhile True:\n    with open(f'fill{i}', 'wb') as fh:\n        fh.write(b'0' * (8 << 20))\n    i += 1"
    r = chart(render_pool, reference, src, timeout_s=10)
    assert r.status == Status.ERROR and ("No space" in r.message or "too large" in r.message.lower())
    r = chart(render_pool, reference, "open('one', 'wb').write(b'0' * (512 << 20))", timeout_s=10)
    assert r.status == Status.ERROR
    # the scratch space is reclaimed: a normal chart that writes a few MiB still works
    assert chart(render_pool, reference, "open('f', 'wb').write(b'1' * (16 << 20))" + PLOT).status == Status.OK


def test_writes_outside_scratch(render_pool, reference, tmp_path):
    targets = ["/tmp/evil", "/evil", "/usr/evil", "/etc/evil", "/proc/evil", "/dev/evil", "/dev/shm/evil",
               os.path.join(os.getcwd(), "evil_from_sandbox"), "/root/evil", str(tmp_path / "evil"),
               os.path.expanduser("~/evil")]
    src = (f"targets = {targets!r}\nwritten = []\nfor t in targets:\n    try:\n"
           "        open(t, 'w').write('x')\n        written.append(t)\n    except OSError:\n        pass\n"
           "import os\nfor t in ('..', '/tmp/s'):\n    try:\n        open(os.path.join(t, 'evil'), 'w').write('x')\n"
           "        written.append(t)\n    except OSError:\n        pass\n"
           "assert not written, written" + PLOT)
    assert chart(render_pool, reference, src).status == Status.OK
    for t in targets:
        assert not (t.startswith(("/work", "/root", str(tmp_path))) and os.path.exists(t)), t


# --------------------------------------------------------------------------------------------------- secrets
def test_secrets_unreadable(render_pool, reference, fake_secret, tmp_path):
    home_secret = os.path.expanduser(f"~/.verm_fake_secret_{secrets.token_hex(4)}")
    token_dir = tmp_path / "var/run/secrets/kubernetes.io/serviceaccount"
    token_dir.mkdir(parents=True)
    (token_dir / "token").write_text(fake_secret)
    with open(home_secret, "w") as fh:
        fh.write(fake_secret)
    try:
        src = (
            f"import os, glob\nSECRET = {fake_secret!r}\nleaks = []\n"
            "if any(SECRET in v for v in os.environ.values()):\n    leaks.append('environ')\n"
            f"paths = [{home_secret!r}, {str(token_dir / 'token')!r}, '/var/run/secrets/kubernetes.io/serviceaccount/token']\n"
            "paths += glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline') + ['/proc/self/environ']\n"
            "paths += [f'/proc/{os.getppid()}/environ', os.path.expanduser('~/.bash_history'), '/root/.bashrc']\n"
            "for p in paths:\n    try:\n        data = open(p, 'rb').read()\n    except OSError:\n        continue\n"
            "    if SECRET.encode() in data:\n        leaks.append(p)\n"
            # Only the read-only interpreter prefix may show under /root (pyenv installs live there); no home files.
            "import sys\npython_dirs = set(os.path.realpath(sys.executable).split('/')[2:3])\n"
            "for d in ('/root', '/home', os.path.dirname(paths[0])):\n"
            "    try:\n        extra = set(os.listdir(d)) - python_dirs\n    except OSError:\n        continue\n"
            "    if extra:\n        leaks.append(('listdir', d, sorted(extra)))\n"
            "print('environment keys:', sorted(os.environ))\n"
            "assert not leaks, leaks" + PLOT
        )
        r = chart(render_pool, reference, src)
        assert r.status == Status.OK, r.message
        assert fake_secret not in r.stderr_tail and fake_secret not in r.message
        assert "VERM_FAKE_SECRET" not in r.stderr_tail
        # the fixture's secret really is in the caller's environment
        assert os.environ["VERM_FAKE_SECRET_TOKEN"] == fake_secret
    finally:
        os.unlink(home_secret)


# --------------------------------------------------------------------------------------------------- network
@pytest.fixture
def listener():
    """A TCP listener on 127.0.0.1 that records every connection and byte it receives."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    got: list[bytes] = []
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                got.append(conn.recv(65536) or b"<connected>")
            except OSError:
                got.append(b"<connected>")
            conn.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield srv.getsockname()[1], got
    stop.set()
    t.join(2)
    srv.close()


def test_network_connection(render_pool, reference, listener):
    port, got = listener
    src = (
        f"import socket\nerrors = []\nfor fam, addr in ((socket.AF_INET, ('127.0.0.1', {port})), "
        f"(socket.AF_INET6, ('::1', {port}))):\n"
        "    try:\n        s = socket.socket(fam, socket.SOCK_STREAM)\n        s.settimeout(2)\n        s.connect(addr)\n"
        "        s.sendall(b'LEAK')\n    except OSError as e:\n        errors.append(e)\n"
        "import urllib.request\ntry:\n"
        f"    urllib.request.urlopen('http://127.0.0.1:{port}/x', timeout=2)\nexcept Exception as e:\n"
        "    errors.append(e)\n"
        "a, b = socket.socketpair()\na.send(b'local ipc is fine')\n"
        "assert len(errors) == 3, errors" + PLOT
    )
    r = chart(render_pool, reference, src, timeout_s=10)
    assert r.status == Status.OK, r.message
    time.sleep(0.5)
    assert got == []


# --------------------------------------------------------------------------------------------------- output traps
def test_output_symlink_to_secret(render_pool, reference, tmp_path):
    src = ("import os, matplotlib.pyplot as plt\nplt.plot([1])\n"
           "plt.savefig = lambda *a, **k: os.symlink('/proc/1/environ', 'out.png')")
    r = chart(render_pool, reference, src)
    assert r.status == Status.ERROR and r.png is None
    src = ("import os, matplotlib.pyplot as plt\nplt.plot([1])\n"
           "plt.savefig = lambda *a, **k: os.symlink('/usr/lib/os-release', 'out.png')")
    r = chart(render_pool, reference, src)
    assert r.status == Status.ERROR and r.png is None


def test_output_fifo(render_pool, reference):
    src = "import os, matplotlib.pyplot as plt\nplt.plot([1])\nplt.savefig = lambda *a, **k: os.mkfifo('out.png')"
    t0 = time.monotonic()
    r = chart(render_pool, reference, src, timeout_s=10)
    assert r.status == Status.ERROR and time.monotonic() - t0 < 8


def test_output_not_png_or_huge(render_pool, reference):
    src = "import matplotlib.pyplot as plt\nplt.savefig = lambda *a, **k: open('out.png', 'wb').write(b'GIF89a' * 100)"
    assert chart(render_pool, reference, src).status == Status.ERROR
    src = ("import struct, zlib, matplotlib.pyplot as plt\n"
           "def fake(*a, **k):\n"
           "    ihdr = struct.pack('>IIBBBBB', 100000, 100000, 8, 2, 0, 0, 0)\n"
           "    chunk = struct.pack('>I', 13) + b'IHDR' + ihdr + struct.pack('>I', zlib.crc32(b'IHDR' + ihdr))\n"
           "    open('out.png', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk)\n"
           "plt.savefig = fake")
    r = chart(render_pool, reference, src)
    assert r.status == Status.ERROR and "dimensions" in r.message


# --------------------------------------------------------------------------------------------------- SVG
def svg(pool, reference, source, **kw):
    return contained(pool, reference, source, task="svg", **kw)


def test_svg_xxe(render_pool, reference, tmp_path, fake_secret):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(fake_secret)
    body = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50"><text x="5" y="30">{}</text></svg>'
    xxe = f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file://{secret_file}">' \
          '<!ENTITY pw SYSTEM "file:///etc/passwd">]>' + body.format("&xxe;&pw;")
    r = svg(render_pool, reference, xxe)
    plain = svg(render_pool, reference, body.format(""))
    assert r.status in FAILED or r.sha256 == plain.sha256  # the entities expanded to nothing, if it rendered


def test_svg_billion_laughs(render_pool, reference):
    ents = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    doc = f'<?xml version="1.0"?><!DOCTYPE svg [{ents}]><svg xmlns="http://www.w3.org/2000/svg"><text>&lol9;</text></svg>'
    r = svg(render_pool, reference, doc, timeout_s=10)
    assert r.status in FAILED | {Status.OK}


def test_svgz_bomb(render_pool, reference):
    import zlib

    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    parts = [z.compress(b'<svg xmlns="http://www.w3.org/2000/svg">')]
    block = b" " * (1 << 20)
    parts += [z.compress(block) for _ in range(256)]  # 256 MiB expanded, far above the 8 MiB cap
    parts.append(z.compress(b"</svg>") + z.flush())
    bomb = b"".join(parts)
    assert len(bomb) < 1 << 20
    r = svg(render_pool, reference, "data:image/svg+xml;base64," + base64.b64encode(bomb).decode(), timeout_s=10)
    assert r.status == Status.REJECTED and "exceeds" in r.message


def test_svg_huge_canvas(render_pool, reference):
    doc = '<svg xmlns="http://www.w3.org/2000/svg" width="100000000" height="100000000"><rect width="10" height="10"/></svg>'
    r = svg(render_pool, reference, doc)
    assert r.status in FAILED or (r.width, r.height) == (336, 336)
    r = render_pool.render_one(RenderJob(id="c", task="svg", source=doc, options=RenderOptions(width=100000)))
    assert r.status == Status.REJECTED


def test_svg_external_href(render_pool, reference, listener):
    port, got = listener
    doc = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="50" height="50">'
           f'<image href="http://127.0.0.1:{port}/a.png" width="50" height="50"/>'
           f'<image xlink:href="http://127.0.0.1:{port}/b.svg" width="50" height="50"/>'
           f'<use xlink:href="http://127.0.0.1:{port}/c.svg#x"/>'
           f'<style>@import url(http://127.0.0.1:{port}/d.css);</style><rect width="5" height="5"/></svg>')
    r = svg(render_pool, reference, doc)
    assert r.status != Status.INFRA_ERROR
    time.sleep(0.5)
    assert got == []
