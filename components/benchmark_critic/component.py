"""KFP component: benchmark a critic on a bench set (thin wrapper over visual_erm.bench.run_critic)."""

from kfp import dsl

from components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def benchmark_critic(
    bench: dsl.Input[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    report: dsl.Output[dsl.HTML],
    results: dsl.Output[dsl.Artifact],
    critic: str = "pixel",
    matcher: str = "deterministic",
    judge_endpoint: str = "",
    judge_model: str = "",
    workers: int = 0,
    max_items: int = 0,
):
    """Score a critic's critiques against gold errors: F1-hard, F1-soft and severity correlation (Sc).

    Args:
        bench: Bench set directory (bench.jsonl + images, or a VC-RewardBench JSONL), or a synthesized pair dataset whose test split is used.
        metrics: F1-hard, F1-soft and Sc (x100) overall and per task, plus scored and excluded item counts.
        report: HTML report: per-task and per-category tables and charts, the worst items side by side.
        results: metrics.json with every group (per task, per category), the excluded items and timings.
        critic: Critic to benchmark: pixel, structural, or another registered critic name.
        matcher: How predicted errors are paired with gold errors: deterministic (offline) or llm (LLM judge).
        judge_endpoint: OpenAI-compatible endpoint of the judge model; required when matcher is llm.
        judge_model: Judge model name at judge_endpoint; required when matcher is llm.
        workers: Render workers of the critic and concurrent judge calls (0 = default).
        max_items: Score only the first N items, for a smoke run (0 = all).
    """
    import shutil
    import tempfile
    from pathlib import Path

    from visual_erm.bench.critic_metrics import summary_metric_rows
    from visual_erm.bench.run_critic import run_critic_bench

    out_dir = Path(tempfile.mkdtemp(prefix="verm-bench-critic-"))
    try:
        result = run_critic_bench(bench.path, critic, out_dir, matcher=matcher,
                                  judge_endpoint=judge_endpoint or None, judge_model=judge_model or None,
                                  workers=workers or None, max_items=max_items or None)
        shutil.copyfile(out_dir / "report.html", report.path)
        shutil.copyfile(out_dir / "metrics.json", results.path)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    for name, value in summary_metric_rows(result["summary"]):
        metrics.log_metric(name, value)
