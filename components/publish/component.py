"""KFP component: publish a model + model card + metrics to a stable prefix (thin wrapper over visual_erm.publish)."""

from typing import Optional

from kfp import dsl

from components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def publish(
    model: dsl.Input[dsl.Model],
    publication: dsl.Output[dsl.Model],
    card: dsl.Output[dsl.Markdown],
    bench_metrics: Optional[dsl.Input[dsl.Metrics]] = None,
    baseline_metrics: Optional[dsl.Input[dsl.Metrics]] = None,
    bench_report: Optional[dsl.Input[dsl.HTML]] = None,
    dest_uri: str = "",
    name: str = "visual-erm",
    description: str = "",
    sources: dict = {},
) -> str:
    """Copy the model, a generated model card (README.md with every metric) and metrics.json to a stable prefix.

    Args:
        model: Model directory (from_pretrained-ready; its metrics.json and profile.yaml go into the card).
        publication: The assembled publication (model files, README.md, metrics.json, reports/, publish.json).
        card: The model card (README.md) alone, for the KFP UI.
        bench_metrics: Benchmark metrics of this model (a Metrics artifact), shown in the card.
        baseline_metrics: The baseline's benchmark metrics on the same set, shown beside them.
        bench_report: The benchmark's HTML report, copied under reports/.
        dest_uri: Stable destination: s3://bucket/prefix or a local path; the marker _VERM_COMPLETE.json is
            written last. Empty: only the publication artifact.
        name: Model name (card title, served model name).
        description: One paragraph for the card; empty: the default Visual-ERM description.
        sources: Lineage shown in the card: input name -> URI (dataset, base model, run).

    Returns:
        The destination URI (or the publication artifact's URI when dest_uri is empty).
    """
    import shutil
    from pathlib import Path

    from visual_erm.publish import CARD_NAME, publish_model, stage_publication

    metrics = {}
    if bench_metrics is not None:
        metrics["benchmark"] = dict(bench_metrics.metadata)
    if baseline_metrics is not None:
        metrics["baseline benchmark"] = dict(baseline_metrics.metadata)
    reports = {"benchmark": bench_report.path} if bench_report is not None else {}
    kwargs = dict(name=name, metrics=metrics, reports=reports, sources=sources, description=description)
    if dest_uri:
        result = publish_model(model.path, dest_uri, staging=publication.path, **kwargs)
        dest, files = result.dest, result.files
    else:
        files, _ = stage_publication(model.path, publication.path, **kwargs)
        dest = publication.uri
    shutil.copyfile(Path(publication.path) / CARD_NAME, card.path)
    publication.metadata.update({"dest": dest, "files": len(files), "name": name})
    print(f"published {len(files)} files to {dest}")
    return dest
