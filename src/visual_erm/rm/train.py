"""Reward-model SFT with TRL's ``SFTTrainer``: (prompt, reference, candidate) → the gold critique JSON.

``train_reward_model(dataset_uri, out_uri, profile="tiny")`` is the one entry point (CLI ``verm train-rm``, KFP
component ``train_reward_model``). It

1. loads a profile (``rm/profiles/*.yaml``; dotted-key overrides), resolves the pair dataset (local or s3://),
2. builds the model: a tiny Qwen3-VL from a config with a BPE tokenizer trained on prompts + training critiques,
   or the profile's base weights (local or s3://), full fine-tune or LoRA (PEFT),
3. trains with loss on the critique tokens only, checkpointing every ``save_steps`` into a work directory
   (mirrored to ``<out_uri>.checkpoints/`` when the output is on s3://); a rerun resumes from the last checkpoint,
4. measures the parse rate of greedy critiques on held-out pairs (test split, else validation),
5. writes one artifact directory — model + processor (``from_pretrained``-ready), ``profile.yaml``,
   ``metrics.json`` (loss curve, parse rate, timings), ``manifest.json`` last — and publishes it with
   :func:`visual_erm.storage.publish_output`.

Multi-GPU: launch the same call under ``accelerate launch --config_file configs/accelerate/<file>.yaml``; the
global batch stays ``training.global_batch_size`` (accumulation = global / (per-device × world size)).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from visual_erm import storage
from visual_erm.rm.profile import Profile, load_profile, profile_yaml
from visual_erm.training import checkpoints
from visual_erm.training.checkpoints import config_path

ARTIFACT_KIND = "visual-erm-reward-model"
CHECKPOINT_MARKER = None  # checkpoints are published with the store's generated marker


def _log_default(msg: str) -> None:
    print(f"[train-rm] {msg}", flush=True)


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _device(profile: Profile) -> str:
    import torch

    if profile.training.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return profile.training.device


def _checkpointing_arg(config_cls, enabled: bool) -> dict:
    """``activation_checkpointing`` (transformers >= 5.2x) or the older ``gradient_checkpointing`` name."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_cls)}
    return {"activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing": enabled}


def _fingerprint(profile: Profile, dataset_dir: Path) -> str:
    h = hashlib.sha256(profile_yaml(profile).encode())
    manifest = dataset_dir / "manifest.json"
    if manifest.is_file():
        h.update(manifest.read_bytes())
    else:
        for shard in sorted((dataset_dir / "data").glob("*/*.parquet")):
            h.update(shard.name.encode())
            h.update(str(shard.stat().st_size).encode())
    return h.hexdigest()[:16]


def _build_initial_model(profile: Profile, train_rows_text: Callable[[], list[str]], workdir: Path, log):
    """Model + processor to start from; tiny ones are saved once under ``workdir/init`` so reruns match."""
    from visual_erm.rm import model as rm_model

    spec = profile.model
    if spec.base is not None:
        base_dir = storage.resolve_input(spec.base, workdir)
        log(f"loading base weights from {base_dir}")
        processor = rm_model.load_processor(base_dir, min_pixels=profile.images.min_pixels,
                                            max_pixels=profile.images.max_pixels)
        model = rm_model.load_model(base_dir, dtype=spec.dtype, attn_implementation=spec.attn_implementation)
        return model, processor
    init_dir = workdir / "init"
    if (init_dir / "config.json").is_file() and (init_dir / rm_model.PROCESSOR_CLASS_FILE).is_file():
        log(f"reusing the initial tiny model in {init_dir}")
        return rm_model.load_model(init_dir, dtype="float32"), rm_model.load_processor(init_dir)
    t0 = time.time()
    if spec.tokenizer == "qwen":
        tokenizer = rm_model.build_qwen_tokenizer()
    else:
        tokenizer = rm_model.build_bpe_tokenizer(train_rows_text(), spec.bpe_vocab_size)
    arch = spec.tiny.model_dump()
    image_processor = rm_model.build_image_processor(patch_size=arch["patch_size"],
                                                     min_pixels=profile.images.min_pixels,
                                                     max_pixels=profile.images.max_pixels)
    processor = rm_model.build_processor(tokenizer, image_processor)
    model = rm_model.build_tiny_model(tokenizer, seed=spec.seed, **arch)
    rm_model.save_model(model, processor, init_dir)
    log(f"built tiny Qwen3-VL ({sum(p.numel() for p in model.parameters()):,} parameters, vocabulary "
        f"{len(tokenizer)}, tokenizer {spec.tokenizer}) in {time.time() - t0:.1f}s")
    return model, processor


