"""The structural chart critic and the figure description it reads (render.inspect)."""

from __future__ import annotations

import json

import pytest

from visual_erm.critics.chart_structural import critique, critique_programs, evaluate_chart_critic
from visual_erm.render.api import RenderJob, RenderOptions
from visual_erm.render.inspect import MAX_PATCHES, MAX_POINTS, describe_figure
from visual_erm.schema import Critique
from visual_erm.tasks.chart import generate_seed
from visual_erm.testdata import chartmimic_jsonl

INSPECT = RenderOptions(inspect=True)

BASE = """import matplotlib.pyplot as plt
import numpy as np
quarters = ['Q1', 'Q2', 'Q3', 'Q4']
revenue = [40, 52, 61, 70]
costs = [30, 35, 33, 41]
fig, ax = plt.subplots(figsize=(8, 5))
ax.bar(quarters, revenue, color='steelblue', label='Revenue')
ax.plot(quarters, costs, color='darkorange', marker='o', label='Costs')
ax.set_title('Quarterly Revenue')
ax.set_xlabel('Quarter')
ax.set_ylabel('USD (M)')
ax.legend(loc='upper left')
ax.grid(True, axis='y', linestyle='--')
plt.tight_layout()
plt.show()
"""


def _cats(c: Critique) -> list[str]:
    return sorted(e.category for e in c.errors)


def test_identical_programs_are_equivalent(render_pool):
    for s in range(5):
        prog = generate_seed(s).program
        assert critique_programs(prog, prog, render_pool).is_equivalent


# Natural rewrites that no operator makes: a policy's attempt at the same chart.
NATURAL = [
    ("title wording", BASE.replace("'Quarterly Revenue'", "'Revenue per Quarter'"), ["text_error"]),
    ("line instead of bars", BASE.replace("ax.bar(quarters, revenue, color='steelblue', label='Revenue')",
                                          "ax.plot(quarters, revenue, color='steelblue', label='Revenue')"),
     ["structure_error"]),
    ("legend forgotten", BASE.replace("ax.legend(loc='upper left')\n", ""), ["text_error"]),
    ("values misread", BASE.replace("[40, 52, 61, 70]", "[40, 50, 61, 75]"), ["data_error", "data_error"]),
    ("default colours and no grid", BASE.replace("color='steelblue', ", "").replace(
        "ax.grid(True, axis='y', linestyle='--')\n", ""), ["style_error", "style_error"]),
    ("two panels instead of one", BASE.replace("fig, ax = plt.subplots(figsize=(8, 5))",
                                               "fig, (ax, ax_extra) = plt.subplots(1, 2, figsize=(8, 5))"),
     ["structure_error"]),
    ("log axis and missing series", BASE.replace("ax.plot(quarters, costs, color='darkorange', marker='o', label='Costs')\n",
                                                 "ax.set_yscale('log')\n"), ["data_error", "data_error"]),
    ("x label dropped, ticks renamed", BASE.replace("ax.set_xlabel('Quarter')\n", "").replace(
        "quarters = ['Q1', 'Q2', 'Q3', 'Q4']", "quarters = ['Q1', 'Q2', 'Q3', 'Q4 (est.)']"),
     ["text_error", "text_error"]),
]


@pytest.mark.parametrize("name,candidate,expected", NATURAL, ids=[n for n, _, _ in NATURAL])
def test_critic_labels_natural_differences(render_pool, name, candidate, expected):
    crit = critique_programs(BASE, candidate, render_pool)
    assert _cats(crit) == sorted(expected), crit.to_json(indent=1)
    for e in crit.errors:
        assert e.location and e.description.endswith(".")


def test_critic_descriptions_follow_the_paper(render_pool):
    crit = critique_programs(BASE, BASE.replace("'Quarterly Revenue'", "'Quarterly Revenues'"), render_pool)
    (e,) = crit.errors
    assert e.location == "title" and e.severity == 2
    assert e.description == "The title reads 'Quarterly Revenue' in the reference but 'Quarterly Revenues' in the candidate."
    crit = critique_programs(BASE, BASE.replace("[40, 52, 61, 70]", "[40, 52, 61, 140]"), render_pool)
    (e,) = crit.errors
    assert e.category == "data_error" and e.severity == 3 and "'Revenue'" in e.location
    assert "70" in e.description and "140" in e.description


def test_critique_programs_reports_render_failures(render_pool):
    with pytest.raises(RuntimeError, match="candidate"):
        critique_programs(BASE, BASE + "\nraise ValueError('boom')\n", render_pool)


def test_critique_tolerates_empty_and_broken_descriptions():
    assert critique({}, {}).is_equivalent
    broken = {"axes": [{"index": 0, "error": "ValueError: x"}]}
    assert critique(broken, broken).is_equivalent
    one = {"axes": [{"index": 0, "bars": [], "lines": [], "title": "A"}]}
    assert [e.category for e in critique(one, {"axes": []}).errors] == ["structure_error"]


