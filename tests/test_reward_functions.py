"""TRL-signature reward functions: inputs as TRL passes them, failure mapping, diagnostics, async, baselines."""

import asyncio
import io
import time

import pytest
from PIL import Image, ImageDraw

from visual_erm.critics.base import Critic, CritiqueFailure
from visual_erm.render.api import RenderResult, Status
from visual_erm.reward.functions import (
    AsyncVisualERMReward, PixelSimilarityReward, VisualERMReward, completion_text, make_reward_function,
    teds_reward, to_png_bytes,
)
from visual_erm.schema import Critique, Discrepancy


def _png(colour="red", size=(48, 32)) -> bytes:
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).rectangle((8, 8, 30, 24), fill=colour)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


REF = _png("red")


class FakePool:
    """Statuses by marker in the response: TIMEOUT, MEMORY, CRASH, ERROR, BLANK, INFRA; no ``` → rejected."""

    def __init__(self):
        self.calls = []

    def render(self, jobs):
        self.calls.append(jobs)
        out = []
        for j in jobs:
            status = Status.OK
            for marker in ("TIMEOUT", "MEMORY", "CRASH", "ERROR", "BLANK", "INFRA"):
                if marker in j.source:
                    status = Status.INFRA_ERROR if marker == "INFRA" else Status(marker.lower())
            if "```" not in j.source and "<svg" not in j.source:
                status = Status.REJECTED
            png = _png("blue") if status == Status.OK else None
            out.append(RenderResult(id=j.id, task=j.task, status=status, png=png, message=f"{status.value} msg"))
        return out


class FakeCritic(Critic):
    """S from ``# S=<n>`` in the candidate program; ``UNPARSEABLE`` → parse failure; ``RAISE`` → exception."""

    name = "fake"

    def __init__(self):
        self.seen = []

    def critique(self, task, reference_png, candidate_png, *, candidate_code=None, **_):
        candidate_code = candidate_code or ""  # table tasks extract no program from a python block
        self.seen.append(candidate_code)
        assert reference_png.startswith(b"\x89PNG") and candidate_png.startswith(b"\x89PNG")
        if "RAISE" in candidate_code:
            raise RuntimeError("critic down")
        s = int(candidate_code.split("S=")[1].split()[0]) if "S=" in candidate_code else 0
        errors = []
        while s > 0:
            sev = min(3, s)
            errors.append(Discrepancy(category="data_error", severity=sev, location="x", description="d"))
            s -= sev
        return Critique(task=task, errors=tuple(errors))

    def critique_many(self, items):
        out = []
        for it in items:
            if "UNPARSEABLE" in (it.candidate_code or ""):
                out.append(CritiqueFailure(it.id, "unparseable", "bad_json: Expecting value (after 2 tries)"))
            else:
                out.append(self._critique_safely(it))
        return out


def resp(body: str) -> list[dict]:
    """A TRL conversational completion."""
    return [{"role": "assistant", "content": f"Here you go:\n```python\n{body}\n```"}]


class Logs:
    def __init__(self):
        self.metrics, self.extra = {}, {}

    def log_metric(self, name, value):
        self.metrics.setdefault(name, []).append(value)

    def log_extra(self, column, values):
        self.extra.setdefault(column, []).extend(values)


def trl_call(fn, completions, **columns):
    """Call ``fn`` exactly as TRL 1.16's GRPOTrainer._calculate_rewards does."""
    logs = Logs()
    n = len(completions)
    kwargs = dict(prompts=[[{"role": "user", "content": "draw"}]] * n, completions=completions,
                  completion_ids=[[1, 2, 3]] * n, trainer_state=object(), log_extra=logs.log_extra,
                  log_metric=logs.log_metric, **columns)
    out = asyncio.run(fn(**kwargs)) if isinstance(fn, AsyncVisualERMReward) else fn(**kwargs)
    return out, logs


def test_completion_text_forms():
    assert completion_text("abc") == "abc"
    assert completion_text([{"role": "assistant", "content": "abc"}]) == "abc"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "a"},
                                                              {"type": "text", "text": "b"}]}]) == "ab"
    assert completion_text(None) == ""


