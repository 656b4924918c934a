"""Publish a model to a stable location: the model files, a model card (README.md) and the metrics, marker last.

    from visual_erm.publish import publish_model

    result = publish_model("runs/x/model", "s3://visual-erm/models/visual-erm/latest", name="visual-erm",
                           metrics={"benchmark (structural)": {"f1_hard": 41.2, ...}},
                           reports={"benchmark": "runs/x/report.html"}, sources={"dataset": "s3://..."})

Layout of the destination (the model files stay at the root, so ``vllm serve <dest>`` and
``from_pretrained(<dest>)`` work on it as is — the Helm chart's reward-model server serves exactly this)::

    <dest>/config.json, model.safetensors, processor files ...   the model, as trained
    <dest>/README.md            the model card: what it is, how to serve it, every metric, where it came from
    <dest>/metrics.json         {section: {metric: value}} (training metrics from the model's metrics.json too)
    <dest>/reports/<name>.html  the benchmark reports
    <dest>/publish.json         name, time, sources and the sha256 of every file above
    <dest>/_VERM_COMPLETE.json  written last by ``storage.publish_dir(marker=None)``: readers (the chart's
                                fetcher, ``storage.fetch_dir``) refuse the prefix until it is there

Publishing again to the same destination replaces it (objects no longer in the model are pruned; unchanged
objects are not uploaded twice). A model's own ``README.md`` is kept as ``MODEL_README.md``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from visual_erm import storage

CARD_NAME = "README.md"
METRICS_NAME = "metrics.json"
PUBLISH_NAME = "publish.json"


@dataclass
class PublishResult:
    dest: str
    files: dict[str, str]  # relative path -> sha256
    card: str  # the model card text


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.4g}"
    return str(value)


def _scalar_items(metrics: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in sorted(metrics.items()) if isinstance(v, (int, float, str, bool)) and v is not None]


def training_metrics(model_dir: Path) -> dict[str, Any]:
    """Scalar training figures from the model's own ``metrics.json`` (written by ``visual_erm.rm.train``)."""
    path = Path(model_dir) / METRICS_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {}
    out = {k: v for k, v in data.items() if isinstance(v, (int, float, str, bool)) and v is not None}
    for k, v in (data.get("eval") or {}).items() if isinstance(data.get("eval"), dict) else []:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"eval_{k}"] = v
    return out


def model_card(name: str, *, metrics: Mapping[str, Mapping[str, Any]], sources: Mapping[str, str],
               reports: list[str], files: list[str], description: str = "", published_at: str = "",
               profile: str | None = None) -> str:
    """The model card (Markdown with Hugging Face front matter): what it is, how to serve it, metrics, lineage."""
    lines = ["---", "library_name: transformers", "pipeline_tag: image-text-to-text",
             "tags: [visual-erm, reward-model, vision-to-code]", "---", "", f"# {name}", ""]
    lines += [description or ("A Visual-ERM model: a generative visual-equivalence reward model for vision-to-code, "
                              "trained and evaluated by the Visual-ERM pipelines."), ""]
    if published_at:
        lines += [f"Published {published_at}.", ""]
    lines += ["## Use", "", "```bash", f"vllm serve <this directory> --served-model-name {name} "
              "--limit-mm-per-prompt '{\"image\": 2}'", "```", "",
              "or `from_pretrained(<this directory>)` with transformers. The Helm chart "
              "(`charts/visual-erm`, `rmServer.model.uri`) serves it from the object store.", ""]
    if profile:
        lines += ["## Training profile", "", "```yaml", profile.rstrip(), "```", ""]
    lines += ["## Metrics", ""]
    if not metrics:
        lines += ["No metrics were given.", ""]
    for section, values in metrics.items():
        items = _scalar_items(values)
        if not items:
            continue
        lines += [f"### {section}", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in items]
        lines.append("")
    if reports:
        lines += ["## Reports", ""] + [f"- [{Path(r).stem}]({r})" for r in reports] + [""]
    if sources:
        lines += ["## Lineage", "", "| input | where |", "|---|---|"]
        lines += [f"| {k} | `{v}` |" for k, v in sorted(sources.items()) if v]
        lines.append("")
    lines += ["## Files", "", f"{len(files)} files; `publish.json` lists each with its sha256, and "
              "`_VERM_COMPLETE.json` (written last) marks the upload complete.", ""]
    return "\n".join(lines)


