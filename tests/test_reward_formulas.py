"""Reward formulas on hand-computed cases: every variant, every failure mode, batch normalisation."""

import pytest

from visual_erm.reward.formulas import (
    EPSILON, FAILURE_KINDS, RENDER_FAILURE_KINDS, VARIANTS, Outcome, compute_rewards, failure_reward,
)

ok = Outcome.critiqued
RENDER_FAILS = [Outcome(k) for k in RENDER_FAILURE_KINDS]  # no_code, render_error, timeout, memory, crash, blank, …


def approx(x):
    return pytest.approx(x, abs=1e-9)


# ------------------------------------------------------------------------------------------- paper
def test_paper_batch_max_normalisation():
    # S = 0, 2, 4 → S̃ = 0, 0.5, 1 (max 4) → r = 2, 1.5, ~1
    r = compute_rewards("paper", [ok(0), ok(2), ok(4)])
    assert r[0] == approx(2.0)
    assert r[1] == pytest.approx(1 + (1 - 2 / (4 + EPSILON)))
    assert r[1] == pytest.approx(1.5, abs=1e-6)
    assert r[2] == pytest.approx(1.0, abs=1e-6) and r[2] > 1.0


def test_paper_all_zero_batch_gets_full_fidelity():
    assert compute_rewards("paper", [ok(0), ok(0), ok(0)]) == [approx(2.0)] * 3


def test_paper_normalises_per_task():
    r = compute_rewards("paper", [ok(2, "chart"), ok(2, "svg"), ok(8, "svg")])
    assert r[0] == pytest.approx(1.0, abs=1e-6)  # max of the chart batch is its own S
    assert r[1] == pytest.approx(1.75, abs=1e-6)  # 1 + (1 − 2/8)


@pytest.mark.parametrize("fail", RENDER_FAILS, ids=lambda o: o.kind)
def test_paper_render_failures_get_zero(fail):
    r = compute_rewards("paper", [ok(0), ok(3), fail])
    assert r[2] == 0.0
    assert r[2] < min(r[:2])


@pytest.mark.parametrize("kind", ["unparseable", "critic_error"])
def test_paper_critique_failure_never_beats_a_valid_critique(kind):
    r = compute_rewards("paper", [ok(0), ok(6), Outcome(kind, detail="bad_json")])
    assert r[2] == 1.0  # render credit, fidelity 0
    assert r[2] <= min(r[:2])
    # and it is not counted in the batch max: the S=6 item keeps ~0 fidelity, the S=0 item keeps 2
    assert r[0] == approx(2.0)
    # a batch with only critique failures and render failures: failures below renders
    r = compute_rewards("paper", [Outcome("unparseable"), Outcome("timeout")])
    assert r == [1.0, 0.0]


def test_paper_timeout_never_gets_the_best_reward():
    r = compute_rewards("paper", [Outcome("timeout"), ok(3), ok(3)])
    assert r[0] == min(r) and r[0] < max(r)


# ------------------------------------------------------------------------------------------- released
def test_released_hand_computed():
    r = compute_rewards("released", [ok(0), ok(10), ok(50), ok(80)])
    assert r == [approx(2.0), approx(1.8), approx(1.0), approx(1.0)]


@pytest.mark.parametrize("fail", RENDER_FAILS, ids=lambda o: o.kind)
def test_released_render_failures_get_zero(fail):
    assert compute_rewards("released", [fail]) == [0.0]


def test_released_unparseable_is_s25():
    assert compute_rewards("released", [Outcome("unparseable", detail="empty")]) == [approx(1.5)]
    assert compute_rewards("released", [Outcome("critic_error")]) == [approx(1.5)]


def test_released_strict_unparseable_never_beats_valid():
    r = compute_rewards("released-strict", [ok(30), Outcome("unparseable"), ok(0)])
    assert r[0] == approx(1.4)
    assert r[1] == approx(1.4)  # S = max(25, 30)
    assert r[1] <= r[0]
    assert compute_rewards("released-strict", [ok(4), Outcome("unparseable")])[1] == approx(1.5)


# ------------------------------------------------------------------------------------------- tables
def test_table_released_hand_computed():
    r = compute_rewards("table-released", [ok(0, "table"), ok(3, "table"), ok(7, "table")])
    assert r == [0.0, -3.0, -7.0]


@pytest.mark.parametrize("kind", FAILURE_KINDS)
def test_table_released_failures_are_minus_four_never_zero(kind):
    r = compute_rewards("table-released", [Outcome(kind, task="table")])
    assert r == [-4.0]
    assert failure_reward("table-released", "table") == -4.0


def test_table_released_strict_failures_below_valid():
    r = compute_rewards("table-released-strict", [ok(9, "table"), Outcome("unparseable", task="table"),
                                                  Outcome("timeout", task="table"), ok(1, "table")])
    assert r == [-9.0, -9.0, -10.0, -1.0]
    r = compute_rewards("table-released-strict", [ok(2, "table"), Outcome("unparseable", task="table"),
                                                  Outcome("blank", task="table")])
    assert r == [-2.0, -4.0, -5.0]


def test_auto_routes_by_task():
    r = compute_rewards("auto", [ok(5, "table"), ok(5, "chart"), Outcome("timeout", task="table"),
                                 Outcome("timeout", task="svg")])
    assert r == [-5.0, approx(1.9), -4.0, 0.0]


# ------------------------------------------------------------------------------------------- invariants
@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "auto"])
def test_no_render_failure_beats_any_rendered_item(variant):
    task = "table" if variant.startswith("table") else "chart"
    batch = [ok(0, task), ok(2, task), ok(9, task)] + [Outcome(k, task=task) for k in RENDER_FAILURE_KINDS]
    r = compute_rewards(variant, batch)
    assert max(r[3:]) <= min(r[:3]) or variant == "table-released"  # table-released: −4 vs −9 (released code)
    assert max(r[3:]) < max(r[:3])  # a failure never gets the best reward


def test_empty_critique_is_the_best_and_empty_output_is_a_failure():
    # an empty errors list is a valid critique with S = 0; an empty *output* is an unparseable critique
    assert compute_rewards("released", [ok(0)]) == [approx(2.0)]
    assert compute_rewards("released", [Outcome("unparseable", detail="empty")]) == [approx(1.5)]
    assert compute_rewards("paper", [ok(0), Outcome("unparseable", detail="empty")]) == [approx(2.0), 1.0]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        compute_rewards("nope", [ok(1)])
    with pytest.raises(ValueError):
        Outcome("ok")
    with pytest.raises(ValueError):
        Outcome("ok", -1.0)
    with pytest.raises(ValueError):
        Outcome("weird")
    assert compute_rewards("paper", []) == []