def test_reference_image_forms():
    pil = Image.open(io.BytesIO(REF))
    assert to_png_bytes(REF) == REF
    assert to_png_bytes({"bytes": REF, "path": None}) == REF
    assert to_png_bytes(pil).startswith(b"\x89PNG")
    assert to_png_bytes([pil]).startswith(b"\x89PNG")
    buf = io.BytesIO()
    pil.save(buf, format="JPEG")
    assert to_png_bytes(buf.getvalue()).startswith(b"\x89PNG")


def test_paper_reward_with_trl_signature_and_diagnostics():
    pool, critic = FakePool(), FakeCritic()
    fn = make_reward_function(critic=critic, variant="paper", pool=pool, name="verm_paper")
    assert fn.__name__ == "verm_paper"
    completions = [resp("# S=0"), resp("# S=2"), resp("# S=4"), resp("# S=2 TIMEOUT"), [{"role": "assistant",
                   "content": "I cannot draw that."}], resp("UNPARSEABLE"), resp("BLANK")]
    n = len(completions)
    rewards, logs = trl_call(fn, completions, task=["chart"] * n, reference_image=[REF] * n)
    assert len(rewards) == n and all(isinstance(r, float) for r in rewards)
    assert rewards[0] == pytest.approx(2.0)
    assert rewards[1] == pytest.approx(1.5, abs=1e-5)
    assert rewards[2] == pytest.approx(1.0, abs=1e-5)
    assert rewards[3] == 0.0 and rewards[4] == 0.0 and rewards[6] == 0.0  # timeout, no code, blank
    assert rewards[5] == 1.0  # rendered, critique unparseable: never above a valid critique
    assert len(pool.calls) == 1 and len(pool.calls[0]) == n  # one render batch
    m = {k: v[0] for k, v in logs.metrics.items()}
    assert m["verm_paper/render_fail/timeout"] == 1 and m["verm_paper/render_fail/no_code"] == 1
    assert m["verm_paper/render_fail/blank"] == 1 and m["verm_paper/parse_fail/bad_json"] == 1
    assert m["verm_paper/mean_severity_sum"] == pytest.approx(2.0)
    assert m["verm_paper/errors/data_error"] == pytest.approx((0 + 1 + 2) / 3)
    assert m["verm_paper/reward_mean"] == pytest.approx(sum(rewards) / n)
    assert len(logs.extra["verm_paper_status"]) == n and logs.extra["verm_paper_status"][0] == "ok"
    assert logs.extra["verm_paper_status"][3].startswith("timeout")
    assert logs.extra["verm_paper_severity_sum"][:3] == [0, 2, 4]


def test_every_render_status_maps_low_under_every_variant():
    markers = ["TIMEOUT", "MEMORY", "CRASH", "ERROR", "BLANK", "INFRA"]
    completions = [resp("# S=9")] + [resp(m) for m in markers] + ["no code at all"]
    for variant in ("paper", "released", "released-strict", "table-released", "table-released-strict"):
        task = "table" if variant.startswith("table") else "chart"
        fn = VisualERMReward(FakeCritic(), variant, FakePool())
        rewards, _ = trl_call(fn, completions, task=task, reference_image=REF)
        valid, fails = rewards[0], rewards[1:]
        assert max(fails) < 0.5 or task == "table", variant
        if task == "table":
            assert all(f <= -4.0 for f in fails) and all(f != 0.0 for f in fails)
        else:
            assert all(f == 0.0 for f in fails) and valid >= 1.0
        kinds = [it.outcome.kind for it in fn.last_diagnostics.items]
        assert kinds == ["ok", "timeout", "memory", "crash", "render_error", "blank", "infra_error", "no_code"]


def test_critic_exception_and_whole_call_failure_map_to_failure_value():
    # one item's critic call raises → critic_error (render credit only under paper)
    fn = VisualERMReward(FakeCritic(), "paper", FakePool())
    rewards, logs = trl_call(fn, [resp("# S=1"), resp("RAISE")], task="chart", reference_image=REF)
    assert rewards[1] == 1.0 and rewards[0] > 1.0
    assert fn.last_diagnostics.items[1].outcome.kind == "critic_error"

    class BrokenPool:
        def render(self, jobs):
            raise OSError("render service down")

    for variant, expected in (("table-released", -4.0), ("released", 0.0), ("paper", 0.0)):
        task = "table" if variant.startswith("table") else "chart"
        fn = VisualERMReward(FakeCritic(), variant, BrokenPool())
        rewards, logs = trl_call(fn, [resp("# S=0")] * 3, task=task, reference_image=REF)
        assert rewards == [expected] * 3
        assert logs.metrics[f"{fn.__name__}/call_failed"] == [1.0]


