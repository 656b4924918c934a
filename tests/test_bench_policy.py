"""The policy benchmark on a scripted policy: perfect copies, broken programs, a blank figure, a timeout loop."""

import json
from pathlib import Path

import pytest

from visual_erm.bench.policy import PolicyBenchError, load_policy_items, load_responses, run_policy_bench
from visual_erm.render.api import RenderJob, RenderOptions

CHART_BAR = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 3))
ax.bar(['a', 'b', 'c'], [3, 5, 2], color=['#1f77b4', '#ff7f0e', '#2ca02c'], label='sales')
ax.set_title('Quarterly sales')
ax.set_xlabel('quarter')
ax.legend()
"""
CHART_LINES = """import matplotlib.pyplot as plt
fig, (a1, a2) = plt.subplots(1, 2, figsize=(6, 3))
a1.plot([1, 2, 3], [2, 4, 3], color='red', label='x')
a2.scatter([1, 2, 3], [3, 1, 2], color='green')
fig.suptitle('Two panels')
"""
CHART_PIE = """import matplotlib.pyplot as plt
plt.figure(figsize=(3, 3))
plt.pie([30, 50, 20], labels=['A', 'B', 'C'], colors=['gold', 'teal', 'salmon'])
plt.title('Share')
"""
CHART_HEAT = """import matplotlib.pyplot as plt
import numpy as np
plt.figure(figsize=(3, 3))
plt.imshow(np.arange(16).reshape(4, 4), cmap='viridis')
plt.colorbar()
plt.title('Grid')
"""
TABLE_1 = "<table><tr><th>name</th><th>score</th></tr><tr><td>ann</td><td>91</td></tr></table>"
TABLE_2 = "<table><tr><td rowspan='2'>x</td><td>1</td></tr><tr><td>2</td></tr></table>"
SVG_1 = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><circle cx="12" cy="12" r="8" fill="#d33"/>'
         '</svg>')
SVG_2 = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect x="4" y="4" width="16" height="10" '
         'fill="#36c"/></svg>')

REFERENCES = {"chart-bar": ("chart", CHART_BAR), "chart-lines": ("chart", CHART_LINES),
              "chart-pie": ("chart", CHART_PIE), "chart-heat": ("chart", CHART_HEAT),
              "table-1": ("table", TABLE_1), "table-2": ("table", TABLE_2),
              "svg-1": ("svg", SVG_1), "svg-2": ("svg", SVG_2)}

#: The scripted policy. Executed: chart-bar, table-1, svg-1 (3 of 8).
RESPONSES = {
    "chart-bar": f"Here is the code:\n```python\n{CHART_BAR}plt.show()\n```",  # a perfect copy (show is stripped)
    "chart-lines": "```python\nimport matplotlib.pyplot as plt\nplt.plot(undefined_data)\n```",  # NameError
    "chart-pie": "```python\nimport matplotlib.pyplot as plt\nplt.figure()\nplt.axis('off')\n```",  # blank figure
    "chart-heat": "```python\nwhile True:\n    pass\n```",  # runs past the timeout
    "table-1": TABLE_1,  # a perfect copy, raw HTML
    "table-2": "Sorry, I cannot read this table.",  # no table: rejected, TEDS 0
    "svg-1": f"```svg\n{SVG_1}\n```",  # a perfect copy
    # svg-2: no response at all
    "not-an-item": "```python\nprint(1)\n```",
}


def _render_refs(pool) -> dict[str, bytes]:
    jobs = [RenderJob(k, task, code, RenderOptions()) for k, (task, code) in REFERENCES.items()]
    out = {}
    for r in pool.render(jobs):
        assert r.ok, (r.id, r.status, r.message)
        out[r.id] = r.png
    return out


@pytest.fixture(scope="module")
def prompt_set(tmp_path_factory, render_pool) -> Path:
    """A prompt set (prompts.jsonl + images) with reference programs."""
    root = tmp_path_factory.mktemp("prompts")
    pngs = _render_refs(render_pool)
    (root / "images").mkdir()
    lines = []
    for k, (task, code) in REFERENCES.items():
        (root / "images" / f"{k}.png").write_bytes(pngs[k])
        lines.append(json.dumps({"id": k, "task": task, "image": f"images/{k}.png", "reference_code": code}))
    (root / "prompts.jsonl").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def responses_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("resp") / "responses.jsonl"
    path.write_text("".join(json.dumps({"id": k, "response": v}) + "\n" for k, v in RESPONSES.items()))
    return path


@pytest.fixture(scope="module")
def bench_result(prompt_set, responses_file, render_pool, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    result = run_policy_bench(prompt_set, out, responses=responses_file, critic="structural", pool=render_pool,
                              timeout_s=2.0)
    return result, out


def _items(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (out / "items.jsonl").read_text().splitlines())}


def test_execution_rate_is_exact(bench_result):
    result, out = bench_result
    o = result["overall"]
    assert (o["n_items"], o["n_scored"], o["n_executed"]) == (8, 8, 3)
    assert o["exec_rate"] == pytest.approx(3 / 8)
    assert result["by_task"]["chart"]["exec_rate"] == pytest.approx(1 / 4)
    assert result["by_task"]["table"]["exec_rate"] == pytest.approx(1 / 2)
    assert result["by_task"]["svg"]["exec_rate"] == pytest.approx(1 / 2)
    items = _items(out)
    assert items["chart-bar"]["status"] == "ok"
    assert items["chart-lines"]["status"] == "error" and "NameError" in items["chart-lines"]["message"]
    assert items["chart-pie"]["status"] == "blank"
    assert items["chart-heat"]["status"] == "timeout"
    assert items["table-2"]["status"] == "rejected"
    assert items["svg-2"]["status"] == "no_response"
    assert result["by_task"]["chart"]["status_counts"] == {"blank": 1, "error": 1, "ok": 1, "timeout": 1}
    assert result["unmatched_responses"] == ["not-an-item"]


def test_copies_score_one_and_failures_count_as_zero(bench_result):
    result, out = bench_result
    items = _items(out)
    bar = items["chart-bar"]["metrics"]
    assert bar == {"text_f1": 1.0, "layout_f1": 1.0, "type_f1": 1.0, "color_f1": 1.0, "low_level": 1.0}
    for k in ("chart-lines", "chart-pie", "chart-heat"):
        assert items[k]["metrics"]["low_level"] == 0.0
    assert items["table-1"]["metrics"] == {"teds": 1.0, "teds_s": 1.0}
    assert items["table-2"]["metrics"] == {"teds": 0.0, "teds_s": 0.0}
    assert items["svg-1"]["metrics"]["ssim"] == pytest.approx(1.0) and items["svg-1"]["metrics"]["mse"] == 0.0
    assert items["svg-2"]["metrics"] == {"ssim": 0.0, "mse": 1.0}
    chart = result["by_task"]["chart"]["metrics"]
    assert chart["low_level"] == pytest.approx(0.25) and chart["low_level_on_executed"] == 1.0
    assert result["by_task"]["table"]["metrics"]["teds"] == pytest.approx(0.5)
    assert result["by_task"]["svg"]["metrics"]["mse"] == pytest.approx(0.5)


def test_visual_erm_reward_released(bench_result):
    result, out = bench_result
    items = _items(out)
    for k in ("chart-bar", "table-1", "svg-1"):  # perfect copies: no errors, S = 0, reward 2
        assert items[k]["severity_sum"] == 0.0 and items[k]["reward"] == 2.0, items[k]
    for k in ("chart-lines", "chart-pie", "chart-heat", "table-2", "svg-2"):
        assert items[k]["reward"] == 0.0 and "severity_sum" not in items[k]
    assert result["overall"]["verm"]["reward_mean"] == pytest.approx(6 / 8)
    assert result["reward_variant"] == "released"


def test_outputs_written(bench_result):
    result, out = bench_result
    assert json.loads((out / "metrics.json").read_text()) == result
    html = (out / "report.html").read_text()
    assert "Worst items" in html and "chart-heat" in html and "data:image/png;base64," in html
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {"items.jsonl", "metrics.json", "report.html"}


def test_reference_that_fails_is_excluded(tmp_path, render_pool, prompt_set):
    rows = [json.loads(x) for x in (prompt_set / "prompts.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["task"] == "chart"][:2]
    rows[1]["reference_code"] = "import matplotlib.pyplot as plt\nraise SystemExit(3)\n"
    for r in rows:
        r["image"] = str(prompt_set / r["image"])
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_policy_bench(tmp_path / "p.jsonl", tmp_path / "out", responses={"chart-bar": RESPONSES["chart-bar"]},
                              pool=render_pool)
    assert result["overall"]["n_excluded"] == 1 and result["excluded"][0]["id"] == rows[1]["id"]
    assert result["by_task"]["chart"]["exec_rate"] == 1.0


def test_pair_dataset_items_one_per_seed(tmp_path, render_pool):
    from tests.test_benchset import make_pair_dataset, pair_row

    pngs = _render_refs(render_pool)
    rows = []
    for j in range(2):  # two pairs per seed share the reference
        for k in ("chart-bar", "svg-1"):
            r = pair_row(f"{k}-c{j}", REFERENCES[k][0], "test", k)
            r["reference_code"], r["reference_image"] = REFERENCES[k][1], {"bytes": pngs[k], "path": None}
            rows.append(r)
    r = pair_row("train-c0", "svg", "train", "svg-train")
    rows.append(r)
    data = make_pair_dataset(tmp_path / "pairs", rows)
    items = load_policy_items(data)
    assert [(it.id, it.task) for it in items] == [("chart-bar", "chart"), ("svg-1", "svg")]
    result = run_policy_bench(data, tmp_path / "out", responses={k: RESPONSES[k] for k in ("chart-bar", "svg-1")},
                              pool=render_pool)
    assert result["overall"]["exec_rate"] == 1.0
    assert result["by_task"]["chart"]["metrics"]["low_level"] == 1.0


class _FakePolicy:
    """Stands in for ChatClient: answers each prompt with the perfect copy and records what it was sent."""

    def __init__(self):
        self.calls = []

    def complete(self, messages, **sampling):
        self.calls.append(messages)
        content = messages[0]["content"]
        assert content[0]["type"] == "image_url" and content[0]["image_url"]["url"].startswith("data:image/png")
        text = content[1]["text"]
        return RESPONSES["chart-bar"] if "matplotlib" in text else RESPONSES["svg-1"]


def test_endpoint_generates_and_keeps_responses(tmp_path, render_pool, prompt_set):
    rows = [json.loads(x) for x in (prompt_set / "prompts.jsonl").read_text().splitlines()]
    rows = [dict(r, image=str(prompt_set / r["image"])) for r in rows if r["id"] in ("chart-bar", "svg-1")]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    fake = _FakePolicy()
    result = run_policy_bench(tmp_path / "p.jsonl", tmp_path / "out", endpoint="http://policy:8000", model="m",
                              client=fake, pool=render_pool, workers=1)
    assert len(fake.calls) == 2 and result["overall"]["exec_rate"] == 1.0
    assert load_responses(tmp_path / "out" / "responses.jsonl").keys() == {"chart-bar", "svg-1"}
    assert result["policy"] == "m@http://policy:8000"


def test_bad_inputs_are_explained(tmp_path):
    with pytest.raises(PolicyBenchError, match="exactly one"):
        run_policy_bench(tmp_path, tmp_path / "o")
    (tmp_path / "r.jsonl").write_text('{"id": "a"}\n')
    with pytest.raises(PolicyBenchError, match="needs 'id' and 'response'"):
        load_responses(tmp_path / "r.jsonl")
    with pytest.raises(PolicyBenchError, match="not a pair dataset"):
        load_policy_items(tmp_path / "missing")


def test_cli_bench_policy(tmp_path, prompt_set, responses_file):
    from typer.testing import CliRunner

    from visual_erm.cli import app

    res = CliRunner().invoke(app, ["bench", "policy", "--data", str(prompt_set), "--responses", str(responses_file),
                                   "--out", str(tmp_path / "out"), "--timeout", "2", "--workers", "1",
                                   "--max-items", "4"])
    assert res.exit_code == 0, res.output
    assert "execution rate 25.0%" in res.output
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["overall"]["n_items"] == 4
    bad = CliRunner().invoke(app, ["bench", "policy", "--data", str(prompt_set)])
    assert bad.exit_code == 2


def test_cli_bench_policy_reads_and_writes_s3(tmp_path, prompt_set, responses_file, s3_bucket):
    import shutil

    from typer.testing import CliRunner

    from visual_erm import storage
    from visual_erm.cli import app

    data = shutil.copytree(prompt_set, tmp_path / "prompts")
    (data / "manifest.json").write_text('{"format": "prompt-set"}\n')  # the completeness marker of an s3 prefix
    storage.publish_dir(data, f"s3://{s3_bucket}/prompts")
    storage.publish_output(responses_file, f"s3://{s3_bucket}/responses.jsonl")
    res = CliRunner().invoke(app, ["bench", "policy", "--data", f"s3://{s3_bucket}/prompts", "--responses",
                                   f"s3://{s3_bucket}/responses.jsonl", "--out", f"s3://{s3_bucket}/runs/policy",
                                   "--timeout", "2", "--workers", "1", "--max-items", "2"])
    assert res.exit_code == 0, res.output
    assert f"s3://{s3_bucket}/runs/policy/report.html" in res.output
    got = Path(storage.fetch_dir(f"s3://{s3_bucket}/runs/policy", tmp_path / "fetched"))
    assert json.loads((got / "metrics.json").read_text())["overall"]["n_items"] == 2


def test_rl_prompt_set_items_one_per_row(tmp_path, render_pool):
    prompts_set = pytest.importorskip("visual_erm.rl.prompts_set")
    from tests.test_benchset import make_pair_dataset, pair_row

    pngs = _render_refs(render_pool)
    rows = []
    for k in ("chart-bar", "svg-1"):
        r = pair_row(f"{k}-c0", REFERENCES[k][0], "test", k)
        r["reference_code"], r["reference_image"] = REFERENCES[k][1], {"bytes": pngs[k], "path": None}
        rows.append(r)
    pairs = make_pair_dataset(tmp_path / "pairs", rows)
    prompts_set.build_prompt_set(pairs, tmp_path / "rl", split="test")
    items = load_policy_items(tmp_path / "rl")
    assert sorted(it.task for it in items) == ["chart", "svg"] and all(it.reference_png for it in items)
    by_task = {it.task: it.id for it in items}
    result = run_policy_bench(tmp_path / "rl", tmp_path / "out", pool=render_pool,
                              responses={by_task["chart"]: RESPONSES["chart-bar"], by_task["svg"]: RESPONSES["svg-1"]})
    assert result["overall"]["exec_rate"] == 1.0 and result["by_task"]["chart"]["metrics"]["low_level"] == 1.0
