"""Render throughput benchmark: the naive baseline, the sandboxed pool and the unsafe in-process ceiling, measured in
one run on the same inputs.

- naive: a fresh ``python -c <program>`` per chart with a 15 s timeout (what the released code does), ``workers``
  at a time;
- pool: :class:`~visual_erm.render.pool.RenderPool` (sandboxed, cache bypassed: every program is distinct);
- ceiling: ``workers`` processes that each exec their share of the charts in one warm interpreter, no isolation.

CPU-s per render counts every process involved (for the pool: the caller, the zygotes and all job children).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from visual_erm.testdata import chartmimic_jsonl, pubtabnet_dir

CHARTMIMIC = chartmimic_jsonl()
PUBTABNET_GT = Path(os.environ.get("VERM_PUBTABNET_GT") or pubtabnet_dir() / "sample_gt.json")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


def _summary(name: str, n: int, wall_s: float, cpu_s: float, latencies_ms: list[float]) -> dict:
    return {
        "name": name, "renders": n, "wall_s": round(wall_s, 3), "renders_per_s": round(n / wall_s, 3) if wall_s else None,
        "cpu_s_per_render": round(cpu_s / n, 4) if n else None,
        "p50_ms": round(_pct(latencies_ms, 0.5), 1), "p95_ms": round(_pct(latencies_ms, 0.95), 1),
    }


def _tree_cpu_s(root_pids: list[int]) -> float:
    """utime+stime (+ reaped children) of every live process descending from ``root_pids``."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        times[pid] = sum(int(x) for x in fields[11:15]) / tick
    total = 0.0
    for pid, t in times.items():
        p = pid
        while p > 1:
            if p in root_pids:
                total += t
                break
            p = parents.get(p, 0)
    return total


def chart_programs(n: int, workers: int = 2) -> list[str]:
    """The first ``n`` ChartMimic programs that render ok (checked through a sandboxed pool), normalised."""
    from visual_erm.render.api import RenderJob
    from visual_erm.render.extract import normalize_chart_program
    from visual_erm.render.pool import RenderPool

    rows = [json.loads(line) for line in CHARTMIMIC.read_text().splitlines() if line.strip()]
    picked: list[str] = []
    with RenderPool(workers=workers) as pool:
        for start in range(0, len(rows), max(n, 1)):
            batch = rows[start:start + max(n, 1)]
            res = pool.render([RenderJob(id=r["idx"], task="chart", source=r["code"]) for r in batch])
            picked += [normalize_chart_program(r["code"]) for r, x in zip(batch, res) if x.ok]
            if len(picked) >= n:
                break
    return picked[:n]


def simple_svgs(n: int) -> list[str]:
    out = []
    for i in range(n):
        hue = (i * 37) % 360
        out.append(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
            f'<rect x="2" y="2" width="60" height="60" rx="{i % 12}" fill="hsl({hue},70%,60%)"/>'
            f'<circle cx="{16 + i % 32}" cy="32" r="{6 + i % 10}" fill="#223" stroke="#fff" stroke-width="2"/>'
            f'<path d="M8 56 L{20 + i % 30} {10 + i % 40} L56 56 Z" fill="none" stroke="#000"/>'
            f'<text x="6" y="14" font-size="9">{i}</text></svg>'
        )
    return out


