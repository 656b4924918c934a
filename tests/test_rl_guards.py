"""Reward-hacking guards of the RL reward, through the real sandboxed render pool and scripted critics.

- a blank image gets the minimum (and the critic is never asked);
- a program cannot read or embed the reference image (the sandbox shows it nothing);
- an unparseable critique (or a failed critic call) never beats a valid one;
- a timeout is never the best reward;
- duplicate rollouts render once (the cache hit is visible) but are scored individually.
"""

import re

import pytest

from visual_erm.critics.base import Critic, CriticError
from visual_erm.render.pool import RenderPool
from visual_erm.reward.functions import make_reward_function
from visual_erm.rl.grpo import load_policy_profile
from visual_erm.rl.testing import SVG_PROGRAMS, render_svg_trusted
from visual_erm.schema import Critique, Discrepancy

#: Variants that must satisfy every guard (the profiles use released-strict).
GUARDED = ("paper", "released-strict", "table-released-strict")


class MarkerCritic(Critic):
    """Critiques by a marker in the candidate program: ``S=<n>`` (n severity points), ``UNPARSEABLE``, ``RAISE``."""

    name = "marker"

    def __init__(self):
        self.seen: list[str] = []

    def critique(self, task, reference_png, candidate_png, *, reference_code=None, candidate_code=None,
                 reference_figure=None, candidate_figure=None) -> Critique:
        code = candidate_code or ""
        self.seen.append(code)
        if "UNPARSEABLE" in code:
            raise CriticError("unparseable", "empty: the critique did not parse after 2 tries")
        if "RAISE" in code:
            raise CriticError("critic_error", "TimeoutError: the reward model did not answer")
        m = re.search(r"S=(\d+)", code)
        s = int(m.group(1)) if m else 0
        cat = {"svg": "shape_error", "chart": "data_error", "table": "text_error"}[task]
        errors = [Discrepancy(category=cat, severity=3, location="all", description="differs")] * (s // 3)
        errors += [Discrepancy(category=cat, severity=s % 3, location="all", description="differs")] if s % 3 else []
        return Critique(task=task, errors=tuple(errors))


def svg(marker: str, fill: str = "#2563eb") -> str:
    return ("```svg\n<svg xmlns='http://www.w3.org/2000/svg' width='64' height='64'><!-- " + marker + " -->"
            f"<circle cx='32' cy='32' r='20' fill='{fill}'/></svg>\n```")


BLANK_SVG = "```svg\n<svg xmlns='http://www.w3.org/2000/svg' width='64' height='64'><rect width='64' height='64' " \
            "fill='white'/></svg>\n```"


@pytest.fixture(scope="module")
def pool():
    with RenderPool(workers=1) as p:
        yield p


@pytest.fixture(scope="module")
def ref_png():
    return render_svg_trusted(SVG_PROGRAMS["disc"])


def score(pool, critic, variant, completions, ref, task="svg", **opts):
    reward = make_reward_function(critic, variant, pool, name="visual_erm", **opts)
    return reward.score(completions, [task] * len(completions), [ref] * len(completions))


def test_profiles_use_a_guarded_variant():
    for name in ("tiny", "qwen3-vl-8b"):
        assert load_policy_profile(name).reward.variant in GUARDED


@pytest.mark.parametrize("variant", GUARDED + ("released",))
def test_blank_image_gets_the_minimum_and_is_never_critiqued(pool, ref_png, variant):
    critic = MarkerCritic()
    batch = [BLANK_SVG, svg("S=0"), svg("S=40"), svg("UNPARSEABLE")]
    rewards, diag = score(pool, critic, variant, batch, ref_png)
    assert diag.items[0].outcome.kind == "blank"
    assert rewards[0] == min(rewards) and all(rewards[0] < r for r in rewards[1:])
    assert len(critic.seen) == 3  # the blank render never reached the critic


def test_a_program_cannot_read_or_embed_the_reference(pool, ref_png, tmp_path):
    dataset = tmp_path / "prompts" / "data"
    dataset.mkdir(parents=True)
    (dataset / "reference.png").write_bytes(ref_png)
    read_it = ("```python\nimport matplotlib.pyplot as plt, matplotlib.image as mpimg\n"
               f"img = mpimg.imread({str(dataset / 'reference.png')!r})\nplt.imshow(img)\nplt.axis('off')\n```")
    search = ("```python\nimport glob, os, matplotlib.pyplot as plt, matplotlib.image as mpimg\n"
              "found = []\n"
              f"for root in ['/tmp', '/work', '/root', '/home', '/data', '/mnt', {str(tmp_path)!r}]:\n"
              "    found += glob.glob(os.path.join(root, '**', '*.png'), recursive=True)\n"
              "if not found:\n    raise RuntimeError('nothing found')\n"
              "plt.imshow(mpimg.imread(found[0]))\nplt.axis('off')\n```")
    embed = ("```svg\n<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink' "
             f"width='336' height='336'><image href='file://{dataset / 'reference.png'}' "
             f"xlink:href='file://{dataset / 'reference.png'}' width='336' height='336'/></svg>\n```")
    critic = MarkerCritic()
    rewards, diag = score(pool, critic, "released-strict", [read_it, search], ref_png, task="chart")
    kinds = [it.outcome.kind for it in diag.items]
    assert kinds == ["render_error", "render_error"], [it.outcome for it in diag.items]
    assert "nothing found" in diag.items[1].outcome.detail  # the filesystem walk saw no PNG at all
    assert rewards == [0.0, 0.0] and critic.seen == []
    rewards, diag = score(pool, critic, "released-strict", [embed, svg("S=40")], ref_png)
    assert diag.items[0].outcome.kind in ("blank", "render_error")  # the file:// image is not loaded
    assert rewards[0] == 0.0 < rewards[1]


@pytest.mark.parametrize("variant", GUARDED)
def test_an_unparseable_critique_never_beats_a_valid_one(pool, ref_png, variant):
    batch = [svg("S=0", "#000001"), svg("S=30", "#000002"), svg("S=45", "#000003"), svg("UNPARSEABLE"),
             svg("RAISE")]
    rewards, diag = score(pool, MarkerCritic(), variant, batch, ref_png)
    assert [it.outcome.kind for it in diag.items] == ["ok", "ok", "ok", "unparseable", "critic_error"]
    worst_valid = min(rewards[:3])
    assert rewards[3] <= worst_valid and rewards[4] <= worst_valid


def test_released_exactly_as_published_lets_an_unparseable_critique_beat_s_over_25(pool, ref_png):
    """Why the profiles use released-strict: the authors' rule (unparseable = S 25) beats a valid S = 30."""
    rewards, _ = score(pool, MarkerCritic(), "released", [svg("S=30"), svg("UNPARSEABLE")], ref_png)
    assert rewards[1] > rewards[0]


@pytest.mark.parametrize("variant", GUARDED + ("released",))
def test_a_timeout_is_never_the_best_reward(pool, ref_png, variant):
    spin = "```python\nimport matplotlib.pyplot as plt\nwhile True:\n    pass\n```"
    good = "```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])  # S=9\n```"
    awful = "```python\nimport matplotlib.pyplot as plt\nplt.plot([3, 2, 1])  # S=45\n```"
    rewards, diag = score(pool, MarkerCritic(), variant, [spin, good, awful], ref_png, task="chart",
                          render_options={"timeout_s": 2.0})
    assert [it.outcome.kind for it in diag.items] == ["timeout", "ok", "ok"]
    assert rewards[0] < max(rewards[1:])
    if variant.startswith("table"):
        assert rewards[0] < 0.0  # 0.0 is the best table reward: a timeout must never map to it
    if variant in GUARDED:
        assert rewards[0] < min(rewards[1:])  # below every rendered rollout, however bad


def test_released_table_rule_lets_a_timeout_beat_a_bad_table():
    """Why the profiles use the strict table variant: the authors' −4 for any failure beats a valid S > 4."""
    from visual_erm.reward.formulas import Outcome, compute_rewards

    batch = [Outcome("timeout", task="table"), Outcome.critiqued(9, "table")]
    assert compute_rewards("table-released", batch)[0] > compute_rewards("table-released", batch)[1]
    assert compute_rewards("table-released-strict", batch)[0] < compute_rewards("table-released-strict", batch)[1]


def test_a_failed_reward_call_maps_to_the_low_end_never_to_zero_for_tables(pool, ref_png):
    class Broken(Critic):
        name = "broken"

        def critique(self, *a, **k):
            raise AssertionError("unused")

        def critique_many(self, items):
            raise TimeoutError("the reward server timed out")

    html = "<table><tr><td>1</td><td>2</td></tr></table>"
    reward = make_reward_function(Broken(), "table-released-strict", pool)
    rewards, diag = reward.score([html], ["table"], [ref_png])
    assert rewards[0] < 0 and diag.items[0].outcome.kind in ("critic_error", "infra_error")


def test_duplicate_rollouts_render_once_but_are_scored_individually(pool, ref_png, monkeypatch):
    runs = []
    real_run = pool._run

    def spy(req, job, t_submit):
        runs.append(job.id)
        return real_run(req, job, t_submit)

    monkeypatch.setattr(pool, "_run", spy)

    class Counting(MarkerCritic):
        def critique(self, task, reference_png, candidate_png, **kw):
            self.seen.append(kw.get("candidate_code"))
            n = len(self.seen)  # a different critique per call: duplicates are judged one by one
            return Critique(task=task, errors=tuple(Discrepancy(category="shape_error", severity=1,
                                                                location="x", description=f"e{i}")
                                                    for i in range(n)))

    critic = Counting()
    same = svg("dup", "#123456")
    batch = [same, same, svg("other", "#654321")]
    rewards, diag = score(pool, critic, "released-strict", batch, ref_png)
    assert len(runs) == 2  # two distinct programs rendered, the duplicate shared its render
    assert len(critic.seen) == 3 and rewards[0] != rewards[1]  # ... but every rollout was critiqued
    rewards2, diag2 = score(pool, critic, "released-strict", batch, ref_png)
    assert len(runs) == 2 and all(it.cached for it in diag2.items)  # cache hits, visible per item
    assert len(critic.seen) == 6
