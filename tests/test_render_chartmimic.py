"""All 500 ChartMimic programs through the real sandboxed pool (they call plt.show()/savefig themselves)."""

import json
from collections import Counter
from pathlib import Path

import pytest

from visual_erm.render.api import RenderJob, Status
from visual_erm.testdata import chartmimic_jsonl

CHARTMIMIC = chartmimic_jsonl()


@pytest.mark.slow
@pytest.mark.skipif(not CHARTMIMIC.exists(), reason="ChartMimic test data not present")
def test_chartmimic_corpus(render_pool):
    rows = [json.loads(line) for line in CHARTMIMIC.read_text().splitlines() if line.strip()]
    assert len(rows) == 500
    jobs = [RenderJob(id=r["idx"], task="chart", source=r["code"], extract=False) for r in rows]
    results = render_pool.render(jobs)
    counts = Counter(r.status.value for r in results)
    print(f"\nChartMimic: {len(results)} programs -> {dict(counts)}")
    for r in results:
        if r.status != Status.OK:
            print(f"  {r.id}: {r.status.value}: {r.message[:120]}")
    assert [r.id for r in results] == [j.id for j in jobs]
    assert counts["ok"] >= 450
    assert counts.get("infra_error", 0) == 0
    for r in results:
        assert isinstance(r.status, Status)
        if r.status != Status.OK:
            assert r.message.strip(), r.id
        else:
            assert r.png.startswith(b"\x89PNG") and r.width and r.height