# --------------------------------------------------------------------------------------------------- naive
def bench_naive(programs: list[str], workers: int) -> dict:
    from visual_erm.render.execute import CHART_OUTPUT

    env = {"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "HOME": tempfile.gettempdir(), "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1"}
    lat: list[float] = []
    ok = 0

    def one(prog: str) -> bool:
        with tempfile.TemporaryDirectory(prefix="verm-naive-") as d:
            t = time.monotonic()
            try:
                proc = subprocess.run([sys.executable, "-c", prog], cwd=d, env={**env, "MPLCONFIGDIR": d + "/mpl"},
                                      capture_output=True, timeout=15)
                good = proc.returncode == 0 and os.path.exists(os.path.join(d, CHART_OUTPUT))
            except subprocess.TimeoutExpired:
                good = False
            lat.append((time.monotonic() - t) * 1000)
            return good

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with ThreadPoolExecutor(workers) as ex:
        ok = sum(ex.map(one, programs))
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {**_summary("naive", len(programs), wall, cpu, lat), "ok": ok}


# --------------------------------------------------------------------------------------------------- ceiling
def _ceiling_worker(args: tuple[list[str], str]):
    programs, outdir = args
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401

    try:
        import seaborn  # noqa: F401
    except ImportError:
        pass
    from visual_erm.render import execute

    os.chdir(outdir)
    lat, ok = [], 0
    c0 = time.process_time()
    for prog in programs:
        t = time.monotonic()
        execute.reset_matplotlib()
        execute.seed_everything(0)
        try:
            if os.path.exists(execute.CHART_OUTPUT):
                os.unlink(execute.CHART_OUTPUT)
            execute.exec_chart(prog)
            ok += 1
        except Exception:  # noqa: BLE001
            pass
        lat.append((time.monotonic() - t) * 1000)
    return lat, ok, time.process_time() - c0


def bench_ceiling(programs: list[str], workers: int) -> dict:
    import multiprocessing as mp

    ctx = mp.get_context("forkserver")
    shares = [programs[i::workers] for i in range(workers)]
    with tempfile.TemporaryDirectory(prefix="verm-ceiling-") as d:
        dirs = [os.path.join(d, str(i)) for i in range(workers)]
        for x in dirs:
            os.makedirs(x)
        with ctx.Pool(workers) as pool:
            # warm the interpreters (imports) before timing
            pool.map(_ceiling_worker, [([], x) for x in dirs])
            t0 = time.monotonic()
            outs = pool.map(_ceiling_worker, list(zip(shares, dirs)))
            wall = time.monotonic() - t0
    lat = [x for o in outs for x in o[0]]
    return {**_summary("ceiling", len(programs), wall, sum(o[2] for o in outs), lat), "ok": sum(o[1] for o in outs)}


# --------------------------------------------------------------------------------------------------- pool
def bench_pool(programs: list[str], svgs: list[str], workers: int) -> dict:
    from visual_erm.render.api import RenderJob
    from visual_erm.render.pool import RenderPool

    t0 = time.monotonic()
    with RenderPool(workers=workers) as pool:
        startup = time.monotonic() - t0
        jobs = [RenderJob(id=f"c{i}", task="chart", source=p) for i, p in enumerate(programs)]
        roots = pool.zygote_pids()
        cpu0 = _tree_cpu_s(roots) + time.process_time()
        t1 = time.monotonic()
        res = pool.render(jobs)
        wall = time.monotonic() - t1
        cpu = _tree_cpu_s(roots) + time.process_time() - cpu0
        charts = {**_summary("pool", len(jobs), wall, cpu, [r.total_ms - r.queue_ms for r in res]),
                  "ok": sum(r.ok for r in res), "startup_s": round(startup, 3),
                  "job_cpu_s_per_render": round(sum(r.cpu_ms for r in res) / 1000 / max(1, len(res)), 4)}
        svg_res: dict = {}
        if svgs:
            sjobs = [RenderJob(id=f"s{i}", task="svg", source=s) for i, s in enumerate(svgs)]
            t2 = time.monotonic()
            sres = pool.render(sjobs)
            swall = time.monotonic() - t2
            svg_res = {**_summary("pool_svg", len(sjobs), swall, 0.0, [r.total_ms - r.queue_ms for r in sres]),
                       "ok": sum(r.ok for r in sres)}
            svg_res.pop("cpu_s_per_render")
    return {"charts": charts, "svg": svg_res}


# --------------------------------------------------------------------------------------------------- tables
def bench_tables(n: int, workers: int) -> dict:
    try:
        from visual_erm.render import table as table_mod
        from visual_erm.render.table import TableRenderer  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        return {"skipped": f"table renderer unavailable: {exc}"}
    from visual_erm.render.api import RenderJob
    from visual_erm.render.pool import RenderPool

    if not PUBTABNET_GT.exists():
        return {"skipped": "no PubTabNet sample"}
    gt = json.loads(PUBTABNET_GT.read_text())
    htmls = [v["html"] if isinstance(v, dict) else v for v in gt.values()]
    htmls = [htmls[i % len(htmls)] + f"<!-- {i} -->" for i in range(n)]
    jobs = [RenderJob(id=f"t{i}", task="table", source=h) for i, h in enumerate(htmls)]
    out: dict = {}
    with RenderPool(workers=workers) as pool:
        pool.render(jobs[:1])  # start the browser outside the timing
        t0 = time.monotonic()
        res = pool.render(jobs[1:])
        wall = time.monotonic() - t0
        out["long_lived"] = {**_summary("tables_long_lived", len(res), wall, 0.0, [r.total_ms - r.queue_ms for r in res]),
                             "ok": sum(r.ok for r in res)}
        out["long_lived"].pop("cpu_s_per_render")
        out["long_lived"]["browsers"] = pool.table_workers
    fresh = getattr(table_mod, "render_fresh_browser", None)
    if fresh is not None:
        few = jobs[: max(1, min(len(jobs), 4))]
        lat = []
        t0 = time.monotonic()
        oks = 0
        for j in few:
            t = time.monotonic()
            oks += bool(getattr(fresh(j), "ok", False))
            lat.append((time.monotonic() - t) * 1000)
        wall = time.monotonic() - t0
        out["fresh_browser"] = {**_summary("tables_fresh_browser", len(few), wall, 0.0, lat), "ok": oks}
        out["fresh_browser"].pop("cpu_s_per_render")
        if out["long_lived"]["renders_per_s"] and out["fresh_browser"]["renders_per_s"]:
            out["long_lived_over_fresh"] = round(out["long_lived"]["renders_per_s"]
                                                 / out["fresh_browser"]["renders_per_s"], 2)
    return out


def run_render_bench(workers: int = 2, n_charts: int = 60, n_svg: int = 120, n_tables: int = 16) -> dict:
    """Measure naive vs pool vs ceiling on the same ChartMimic programs; SVG and tables through the pool."""
    programs = chart_programs(n_charts, workers)
    result: dict = {"workers": workers, "n_charts": len(programs), "cpu_count": os.cpu_count(),
                    "loadavg_start": os.getloadavg()}
    result["naive"] = bench_naive(programs, workers)
    pool = bench_pool(programs, simple_svgs(n_svg), workers)
    result["pool"] = pool["charts"]
    result["svg"] = pool["svg"]
    result["ceiling"] = bench_ceiling(programs, workers)
    p, nv, c = result["pool"]["renders_per_s"], result["naive"]["renders_per_s"], result["ceiling"]["renders_per_s"]
    result["pool_over_naive"] = round(p / nv, 2) if nv else None
    result["pool_over_ceiling"] = round(p / c, 3) if c else None
    result["tables"] = bench_tables(n_tables, workers) if n_tables else {"skipped": "n_tables=0"}
    result["loadavg_end"] = os.getloadavg()
    return result


def format_report(r: dict) -> str:
    """The figures of :func:`run_render_bench` as a short table with the ratios the targets are stated in."""
    lines = [f"workers={r['workers']}  charts={r['n_charts']}  cores={r['cpu_count']}  "
             f"load avg start={r['loadavg_start'][0]:.2f} end={r['loadavg_end'][0]:.2f}",
             f"{'charts':<10}{'renders/s':>11}{'CPU-s/render':>14}{'p50 ms':>9}{'p95 ms':>9}"]
    def num(v, width: int, digits: int) -> str:
        return f"{'n/a':>{width}}" if v is None else f"{v:>{width}.{digits}f}"

    for name in ("naive", "pool", "ceiling"):
        m = r[name]
        lines.append(f"{name:<10}{num(m['renders_per_s'], 11, 2)}{num(m['cpu_s_per_render'], 14, 3)}"
                     f"{num(m['p50_ms'], 9, 0)}{num(m['p95_ms'], 9, 0)}")
    if "startup_s" in r["pool"]:
        lines.append(f"pool start-up: {r['pool']['startup_s']:.2f} s")
    lines.append(f"pool / naive   = {r['pool_over_naive'] or 'n/a'}x   (target >= 3.5x)")
    lines.append(f"pool / ceiling = {r['pool_over_ceiling'] or 'n/a'}    (target >= 0.8)")
    lines.append(f"svg through the pool: {num(r['svg'].get('renders_per_s'), 0, 1)} renders/s   (target >= 20)")
    t = r["tables"]
    if "long_lived_over_fresh" in t:
        lines.append(f"tables: long-lived ({t['long_lived'].get('browsers', '?')} browser(s)) "
                     f"{t['long_lived']['renders_per_s']:.2f}/s vs one Chromium per render "
                     f"{t['fresh_browser']['renders_per_s']:.2f}/s = {t['long_lived_over_fresh']}x   (target >= 2.5x)")
    else:
        lines.append(f"tables: {t}")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m visual_erm.render.bench
    print(json.dumps(run_render_bench(), indent=2))
