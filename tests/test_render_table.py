"""Table renderer against a real Chromium: PubTabNet tables, markdown, determinism, hostile pages, lifecycle.

No mocks. Needs Debian ``chromium`` (skipped otherwise). Run: ``timeout 900 .venv/bin/python -m pytest
tests/test_render_table.py`` (add ``-m "not slow"`` for the quick part).
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from visual_erm.render.api import RenderJob, RenderOptions, Status
from visual_erm.render.table import (
    CHROMIUM_BINARY,
    MAX_CAPTURE,
    TableRenderer,
    bwrap_available,
    render_fresh_browser,
)
from visual_erm.testdata import pubtabnet_dir

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM_BINARY), reason="Debian chromium is not installed")

PUBTABNET = pubtabnet_dir() / "sample_gt.json"
BENIGN = "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2.5</td></tr><tr><td>3</td><td>4</td></tr></table>"


def _job(source: str, jid: str = "j", **kw) -> RenderJob:
    opts = kw.pop("options", RenderOptions())
    return RenderJob(id=jid, task="table", source=source, options=opts, **kw)


def _image(png: bytes):
    from PIL import Image

    im = Image.open(io.BytesIO(png))
    im.load()
    return im


def _chromium_descendants() -> list[int]:
    """Chromium/bwrap processes descending from this test process."""
    parent: dict[int, int] = {}
    cmd: dict[int, str] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read().decode("ascii", "replace")
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd[int(d)] = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        parent[int(d)] = int(stat[stat.rfind(")") + 2:].split()[1])
    me = os.getpid()
    out = []
    for pid, c in cmd.items():
        if "chromium" not in c and "bwrap" not in c:
            continue
        p, seen = pid, 0
        while p > 1 and seen < 64:
            p = parent.get(p, 0)
            seen += 1
            if p == me:
                out.append(pid)
                break
    return out


@pytest.fixture(scope="module")
def renderer():
    with TableRenderer(workers=1, timeout_s=20) as r:
        yield r


@pytest.fixture(scope="module", params=["auto", "none"])
def any_renderer(request, renderer):
    """The default renderer (bubblewrap where it works) and one with no bubblewrap: the browser-level layers alone
    must already keep hostile pages inert."""
    if request.param == "auto":
        yield renderer
    else:
        with TableRenderer(workers=1, timeout_s=20, containment="none") as r:
            yield r


@pytest.fixture(scope="module")
def pubtabnet_jobs():
    data = json.loads(PUBTABNET.read_text())
    return [_job(v["html"], k) for k, v in data.items()]


# --------------------------------------------------------------------------------------------------- basic output


def test_containment_is_bwrap_when_available(renderer):
    assert renderer.containment == ("bwrap" if bwrap_available() else "none")


def test_pubtabnet_smoke(renderer, pubtabnet_jobs):
    _check_pubtabnet(renderer.render_many(pubtabnet_jobs[:3]), pubtabnet_jobs[:3])


@pytest.mark.slow
def test_pubtabnet_tables_render(renderer, pubtabnet_jobs):
    results = renderer.render_many(pubtabnet_jobs)
    _check_pubtabnet(results, pubtabnet_jobs)
    # wide tables hit the 768 px cap
    assert any(max(r.width, r.height) == 768 for r in results)


def _check_pubtabnet(results, jobs):
    import hashlib

    assert [r.id for r in results] == [j.id for j in jobs]
    for r in results:
        assert r.status == Status.OK, (r.id, r.status, r.message)
        assert r.png[:8] == b"\x89PNG\r\n\x1a\n"
        im = _image(r.png)
        assert im.size == (r.width, r.height)
        assert max(r.width, r.height) <= 768
        assert min(r.width, r.height) >= 40, (r.id, r.width, r.height)
        lo_hi = im.convert("L").getextrema()
        assert lo_hi[0] < 100 and lo_hi[1] == 255  # dark text/borders on white
        # cropped to the content: 12 px of white around the borders, nothing more
        assert im.convert("L").getpixel((0, 0)) == 255
        assert r.sha256 == hashlib.sha256(r.png).hexdigest()
        assert r.exec_ms > 0 and r.total_ms >= r.exec_ms


def test_crop_padding_exact(renderer):
    # a table smaller than max_side is not resized: 12 px white padding around the outer border
    r = renderer.render(_job(BENIGN))
    assert r.status == Status.OK
    im = _image(r.png).convert("L")
    w, h = im.size
    row = [im.getpixel((x, h // 2)) for x in range(w)]
    first_dark = next(i for i, v in enumerate(row) if v < 200)
    last_dark = max(i for i, v in enumerate(row) if v < 200)
    assert first_dark == 12 and last_dark == w - 13


def test_markdown_table(renderer):
    md = "| Model | Score |\n|---|---:|\n| A | 1.5 |\n| B | 2.0 |\n"
    r = renderer.render(_job(md, "md"))
    assert r.status == Status.OK, r.message
    html = "<table><thead><tr><th>Model</th><th>Score</th></tr></thead><tbody><tr><td>A</td><td>1.5</td></tr>"
    assert r.width > 60 and r.height > 60
    # a model response with prose around an html fence goes through the extractor
    resp = "Here is the table:\n```html\n" + html + "</tbody></table>\n```\nDone."
    r2 = renderer.render(_job(resp, "resp", extract=True))
    assert r2.status == Status.OK, r2.message


def test_rejected_and_blank(renderer):
    results = renderer.render_many([
        _job("no table here, just words", "none"),
        _job("Sure! ```python\nprint(1)\n```", "resp", extract=True),
        _job("<table></table>", "empty"),
        _job("<table style='display:none'><tr><td>x</td></tr></table>", "hidden"),
        RenderJob(id="svg", task="svg", source=BENIGN),
        _job("<table>" + "x" * 1_100_000 + "</table>", "huge-source"),
        _job(BENIGN, "ok"),
    ])
    st = {r.id: r.status for r in results}
    assert st == {
        "none": Status.REJECTED, "resp": Status.REJECTED, "empty": Status.BLANK, "hidden": Status.BLANK,
        "svg": Status.REJECTED, "huge-source": Status.REJECTED, "ok": Status.OK,
    }, [(r.id, r.status, r.message) for r in results]
    assert all(r.png is None for r in results if r.status != Status.OK)


def test_determinism(renderer, pubtabnet_jobs):
    jobs = pubtabnet_jobs[:3]
    a = renderer.render_many(jobs)
    b = renderer.render_many(list(reversed(jobs)))[::-1]
    assert [x.png for x in a] == [y.png for y in b]


@pytest.mark.slow
def test_concurrent_callers():
    with TableRenderer(workers=2) as r:
        out: dict[int, list] = {}

        def call(k):
            out[k] = r.render_many([_job(BENIGN.replace("2.5", f"{k}.{i}"), f"{k}-{i}") for i in range(3)])

        ts = [threading.Thread(target=call, args=(k,)) for k in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        for k in range(3):
            assert [x.id for x in out[k]] == [f"{k}-{i}" for i in range(3)]
            assert all(x.status == Status.OK for x in out[k]), [(x.id, x.status, x.message) for x in out[k]]


# --------------------------------------------------------------------------------------------------- hostile pages


def test_js_is_inert_and_batch_survives(any_renderer):
    hostile = "<script>while(1){}</script>" + BENIGN + "<script>document.body.innerHTML='PWNED'</script>"
    t = time.monotonic()
    results = any_renderer.render_many([_job(BENIGN, "a"), _job(hostile, "hostile"), _job(BENIGN, "b")])
    assert time.monotonic() - t < 15
    assert [r.status for r in results] == [Status.OK] * 3, [r.message for r in results]
    # the scripts did nothing: the page is exactly the benign table
    assert results[1].png == results[0].png == results[2].png


def test_local_files_never_render(any_renderer, tmp_path):
    # a local page that, if it loaded, would paint a large black block
    secret = tmp_path / "secret.html"
    secret.write_text("<body style='background:#000;margin:0'><div style='height:2000px'>SECRET</div></body>")
    img_secret = tmp_path / "secret.png"
    from PIL import Image

    Image.new("RGB", (300, 300), (0, 0, 0)).save(img_secret)

    def page(target_html: str, target_img: str) -> str:
        return (f"<table><tr><td>x</td><td><iframe src='{target_html}' style='border:0;width:300px;height:150px'>"
                f"</iframe></td><td><img src='{target_img}' width=300 height=300></td></tr></table>")

    results = any_renderer.render_many([
        _job(page(f"file://{secret}", f"file://{img_secret}"), "secret"),
        _job(page("file:///etc/passwd", "file:///etc/passwd"), "passwd"),
        _job(page("file:///nonexistent-verm.html", "file:///nonexistent-verm.png"), "missing"),
    ])
    assert all(r.status == Status.OK for r in results), [r.message for r in results]
    assert results[0].png == results[1].png == results[2].png
    # and nothing black the size of the planted image
    im = _image(results[0].png).convert("L")
    dark = sum(im.histogram()[:50])
    assert dark < 0.05 * im.width * im.height


class _Listener:
    """A TCP listener on 127.0.0.1 that counts every connection it receives."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            conn.close()

    def close(self):
        self._stop.set()
        self._t.join(2)
        self.sock.close()


