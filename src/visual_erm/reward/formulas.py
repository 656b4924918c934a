"""Critique → scalar reward, in named variants. Pure functions: no rendering, no model calls.

Every rollout ends in one :class:`Outcome`: it rendered and was critiqued (severity sum ``S``), it failed to
render (no code block, error, timeout, crash, memory kill, blank image, infrastructure failure), or it rendered but
no critique could be had (the critic's output did not parse after its tries, or the critic call raised). A variant
maps a *batch* of outcomes to rewards (``paper`` normalises over the batch; the others are per item).

Variants (``S`` = sum of severities, 1–3 each, of the listed errors):

``paper`` (the paper's formula)
    ``r = r_render + clip(1 − S / (max S over the task batch + ε), 0, 1)``, ``r_render = 1`` when the program
    rendered to a non-blank image. The maximum is taken over the critiqued items *of the same task* in the batch
    (an all-zero batch gives every critiqued item 2). Render failures (any status, blank included) get 0: the reward
    model is not called. A critique failure (unparseable, empty output, critic exception) keeps the render credit
    but gets fidelity 0 — i.e. it is treated as S = ∞ ≥ max S, never better than the worst valid critique.

``released`` (the authors' released chart/SVG reward)
    0 for no code block, render failure, timeout or a blank image (the reward model is not called); else
    ``1 + clip(1 − S / 50, 0, 1)``. An unparseable critique after two tries counts as S = 25 (reward 1.5), exactly
    as the released code does — note that this *can* beat a valid critique with S > 25.

``released-strict``
    ``released`` with the rule "a critique failure never beats a valid critique": the failure counts as
    S = max(25, max valid S over the task batch).

``table-released`` (the authors' released table reward)
    ``−S``; −4 on any failure (render, blank, timeout, unparseable critique, critic exception). Never 0.0 for a
    failure: 0.0 is the *best* table reward.

``table-released-strict``
    ``table-released`` where no failure beats a valid critique in the task batch: a critique failure gets
    ``min(−4, worst valid reward)``, a render failure one less than that.

``auto``
    ``table-released`` for tables, ``released`` for charts and SVG (the released code's per-task choice).

Use :func:`compute_rewards` (``variant`` by name) or the per-variant functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "EPSILON", "FAILURE_KINDS", "Outcome", "RELEASED_SCALE", "RELEASED_UNPARSEABLE_S", "TABLE_FAILURE",
    "VARIANTS", "compute_rewards", "failure_reward", "paper_rewards", "released_reward", "released_rewards",
    "released_strict_rewards", "table_released_reward", "table_released_rewards", "table_released_strict_rewards",
]

#: ε of the paper's batch normalisation S / (max S + ε).
EPSILON = 1e-6
#: Released chart/SVG reward: S is divided by this before clipping.
RELEASED_SCALE = 50.0
#: Released chart/SVG reward: the S assigned to a critique that does not parse after two tries.
RELEASED_UNPARSEABLE_S = 25.0
#: Released table reward on any failure.
TABLE_FAILURE = -4.0

#: Outcome kinds. ``ok``: rendered and critiqued. Render failures: ``no_code`` (no code block / nothing to render),
#: ``render_error``, ``timeout``, ``memory``, ``crash``, ``blank``, ``rejected``, ``infra_error``. Critique failures:
#: ``unparseable`` (the critic's text is not a critique after its tries), ``critic_error`` (the call failed).
RENDER_FAILURE_KINDS = ("no_code", "render_error", "timeout", "memory", "crash", "blank", "rejected", "infra_error")
CRITIQUE_FAILURE_KINDS = ("unparseable", "critic_error")
FAILURE_KINDS = RENDER_FAILURE_KINDS + CRITIQUE_FAILURE_KINDS


@dataclass(frozen=True)
class Outcome:
    """What happened to one rollout. ``severity_sum`` is set exactly when ``kind == "ok"``."""

    kind: str
    severity_sum: float | None = None
    task: str = "chart"
    detail: str = ""  # render status message or critique failure reason, for diagnostics

    def __post_init__(self):
        if self.kind == "ok":
            if self.severity_sum is None or not math.isfinite(self.severity_sum) or self.severity_sum < 0:
                raise ValueError(f"an ok outcome needs a finite severity sum >= 0, got {self.severity_sum!r}")
        elif self.kind not in FAILURE_KINDS:
            raise ValueError(f"unknown outcome kind {self.kind!r}; use ok or one of {', '.join(FAILURE_KINDS)}")

    @property
    def rendered(self) -> bool:
        """The program rendered to a non-blank image (the render-success term is earned)."""
        return self.kind == "ok" or self.kind in CRITIQUE_FAILURE_KINDS

    @property
    def is_render_failure(self) -> bool:
        return self.kind in RENDER_FAILURE_KINDS

    @property
    def is_critique_failure(self) -> bool:
        return self.kind in CRITIQUE_FAILURE_KINDS

    @classmethod
    def critiqued(cls, severity_sum: float, task: str = "chart") -> "Outcome":
        return cls("ok", float(severity_sum), task)


# -------------------------------------------------------------------------------------------------- helpers
def _clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


def _by_task(outcomes: Sequence[Outcome]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, o in enumerate(outcomes):
        groups.setdefault(o.task, []).append(i)
    return groups


def _max_valid_s(outcomes: Sequence[Outcome], idxs: Sequence[int]) -> float | None:
    vals = [outcomes[i].severity_sum for i in idxs if outcomes[i].kind == "ok"]
    return max(vals) if vals else None  # type: ignore[type-var]


# -------------------------------------------------------------------------------------------------- variants
def paper_rewards(outcomes: Sequence[Outcome], *, eps: float = EPSILON) -> list[float]:
    """The paper: ``r_render + clip(1 − S / (max_task_batch S + ε), 0, 1)``; failures as in the module docstring."""
    out = [0.0] * len(outcomes)
    for idxs in _by_task(outcomes).values():
        max_s = _max_valid_s(outcomes, idxs) or 0.0
        for i in idxs:
            o = outcomes[i]
            if o.kind == "ok":
                out[i] = 1.0 + _clip01(1.0 - o.severity_sum / (max_s + eps))  # type: ignore[operator]
            elif o.is_critique_failure:
                out[i] = 1.0  # render credit, fidelity 0 (S treated as unbounded)
            else:
                out[i] = 0.0
    return out


def released_reward(outcome: Outcome, *, scale: float = RELEASED_SCALE,
                    unparseable_s: float = RELEASED_UNPARSEABLE_S) -> float:
    """The released chart/SVG reward of one outcome: 0 on render failure, else ``1 + clip(1 − S/scale, 0, 1)``."""
    if outcome.is_render_failure:
        return 0.0
    s = outcome.severity_sum if outcome.kind == "ok" else unparseable_s
    return 1.0 + _clip01(1.0 - s / scale)  # type: ignore[operator]


def released_rewards(outcomes: Sequence[Outcome], *, scale: float = RELEASED_SCALE,
                     unparseable_s: float = RELEASED_UNPARSEABLE_S) -> list[float]:
    return [released_reward(o, scale=scale, unparseable_s=unparseable_s) for o in outcomes]


def released_strict_rewards(outcomes: Sequence[Outcome], *, scale: float = RELEASED_SCALE,
                            unparseable_s: float = RELEASED_UNPARSEABLE_S) -> list[float]:
    """``released``, but a critique failure counts as S = max(unparseable_s, max valid S of its task batch)."""
    out = [0.0] * len(outcomes)
    for idxs in _by_task(outcomes).values():
        worst = max(unparseable_s, _max_valid_s(outcomes, idxs) or 0.0)
        for i in idxs:
            out[i] = released_reward(outcomes[i], scale=scale, unparseable_s=worst)
    return out


def table_released_reward(outcome: Outcome, *, failure: float = TABLE_FAILURE) -> float:
    """The released table reward of one outcome: ``−S``, or ``failure`` (−4) on any failure — never 0.0."""
    return -float(outcome.severity_sum) if outcome.kind == "ok" else float(failure)  # type: ignore[arg-type]


def table_released_rewards(outcomes: Sequence[Outcome], *, failure: float = TABLE_FAILURE) -> list[float]:
    return [table_released_reward(o, failure=failure) for o in outcomes]


def table_released_strict_rewards(outcomes: Sequence[Outcome], *, failure: float = TABLE_FAILURE) -> list[float]:
    """``table-released`` where a failure never beats a valid critique of its task batch (see module docstring)."""
    out = [0.0] * len(outcomes)
    for idxs in _by_task(outcomes).values():
        max_s = _max_valid_s(outcomes, idxs)
        floor = min(failure, -max_s) if max_s is not None else failure
        for i in idxs:
            o = outcomes[i]
            if o.kind == "ok":
                out[i] = -float(o.severity_sum)  # type: ignore[arg-type]
            elif o.is_critique_failure:
                out[i] = floor
            else:
                out[i] = floor - 1.0
    return out


def auto_rewards(outcomes: Sequence[Outcome]) -> list[float]:
    """``table-released`` for table outcomes, ``released`` for the others."""
    return [table_released_reward(o) if o.task == "table" else released_reward(o) for o in outcomes]


#: Variant name → batch function (outcomes → rewards).
VARIANTS: dict[str, Callable[[Sequence[Outcome]], list[float]]] = {
    "paper": paper_rewards,
    "released": released_rewards,
    "released-strict": released_strict_rewards,
    "table-released": table_released_rewards,
    "table-released-strict": table_released_strict_rewards,
    "auto": auto_rewards,
}


def compute_rewards(variant: str, outcomes: Sequence[Outcome], **options) -> list[float]:
    """Rewards of a batch of outcomes under ``variant`` (a name of :data:`VARIANTS`), in order."""
    try:
        fn = VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown reward variant {variant!r}; choose one of {', '.join(VARIANTS)}") from None
    return list(fn(outcomes, **options))


def failure_reward(variant: str, task: str = "chart") -> float:
    """The reward a variant gives a render failure on its own (e.g. when the whole reward call fails)."""
    return compute_rewards(variant, [Outcome("infra_error", task=task)])[0]
