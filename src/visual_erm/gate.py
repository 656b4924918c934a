"""The gate before RL: train the policy only when the reward model beats the baseline critic.

    gate_decision("rm/metrics.json", "baseline/metrics.json", mode="on", metric="f1_hard", margin=2.0)
    -> {"decision": "train" | "skip", "candidate": 41.0, "baseline": 35.5, "delta": 5.5, "reason": "..."}

Inputs are the ``metrics.json`` files written by ``visual_erm.bench.run_critic.run_critic_bench`` (overall scores
under ``summary.overall``, in points 0-100). An undefined score (``sc`` with constant severities) or a benchmark
that scored nothing skips: the gate never opens on missing evidence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

METRICS = ("f1_hard", "f1_soft", "sc")


def overall_score(metrics_json: str | Path | dict, metric: str) -> float | None:
    data = metrics_json if isinstance(metrics_json, dict) else json.loads(Path(metrics_json).read_text())
    summary = data.get("summary", data)
    if not summary.get("n_scored", 1):
        return None
    value = (summary.get("overall") or {}).get(metric)
    return None if value is None else float(value)


def gate_decision(candidate: str | Path | dict, baseline: str | Path | dict, *, mode: str = "on",
                  metric: str = "f1_hard", margin: float = 0.0) -> dict[str, Any]:
    if mode not in ("on", "off"):
        raise ValueError(f"gate mode must be on or off, got {mode!r}")
    if metric not in METRICS:
        raise ValueError(f"gate metric must be one of {', '.join(METRICS)}, got {metric!r}")
    cand, base = overall_score(candidate, metric), overall_score(baseline, metric)
    delta = None if cand is None or base is None else round(cand - base, 4)
    result = {"mode": mode, "metric": metric, "margin": margin, "candidate": cand, "baseline": base, "delta": delta}
    if mode == "off":
        return {**result, "decision": "train", "reason": f"gate off: training the policy ({metric}: reward model "
                                                          f"{cand}, baseline {base})"}
    if delta is None:
        return {**result, "decision": "skip", "reason": f"gate closed: {metric} undefined (reward model {cand}, "
                                                         f"baseline {base})"}
    if delta >= margin:
        return {**result, "decision": "train", "reason": f"gate open: {metric} {cand:.2f} beats the baseline's "
                                                          f"{base:.2f} by {delta:.2f} >= {margin}"}
    return {**result, "decision": "skip", "reason": f"gate closed: {metric} {cand:.2f} vs the baseline's {base:.2f} "
                                                     f"(delta {delta:.2f} < margin {margin})"}