def test_listener_counts_a_real_connection():
    # guard for the next test: the listener does see ordinary connections
    lst = _Listener()
    try:
        socket.create_connection(("127.0.0.1", lst.port), timeout=2).close()
        time.sleep(0.5)
        assert lst.connections == 1
    finally:
        lst.close()


def test_no_network(any_renderer):
    lst = _Listener()
    try:
        u = f"http://127.0.0.1:{lst.port}"
        hostile = (
            f"<meta http-equiv='refresh' content='0; url={u}/refresh'>"
            f"<link rel='stylesheet' href='{u}/link.css'><link rel='preconnect' href='{u}'>"
            f"<link rel='dns-prefetch' href='{u}'><link rel='prefetch' href='{u}/prefetch'>"
            f"<style>@import url('{u}/import.css'); td{{background:url('{u}/bg.png')}}"
            f"@font-face{{font-family:X;src:url('{u}/f.woff')}} th{{font-family:X}}</style>"
            f"<table background='{u}/tbg.png'><tr><th>h</th><td><img src='{u}/x.png'>"
            f"<img srcset='{u}/s.png 2x'><video poster='{u}/p.png'></video><object data='{u}/o'></object>"
            f"<embed src='{u}/e'><iframe src='{u}/frame'></iframe><input type='image' src='{u}/i.png'>"
            f"<form action='{u}/form'><button>go</button></form><a href='{u}/a' ping='{u}/ping'>link</a>"
            "</td></tr></table>"
        )
        results = any_renderer.render_many([_job(hostile, "net"), _job(BENIGN, "ok")])
        assert [r.status for r in results] == [Status.OK, Status.OK], [r.message for r in results]
        time.sleep(1.0)
        assert lst.connections == 0
    finally:
        lst.close()