def test_missing_task_or_reference_is_a_low_reward_not_a_crash():
    fn = VisualERMReward(FakeCritic(), "released", FakePool())
    rewards, _ = trl_call(fn, [resp("# S=0")], task="chart")  # no reference column at all
    assert rewards == [0.0]
    assert fn.last_diagnostics.items[0].outcome.kind == "infra_error"
    rewards, _ = trl_call(fn, [resp("# S=0")], task=["chart"], image=[Image.open(io.BytesIO(REF))])
    assert rewards == [2.0]  # TRL's own image column is the reference when there is no reference_image


def test_async_variant_is_detected_by_trl_and_matches_sync():
    from trl.trainer.utils import get_callable_name, is_async_callable

    sync = make_reward_function(FakeCritic(), "released", FakePool(), name="r_sync")
    asy = make_reward_function(FakeCritic(), "released", FakePool(), asynchronous=True, name="r_async")
    assert is_async_callable(asy) and not is_async_callable(sync)
    assert get_callable_name(asy) == "r_async" and get_callable_name(sync) == "r_sync"
    comps = [resp("# S=5"), resp("# S=0"), "nothing"]
    assert trl_call(sync, comps, task="chart", reference_image=REF)[0] == \
        trl_call(asy, comps, task="chart", reference_image=REF)[0] == [pytest.approx(1.9), 2.0, 0.0]


def test_default_name_mentions_critic_and_variant():
    assert make_reward_function("structural", "table-released").__name__ == "structural_table_released_reward"


def test_teds_baseline():
    ref = "<table><tr><td>a</td><td>1</td></tr><tr><td>b</td><td>2</td></tr></table>"
    comps = [[{"role": "assistant", "content": "```html\n" + ref + "\n```"}],
             [{"role": "assistant", "content": "| x | y |\n|---|---|\n| a | 1 |\n"}],
             [{"role": "assistant", "content": "no table"}]]
    r = teds_reward(prompts=None, completions=comps, reference_code=[ref] * 3)
    assert r[0] == pytest.approx(1.0) and 0.0 < r[1] < 1.0 and r[2] == 0.0


# ------------------------------------------------------------------------------------------- real render pool
SVG_RED = ('<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24">'
           '<rect x="4" y="4" width="16" height="12" fill="red"/></svg>')
SVG_BLUE = SVG_RED.replace("red", "blue")
CHART = "import matplotlib.pyplot as plt\nplt.bar([1, 2, 3], [3, 1, 2])\nplt.title('bars')"


@pytest.fixture
def fast_timeout():
    return {"chart": {"timeout_s": 3.0}}


def test_real_pool_pixel_critic_end_to_end(render_pool, fast_timeout):
    from visual_erm.render.api import RenderJob

    tag = time.time_ns()
    ref_svg, ref_chart = render_pool.render([RenderJob("r", "svg", SVG_RED),
                                             RenderJob("c", "chart", CHART + f"\n# {tag}")])
    assert ref_svg.ok and ref_chart.ok
    fn = make_reward_function("pixel", "released", render_pool, name="pixel_released", render_options=fast_timeout)
    comps = [f"```svg\n{SVG_RED}\n```", f"```svg\n{SVG_RED}\n```", f"```svg\n{SVG_BLUE}\n```", "sorry, no svg",
             f"```python\n{CHART}\n# {tag}\n```", "```python\nraise ValueError('x')\n```",
             "```python\nimport time\ntime.sleep(30)\n```"]
    tasks = ["svg"] * 4 + ["chart"] * 3
    refs = [ref_svg.png] * 4 + [ref_chart.png] * 3
    rewards, logs = trl_call(fn, [[{"role": "assistant", "content": c}] for c in comps], task=tasks,
                             reference_image=refs)
    kinds = [it.outcome.kind for it in fn.last_diagnostics.items]
    assert kinds[:5] == ["ok", "ok", "ok", "no_code", "ok"] and kinds[5] == "render_error"
    assert rewards[0] == rewards[1] == 2.0  # duplicates are scored individually, identical → best
    assert 1.0 <= rewards[2] < 2.0  # wrong colour found by the pixel critic
    assert rewards[3] == rewards[5] == 0.0
    assert rewards[4] == 2.0
    assert rewards[6] == 0.0 and kinds[6] == "timeout"  # sleeps past the deadline: never the best
    assert logs.metrics["pixel_released/render_fail/timeout"] == [1.0]