# ---------------------------------------------------------------------------------------------------------------
# describe_figure (in-process on trusted figures; the render pool runs it in the sandbox)
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture()
def plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_describe_figure_reads_the_parts(plt):
    import numpy as np

    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 4))
    a.bar(["x", "y"], [3, 5], color="red", label="S")
    a.set_title("T")
    a.legend(loc="upper left")
    a.grid(True)
    a.annotate("peak", (1, 5))
    im = b.imshow(np.arange(6).reshape(2, 3), cmap="viridis")
    fig.colorbar(im, ax=b)
    fig.suptitle("Sup")
    d = describe_figure(fig)
    json.dumps(d)
    assert d["suptitle"] == "Sup" and d["figsize"] == [8.0, 4.0]
    ax0 = d["axes"][0]
    assert ax0["title"] == "T" and ax0["legend"]["texts"] == ["S"] and ax0["legend"]["loc"] == "upper left"
    assert ax0["bars"][0]["values"] == [3.0, 5.0] and ax0["bars"][0]["colors"][0] == "#ff0000"
    assert ax0["grid"]["x"] and ax0["xticklabels"] == ["x", "y"] and ax0["grid_spec"]["ncols"] == 2
    assert ax0["texts"][0]["text"] == "peak"
    assert d["axes"][1]["images"][0]["cmap"] == "viridis" and d["axes"][1]["images"][0]["shape"] == [2, 3]
    assert any(x["is_colorbar"] for x in d["axes"])


def test_describe_figure_caps_sizes_and_never_raises(plt):
    import numpy as np

    fig = plt.figure()
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(np.arange(10_000), np.sin(np.arange(10_000)))
    ax.plot([1, np.nan, np.inf], [1, 2, 3])
    ax.bar(range(2000), np.ones(2000))
    ax.scatter(np.arange(5000), np.arange(5000))
    fig.add_subplot(1, 2, 2, projection="polar").plot([0, 1], [1, 2])
    d = describe_figure(fig)
    json.dumps(d, allow_nan=False)
    ax0 = d["axes"][0]
    assert len(ax0["lines"][0]["y"]) <= MAX_POINTS and ax0["lines"][0]["n"] == 10_000
    assert len(ax0["bars"][0]["values"]) <= MAX_PATCHES and ax0["bars"][0]["n"] == 2000
    assert len(ax0["collections"][0]["offsets"]) <= MAX_POINTS
    assert d["axes"][1]["projection"] == "polar"
    assert describe_figure(None)["axes"] == []
    assert describe_figure(object())["axes"] == []


def test_describe_3d_and_empty(plt):
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    ax.plot([0, 1, 2], [0, 1, 2], [3, 4, 5])
    d = describe_figure(fig)
    assert d["axes"][0]["lines"][0]["z"] == [3.0, 4.0, 5.0]
    assert describe_figure(plt.figure())["axes"] == []


# ---------------------------------------------------------------------------------------------------------------
# evaluation against operator gold labels (held-out generated seeds)
# ---------------------------------------------------------------------------------------------------------------


def test_evaluate_chart_critic_small(render_pool):
    report = evaluate_chart_critic(16, seed=1, pool=render_pool)
    assert report["scored"] == 16 and report["gold_errors"] >= 12
    assert set(report["per_category"]) == {"structure_error", "data_error", "text_error", "style_error"}
    assert report["overall"]["recall"] >= 0.8 and report["overall"]["precision"] >= 0.8, report
    again = evaluate_chart_critic(16, seed=1, pool=render_pool)
    assert again == report


@pytest.mark.slow
def test_evaluate_chart_critic_meets_targets(render_pool):
    report = evaluate_chart_critic(200, seed=7, pool=render_pool)
    print(json.dumps(report, indent=1))
    assert report["overall"]["recall"] >= 0.9 and report["overall"]["precision"] >= 0.8
    for cat, m in report["per_category"].items():
        assert m["recall"] >= 0.85 and m["precision"] >= 0.8, (cat, m)


def test_real_programs_rendered_twice_are_equivalent(render_pool):
    """ChartMimic scripts (random data is seeded per job) must not produce phantom discrepancies."""
    path = str(chartmimic_jsonl())
    try:
        rows = [json.loads(line) for line in open(path)][::25]
    except FileNotFoundError:
        pytest.skip("ChartMimic test data not available")
    jobs = [RenderJob(f"{r['file']}-{k}", "chart", r["code"], INSPECT) for r in rows for k in (0, 1)]
    res = render_pool.render(jobs)
    checked = 0
    for a, b in zip(res[::2], res[1::2]):
        if a.ok and b.ok:
            checked += 1
            assert critique(a.figure, b.figure).is_equivalent, a.id
    assert checked >= 10
