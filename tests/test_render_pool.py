"""The render pool on ordinary inputs: statuses, ordering, dedup, cache, determinism, restarts, fail-closed."""

import hashlib
import io
import os
import signal
import time

import pytest
from PIL import Image

from visual_erm.render.api import RenderJob, RenderOptions, Status
from visual_erm.render.cache import RenderCache
from visual_erm.render.pool import RenderPool
from visual_erm.render.sandbox import SandboxUnavailable

LINE = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('line')\nplt.show()"
RANDOM = (
    "import numpy as np, random\nimport matplotlib.pyplot as plt\nimport seaborn as sns\n"
    "x = np.random.randn(200)\nplt.hist(x + random.random(), bins=20)\nsns.kdeplot(x)\n"
    "plt.scatter(np.random.default_rng().random(10), np.random.rand(10))\n"
)
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="10" height="10" fill="red"/></svg>'


def chart(id_, src, **opts):
    return RenderJob(id=id_, task="chart", source=src, options=RenderOptions(**opts))


def test_statuses_and_order(render_pool):
    jobs = [
        chart("ok", LINE),
        chart("err", "raise ValueError('boom')"),
        chart("blank", "fig = plt.figure()"),
        RenderJob(id="svg", task="svg", source=SVG),
        RenderJob(id="resp", task="chart", source="Here:\n```python\nplt.bar([1, 2], [3, 4])\n```", extract=True),
        RenderJob(id="noblock", task="chart", source="no code here", extract=True),
        chart("baddpi", LINE, dpi=5),
        RenderJob(id="unknown", task="video", source="x"),  # type: ignore[arg-type]
    ]
    res = render_pool.render(jobs)
    assert [r.id for r in res] == [j.id for j in jobs]
    st = {r.id: r.status for r in res}
    assert st == {"ok": Status.OK, "err": Status.ERROR, "blank": Status.BLANK, "svg": Status.OK, "resp": Status.OK,
                  "noblock": Status.REJECTED, "baddpi": Status.REJECTED, "unknown": Status.REJECTED}
    ok = res[0]
    assert ok.png.startswith(b"\x89PNG") and (ok.width, ok.height) == (640, 480)
    assert ok.sha256 == hashlib.sha256(ok.png).hexdigest()
    assert Image.open(io.BytesIO(ok.png)).size == (640, 480)
    assert ok.exec_ms > 0 and ok.total_ms >= ok.exec_ms and ok.queue_ms >= 0
    assert "ValueError: boom" in res[1].message and "boom" in res[1].stderr_tail
    assert "/work" not in res[1].stderr_tail and "/root" not in res[1].stderr_tail  # host paths scrubbed
    assert (res[3].width, res[3].height) == (336, 336)
    for r in res[1:]:
        if r.status != Status.OK:
            assert r.message


def test_svg_canvas_option(render_pool):
    r = render_pool.render_one(RenderJob(id="s", task="svg", source=SVG, options=RenderOptions(width=64, height=32)))
    assert r.ok and (r.width, r.height) == (64, 32)
    r = render_pool.render_one(RenderJob(id="s", task="svg", source="<svg", options=RenderOptions(width=10**6)))
    assert r.status == Status.REJECTED


def test_identical_jobs_render_once_and_cache(render_pool):
    src = LINE + f"\n# {time.time_ns()}"
    res = render_pool.render([chart("a", src), chart("b", src), chart("c", src)])
    assert [r.id for r in res] == ["a", "b", "c"]
    assert len({r.sha256 for r in res}) == 1 and all(r.ok for r in res)
    again = render_pool.render_one(chart("d", src))
    assert again.cached and again.id == "d" and again.sha256 == res[0].sha256


def test_determinism_within_and_across_pools(render_pool):
    first = render_pool.render([chart("r1", RANDOM), chart("l1", LINE + "\n#x")])
    render_pool.cache = RenderCache()  # force re-rendering in the same pool
    second = render_pool.render([chart("r2", RANDOM), chart("l2", LINE + "\n#x")])
    assert all(r.ok for r in first + second)
    assert [r.sha256 for r in first] == [r.sha256 for r in second]
    with RenderPool(workers=1) as other:
        third = other.render([chart("r3", RANDOM), chart("l3", LINE + "\n#x")])
    assert [r.sha256 for r in third] == [r.sha256 for r in first]


def test_disk_cache_and_damaged_entry(tmp_path):
    cache = RenderCache(disk_dir=tmp_path)
    from visual_erm.render.api import RenderResult

    png = b"\x89PNG\r\n\x1a\nfake"
    res = RenderResult(id="x", task="chart", status=Status.OK, png=png, width=1, height=1,
                       sha256=hashlib.sha256(png).hexdigest())
    cache.put("k" * 64, res)
    fresh = RenderCache(disk_dir=tmp_path)
    hit = fresh.get("k" * 64)
    assert hit is not None and hit.png == png
    path = next(tmp_path.rglob("*.bin"))
    path.write_bytes(path.read_bytes()[:-2] + b"XX")
    assert RenderCache(disk_dir=tmp_path).get("k" * 64) is None
    assert not path.exists()
    cache.put("t" * 64, RenderResult(id="t", task="chart", status=Status.TIMEOUT))
    assert cache.get("t" * 64) is None  # load-dependent outcomes are never cached


def test_zygote_death_is_repaired(render_pool):
    before = render_pool.restarts
    victim = render_pool.zygote_pids()[0]
    os.killpg(victim, signal.SIGKILL)
    time.sleep(0.2)
    res = render_pool.render([chart(f"z{i}", LINE + f"\n# {i} {time.time_ns()}") for i in range(4)])
    assert all(r.ok for r in res)
    assert render_pool.restarts == before + 1 and render_pool.healthy()


def test_fails_closed_without_bwrap(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        RenderPool(workers=1).start()


def test_unsafe_mode_warns_and_renders():
    with pytest.warns(RuntimeWarning, match="WITHOUT bubblewrap"):
        pool = RenderPool(workers=1, unsafe_no_sandbox=True).start()
    try:
        r = pool.render_one(chart("u", LINE))
        assert r.ok
    finally:
        pool.close()


def test_tables_missing_renderer_does_not_break_charts(render_pool):
    res = render_pool.render([RenderJob(id="t", task="table", source="<table><tr><td>1</td></tr></table>"),
                              chart("c", LINE)])
    assert res[1].ok
    assert res[0].id == "t" and res[0].status in (Status.OK, Status.INFRA_ERROR, Status.ERROR)


def test_inspect_describes_the_figure(render_pool):
    pytest.importorskip("visual_erm.render.inspect")
    r = render_pool.render_one(chart("insp", "plt.bar([1, 2], [3, 4])\nplt.title('hello')", inspect=True))
    assert r.ok and isinstance(r.figure, dict) and r.figure.get("axes")
