"""Training profiles: versioned YAML files (``rm/profiles/<name>.yaml``) loaded into a strict pydantic model.

Unknown keys anywhere are errors. Overrides are dotted keys (``{"training.max_steps": 20}``) applied before
validation, so a typo in an override fails the same way as a typo in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from visual_erm.training import profiles as _profiles
from visual_erm.training.profiles import ProfileError, profile_yaml  # noqa: F401 (re-exported)

PROFILE_DIR = Path(__file__).parent / "profiles"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TinyArch(_Strict):
    """Size of a tiny Qwen3-VL built from a config (no weights are downloaded)."""

    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 16
    intermediate_size: int = 128
    vision_depth: int = 2
    vision_hidden_size: int = 32
    vision_heads: int = 2
    vision_intermediate_size: int = 64
    patch_size: int = 16


class ModelSpec(_Strict):
    #: Base weights: a local directory or an s3:// URI (resolved through storage.resolve_input). None = build tiny.
    base: str | None = None
    tiny: TinyArch | None = None
    #: Tokenizer of a tiny model: a byte-level BPE trained on prompts + critiques, or the real Qwen vocabulary.
    tokenizer: Literal["bpe", "qwen"] = "bpe"
    bpe_vocab_size: int = Field(2048, ge=300)
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    attn_implementation: str | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _base_or_tiny(self) -> "ModelSpec":
        if (self.base is None) == (self.tiny is None):
            raise ValueError("set exactly one of model.base (weights to fine-tune) and model.tiny (build from config)")
        return self


class ImageSpec(_Strict):
    """The paper downscales images to a longest side of 1024 px (chart, SVG) or 768 px (tables)."""

    max_side: dict[str, int] = Field(default_factory=lambda: {"chart": 1024, "svg": 1024, "table": 768})
    #: Image-processor pixel budget per image (Qwen2-VL ``min_pixels`` / ``max_pixels``).
    min_pixels: int = 32 * 32
    max_pixels: int = 1024 * 1024


class LoraSpec(_Strict):
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"
    #: Merge the adapter into the base weights in the final artifact (a plain model directory).
    merge: bool = True


class TrainingSpec(_Strict):
    learning_rate: float = 1e-5
    epochs: float = 3.0
    #: > 0 overrides epochs.
    max_steps: int = -1
    #: Global batch = per_device_batch_size × gradient accumulation × world size; accumulation is derived.
    global_batch_size: int = 32
    per_device_batch_size: int = 1
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    bf16: bool = False
    gradient_checkpointing: bool = False
    #: Loss on the critique tokens only (TRL assistant_only_loss through the template's generation markers).
    assistant_only_loss: bool = True
    max_length: int | None = None
    logging_steps: int = 10
    save_steps: int = 200
    save_total_limit: int = 2
    seed: int = 0
    optim: str = "adamw_torch"
    report_to: list[str] = Field(default_factory=lambda: ["wandb"])
    #: Versioned config files (repo-relative) used when launched with accelerate / DeepSpeed on a cluster.
    accelerate_config: str | None = None
    deepspeed: str | None = None
    dataloader_num_workers: int = 0
    #: "auto" = CPU when no CUDA device is present.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    #: torch intra-op threads when training on CPU (None = torch's default). One thread is the most efficient for
    #: tiny models on a shared machine: more threads spin-wait for cores other processes hold.
    cpu_threads: int | None = Field(None, ge=1)


class EvalSpec(_Strict):
    #: Held-out pairs (test split, else validation) whose generated critiques are parsed after training; 0 = skip.
    n_pairs: int = 64
    max_new_tokens: int = 512
    batch_size: int = 8


class Profile(_Strict):
    name: str
    description: str = ""
    model: ModelSpec
    images: ImageSpec = Field(default_factory=ImageSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    lora: LoraSpec | None = None
    eval: EvalSpec = Field(default_factory=EvalSpec)

    def grad_accumulation(self, world_size: int = 1) -> int:
        """Accumulation steps giving ``global_batch_size`` with this per-device batch and ``world_size``."""
        per_step = self.training.per_device_batch_size * max(1, world_size)
        accum, rem = divmod(self.training.global_batch_size, per_step)
        if accum < 1 or rem:
            raise ValueError(f"global_batch_size {self.training.global_batch_size} is not a multiple of "
                             f"per_device_batch_size {self.training.per_device_batch_size} × world size {world_size}")
        return accum


def available_profiles() -> list[str]:
    return _profiles.available_profiles(PROFILE_DIR)


def load_profile(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> Profile:
    """A profile by name (``tiny``, ``qwen3-vl-8b``) or YAML path, with dotted-key overrides applied."""
    return _profiles.load_yaml_profile(Profile, name_or_path, PROFILE_DIR, overrides)