def _corpus(train_ds) -> list[str]:
    from visual_erm.rm.prompts import rm_prompt

    texts = [rm_prompt(t) for t in ("chart", "table", "svg")] * 4
    for msgs in train_ds["messages"]:
        for m in msgs:
            for part in m["content"]:
                if part.get("type") == "text" and part.get("text") and m["role"] == "assistant":
                    texts.append(part["text"])
    return texts


def _eval_rows(dataset_dir: Path, n: int) -> tuple[str | None, list[dict]]:
    from visual_erm.rm.sft_data import available_splits, pair_rows

    splits = available_splits(dataset_dir)
    for split in ("test", "validation", "val"):
        if split in splits:
            rows = pair_rows(dataset_dir, split, columns=["id", "task", "reference_image", "candidate_image", "gold"])
            # interleave tasks so a small n still covers every task
            by_task: dict[str, list[dict]] = {}
            for r in rows:
                by_task.setdefault(r["task"], []).append(r)
            mixed = [r for group in zip(*by_task.values()) for r in group] + \
                [r for rs in by_task.values() for r in rs[min(map(len, by_task.values())):]]
            return split, mixed[:n]
    return None, []


def evaluate_parse_rate(model, processor, rows: list[dict], profile: Profile) -> dict:
    """Greedy critiques for held-out pair rows and the share that parses (``schema.parse_critique``)."""
    from visual_erm.rm.inference import CritiqueGenerator, parse_rate

    if not rows:
        return {"n": 0, "parsed": 0, "parse_rate": None, "failures": {}}
    was_training = model.training
    model.eval()
    use_cache = model.config.get_text_config().use_cache
    model.config.get_text_config().use_cache = True
    try:
        gen = CritiqueGenerator(model, processor, max_side=profile.images.max_side)
        t0 = time.time()
        texts = gen.generate(rows, max_new_tokens=profile.eval.max_new_tokens, batch_size=profile.eval.batch_size)
        result = parse_rate(texts, [r["task"] for r in rows])
        result["seconds"] = round(time.time() - t0, 1)
        result["samples"] = [{"id": r["id"], "task": r["task"], "output": t[:2000]} for r, t in zip(rows[:3], texts)]
        return result
    finally:
        model.config.get_text_config().use_cache = use_cache
        model.train(was_training)


