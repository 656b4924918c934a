"""Chart task: the seed generator, the AST corruption operators (on generated and real ChartMimic programs) and
the figure description they are checked against."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from visual_erm.render.api import RenderJob, RenderOptions
from visual_erm.schema import CATEGORIES
from visual_erm.tasks import get_task
from visual_erm.tasks.base import Edit
from visual_erm.tasks.chart import (ELIGIBILITY, KINDS, OPERATORS, OPERATORS_BY_NAME, RESHAPING,
                                       compose_compatible, generate_seed)
from visual_erm.testdata import chartmimic_jsonl

CHARTMIMIC = chartmimic_jsonl()
INSPECT = RenderOptions(inspect=True)


def _chartmimic() -> list[dict]:
    if not CHARTMIMIC.exists():
        pytest.skip(f"ChartMimic test data not found at {CHARTMIMIC}")
    return [json.loads(line) for line in CHARTMIMIC.read_text().splitlines() if line.strip()]


def _renderable_chartmimic(pool) -> list[dict]:
    """The ChartMimic programs that render on this matplotlib, found once and cached in /tmp by file hash."""
    rows = _chartmimic()
    digest = hashlib.sha256(CHARTMIMIC.read_bytes()).hexdigest()[:16]
    import matplotlib

    cache = Path("/tmp") / f"verm-chartmimic-renderable-{digest}-mpl{matplotlib.__version__}.json"
    if cache.exists():
        ok = set(json.loads(cache.read_text()))
    else:
        results = pool.render([RenderJob(r["file"], "chart", r["code"]) for r in rows])
        ok = {r.id for r in results if r.ok}
        cache.write_text(json.dumps(sorted(ok)))
    return [r for r in rows if r["file"] in ok]


# ---------------------------------------------------------------------------------------------------------------
# generator
# ---------------------------------------------------------------------------------------------------------------


def test_task_registry_exposes_chart():
    mod = get_task("chart")
    assert mod.generate_seed is generate_seed
    assert set(KINDS) >= {"bar", "grouped_bar", "stacked_bar", "barh", "line", "scatter", "pie", "histogram", "box",
                          "area", "errorbar", "heatmap", "subplots", "twin_axes"}


@pytest.mark.parametrize("kind", KINDS)
def test_generator_is_deterministic_and_varies(kind):
    a, b = generate_seed(7, kind), generate_seed(7, kind)
    assert a == b
    assert a.seed_id == "chart-7" and a.task == "chart" and a.kind == kind
    others = {generate_seed(s, kind).program for s in range(8)}
    assert len(others) == 8, "programs should differ by seed"
    tree = ast.parse(a.program)
    assert "import matplotlib.pyplot as plt" in a.program and "import numpy as np" in a.program
    last = [ast.unparse(s) for s in tree.body[-2:]]
    assert last[0] == "plt.tight_layout()" and (last[1].startswith("plt.savefig(") or last[1] == "plt.show()")


def test_generator_draws_all_kinds():
    kinds = Counter(generate_seed(s).kind for s in range(400))
    assert set(kinds) == set(KINDS)


def test_every_kind_renders_and_differs_by_seed(render_pool):
    jobs = [RenderJob(f"{k}-{s}", "chart", generate_seed(s, k).program, INSPECT) for k in KINDS for s in (1, 2)]
    results = render_pool.render(jobs)
    failed = [(r.id, r.message) for r in results if not r.ok]
    assert not failed
    for i in range(0, len(results), 2):
        assert results[i].png != results[i + 1].png, results[i].id
        assert results[i].figure and results[i].figure["axes"], results[i].id


def test_kinds_draw_what_they_say(render_pool):
    want = {"bar": "bars", "barh": "bars", "line": "lines", "scatter": "collections", "pie": "wedges",
            "heatmap": "images", "histogram": "bars", "area": "collections", "errorbar": "errorbars"}
    jobs = [RenderJob(k, "chart", generate_seed(3, k).program, INSPECT) for k in want]
    for r in render_pool.render(jobs):
        ax = r.figure["axes"][0]
        assert ax[want[r.id]], f"{r.id}: no {want[r.id]} in the figure"
        if r.id == "barh":
            assert ax["bars"][0]["orientation"] == "horizontal"
    twin = render_pool.render([RenderJob("t", "chart", generate_seed(3, "twin_axes").program, INSPECT)])[0]
    assert any(a["twin_of"] is not None for a in twin.figure["axes"])
    sub = render_pool.render([RenderJob("s", "chart", generate_seed(3, "subplots").program, INSPECT)])[0]
    assert len([a for a in sub.figure["axes"] if not a["is_colorbar"]]) >= 2


# ---------------------------------------------------------------------------------------------------------------
# operators on generated programs
# ---------------------------------------------------------------------------------------------------------------


def test_operator_registry_covers_every_category():
    assert len(OPERATORS) >= 14
    assert {op.category for op in OPERATORS} == set(CATEGORIES["chart"])
    assert len(OPERATORS_BY_NAME) == len(OPERATORS)


def _first_edit(op, seeds, kinds=None):
    for s in seeds:
        for kind in kinds or [None]:
            prog = generate_seed(s, kind).program
            edit = op.apply(prog, random.Random(s))
            if edit is not None:
                return prog, edit, s
    return None, None, None


KIND_FOR = {"drop_subplot": ["subplots"], "change_subplot_layout": ["subplots"], "drop_twin_axis": ["twin_axes"],
            "change_colormap": ["heatmap"], "change_annotation": ["bar", "heatmap", "barh", "line"]}


@pytest.mark.parametrize("op", OPERATORS, ids=lambda o: o.name)
def test_operator_edit_is_well_formed_and_deterministic(op):
    prog, edit, s = _first_edit(op, range(40), KIND_FOR.get(op.name))
    assert edit is not None, f"{op.name} never applied to generated programs"
    d = edit.discrepancy
    assert edit.operator == op.name and d.category == op.category
    assert d.severity in (1, 2, 3) and d.location and d.description.endswith(".")
    assert edit.program != prog
    compile(edit.program, "chart.py", "exec")
    again = op.apply(prog, random.Random(s))
    assert again == edit, "same program and rng state must give the same edit"


def test_operators_return_none_when_not_applicable():
    bare = "import matplotlib.pyplot as plt\nplt.figure()\nplt.show()\n"
    applicable = {op.name for op in OPERATORS if op.apply(bare, random.Random(0)) is not None}
    assert not applicable & {"change_value", "change_chart_type", "drop_subplot", "drop_twin_axis", "change_colormap",
                             "change_legend_label", "change_tick_label", "drop_series", "swap_series"}
    assert all(op.apply("this is not python (", random.Random(0)) is None for op in OPERATORS)


def test_change_value_reports_the_edit_it_made():
    prog = ("import matplotlib.pyplot as plt\nquarters = ['Q1', 'Q2', 'Q3', 'Q4']\nrevenue = [40, 52, 61, 70]\n"
            "fig, ax = plt.subplots()\nax.bar(quarters, revenue, label='Revenue')\nax.legend()\nplt.show()\n")
    edit = OPERATORS_BY_NAME["change_value"].apply(prog, random.Random(3))
    i, old, new = edit.detail["index"], edit.detail["old"], edit.detail["new"]
    tree = ast.parse(edit.program)
    values = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "revenue")
    assert values[i] == new and [40, 52, 61, 70][i] == old
    assert f"'{['Q1', 'Q2', 'Q3', 'Q4'][i]}'" in edit.discrepancy.location and "'Revenue'" in edit.discrepancy.location
    from visual_erm.tasks.base import severity_for_change

    assert edit.discrepancy.severity == severity_for_change(old, new)


def test_title_edit_description_in_paper_style():
    prog = "import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\nplt.title('Quarterly Revenue')\nplt.show()\n"
    edit = OPERATORS_BY_NAME["change_title"].apply(prog, random.Random(1))
    d = edit.discrepancy
    assert d.location == "title" and d.category == "text_error"
    assert "'Quarterly Revenue' in the reference" in d.description


def test_subplot_locations_name_the_panel():
    prog = ("import matplotlib.pyplot as plt\nfig, axes = plt.subplots(2, 2)\naxes[0, 1].plot([1, 2], [3, 4])\n"
            "axes[0, 1].set_ylabel('Rate')\naxes[1, 0].bar(['a', 'b'], [1, 2])\nplt.show()\n")
    edit = OPERATORS_BY_NAME["change_axis_label"].apply(prog, random.Random(0))
    assert edit.discrepancy.location == "y-axis label of the top-right subplot"


# ---------------------------------------------------------------------------------------------------------------
# operators against the renderer: the label matches what changed
# ---------------------------------------------------------------------------------------------------------------


def _label_matches(pool, pairs) -> tuple[int, int, list]:
    """(matched, visible, misses) for (reference program, edit) pairs, judged by the structural critic."""
    from visual_erm.critics.chart_structural import critique

    jobs = []
    for k, (ref, edit) in enumerate(pairs):
        jobs += [RenderJob(f"r{k}", "chart", ref, INSPECT), RenderJob(f"e{k}", "chart", edit.program, INSPECT)]
    res = pool.render(jobs)
    matched = visible = 0
    misses = []
    for k, (ref, edit) in enumerate(pairs):
        a, b = res[2 * k], res[2 * k + 1]
        if not (a.ok and b.ok) or a.png == b.png:
            continue
        visible += 1
        found = [e.category for e in critique(a.figure, b.figure).errors]
        if edit.discrepancy.category in found:
            matched += 1
        else:
            misses.append((edit.operator, edit.discrepancy.description, found))
    return matched, visible, misses


def test_operator_labels_match_the_render_on_generated_programs(render_pool):
    pairs = []
    for op in OPERATORS:
        n = 0
        for s in range(100, 160):
            prog = generate_seed(s, (KIND_FOR.get(op.name) or [None])[0]).program
            edit = op.apply(prog, random.Random(s))
            if edit is not None:
                pairs.append((prog, edit))
                n += 1
                if n == 3:
                    break
    matched, visible, misses = _label_matches(render_pool, pairs)
    assert visible >= 0.8 * len(pairs)
    assert matched >= 0.95 * visible, misses


def _chartmimic_sample(rows, op, per_op):
    rng = random.Random(op.name)
    order = list(range(len(rows)))
    rng.shuffle(order)
    pairs = []
    for i in order:
        edit = op.apply(rows[i]["code"], random.Random(i))
        if edit is not None:
            pairs.append((rows[i]["code"], edit))
            if len(pairs) == per_op:
                break
    return pairs


def test_operators_on_a_chartmimic_sample(render_pool):
    rows = _chartmimic()[:60]
    for op in OPERATORS:
        for i, r in enumerate(rows):
            edit = op.apply(r["code"], random.Random(i))
            if edit is not None:
                assert edit.discrepancy.category == op.category
                compile(edit.program, r["file"], "exec")
    pairs = [p for op in OPERATORS for p in _chartmimic_sample(rows, op, 1)]
    matched, visible, misses = _label_matches(render_pool, pairs)
    assert visible >= 0.6 * len(pairs)
    assert matched >= 0.8 * visible, misses


#: Applicability floor on ChartMimic: every operator applies to at least this share of the programs it is meant for
#: — all renderable programs, or, for operators that by nature need a chart feature, the programs that have it
#: (``ELIGIBILITY``: twin axes, several subplots, a colormap, text on the plot, a legend, line/point artists,
#: several series).
APPLICABILITY_FLOOR = 0.7


@pytest.mark.slow
def test_operator_applicability_on_chartmimic(render_pool):
    rows = _renderable_chartmimic(render_pool)
    assert len(rows) >= 400
    eligible = Counter()
    applied = Counter()
    union = Counter()
    for i, r in enumerate(rows):
        cats = set()
        for op in OPERATORS:
            pred = ELIGIBILITY.get(op.name)
            ok = pred(r["code"]) if pred is not None else True
            edit = op.apply(r["code"], random.Random(i))
            if edit is not None:
                cats.add(op.category)
            if ok:
                eligible[op.name] += 1
                applied[op.name] += edit is not None
        union.update(cats)
    rate = {op.name: applied[op.name] / max(eligible[op.name], 1) for op in OPERATORS}
    print(f"\n{'operator':24s} {'category':16s} {'denominator':>22s} {'applied':>7s} {'rate':>6s}")
    for op in OPERATORS:
        denom = f"eligible {eligible[op.name]}" if op.name in ELIGIBILITY else f"all {eligible[op.name]}"
        print(f"{op.name:24s} {op.category:16s} {denom:>22s} {applied[op.name]:7d} {rate[op.name]:6.3f}")
    for op in OPERATORS:
        assert eligible[op.name] >= 10, (op.name, "too few eligible programs to measure")
        assert rate[op.name] >= APPLICABILITY_FLOOR, (op.name, rate[op.name])
    for cat in CATEGORIES["chart"]:
        assert union[cat] / len(rows) >= 0.7, (cat, union[cat] / len(rows))


@pytest.mark.slow
def test_operator_labels_match_the_render_on_chartmimic(render_pool):
    rows = _renderable_chartmimic(render_pool)
    report = {}
    for op in OPERATORS:
        matched, visible, misses = _label_matches(render_pool, _chartmimic_sample(rows, op, 12))
        report[op.name] = (matched, visible)
        if visible >= 4:
            assert matched >= 0.75 * visible, (op.name, misses[:3])
    print(json.dumps(report))


# ---------------------------------------------------------------------------------------------------------------
# eligibility predicates and composing edits
# ---------------------------------------------------------------------------------------------------------------


def test_eligibility_predicates_see_the_feature():
    bare = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar(['a', 'b'], [1, 2])\nplt.show()\n"
    assert set(ELIGIBILITY) <= set(OPERATORS_BY_NAME)
    assert not any(ELIGIBILITY[n](bare) for n in ("drop_twin_axis", "drop_subplot", "change_subplot_layout",
                                                  "change_colormap", "change_annotation", "change_legend_label",
                                                  "drop_or_move_legend", "change_marker", "drop_series"))
    assert not any(pred("this is not python (") for pred in ELIGIBILITY.values())
    want = {"drop_twin_axis": "twin_axes", "drop_subplot": "subplots", "change_subplot_layout": "subplots",
            "change_colormap": "heatmap", "change_marker": "line", "drop_series": "grouped_bar"}
    for name, kind in want.items():
        assert all(ELIGIBILITY[name](generate_seed(s, kind).program) for s in range(5)), (name, kind)
    text = bare.replace("plt.show()", "ax.text(0, 1, 'peak')\nax.legend(['x'])\nplt.show()")
    assert ELIGIBILITY["change_annotation"](text) and ELIGIBILITY["drop_or_move_legend"](text)
    assert ELIGIBILITY["change_legend_label"](text)


@pytest.mark.parametrize("op", OPERATORS, ids=lambda o: o.name)
def test_every_edit_records_its_targets(op):
    prog, edit, _ = _first_edit(op, range(40), KIND_FOR.get(op.name))
    targets = edit.detail.get("targets")
    assert targets and all(isinstance(t, tuple) and len(t) >= 2 for t in targets), targets


def _edit(op: str, targets, program: str = "x = 1\n") -> Edit:
    from visual_erm.schema import Discrepancy

    cat = OPERATORS_BY_NAME[op].category
    return Edit(program, Discrepancy(category=cat, severity=1, location="l", description="d."), op,
                {"targets": list(targets)})


def test_compose_compatible_rules():
    title0, title1 = _edit("change_title", [("title", "#0")]), _edit("change_title", [("title", "#1")])
    color00 = _edit("change_color", [("series", "#0", 0)])
    color01 = _edit("change_color", [("series", "#0", 1)])
    value00 = _edit("change_value", [("series", "#0", 0)])
    legend = _edit("drop_or_move_legend", [("legend", "*")])
    legend_label = _edit("change_legend_label", [("legend", "*")])
    assert compose_compatible(title0, title1) and compose_compatible(title0, color00)
    assert not compose_compatible(title0, _edit("change_title", [("title", "#0")]))  # same element
    assert not compose_compatible(color00, value00)  # same series
    assert compose_compatible(color00, color01) and compose_compatible(value00, color01)
    assert not compose_compatible(legend_label, legend)  # wildcard axes overlap
    assert not compose_compatible(_edit("change_value", [("series", "*", "*")]), color01)
    # reshaping edits come last: nothing after them, and they may not touch an axes an earlier edit touched
    for op in RESHAPING:
        shaped = _edit(op, [("axes", "#0")])
        assert not compose_compatible(shaped, title1)
    assert not compose_compatible(value00, _edit("drop_series", [("series", "#0", 1), ("axes", "#0")]))
    assert compose_compatible(title1, _edit("drop_series", [("series", "#0", 1), ("axes", "#0")]))
    assert not compose_compatible(title1, _edit("change_subplot_layout", [("axes", "*")]))
    assert compose_compatible(_edit("change_title", [("title", "fig")]), _edit("drop_subplot", [("axes", "#2")]))
    assert not compose_compatible(_edit("toggle_grid", [("grid", "#2")]), _edit("drop_subplot", [("axes", "#2")]))
    assert not compose_compatible(_edit("change_title", []), title1)  # an edit without targets is never composed


def test_composed_real_edits_respect_the_rules():
    prog = ("import matplotlib.pyplot as plt\nfig, (a1, a2) = plt.subplots(1, 2)\n"
            "a1.plot([1, 2, 3], [3, 1, 2], label='North')\na1.plot([1, 2, 3], [2, 2, 4], label='South')\n"
            "a1.set_title('Left')\na2.bar(['x', 'y'], [4, 5])\na2.set_title('Right')\na1.legend()\nplt.show()\n")
    title = OPERATORS_BY_NAME["change_title"].apply(prog, random.Random(0))
    side = title.detail["targets"][0][1]
    assert side in ("#0", "#1")
    other = next(OPERATORS_BY_NAME["change_title"].apply(title.program, random.Random(s)) for s in range(50)
                 if OPERATORS_BY_NAME["change_title"].apply(title.program, random.Random(s)).detail["targets"][0][1] != side)
    assert compose_compatible(title, other)
    again = next(OPERATORS_BY_NAME["change_title"].apply(title.program, random.Random(s)) for s in range(50)
                 if OPERATORS_BY_NAME["change_title"].apply(title.program, random.Random(s)).detail["targets"][0][1] == side)
    assert not compose_compatible(title, again)
    drop = OPERATORS_BY_NAME["drop_subplot"].apply(prog, random.Random(0))
    assert drop.detail["targets"] == [("axes", f"#{drop.detail['index']}")]
    assert not compose_compatible(drop, title)
