"""KFP component: validate a dataset with Great Expectations (thin wrapper over visual_erm.validation)."""

from kfp import dsl

from components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def validate(
    dataset: dsl.Input[dsl.Dataset],
    data_docs: dsl.Output[dsl.HTML],
    metrics: dsl.Output[dsl.Metrics],
    kind: str = "",
    min_per_category: int = 1,
    min_pairs_for_balance: int = 200,
    identity_share_min: float = 0.0,
    identity_share_max: float = 0.5,
    min_image_side: int = 16,
    max_image_side: int = 4096,
    require_manifest: bool = True,
):
    """Validate a pair dataset, RL prompt set or benchmark set; fail the task with what to fix.

    Checks schema and types, task and category vocabularies, severities 1-3, stated counts against listed errors,
    image decoding, sizes and blank references, duplicate pairs, seeds crossing splits, per-category minimums,
    the identity-pair share, and the manifest (present, parseable, counts and shard sha256s equal to the data).

    Args:
        dataset: Dataset directory (data/<split>/*.parquet and manifest.json, or a VC-RewardBench layout).
        data_docs: Great Expectations Data Docs site (index.html), plus report.html and report.json beside it.
        metrics: Rows, expectations met and failed, load problems, seconds and success (1 or 0).
        kind: pairs, rl-prompts or bench; empty reads the manifest's format field.
        min_per_category: Labelled errors each category of a task needs at least.
        min_pairs_for_balance: Pairs a task needs before its per-category minimum is checked.
        identity_share_min: Lowest allowed share of identity pairs (per task and overall).
        identity_share_max: Highest allowed share of identity pairs (per task and overall).
        min_image_side: Smallest allowed image width and height in pixels.
        max_image_side: Largest allowed image width and height in pixels.
        require_manifest: Whether a missing manifest.json is a failure.

    Raises:
        RuntimeError: The dataset failed validation; the message lists each failure with offending ids.
    """
    import shutil
    from pathlib import Path

    from visual_erm.validation import validate_dataset

    site = Path(data_docs.path)
    if site.exists():
        shutil.rmtree(site) if site.is_dir() else site.unlink()
    report = validate_dataset(
        Path(dataset.path), kind=kind or None, report_dir=site,
        min_per_category=min_per_category, min_pairs_for_balance=min_pairs_for_balance,
        identity_share_min=identity_share_min, identity_share_max=identity_share_max,
        min_image_side=min_image_side, max_image_side=max_image_side, require_manifest=require_manifest,
    )
    data_docs.metadata["index"] = "data_docs/index.html"
    data_docs.metadata["summary"] = "report.html"
    metrics.log_metric("rows", report.rows)
    metrics.log_metric("expectations", len(report.results))
    metrics.log_metric("expectations_failed", len(report.failed))
    metrics.log_metric("load_problems", len(report.problems))
    metrics.log_metric("seconds", round(report.seconds, 2))
    metrics.log_metric("success", int(report.success))
    if not report.success:
        raise RuntimeError(report.format())
