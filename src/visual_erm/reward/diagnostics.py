"""Reward diagnostics: what a batch of rewards was made of, as scalar metrics and per-completion columns.

A reward is only trustworthy when its failure modes are visible: how many rollouts did not render (by status), how
many critiques did not parse (by reason), how many errors of each category the critic found, the mean severity sum.
:class:`RewardDiagnostics` collects this for one reward call; :meth:`RewardDiagnostics.emit` sends it through TRL's
``log_metric`` (scalars, averaged per logging step) and ``log_extra`` (columns of the completions table) when the
trainer passes them.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from visual_erm.reward.formulas import CRITIQUE_FAILURE_KINDS, RENDER_FAILURE_KINDS, Outcome

__all__ = ["ItemDiagnostics", "RewardDiagnostics"]


@dataclass
class ItemDiagnostics:
    """One rollout: its outcome, the critique (paper JSON) when there is one, and its reward."""

    outcome: Outcome
    reward: float = math.nan
    critique_json: str | None = None
    category_counts: dict[str, int] = field(default_factory=dict)
    render_ms: float = 0.0
    cached: bool = False


@dataclass
class RewardDiagnostics:
    """Diagnostics of one reward call over a batch of rollouts."""

    name: str
    items: list[ItemDiagnostics]
    critic_s: float = 0.0
    render_s: float = 0.0
    error: str | None = None  # the whole call failed: every item got the variant's failure value

    # ---------------------------------------------------------------------------------------------- aggregates
    @property
    def n(self) -> int:
        return len(self.items)

    def kinds(self) -> Counter:
        return Counter(it.outcome.kind for it in self.items)

    def metrics(self) -> dict[str, float]:
        """Flat scalar metrics, names prefixed with ``<name>/`` (e.g. ``visual_erm/render_fail/timeout``)."""
        p = f"{self.name}/"
        n = max(1, self.n)
        kinds = self.kinds()
        ok = [it for it in self.items if it.outcome.kind == "ok"]
        out: dict[str, float] = {
            p + "render_ok_rate": sum(1 for it in self.items if it.outcome.rendered) / n,
            p + "critique_ok_rate": len(ok) / n,
            p + "render_fail_rate": sum(kinds[k] for k in RENDER_FAILURE_KINDS) / n,
            p + "parse_fail_rate": kinds["unparseable"] / n,
            p + "critic_error_rate": kinds["critic_error"] / n,
            p + "cached_render_rate": sum(1 for it in self.items if it.cached) / n,
            p + "render_s": self.render_s,
            p + "critic_s": self.critic_s,
        }
        for k in RENDER_FAILURE_KINDS:
            out[p + f"render_fail/{k}"] = float(kinds[k])
        for k in CRITIQUE_FAILURE_KINDS:
            out[p + f"critique_fail/{k}"] = float(kinds[k])
        reasons = Counter(it.outcome.detail or "unknown" for it in self.items if it.outcome.kind == "unparseable")
        for reason, c in reasons.items():
            out[p + f"parse_fail/{reason}"] = float(c)
        if ok:
            out[p + "mean_severity_sum"] = sum(it.outcome.severity_sum for it in ok) / len(ok)  # type: ignore[misc]
            out[p + "equivalent_rate"] = sum(1 for it in ok if it.outcome.severity_sum == 0) / len(ok)
            cats: Counter = Counter()
            for it in ok:
                cats.update(it.category_counts)
            for cat, c in sorted(cats.items()):
                out[p + f"errors/{cat}"] = c / len(ok)
        rewards = [it.reward for it in self.items if not math.isnan(it.reward)]
        if rewards:
            out[p + "reward_mean"] = sum(rewards) / len(rewards)
        if self.error:
            out[p + "call_failed"] = 1.0
        return out

    def columns(self) -> dict[str, list]:
        """Per-completion columns for the completions table (one value per rollout)."""
        return {
            f"{self.name}_status": [it.outcome.kind if not it.outcome.detail or it.outcome.kind == "ok"
                                    else f"{it.outcome.kind}: {it.outcome.detail}"[:200] for it in self.items],
            f"{self.name}_severity_sum": [it.outcome.severity_sum if it.outcome.kind == "ok" else None
                                          for it in self.items],
            f"{self.name}_critique": [it.critique_json for it in self.items],
        }

    def emit(self, log_metric: Callable[[str, float], None] | None = None,
             log_extra: Callable[[str, list], None] | None = None) -> None:
        """Send metrics and columns to TRL's callbacks; a failing logger never fails the reward."""
        if log_metric is not None:
            for k, v in self.metrics().items():
                try:
                    log_metric(k, float(v))
                except Exception:  # noqa: BLE001
                    pass
        if log_extra is not None:
            for col, values in self.columns().items():
                try:
                    log_extra(col, values)
                except Exception:  # noqa: BLE001
                    pass

    def to_json_dict(self) -> dict:
        return {"name": self.name, "metrics": self.metrics(), "columns": self.columns(), "error": self.error}

    def summary(self) -> str:
        return json.dumps(self.metrics(), indent=1, sort_keys=True)


def category_counts(critique) -> dict[str, int]:
    """Per-category error counts of a :class:`visual_erm.schema.Critique` (zeros included)."""
    return dict(critique.counts)


def merge_kinds(diags: Sequence[RewardDiagnostics]) -> Counter:
    total: Counter = Counter()
    for d in diags:
        total.update(d.kinds())
    return total
