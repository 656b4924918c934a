"""KFP component: benchmark the trained reward model as a critic (thin wrapper over visual_erm.bench.run_critic)."""

from kfp import dsl

from components.images import TRAIN_IMAGE


@dsl.component(base_image=TRAIN_IMAGE, install_kfp_package=False)
def benchmark_reward_model(
    bench: dsl.Input[dsl.Dataset],
    model: dsl.Input[dsl.Model],
    metrics: dsl.Output[dsl.Metrics],
    report: dsl.Output[dsl.HTML],
    results: dsl.Output[dsl.Artifact],
    endpoint: str = "",
    served_model_name: str = "visual-erm",
    sampling: str = "greedy",
    max_new_tokens: int = 0,
    matcher: str = "deterministic",
    judge_endpoint: str = "",
    judge_model: str = "",
    workers: int = 0,
    max_items: int = 0,
):
    """Score the reward model's critiques against gold errors: F1-hard, F1-soft and severity correlation (Sc).

    Args:
        bench: Bench set directory (bench.jsonl + images, a VC-RewardBench JSONL) or a pair dataset whose test split is used.
        model: The trained reward model directory (train_reward_model's model output), run in process.
        metrics: F1-hard, F1-soft and Sc (x100) overall and per task, plus scored and excluded item counts.
        report: HTML report: per-task and per-category tables and charts, the worst items side by side.
        results: metrics.json with every group (per task, per category), the excluded items and timings.
        endpoint: OpenAI-compatible endpoint serving this model (vLLM); empty runs the model in process.
        served_model_name: Model name at endpoint.
        sampling: Decoding: greedy (reproducible) or paper (the released reward's sampling).
        max_new_tokens: Longest critique in tokens (0 = the critic's default).
        matcher: How predicted errors are paired with gold errors: deterministic (offline) or llm (LLM judge).
        judge_endpoint: OpenAI-compatible endpoint of the judge model; required when matcher is llm.
        judge_model: Judge model name at judge_endpoint; required when matcher is llm.
        workers: Concurrent judge calls (0 = default).
        max_items: Score only the first N items, for a smoke run (0 = all).
    """
    import shutil
    import tempfile
    from pathlib import Path

    from visual_erm.bench.critic_metrics import summary_metric_rows
    from visual_erm.bench.run_critic import run_critic_bench

    options = {"sampling": sampling, "max_tokens": max_new_tokens or None}
    options.update({"endpoint": endpoint, "model": served_model_name} if endpoint else {"model_dir": model.path})
    out_dir = Path(tempfile.mkdtemp(prefix="verm-bench-rm-"))
    try:
        result = run_critic_bench(bench.path, "vlm", out_dir, matcher=matcher, judge_endpoint=judge_endpoint or None,
                                  judge_model=judge_model or None, workers=workers or None,
                                  critic_options=options, max_items=max_items or None)
        shutil.copyfile(out_dir / "report.html", report.path)
        shutil.copyfile(out_dir / "metrics.json", results.path)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    for name, value in summary_metric_rows(result["summary"]):
        metrics.log_metric(name, value)
