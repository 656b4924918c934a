"""KFP component: fine-tune the Visual-ERM reward model (thin wrapper over visual_erm.rm.train)."""

from kfp import dsl

from components.images import TRAIN_IMAGE


@dsl.component(base_image=TRAIN_IMAGE, install_kfp_package=False)
def train_reward_model(
    dataset: dsl.Input[dsl.Dataset],
    model: dsl.Output[dsl.Model],
    metrics: dsl.Output[dsl.Metrics],
    profile: str = "tiny",
    max_steps: int = -1,
    epochs: float = 0.0,
    learning_rate: float = 0.0,
    base_model: str = "",
    out_uri: str = "",
    overrides_json: str = "{}",
    resume: bool = True,
):
    """Fine-tune a Visual-ERM reward model with TRL SFT on a verified pair dataset.

    Args:
        dataset: Pair dataset directory written by the synthesize component (Parquet shards + manifest.json).
        model: Output directory: the trained model and processor (``from_pretrained``-ready), profile.yaml,
            metrics.json (loss curve, held-out parse rate) and manifest.json.
        metrics: Steps, first/last/mean training loss, held-out parse rate, training seconds.
        profile: Training profile: ``tiny`` (CPU, minutes) or ``qwen3-vl-8b`` (GPU, paper settings), or a YAML path.
        max_steps: Stop after this many optimizer steps (-1: use the profile's epochs / max_steps).
        epochs: Training epochs (0: the profile's value).
        learning_rate: Learning rate (0: the profile's value).
        base_model: Base weights for base-model profiles: a local path or an s3:// URI ('' = the profile's).
        out_uri: Also publish the model here (an s3:// prefix or a stable path; checkpoints are mirrored to
            ``<out_uri>.checkpoints`` so a retried task resumes); '' = only the KFP output artifact.
        overrides_json: Further profile overrides as a JSON object of dotted keys, e.g. {"lora.r": 64}.
        resume: Resume from the last checkpoint of an earlier attempt.
    """
    import json
    import shutil
    import tempfile

    from visual_erm.rm.train import train_reward_model as train

    overrides = json.loads(overrides_json or "{}")
    if not isinstance(overrides, dict):
        raise ValueError("overrides_json must be a JSON object of dotted keys")
    if max_steps != -1:
        overrides["training.max_steps"] = max_steps
    if epochs:
        overrides["training.epochs"] = epochs
    if learning_rate:
        overrides["training.learning_rate"] = learning_rate
    if base_model:
        overrides["model.base"] = base_model
        overrides["model.tiny"] = None
    if out_uri:  # stable location: checkpoints survive a retried pod, the artifact is copied into the output
        result = train(dataset.path, out_uri, profile, overrides, resume=resume)
        from visual_erm import storage

        if storage.is_s3_uri(out_uri):
            storage.fetch_dir(out_uri, model.path)
        else:
            shutil.copytree(out_uri, model.path, dirs_exist_ok=True)
    else:
        work = tempfile.mkdtemp(prefix="verm-train-rm-")
        result = train(dataset.path, model.path, profile, overrides, resume=resume, workdir=work)
        shutil.rmtree(work, ignore_errors=True)
    model.metadata["profile"] = result["profile"]
    model.metadata["parse_rate"] = result["eval"].get("parse_rate")
    metrics.log_metric("steps", result["steps"])
    metrics.log_metric("train_loss", result["train_loss"])
    if result.get("first_loss") is not None:
        metrics.log_metric("first_loss", result["first_loss"])
        metrics.log_metric("last_loss", result["last_loss"])
    if result["eval"].get("parse_rate") is not None:
        metrics.log_metric("parse_rate", result["eval"]["parse_rate"])
    metrics.log_metric("train_seconds", result["train_seconds"])