def test_meta_refresh_disarmed(any_renderer):
    black = "data:text/html,<body style='background:black'>"
    results = any_renderer.render_many([
        _job(f"<meta http-equiv='refresh' content='0;url={black}'>" + BENIGN, "r1"),
        _job("<META HTTP-EQUIV=Refresh CONTENT='0; URL=about:blank'>" + BENIGN, "r2"),
        _job("<meta/http-equiv=refresh content=0>" + BENIGN, "r3"),
        _job(BENIGN, "plain"),
    ])
    assert all(r.status == Status.OK for r in results), [r.message for r in results]
    assert results[0].png == results[1].png == results[2].png == results[3].png


@pytest.mark.slow
def test_huge_table_is_capped(renderer):
    rows = "".join(f"<tr><td>row {i}</td><td>{i * 7}</td><td>cell</td></tr>" for i in range(10_000))
    t = time.monotonic()
    results = renderer.render_many([_job(f"<table>{rows}</table>", "huge"), _job(BENIGN, "after")])
    assert time.monotonic() - t < 60
    huge, after = results
    assert huge.status in (Status.OK, Status.TIMEOUT), huge.message
    if huge.status == Status.OK:
        # clipped to MAX_CAPTURE, then thumbnailed: a 10k-row table (≈310k px tall) would be ≈1 px wide
        assert huge.height == 768
        assert huge.width >= 768 * 100 / MAX_CAPTURE[1]
    assert after.status == Status.OK


@pytest.mark.slow
def test_deadline_timeout_then_worker_continues(renderer):
    rows = "".join(f"<tr><td>row {i}</td><td>{i * 7}</td><td>cell</td></tr>" for i in range(10_000))
    results = renderer.render_many([
        _job(f"<table>{rows}</table>", "slow", options=RenderOptions(timeout_s=0.05)),
        _job(BENIGN, "after"),
    ])
    assert results[0].status == Status.TIMEOUT, results[0].message
    assert results[1].status == Status.OK


@pytest.mark.slow
def test_hung_browser_is_killed_and_replaced():
    with TableRenderer(workers=1) as r:
        assert r.render(_job(BENIGN)).status == Status.OK
        (pid,) = r.browser_pids()
        os.killpg(pid, signal.SIGSTOP)  # freeze the whole browser: every call into it now hangs
        t = time.monotonic()
        res = r.render(_job(BENIGN, "stuck", options=RenderOptions(timeout_s=1.0)))
        elapsed = time.monotonic() - t
        assert res.status == Status.TIMEOUT, res.message
        assert elapsed < 15
        nxt = r.render(_job(BENIGN, "next"))
        assert nxt.status == Status.OK
        assert r.restarts >= 1 and r.browser_pids() != [pid]


