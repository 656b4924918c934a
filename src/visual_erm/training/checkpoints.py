"""Work directories, versioned config files and Hugging Face ``Trainer`` checkpoints, shared by the trainers.

A trainer checkpoints into ``<workdir>/checkpoints/checkpoint-N``; when the output is on s3:// every saved
checkpoint is mirrored to ``<checkpoint_uri>/checkpoint-N`` (:func:`mirror_callback`) and a rerun on a fresh
machine fetches the newest remote one (:func:`fetch_remote_checkpoint`) before resuming from
:func:`latest_checkpoint`.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Callable

from visual_erm import storage


def default_workdir(out_uri: str, kind: str) -> Path:
    """``<out>.work`` next to a local output; a per-output temp directory (``verm-<kind>/<hash>``) for s3://."""
    if storage.is_s3_uri(out_uri):
        key = hashlib.sha256(str(out_uri).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"verm-{kind}" / key
    out = Path(out_uri).expanduser().absolute()
    return out.parent / f"{out.name}.work"


def config_path(path: str | None) -> str | None:
    """A versioned config file (``configs/...``): as given, else relative to the repository root."""
    if path is None:
        return None
    p = Path(path)
    if p.is_file():
        return str(p)
    repo = Path(__file__).resolve().parents[3] / path
    if repo.is_file():
        return str(repo)
    raise FileNotFoundError(f"config file {path} not found (relative to {Path.cwd()} or the repository root)")


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The complete (``trainer_state.json`` written) ``checkpoint-N`` directory with the highest N, if any."""
    best = None
    for p in ckpt_dir.glob("checkpoint-*"):
        if p.is_dir() and (p / "trainer_state.json").is_file():
            try:
                step = int(p.name.split("-")[-1])
            except ValueError:
                continue
            if best is None or step > best[0]:
                best = (step, p)
    return best[1] if best else None


def remote_checkpoints(ckpt_uri: str) -> list[tuple[int, str]]:
    """Sorted ``(step, "checkpoint-N")`` of the completely published checkpoints under ``ckpt_uri``."""
    names = set()
    for key in storage.open_store(ckpt_uri).list(""):
        first, _, rest = key.partition("/")
        if first.startswith("checkpoint-") and rest == storage.GENERATED_MARKER:
            try:
                names.add((int(first.split("-")[-1]), first))
            except ValueError:
                pass
    return sorted(names)


def fetch_remote_checkpoint(ckpt_uri: str, ckpt_dir: Path, log: Callable[[str], None]) -> None:
    """Fetches the newest remote checkpoint into ``ckpt_dir`` unless a local one is at least as recent."""
    remote = remote_checkpoints(ckpt_uri)
    local = latest_checkpoint(ckpt_dir)
    if not remote or (local and int(local.name.split("-")[-1]) >= remote[-1][0]):
        return
    _, name = remote[-1]
    log(f"fetching checkpoint {name} from {ckpt_uri}")
    storage.fetch_dir(f"{ckpt_uri.rstrip('/')}/{name}", ckpt_dir / name, marker=None)


def mirror_callback(ckpt_uri: str, log: Callable[[str], None]):
    """A ``TrainerCallback`` that publishes every saved checkpoint to ``ckpt_uri/checkpoint-N`` (marker last)."""
    from transformers import TrainerCallback

    class Mirror(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if path.is_dir():
                storage.publish_output(path, f"{ckpt_uri.rstrip('/')}/{path.name}", marker=None)
                log(f"checkpoint {path.name} published to {ckpt_uri}")

    return Mirror()


def resume_checkpoint(ckpt_dir: Path, ckpt_uri: str | None, log: Callable[[str], None]) -> str | None:
    """The checkpoint a rerun resumes from (``trainer.train(resume_from_checkpoint=...)``): the newest local one,
    after fetching a newer mirrored one from ``ckpt_uri`` when given; ``None`` when there is none."""
    if ckpt_uri:
        fetch_remote_checkpoint(ckpt_uri, ckpt_dir, log)
    last = latest_checkpoint(ckpt_dir)
    if last is None:
        return None
    log(f"resuming from {last.name}")
    return str(last)