def stage_publication(model_dir: str | Path, staging: str | Path, *, name: str = "visual-erm",
                      metrics: Mapping[str, Mapping[str, Any]] | None = None,
                      reports: Mapping[str, str | Path] | None = None, sources: Mapping[str, str] | None = None,
                      description: str = "", now: _dt.datetime | None = None) -> tuple[dict[str, str], str]:
    """Assemble the publication in the local directory ``staging``; returns (relative path -> sha256, card)."""
    model_dir, staging = Path(model_dir), Path(staging)
    if not model_dir.is_dir():
        raise FileNotFoundError(f"model directory {model_dir} does not exist")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(model_dir, staging, ignore=shutil.ignore_patterns(storage.GENERATED_MARKER, "*.tmp", "*.partial"))
    if (staging / CARD_NAME).exists():
        (staging / CARD_NAME).rename(staging / "MODEL_README.md")
    sections: dict[str, dict[str, Any]] = {}
    train = training_metrics(model_dir)
    if train:
        sections["training"] = train
    for section, values in (metrics or {}).items():
        sections[section] = {k: v for k, v in _scalar_items(values)}
    report_paths = []
    for rname, rpath in (reports or {}).items():
        rpath = Path(rpath)
        if not rpath.exists():
            continue
        target = staging / "reports" / (f"{rname}.html" if rpath.is_file() else rname)
        target.parent.mkdir(parents=True, exist_ok=True)
        if rpath.is_dir():
            shutil.copytree(rpath, target, dirs_exist_ok=True)
            index = next((p for p in ("index.html", "report.html") if (target / p).exists()), None)
            report_paths.append(f"reports/{rname}/{index}" if index else f"reports/{rname}/")
        else:
            shutil.copyfile(rpath, target)
            report_paths.append(f"reports/{rname}.html")
    model_metrics = {"training_run": train} if train else {}
    (staging / METRICS_NAME).write_text(json.dumps({**model_metrics, **sections}, indent=1, sort_keys=True,
                                                   default=str) + "\n")
    if train:  # the model's own metrics.json (with the loss curve) is kept beside the summary
        shutil.copyfile(model_dir / METRICS_NAME, staging / "training_metrics.json")
    profile_path = model_dir / "profile.yaml"
    profile = profile_path.read_text() if profile_path.is_file() else None
    stamp = (now or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    files_before = sorted(storage.local_files(staging))
    card = model_card(name, metrics=sections, sources=sources or {}, reports=report_paths,
                      files=files_before + [CARD_NAME, PUBLISH_NAME], description=description, published_at=stamp,
                      profile=profile)
    (staging / CARD_NAME).write_text(card)
    hashes = {rel: storage.sha256_file(p) for rel, p in storage.local_files(staging).items()}
    (staging / PUBLISH_NAME).write_text(json.dumps({"name": name, "published_at": stamp, "sources": dict(sources or {}),
                                                    "files": hashes}, indent=1, sort_keys=True) + "\n")
    hashes[PUBLISH_NAME] = storage.sha256_file(staging / PUBLISH_NAME)
    return hashes, card


def publish_model(model_dir: str | Path, dest: str, *, name: str = "visual-erm",
                  metrics: Mapping[str, Mapping[str, Any]] | None = None,
                  reports: Mapping[str, str | Path] | None = None, sources: Mapping[str, str] | None = None,
                  description: str = "", staging: str | Path | None = None,
                  now: _dt.datetime | None = None) -> PublishResult:
    """Stage the publication (``stage_publication``) and publish it to ``dest`` (a local path or an ``s3://``
    prefix) with ``storage.publish_dir(marker=None)``: every file first, verified, the completion marker last.

    ``staging`` keeps the assembled directory there (a KFP output artifact); by default a temporary one is used.
    """
    if not dest:
        raise ValueError("publish_model needs a destination (a local path or s3://bucket/prefix)")
    tmp = None
    if staging is None:
        tmp = tempfile.mkdtemp(prefix="verm-publish-")
        staging = Path(tmp) / "publication"
    try:
        hashes, card = stage_publication(model_dir, staging, name=name, metrics=metrics, reports=reports,
                                         sources=sources, description=description, now=now)
        if not storage.is_s3_uri(dest):
            Path(dest).expanduser().mkdir(parents=True, exist_ok=True)
        storage.publish_dir(staging, dest, marker=None)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return PublishResult(dest=str(dest).rstrip("/"), files=hashes, card=card)