# --------------------------------------------------------------------------------------------------- lifecycle


@pytest.mark.slow
def test_recycle_every_n_pages_and_no_leftover_processes():
    before = set(_chromium_descendants())
    with TableRenderer(workers=1, pages_per_browser=2) as r:
        results = r.render_many([_job(BENIGN, str(i)) for i in range(5)])
        assert all(x.status == Status.OK for x in results)
        assert len({x.png for x in results}) == 1  # same bytes across browser restarts
        launched = r.launched_browsers()
        assert len(launched) == 3
        assert set(_chromium_descendants()) - before
    # all gone: neither the browsers nor anything they spawned
    from visual_erm.render.table import _proc_starttime

    assert all(_proc_starttime(pid) != start for pid, start in launched)
    assert set(_chromium_descendants()) - before == set()


@pytest.mark.slow
def test_caller_survives_browser_crash():
    with TableRenderer(workers=1) as r:
        assert r.render(_job(BENIGN)).status == Status.OK
        (pid,) = r.browser_pids()
        os.killpg(pid, signal.SIGKILL)  # the browser dies between jobs
        time.sleep(0.3)
        res = r.render(_job(BENIGN, "after-crash"))
        assert res.status == Status.OK, res.message
        launched = r.launched_browsers()
        assert len(launched) == 2
    from visual_erm.render.table import _proc_starttime

    assert all(_proc_starttime(p) != start for p, start in launched)


@pytest.mark.slow
def test_fresh_browser_matches_long_lived(renderer, pubtabnet_jobs):
    job = pubtabnet_jobs[3]
    fresh = render_fresh_browser(job)
    assert fresh.status == Status.OK
    assert fresh.png == renderer.render(job).png


@pytest.mark.slow
def test_benchmark_long_lived_vs_fresh(renderer, pubtabnet_jobs):
    renderer.render_many(pubtabnet_jobs[:2])  # warm
    t = time.monotonic()
    res = renderer.render_many(pubtabnet_jobs)
    long_lived = len(pubtabnet_jobs) / (time.monotonic() - t)
    assert all(r.ok for r in res), [(r.id, r.status, r.message) for r in res if not r.ok]
    n_fresh = 6
    t = time.monotonic()
    for job in pubtabnet_jobs[:n_fresh]:
        fresh_res = render_fresh_browser(job)
        assert fresh_res.ok, (fresh_res.status, fresh_res.message)
    fresh = n_fresh / (time.monotonic() - t)
    with TableRenderer(workers=2) as r2:
        r2.render_many(pubtabnet_jobs[:4])
        t = time.monotonic()
        assert all(x.ok for x in r2.render_many(pubtabnet_jobs))
        two = len(pubtabnet_jobs) / (time.monotonic() - t)
    print(f"\n[table bench] long-lived 1 worker: {long_lived:.2f} renders/s; 2 workers: {two:.2f} renders/s; "
          f"fresh browser per render: {fresh:.2f} renders/s; speed-up {long_lived / fresh:.1f}x "
          f"(containment={renderer.containment}, {os.cpu_count()} cpus)")


@pytest.mark.skipif(not bwrap_available(), reason="bubblewrap cannot run here")
def test_sandbox_view():
    """What a process started the way Chromium is started can see: no project files, no home, no host processes,
    nothing writable outside its private tmpfs, no network interface but loopback."""
    import subprocess

    from visual_erm.render.table import BROWSER_ENV, _bwrap_argv

    script = (
        "test ! -e /work && test ! -e /root && test ! -e /home && test ! -e /etc/shadow && "
        "test ! -e /etc/passwd && ! touch /usr/x 2>/dev/null && touch /tmp/x && "
        "test $(ls /proc | grep -c '^[0-9]') -le 6 && "
        "grep -q 'lo:' /proc/net/dev && test $(grep ':' /proc/net/dev | grep -vc 'lo:') -eq 0 && "
        "test -z \"$VERM_PIDFILE\" && echo contained"
    )
    out = subprocess.run(_bwrap_argv() + ["/bin/sh", "-c", script], capture_output=True, text=True, timeout=20,
                         env=dict(BROWSER_ENV, VERM_PIDFILE="/tmp/x.pid"))
    assert out.stdout.strip() == "contained", (out.returncode, out.stdout, out.stderr)
