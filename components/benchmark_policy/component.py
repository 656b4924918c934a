"""KFP component: benchmark a policy's responses (thin wrapper over visual_erm.bench.policy)."""

from kfp import dsl

from components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def benchmark_policy(
    data: dsl.Input[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    report: dsl.Output[dsl.HTML],
    results: dsl.Output[dsl.Artifact],
    responses: dsl.Input[dsl.Artifact] = None,
    endpoint: str = "",
    model: str = "",
    critic: str = "",
    reward_variant: str = "released",
    split: str = "test",
    workers: int = 0,
    timeout_s: float = 15.0,
    max_items: int = 0,
):
    """Render a policy's programs in the sandbox and score them: execution rate, task metrics, Visual-ERM score.

    Args:
        data: Benchmark items: a pair dataset (one item per seed of its split), a bench set, or a prompt set (prompts.jsonl with id, task, image, reference_code).
        metrics: Execution rate and metric means overall and per task (chart low-level and its four F1s, table TEDS/TEDS-S, SVG SSIM/MSE, Visual-ERM reward).
        report: HTML report: per-task table, headline bar chart, the worst items with reference and candidate images.
        results: metrics.json with every per-task figure, status counts, excluded items and timings.
        responses: The policy's responses, a JSONL of {id, response}; leave unset to generate them from endpoint.
        endpoint: OpenAI-compatible endpoint of the policy model, used when responses is not given.
        model: Policy model name at endpoint; required with endpoint.
        critic: Critic for the Visual-ERM score (pixel, structural, vlm, or a registered name); empty skips it.
        reward_variant: Reward formula that turns the critic's severity sum into a score (released, paper, auto, ...).
        split: Split of a pair dataset to benchmark on.
        workers: Render workers and concurrent endpoint calls (0 = one per core).
        timeout_s: Render timeout per response in seconds (the paper's released code uses 15).
        max_items: Benchmark only the first N items, for a smoke run (0 = all).
    """
    import shutil
    import tempfile
    from pathlib import Path

    from visual_erm.bench.policy import run_policy_bench

    out_dir = Path(tempfile.mkdtemp(prefix="verm-bench-policy-"))
    try:
        result = run_policy_bench(
            data.path, out_dir, responses=responses.path if responses is not None else None,
            endpoint=(endpoint or None) if responses is None else None, model=model or None, critic=critic or None,
            reward_variant=reward_variant, split=split, workers=workers or None, timeout_s=timeout_s,
            max_items=max_items or None, policy_name=model or None)
        shutil.copyfile(out_dir / "report.html", report.path)
        shutil.copyfile(out_dir / "metrics.json", results.path)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    overall = result["overall"]
    metrics.log_metric("items_scored", overall["n_scored"])
    metrics.log_metric("items_excluded", overall["n_excluded"])
    groups = [("", overall)] + [(f"_{task}", g) for task, g in result["by_task"].items()]
    for suffix, g in groups:
        if g["exec_rate"] is not None:
            metrics.log_metric(f"exec_rate{suffix}", round(g["exec_rate"], 4))
        if g.get("verm") and g["verm"]["reward_mean"] is not None:
            metrics.log_metric(f"verm_reward{suffix}", round(g["verm"]["reward_mean"], 4))
    for task, g in result["by_task"].items():
        for key, value in g["metrics"].items():
            if value is not None and not key.endswith(("_n", "_on_executed")):
                metrics.log_metric(f"{task}_{key}", round(value, 4))
