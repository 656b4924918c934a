"""Smoke test of the render benchmark on a handful of inputs (the real figures come from `verm` / the lead's CLI)."""

import pytest

from visual_erm.render.bench import run_render_bench


@pytest.mark.slow
def test_bench_smoke():
    out = run_render_bench(workers=2, n_charts=4, n_svg=4, n_tables=0)
    for key in ("naive", "pool", "ceiling"):
        assert out[key]["renders"] == 4 and out[key]["renders_per_s"] > 0
        assert out[key]["cpu_s_per_render"] > 0
    assert out["pool"]["ok"] == 4 and out["svg"]["ok"] == 4
    assert out["pool_over_naive"] > 0 and out["pool_over_ceiling"] > 0
    assert out["pool"]["startup_s"] > 0


def test_report_of_a_tables_only_run_says_na_instead_of_crashing():
    from visual_erm.render.bench import format_report

    empty = {"renders_per_s": None, "cpu_s_per_render": None, "p50_ms": float("nan"), "p95_ms": float("nan")}
    r = {"workers": 2, "n_charts": 0, "cpu_count": 2, "loadavg_start": (0.1,), "loadavg_end": (0.2,),
         "naive": empty, "pool": dict(empty, startup_s=1.0), "ceiling": empty, "svg": {}, "pool_over_naive": None,
         "pool_over_ceiling": None,
         "tables": {"long_lived": {"renders_per_s": 5.0, "browsers": 1}, "fresh_browser": {"renders_per_s": 2.0},
                    "long_lived_over_fresh": 2.5}}
    text = format_report(r)
    assert "pool / naive   = n/ax" in text and "svg through the pool: n/a" in text
    assert "long-lived (1 browser(s)) 5.00/s" in text and "= 2.5x" in text


def test_pool_caps_table_browsers_at_half_the_cores():
    import os

    from visual_erm.render.pool import RenderPool

    cores = len(os.sched_getaffinity(0))
    assert RenderPool(workers=8).table_workers == max(1, min(8, cores // 2))  # not started: no process spawned
    assert RenderPool(workers=8, table_workers=3).table_workers == 3
