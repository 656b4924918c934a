"""KFP component: decide whether the policy is trained (thin wrapper over visual_erm.gate)."""

from kfp import dsl

from components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def rm_gate(
    candidate: dsl.Input[dsl.Artifact],
    baseline: dsl.Input[dsl.Artifact],
    decision: dsl.Output[dsl.Artifact],
    mode: str = "on",
    metric: str = "f1_hard",
    margin: float = 0.0,
) -> str:
    """Compare the reward model's benchmark with the baseline critic's; return "train" or "skip".

    Args:
        candidate: metrics.json of the reward model's critic benchmark (benchmark_critic's results output).
        baseline: metrics.json of the baseline critic's benchmark on the same bench set.
        decision: gate.json: the decision, both scores, the margin and the reason.
        mode: on (train only when the candidate beats the baseline by the margin) or off (always train).
        metric: Overall metric compared: f1_hard, f1_soft or sc (points, 0-100).
        margin: Points by which the candidate must beat the baseline (candidate - baseline >= margin).

    Returns:
        "train" or "skip".
    """
    import json

    from visual_erm.gate import gate_decision

    result = gate_decision(candidate.path, baseline.path, mode=mode, metric=metric, margin=margin)
    with open(decision.path, "w") as fh:
        json.dump(result, fh, indent=1)
    decision.metadata.update({k: v for k, v in result.items() if v is not None})
    print(result["reason"])
    return result["decision"]
