"""KFP component: synthesize a verified reward-model pair dataset (thin wrapper over visual_erm.synth)."""

from kfp import dsl

from components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def synthesize(
    dataset: dsl.Output[dsl.Dataset],
    preview: dsl.Output[dsl.HTML],
    metrics: dsl.Output[dsl.Metrics],
    tasks: str = "chart,table,svg",
    n: int = 300,
    seed: int = 0,
    candidates_per_seed: int = 3,
    max_edits: int = 4,
    identity_share: float = 0.1,
    corpus_path: str = "",
    natural_endpoint: str = "",
    natural_model: str = "policy",
    workers: int = 0,
):
    """Synthesize reference/candidate pairs with exact, render-verified gold critiques.

    Args:
        dataset: Output directory: Parquet shards (HF image layout), manifest.json and preview.html.
        preview: Sampled pairs side by side with their gold critiques.
        metrics: Pair counts, pairs per second and the structural critic's agreement with the gold labels.
        tasks: Comma-separated tasks to synthesize: chart, table, svg.
        n: Target number of pairs over all tasks (natural samples come on top).
        seed: Seed; the same seed and options give byte-identical shards.
        candidates_per_seed: Candidates made from each seed program.
        max_edits: At most this many composed corruption edits per candidate (1-4).
        identity_share: Share of identity (error-free) pairs.
        corpus_path: Optional JSONL of user programs ({task, code, id}) used as seeds first.
        natural_endpoint: Optional OpenAI-compatible endpoint of a policy model for natural candidates.
        natural_model: Model name to request at natural_endpoint.
        workers: Sandboxed render workers (0 = one per core).
    """
    import shutil
    from pathlib import Path

    from visual_erm.synth.engine import SynthConfig
    from visual_erm.synth.run import synthesize_dataset

    cfg = SynthConfig(
        tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()), n=n, seed=seed,
        candidates_per_seed=candidates_per_seed, max_edits=max_edits, identity_share=identity_share,
        corpus=corpus_path or None, natural_endpoint=natural_endpoint or None, natural_model=natural_model,
    )
    report = synthesize_dataset(cfg, Path(dataset.path), workers=workers or None)
    shutil.copyfile(Path(dataset.path) / "preview.html", preview.path)
    metrics.log_metric("pairs", report.pairs)
    metrics.log_metric("pairs_per_s", round(report.pairs_per_s, 3))
    agreement = report.manifest["verification"]["structural_critic_agreement"]
    if agreement is not None:
        metrics.log_metric("structural_critic_agreement", agreement)
    for task, count in report.manifest["counts"]["by_task"].items():
        metrics.log_metric(f"pairs_{task}", count)