def train_reward_model(dataset_uri: str | os.PathLike, out_uri: str | os.PathLike, profile: str | Profile = "tiny",
                       overrides: dict[str, Any] | None = None, resume: bool = True, *,
                       workdir: str | os.PathLike | None = None, checkpoint_uri: str | None = None,
                       log: Callable[[str], None] = _log_default) -> dict:
    """Fine-tune a Visual-ERM reward model on a pair dataset and publish the model directory.

    Args:
        dataset_uri: Pair dataset directory (``verm synth`` output), local or ``s3://``.
        out_uri: Where the artifact goes (local directory or ``s3://`` prefix); ``manifest.json`` is written last.
        profile: Profile name (``tiny``, ``qwen3-vl-8b``), YAML path, or a loaded :class:`Profile`.
        overrides: Dotted-key overrides of the profile, e.g. ``{"training.max_steps": 20}``.
        resume: Continue from the last checkpoint of an earlier run with the same output (and return a finished
            artifact with the same profile and data as it is); False starts over.
        workdir: Local work directory (checkpoints, caches); default ``<out>.work`` or a temp dir for s3://.
        checkpoint_uri: Where checkpoints are mirrored; default ``<out_uri>.checkpoints`` when ``out_uri`` is s3://.
        log: Progress messages.

    Returns:
        The metrics dict also written to ``metrics.json`` (plus ``out``: the published location).
    """
    import torch

    prof = profile if isinstance(profile, Profile) else load_profile(profile, overrides)
    if isinstance(profile, Profile) and overrides:
        raise ValueError("pass overrides with a profile name or path, not with a loaded Profile")
    out_uri = str(out_uri)
    work = Path(workdir) if workdir else checkpoints.default_workdir(out_uri, "train-rm")
    work.mkdir(parents=True, exist_ok=True)
    ckpt_dir = work / "checkpoints"
    if checkpoint_uri is None and storage.is_s3_uri(out_uri):
        checkpoint_uri = out_uri.rstrip("/") + ".checkpoints"

    dataset_dir = storage.resolve_input(str(dataset_uri), work)
    storage.require_complete(dataset_dir)  # manifest.json is written last: refuse a half-written dataset
    fingerprint = _fingerprint(prof, dataset_dir)
    state_file = work / "run.json"
    if not resume:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        shutil.rmtree(work / "init", ignore_errors=True)
    elif state_file.is_file() and json.loads(state_file.read_text()).get("fingerprint") != fingerprint:
        log("profile or dataset changed since the last run in this work directory: starting over")
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        shutil.rmtree(work / "init", ignore_errors=True)
    if resume:
        done = _finished_artifact(out_uri, work, fingerprint)
        if done is not None:
            log(f"{out_uri} already holds a finished model for this profile and dataset")
            return {**done, "out": out_uri, "reused": True}
    state_file.write_text(json.dumps({"fingerprint": fingerprint, "out": out_uri}) + "\n")

    os.environ.setdefault("WANDB_PROJECT", "visual-erm")
    if "wandb" in prof.training.report_to and not os.environ.get("WANDB_MODE") \
            and not os.environ.get("WANDB_API_KEY"):
        os.environ["WANDB_MODE"] = "offline"
        log("W&B: no WANDB_API_KEY and no WANDB_MODE: logging offline (wandb sync later)")
    os.environ.setdefault("WANDB_DIR", str(work))

    from trl import SFTConfig, SFTTrainer

    from visual_erm.rm.sft_data import build_sft_dataset

    t_start = time.time()
    train_ds = build_sft_dataset(dataset_dir, "train", max_side=prof.images.max_side)
    log(f"{len(train_ds)} training pairs from {dataset_dir}")
    model, processor = _build_initial_model(prof, lambda: _corpus(train_ds), work, log)

    device = _device(prof)
    if device == "cpu" and prof.training.cpu_threads:
        torch.set_num_threads(prof.training.cpu_threads)
    world = _world_size()
    accum = prof.grad_accumulation(world)
    tr = prof.training
    peft_config = None
    if prof.lora is not None:
        from peft import LoraConfig

        peft_config = LoraConfig(r=prof.lora.r, lora_alpha=prof.lora.alpha, lora_dropout=prof.lora.dropout,
                                 target_modules=prof.lora.target_modules, task_type="CAUSAL_LM")
    args = SFTConfig(
        output_dir=str(ckpt_dir),
        per_device_train_batch_size=tr.per_device_batch_size,
        gradient_accumulation_steps=accum,
        learning_rate=tr.learning_rate,
        num_train_epochs=tr.epochs,
        max_steps=tr.max_steps,
        lr_scheduler_type=tr.lr_scheduler,
        warmup_steps=tr.warmup_ratio,
        weight_decay=tr.weight_decay,
        max_grad_norm=tr.max_grad_norm,
        bf16=tr.bf16,
        **_checkpointing_arg(SFTConfig, tr.gradient_checkpointing),
        assistant_only_loss=tr.assistant_only_loss,
        max_length=tr.max_length,
        logging_steps=tr.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=tr.save_steps,
        save_total_limit=tr.save_total_limit,
        seed=tr.seed,
        optim=tr.optim,
        report_to=tr.report_to or "none",
        run_name=f"rm-{prof.name}",
        deepspeed=config_path(tr.deepspeed),
        dataloader_num_workers=tr.dataloader_num_workers,
        use_cpu=(device == "cpu"),
        eval_strategy="no",
        disable_tqdm=True,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=train_ds, processing_class=processor,
                         peft_config=peft_config,
                         callbacks=[checkpoints.mirror_callback(checkpoint_uri, log)] if checkpoint_uri else None)
    resume_from = checkpoints.resume_checkpoint(ckpt_dir, checkpoint_uri, log) if resume else None
    t_train = time.time()
    result = trainer.train(resume_from_checkpoint=resume_from)
    train_seconds = time.time() - t_train

    staging = work / "artifact"
    shutil.rmtree(staging, ignore_errors=True)
    trained = trainer.model
    if prof.lora is not None and prof.lora.merge:
        trained = trained.merge_and_unload()
        if trainer.is_world_process_zero():
            trained.save_pretrained(staging)
    else:
        trainer.save_model(str(staging))
    state = trainer.state
    if not trainer.is_world_process_zero():
        return {"out": out_uri, "rank": int(os.environ.get("RANK", "0"))}

    processor.save_pretrained(staging)
    from visual_erm.rm.model import PROCESSOR_CLASS_FILE

    (staging / PROCESSOR_CLASS_FILE).write_text(json.dumps({"processor_class": "ImageOnlyQwenVLProcessor"}) + "\n")
    (staging / "profile.yaml").write_text(profile_yaml(prof))

    history = trainer.state.log_history
    curve = [{"step": h["step"], "loss": round(float(h["loss"]), 5)} for h in history if "loss" in h]
    eval_split, eval_rows = _eval_rows(dataset_dir, prof.eval.n_pairs)
    evaluation: dict = {"n": 0, "parse_rate": None}
    if eval_rows:
        if world > 1 or tr.deepspeed:  # sharded weights: evaluate the saved model on this rank alone
            from visual_erm.rm.model import load_model

            del trainer
            if device == "cuda":
                torch.cuda.empty_cache()
            trained = load_model(staging, dtype=prof.model.dtype, device=device)
        evaluation = evaluate_parse_rate(trained, processor, eval_rows, prof)
    evaluation["split"] = eval_split
    log(f"held-out parse rate: {evaluation.get('parse_rate')} on {evaluation.get('n')} {eval_split} pairs")

    import accelerate
    import peft
    import transformers
    import trl

    metrics = {
        "profile": prof.name,
        "fingerprint": fingerprint,
        "dataset": str(dataset_uri),
        "train_pairs": len(train_ds),
        "device": device,
        "world_size": world,
        "per_device_batch_size": tr.per_device_batch_size,
        "gradient_accumulation_steps": accum,
        "global_batch_size": tr.per_device_batch_size * accum * world,
        "steps": state.global_step,
        "epochs": round(float(state.epoch or 0), 3),
        "resumed_from": Path(resume_from).name if resume_from else None,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.time() - t_start, 1),
        "train_loss": round(float(result.training_loss), 5),
        "first_loss": curve[0]["loss"] if curve else None,
        "last_loss": curve[-1]["loss"] if curve else None,
        "loss_curve": curve,
        "eval": evaluation,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
                     "accelerate": accelerate.__version__, "peft": peft.__version__},
    }
    (staging / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    files = {str(p.relative_to(staging)): storage.sha256_file(p) for p in sorted(staging.rglob("*")) if p.is_file()}
    manifest = {"kind": ARTIFACT_KIND, "profile": prof.name, "fingerprint": fingerprint, "files": files,
                "summary": {k: metrics[k] for k in ("steps", "train_loss", "first_loss", "last_loss",
                                                    "train_seconds")} | {"parse_rate": evaluation.get("parse_rate")}}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    dest = storage.publish_output(staging, out_uri)
    log(f"published the reward model to {dest}")
    return {**metrics, "out": dest}


def _finished_artifact(out_uri: str, work: Path, fingerprint: str) -> dict | None:
    """The metrics of a complete artifact at ``out_uri`` made from the same profile and data, else None."""
    try:
        if storage.is_s3_uri(out_uri):
            store = storage.open_store(out_uri)
            if store.stat("manifest.json") is None:
                return None
            local = storage.resolve_input(out_uri, work)
        else:
            local = Path(out_uri)
            if not (local / "manifest.json").is_file():
                return None
        manifest = json.loads((local / "manifest.json").read_text())
        if manifest.get("kind") != ARTIFACT_KIND or manifest.get("fingerprint") != fingerprint:
            return None
        return json.loads((local / "metrics.json").read_text())
    except (storage.StorageError, OSError, ValueError):
        return None
