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