def test_real_pool_structural_and_pixel_baselines(render_pool, fast_timeout):
    from visual_erm.render.api import RenderJob

    ref = render_pool.render([RenderJob("r", "svg", SVG_RED)])[0]
    fn = make_reward_function("structural", "released", render_pool, render_options=fast_timeout)
    rewards, _ = trl_call(fn, [f"```svg\n{SVG_RED}\n```", f"```svg\n{SVG_BLUE}\n```"], task="svg",
                          reference_image=ref.png, reference_code=SVG_RED)
    assert rewards[0] == 2.0 and 1.0 <= rewards[1] < 2.0
    pix = PixelSimilarityReward(render_pool)
    r = pix(prompts=None, completions=[f"```svg\n{SVG_RED}\n```", f"```svg\n{SVG_BLUE}\n```", "none"], task="svg",
            reference_image=ref.png)
    assert r[0] == pytest.approx(1.0) and 0.0 < r[1] < 1.0 and r[2] == 0.0


# ------------------------------------------------------------------------------------------- real TRL GRPOTrainer
class OKPool:
    """Every response renders (the tiny random policy writes no code; this exercises the critic path)."""

    def render(self, jobs):
        return [RenderResult(id=j.id, task=j.task, status=Status.OK, png=_png("blue")) for j in jobs]


class LengthCritic(FakeCritic):
    def critique_many(self, items):
        from visual_erm.critics.base import CritiqueInput

        return super().critique_many([CritiqueInput(it.id, it.task, it.reference_png, it.candidate_png,
                                                    candidate_code=f"S={it.id}") for it in items])


@pytest.mark.slow
def test_grpo_trainer_calls_sync_and_async_reward_functions(tmp_path):
    """TRL 1.16's GRPOTrainer drives both forms for one step: rewards, metrics and columns arrive."""
    import datasets
    from trl import GRPOConfig, GRPOTrainer

    from visual_erm.rm import model as rm_model

    tok = rm_model.build_bpe_tokenizer(["Write the SVG of this icon. ```svg <svg></svg> ```"] * 5, vocab_size=300)
    proc = rm_model.build_processor(tok, rm_model.build_image_processor(min_pixels=32 * 32, max_pixels=64 * 64))
    rm_model.save_model(rm_model.build_tiny_model(tok), proc, tmp_path / "policy")
    img = Image.open(io.BytesIO(REF)).convert("RGB")
    ds = datasets.Dataset.from_list([{"prompt": [{"role": "user", "content": [
        {"type": "image"}, {"type": "text", "text": "Write the SVG."}]}], "image": img, "task": "chart",
        "reference_image": REF}] * 4)
    asy = make_reward_function(LengthCritic(), "paper", OKPool(), asynchronous=True, name="verm_async")
    syn = make_reward_function(FakeCritic(), "released", FakePool(), name="verm_sync")
    cfg = GRPOConfig(output_dir=str(tmp_path / "out"), use_cpu=True, per_device_train_batch_size=4,
                     num_generations=4, max_completion_length=6, max_steps=1, report_to=[], beta=0.0,
                     logging_steps=1, save_strategy="no")
    trainer = GRPOTrainer(model=str(tmp_path / "policy"), reward_funcs=[asy, syn], args=cfg, train_dataset=ds,
                          processing_class=proc)
    trainer.train()
    logged = trainer.state.log_history[0]
    assert logged["verm_sync/render_fail/no_code"] == 4.0 and logged["rewards/verm_sync/mean"] == 0.0
    assert logged["verm_async/critique_ok_rate"] == 1.0
    # paper over S = 0, 1, 2, 3 (max 3): 2, 1 + 2/3, 1 + 1/3, 1 → mean 1.5
    assert logged["rewards/verm_async/mean"] == pytest.approx(1.5, abs=1e-4)
    assert [it.outcome.severity_sum for it in asy.last_diagnostics.items] == [0.0, 1.0, 2.0, 3.0]
