"""Policy RL with TRL's ``GRPOTrainer`` and the Visual-ERM reward.

``train_policy(prompts_uri, out_uri, profile="tiny", reward_endpoint=... | reward_model=...)`` is the one entry
point (CLI ``verm train-policy``, KFP component ``train_policy``). It

1. loads a profile (``rl/profiles/*.yaml``; dotted-key overrides) and the RL prompt set (local or ``s3://``),
2. builds the policy: a tiny Qwen3-VL from a config (BPE tokenizer trained on the policy prompts and reference
   programs; optionally warm-started by a few hundred SFT steps so its rollouts render), or the profile's base
   weights; TRL loads it *by path* (needed for the KL reference model),
3. builds the reward functions: ``render_success`` + ``visual_erm_fidelity`` — one scoring pass of the project's
   reward (:class:`visual_erm.reward.functions.VisualERMReward`: sandboxed render pool → reward-model critic →
   the chosen variant; default ``released-strict``: the released reward, except that a failed critique never
   beats a valid one) split into its two terms, so TRL logs each component; their sum is exactly the variant's
   reward. Optional baselines (``ssim``, ``teds``, ``structural``) are logged next to it (weight 0 by default),
4. trains with GRPO (``beta`` = KL coefficient with TRL's k3 estimator, the "low-variance KL"), checkpointing every
   ``save_steps`` into a work directory (mirrored to ``<out_uri>.checkpoints/`` on s3://); a rerun resumes,
5. records every scored rollout (``rollouts.jsonl``: step, prompt id, completion, outcome, severity sum, reward
   terms) so the logged rewards can be recomputed (:func:`recompute_rewards`),
6. writes one artifact directory — policy + processor, ``profile.yaml``, ``metrics.json`` (per-step log history,
   reward curve), ``rollouts.jsonl``, ``manifest.json`` last — and publishes it with
   :func:`visual_erm.storage.publish_output`.

Per-step diagnostics in the trainer's log history (``trainer.state.log_history``, W&B when enabled):
``rewards/render_success/mean``, ``rewards/visual_erm_fidelity/mean`` (and ``…/std``), ``reward``, the reward
function's ``visual_erm/…`` metrics (render-failure rate and counts by status, critique parse-failure rate,
critic errors, per-category error counts, mean severity sum, cached-render rate, render and critic seconds), TRL's
``completions/mean_length`` (and min/max/clipped ratio), ``kl``, ``entropy``, ``loss``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from visual_erm import storage
from visual_erm.training import checkpoints, profiles as _profiles
from visual_erm.training.checkpoints import config_path
from visual_erm.training.profiles import ProfileError, apply_overrides, profile_yaml

PROFILE_DIR = Path(__file__).parent / "profiles"
ARTIFACT_KIND = "visual-erm-policy"
ROLLOUTS_FILE = "rollouts.jsonl"
REWARD_NAME = "visual_erm"
BASELINES = ("ssim", "teds", "structural")


# ------------------------------------------------------------------------------------------------ profiles
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicySpec(_Strict):
    #: Base weights (local directory or s3:// URI). None = build a tiny policy from ``tiny``.
    base: str | None = None
    tiny: dict[str, int] | None = None
    bpe_vocab_size: int = Field(1024, ge=300)
    min_pixels: int = 56 * 56
    max_pixels: int = 56 * 56 * 4
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    attn_implementation: str | None = None
    seed: int = 0
    #: Supervised warm start (reference image → reference program) before RL, in steps; 0 = none. Tiny policies
    #: only: a random policy emits noise that renders nothing, so GRPO would see no reward signal at all.
    warmup_sft_steps: int = Field(0, ge=0)
    warmup_sft_lr: float = 2e-3
    warmup_sft_max_length: int = 192
    #: Warm-start SVG targets are cut to a well-formed prefix program of about this many characters (None: whole).
    warmup_svg_prefix_chars: int | None = None

    @model_validator(mode="after")
    def _base_or_tiny(self) -> "PolicySpec":
        if (self.base is None) == (self.tiny is None):
            raise ValueError("set exactly one of policy.base (weights) and policy.tiny (build from a config)")
        return self


class DataSpec(_Strict):
    split: str = "train"
    tasks: str | list[str] = "all"
    n_per_task: int | None = None


class RewardSpec(_Strict):
    variant: str = "released-strict"
    #: reward_model: the Visual-ERM reward model (served: --reward-endpoint; in process: --reward-model);
    #: structural / pixel: the project's non-learned critics (baselines, smoke runs without a reward model).
    critic: Literal["reward_model", "structural", "pixel"] = "reward_model"
    model_name: str = "visual-erm"
    #: Reward-model decoding: greedy (reproducible rewards) or paper (the released chart/SVG sampling).
    sampling: Literal["greedy", "paper"] = "greedy"
    critic_tries: int = Field(2, ge=1)
    critic_max_new_tokens: int = 1024
    baselines: list[Literal["ssim", "teds", "structural"]] = Field(default_factory=list)
    baseline_weight: float = 0.0
    render_timeout_s: float = 15.0
    workers: int | None = None
    unsafe_no_sandbox: bool = False


class GRPOSpec(_Strict):
    learning_rate: float = 1e-6
    max_steps: int = -1
    epochs: float = 1.0
    #: Prompts per optimizer step (global); completions per step = prompts_per_step × num_generations.
    prompts_per_step: int = 256
    num_generations: int = 8
    #: Completions per device per micro-step; accumulation = prompts × generations / (this × world size).
    per_device_batch_size: int = 8
    max_completion_length: int = 8192
    temperature: float = 1.0
    top_p: float = 1.0
    beta: float = 0.01
    loss_type: str = "dapo"
    use_bias_correction_kl: bool = False
    scale_rewards: str = "group"
    entropy_coef: float = 0.0
    epsilon: float = 0.2
    num_iterations: int = 1
    lr_scheduler: str = "constant"
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    optim: str = "adamw_torch"
    bf16: bool = False
    gradient_checkpointing: bool = False
    use_vllm: bool = False
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_gpu_memory_utilization: float = 0.3
    vllm_max_model_length: int | None = None
    logging_steps: int = 1
    save_steps: int = 20
    save_total_limit: int = 2
    seed: int = 0
    report_to: list[str] = Field(default_factory=lambda: ["wandb"])
    log_completions: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    cpu_threads: int | None = Field(None, ge=1)
    accelerate_config: str | None = None
    deepspeed: str | None = None

    def grad_accumulation(self, world_size: int = 1) -> int:
        completions = self.prompts_per_step * self.num_generations
        per_step = self.per_device_batch_size * max(1, world_size)
        accum, rem = divmod(completions, per_step)
        if accum < 1 or rem:
            raise ValueError(f"prompts_per_step × num_generations ({completions}) is not a multiple of "
                             f"per_device_batch_size × world size ({per_step})")
        return accum


class PolicyProfile(_Strict):
    name: str
    description: str = ""
    policy: PolicySpec
    data: DataSpec = Field(default_factory=DataSpec)
    reward: RewardSpec = Field(default_factory=RewardSpec)
    grpo: GRPOSpec = Field(default_factory=GRPOSpec)


def available_profiles() -> list[str]:
    return _profiles.available_profiles(PROFILE_DIR)


def load_policy_profile(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> PolicyProfile:
    """A policy-RL profile by name (``tiny``, ``qwen3-vl-8b``) or YAML path, with dotted-key overrides."""
    prof = _profiles.load_yaml_profile(PolicyProfile, name_or_path, PROFILE_DIR, overrides, kind="policy profile")
    from visual_erm.reward.formulas import VARIANTS

    if prof.reward.variant not in VARIANTS:
        raise ProfileError(f"reward.variant {prof.reward.variant!r}: choose one of {', '.join(VARIANTS)}")
    return prof


# ------------------------------------------------------------------------------------------------ rewards
def split_terms(variant: str, outcome, reward: float) -> tuple[float, float]:
    """(render term, fidelity term) of one reward; they sum to ``reward``.

    ``paper``/``released`` variants: render term 1 when the program rendered (critique failures included), 0
    otherwise; fidelity is the rest. Table variants (``−S``, −4 on failure) have no render term: 0 and the reward.
    """
    table_like = variant.startswith("table") or (variant == "auto" and outcome.task == "table")
    if table_like:
        return 0.0, float(reward)
    render = 1.0 if outcome.rendered else 0.0
    return render, float(reward) - render


class RolloutScorer:
    """One Visual-ERM scoring pass per generation batch, exposed as two TRL reward functions whose sum is the
    variant's reward: :attr:`render_success` and :attr:`visual_erm_fidelity` (TRL calls reward functions in order,
    synchronously, with the same batch; the first one scores, the second reads the stored terms).

    Every scored batch is appended to ``record_path`` (JSON lines) for :func:`recompute_rewards`.
    """

    def __init__(self, reward, *, variant: str, record_path: str | Path | None = None):
        self.reward = reward  # a visual_erm.reward.functions.VisualERMReward
        self.variant = variant
        self.record_path = Path(record_path) if record_path else None
        self._lock = threading.Lock()
        self._last: tuple[tuple[str, ...], list[float]] | None = None
        self.calls = 0
        self.rank = int(os.environ.get("RANK", "0"))  # each rank scores (and records) its own slice of the batch

        def render_success(prompts=None, completions=None, **kwargs):
            return self._score(completions or [], kwargs)

        def visual_erm_fidelity(prompts=None, completions=None, **kwargs):
            return self._fidelity(completions or [], kwargs)

        self.render_success = render_success
        self.visual_erm_fidelity = visual_erm_fidelity

    @staticmethod
    def _key(completions) -> tuple[str, ...]:
        from visual_erm.reward.functions import completion_text

        return tuple(completion_text(c) for c in completions)

    def _score(self, completions, kwargs) -> list[float]:
        from visual_erm.reward.functions import completion_text

        log_metric, log_extra = kwargs.pop("log_metric", None), kwargs.pop("log_extra", None)
        state = kwargs.pop("trainer_state", None)
        for k in ("completion_ids", "environments"):
            kwargs.pop(k, None)
        task = kwargs.pop("task", None)
        reference_image = kwargs.pop("reference_image", None)
        rewards, diag = self.reward.score(completions, task, reference_image, **kwargs)
        renders, fids = [], []
        for it, r in zip(diag.items, rewards):
            a, b = split_terms(self.variant, it.outcome, r)
            renders.append(a)
            fids.append(b)
        diag.emit(log_metric, log_extra)
        n = max(1, len(rewards))
        if log_metric is not None:
            log_metric(f"{REWARD_NAME}/reward_mean", sum(rewards) / n)
            log_metric(f"{REWARD_NAME}/completion_chars", sum(len(completion_text(c)) for c in completions) / n)
        with self._lock:
            self._last = (self._key(completions), fids)
            self.calls += 1
        if self.record_path is not None:
            step = int(getattr(state, "global_step", -1)) if state is not None else -1
            ids = kwargs.get("id") or [None] * len(completions)
            with open(self.record_path, "a") as fh:
                for k, (c, it, r, a, b) in enumerate(zip(completions, diag.items, rewards, renders, fids)):
                    fh.write(json.dumps({
                        "step": step, "rank": self.rank, "call": self.calls, "index": k, "id": ids[k] if k < len(ids) else None,
                        "task": it.outcome.task, "completion": completion_text(c), "kind": it.outcome.kind,
                        "severity_sum": it.outcome.severity_sum, "reward": r, "render_term": a,
                        "fidelity_term": b, "cached": it.cached, "critique": it.critique_json,
                    }) + "\n")
        return renders

    def _fidelity(self, completions, kwargs) -> list[float]:
        with self._lock:
            last = self._last
        if last is None or last[0] != self._key(completions):  # not scored yet (called alone): score now
            self._score(completions, dict(kwargs, log_metric=None, log_extra=None))
            with self._lock:
                last = self._last
        return list(last[1])  # type: ignore[index]


def _baseline_functions(names: Sequence[str], pool, variant: str) -> list[Callable]:
    from visual_erm.reward import functions as rf

    out: list[Callable] = []
    for name in names:
        if name == "ssim":
            out.append(rf.PixelSimilarityReward(pool=pool, name="baseline_ssim"))
        elif name == "teds":
            def baseline_teds(prompts=None, completions=None, task=None, **kw):
                tasks = task if isinstance(task, list) else [task] * len(completions or [])
                vals = rf.teds_reward(prompts, completions, **kw)
                return [v if t == "table" else None for v, t in zip(vals, tasks)]

            out.append(baseline_teds)
        elif name == "structural":
            out.append(rf.make_reward_function("structural", variant, pool, name="baseline_structural"))
        else:
            raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    return out


def make_critic(profile: PolicyProfile, *, reward_model: str | None, reward_endpoint: str | Sequence[str] | None):
    """The critic of the run's Visual-ERM reward (see :class:`RewardSpec.critic`)."""
    spec = profile.reward
    if spec.critic == "reward_model":
        from visual_erm.rl.critic import make_rm_critic

        if reward_model is None and reward_endpoint is None:
            raise ValueError("the reward_model critic needs --reward-endpoint (a served reward model) or "
                             "--reward-model (a reward-model directory, run in process)")
        return make_rm_critic(reward_model=reward_model, reward_endpoint=reward_endpoint, model_name=spec.model_name,
                              sampling=spec.sampling, tries=spec.critic_tries,
                              max_new_tokens=spec.critic_max_new_tokens)
    return spec.critic  # a registered critic name; the reward builds it (structural borrows the pool)


# ------------------------------------------------------------------------------------------------ training
def _log_default(msg: str) -> None:
    import sys

    print(f"[train-policy] {msg}", file=sys.stderr, flush=True)


def _device(profile: PolicyProfile) -> str:
    import torch

    if profile.grpo.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return profile.grpo.device


def _fingerprint(profile: PolicyProfile, prompt_dir: Path, critic_id: str) -> str:
    h = hashlib.sha256(profile_yaml(profile).encode())
    h.update(critic_id.encode())
    manifest = prompt_dir / "manifest.json"
    if manifest.is_file():
        h.update(manifest.read_bytes())
    return h.hexdigest()[:16]


def _stop_after_callback(step: int):
    """Stops training once ``global_step`` reaches ``step`` (an interrupted run, for resume checks)."""
    from transformers import TrainerCallback

    class StopAfter(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= step:
                control.should_save = True
                control.should_training_stop = True
            return control

    return StopAfter()


def make_grpo_config(prof: PolicyProfile, *, output_dir: str | Path, device: str, reward_weights: list[float],
                     processor=None, gradient_accumulation_steps: int | None = None):
    """TRL ``GRPOConfig`` for a profile (the mapping from profile keys to TRL arguments lives here only)."""
    import torch
    from trl import GRPOConfig

    g = prof.grpo
    accum = gradient_accumulation_steps or g.grad_accumulation(int(os.environ.get("WORLD_SIZE", "1")))
    model_init_kwargs: dict[str, Any] = {"dtype": {"float32": torch.float32, "bfloat16": torch.bfloat16,
                                                   "float16": torch.float16}[prof.policy.dtype]}
    if prof.policy.attn_implementation:
        model_init_kwargs["attn_implementation"] = prof.policy.attn_implementation
    extra: dict[str, Any] = {}
    if g.use_vllm:
        extra = dict(use_vllm=True, vllm_mode=g.vllm_mode, vllm_gpu_memory_utilization=g.vllm_gpu_memory_utilization,
                     vllm_max_model_length=g.vllm_max_model_length)
    elif processor is not None:
        # A policy must never emit vision placeholders: a sampled <|image_pad|> / <|vision_start|> breaks Qwen-VL's
        # M-RoPE position ids in the scoring forward pass (random tiny policies do sample them).
        tok = processor.tokenizer
        banned = sorted({tok.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>",
                                                                "<|vision_end|>", "<|vision_pad|>")}
                        - {None, tok.unk_token_id})
        extra["generation_kwargs"] = {"suppress_tokens": banned}
    return GRPOConfig(
        output_dir=str(output_dir),
        learning_rate=g.learning_rate,
        num_train_epochs=g.epochs,
        max_steps=g.max_steps,
        per_device_train_batch_size=g.per_device_batch_size,
        gradient_accumulation_steps=accum,
        num_generations=g.num_generations,
        max_completion_length=g.max_completion_length,
        temperature=g.temperature,
        top_p=g.top_p,
        beta=g.beta,
        loss_type=g.loss_type,
        use_bias_correction_kl=g.use_bias_correction_kl,
        scale_rewards=g.scale_rewards,
        entropy_coef=g.entropy_coef,
        epsilon=g.epsilon,
        num_iterations=g.num_iterations,
        reward_weights=reward_weights,
        lr_scheduler_type=g.lr_scheduler,
        warmup_steps=g.warmup_ratio,
        max_grad_norm=g.max_grad_norm,
        optim=g.optim,
        bf16=g.bf16,
        gradient_checkpointing=g.gradient_checkpointing,
        logging_steps=g.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=g.save_steps,
        save_total_limit=g.save_total_limit,
        seed=g.seed,
        report_to=g.report_to or "none",
        run_name=f"policy-{prof.name}",
        log_completions=g.log_completions,
        model_init_kwargs=model_init_kwargs,
        deepspeed=config_path(g.deepspeed),
        use_cpu=(device == "cpu"),
        disable_tqdm=True,
        remove_unused_columns=False,
        **extra,
    )


def build_initial_policy(profile: PolicyProfile, rows: list[dict], workdir: Path, log=_log_default) -> Path:
    """The policy directory GRPO starts from: the profile's base weights, or a tiny policy saved once under
    ``workdir/init`` (reruns reuse it, so a resumed run starts from the same initial weights)."""
    from visual_erm.rl.policy import build_tiny_policy

    spec = profile.policy
    if spec.base is not None:
        return storage.resolve_input(spec.base, workdir)
    init = workdir / "init"
    ready = workdir / "init" / "verm_init.json"
    key = hashlib.sha256(json.dumps([spec.model_dump(mode="json"), sorted(r["id"] for r in rows)]).encode()).hexdigest()
    if ready.is_file() and json.loads(ready.read_text()).get("key") == key:
        log(f"reusing the initial tiny policy in {init}")
        return init
    shutil.rmtree(init, ignore_errors=True)
    t0 = time.time()
    corpus = [r["reference_code"] for r in rows if r.get("reference_code")]
    build_tiny_policy(init, corpus, vocab_size=spec.bpe_vocab_size, seed=spec.seed, min_pixels=spec.min_pixels,
                      max_pixels=spec.max_pixels, **(spec.tiny or {}))
    log(f"built a tiny Qwen3-VL policy in {init} ({time.time() - t0:.1f}s)")
    if spec.warmup_sft_steps:
        from visual_erm.rl.policy import warm_start_sft

        t1 = time.time()
        warm_start_sft(init, rows, steps=spec.warmup_sft_steps, out_dir=init, learning_rate=spec.warmup_sft_lr,
                       max_length=spec.warmup_sft_max_length, seed=spec.seed,
                       svg_prefix_chars=spec.warmup_svg_prefix_chars)
        log(f"warm-started the policy with {spec.warmup_sft_steps} SFT steps ({time.time() - t1:.1f}s)")
    ready.write_text(json.dumps({"key": key, "warmup_sft_steps": spec.warmup_sft_steps}) + "\n")
    return init


def grpo_dataset(rows: list[dict]):
    """A ``datasets.Dataset`` for GRPOTrainer: chat ``prompt``, the reference as the policy's ``image``, and the
    columns the reward reads (``task``, ``reference_image`` PNG bytes, ``reference_code``, ``id``)."""
    import io

    from datasets import Dataset
    from PIL import Image

    def pil(png: bytes):
        im = Image.open(io.BytesIO(png))
        im.load()
        return im.convert("RGB")

    return Dataset.from_list([{
        "id": r["id"], "task": r["task"], "prompt": json.loads(r["prompt"]),
        "image": pil(r["reference_image"]["bytes"]), "reference_image": r["reference_image"]["bytes"],
        "reference_code": r["reference_code"],
    } for r in rows])


def train_policy(prompts_uri: str | os.PathLike, out_uri: str | os.PathLike, profile: str | PolicyProfile = "tiny",
                 overrides: dict[str, Any] | None = None, *, reward_model: str | None = None,
                 reward_endpoint: str | Sequence[str] | None = None, variant: str | None = None,
                 baseline_rewards: Sequence[str] | None = None, max_steps: int | None = None, resume: bool = True,
                 workdir: str | os.PathLike | None = None, checkpoint_uri: str | None = None,
                 extra_reward_functions: Sequence[Callable] | None = None, stop_after_steps: int | None = None,
                 pool=None, log: Callable[[str], None] = _log_default) -> dict:
    """GRPO-train a vision-to-code policy against the Visual-ERM reward and publish it.

    Args:
        prompts_uri: RL prompt set (``verm build-prompts`` output), local or ``s3://``.
        out_uri: Where the trained policy goes (local directory or ``s3://`` prefix); ``manifest.json`` last.
        profile: Profile name (``tiny``, ``qwen3-vl-8b``), YAML path, or a loaded :class:`PolicyProfile`.
        overrides: Dotted-key overrides of the profile, e.g. ``{"grpo.max_steps": 20}``.
        reward_model: A reward-model directory used in process (CPU runs, tests).
        reward_endpoint: OpenAI-compatible URL(s) of the served reward model (vLLM; ``verm serve`` on CPU).
        variant: Reward variant (``paper``, ``released``, ``table-released``, …); default the profile's.
        baseline_rewards: Baselines logged next to the reward: ``ssim``, ``teds``, ``structural``.
        max_steps: Optimizer steps (overrides the profile).
        resume: Continue from the last checkpoint in the work directory (or on s3://); False starts over.
        workdir: Local work directory (checkpoints, initial policy, rollouts); default ``<out>.work``.
        checkpoint_uri: Where checkpoints are mirrored; default ``<out_uri>.checkpoints`` for s3:// outputs.
        extra_reward_functions: Further TRL reward functions (weight 1), e.g. for smoke tests.
        stop_after_steps: Stop (and checkpoint) after this global step — simulates an interrupted run.
        pool: A started RenderPool to share (else one is started and closed here).
        log: Progress messages.

    Returns:
        The metrics dict also written to ``metrics.json`` (plus ``out``: the published location).
    """
    import torch

    ov = dict(overrides or {})
    if variant is not None:
        ov["reward.variant"] = variant
    if baseline_rewards is not None:
        ov["reward.baselines"] = list(baseline_rewards)
    if max_steps is not None:
        ov["grpo.max_steps"] = max_steps
    if isinstance(profile, PolicyProfile):
        prof = PolicyProfile.model_validate(apply_overrides(profile.model_dump(mode="json"), ov)) if ov else profile
    else:
        prof = load_policy_profile(profile, ov)
    out_uri = str(out_uri)
    work = Path(workdir) if workdir else checkpoints.default_workdir(out_uri, "train-policy")
    work.mkdir(parents=True, exist_ok=True)
    ckpt_dir = work / "checkpoints"
    if checkpoint_uri is None and storage.is_s3_uri(out_uri):
        checkpoint_uri = out_uri.rstrip("/") + ".checkpoints"

    from visual_erm.rl.prompts_set import read_prompt_rows

    prompt_dir = storage.resolve_input(str(prompts_uri), work)
    rows = read_prompt_rows(prompt_dir, prof.data.split, prof.data.tasks)
    if prof.data.n_per_task is not None:
        by_task: dict[str, list[dict]] = {}
        for r in rows:
            by_task.setdefault(r["task"], []).append(r)
        rows = sorted((r for rs in by_task.values() for r in rs[:prof.data.n_per_task]), key=lambda r: r["id"])
    if not rows:
        raise ValueError(f"{prompts_uri} has no prompts for split {prof.data.split!r} and tasks {prof.data.tasks!r}")
    critic_id = json.dumps([prof.reward.critic, str(reward_model or ""),
                            reward_endpoint if isinstance(reward_endpoint, (str, type(None))) else list(reward_endpoint)])
    fingerprint = _fingerprint(prof, prompt_dir, critic_id)
    state_file = work / "run.json"
    if not resume:  # the initial policy stays: it is reused only when its marker matches (build_initial_policy)
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        (work / ROLLOUTS_FILE).unlink(missing_ok=True)
    elif state_file.is_file() and json.loads(state_file.read_text()).get("fingerprint") != fingerprint:
        log("profile, prompts or reward model changed since the last run in this work directory: starting over")
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        (work / ROLLOUTS_FILE).unlink(missing_ok=True)
    state_file.write_text(json.dumps({"fingerprint": fingerprint, "out": out_uri}) + "\n")

    os.environ.setdefault("WANDB_PROJECT", "visual-erm")
    if "wandb" in prof.grpo.report_to and not os.environ.get("WANDB_MODE") and not os.environ.get("WANDB_API_KEY"):
        os.environ["WANDB_MODE"] = "offline"
        log("W&B: no WANDB_API_KEY and no WANDB_MODE: logging offline (wandb sync later)")
    os.environ.setdefault("WANDB_DIR", str(work))

    from trl import GRPOTrainer

    from visual_erm.reward.functions import make_reward_function
    from visual_erm.rm.model import load_processor

    t_start = time.time()
    policy_dir = build_initial_policy(prof, rows, work, log)
    processor = load_processor(policy_dir, min_pixels=prof.policy.min_pixels, max_pixels=prof.policy.max_pixels)
    # TRL re-runs the processor over the prompts for the scoring forward pass with the tokenizer's own padding side;
    # prompts are left-padded for generation, so anything else misaligns mm_token_type_ids with the ids whenever
    # prompts of different lengths (different tasks) share a batch.
    processor.tokenizer.padding_side = "left"
    device = _device(prof)
    g = prof.grpo
    if device == "cpu" and g.cpu_threads:
        torch.set_num_threads(g.cpu_threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    accum = g.grad_accumulation(world)

    own_pool = pool is None
    if own_pool:
        from visual_erm.render.pool import RenderPool

        pool = RenderPool(workers=prof.reward.workers, unsafe_no_sandbox=prof.reward.unsafe_no_sandbox).start()
    critic = None
    try:
        critic = make_critic(prof, reward_model=reward_model, reward_endpoint=reward_endpoint)
        reward = make_reward_function(critic, prof.reward.variant, pool, name=REWARD_NAME,
                                      render_options={"timeout_s": prof.reward.render_timeout_s})
        scorer = RolloutScorer(reward, variant=prof.reward.variant, record_path=work / ROLLOUTS_FILE)
        funcs: list[Callable] = [scorer.render_success, scorer.visual_erm_fidelity]
        weights = [1.0, 1.0]
        for fn in _baseline_functions(prof.reward.baselines, pool, prof.reward.variant):
            funcs.append(fn)
            weights.append(prof.reward.baseline_weight)
        for fn in extra_reward_functions or []:
            funcs.append(fn)
            weights.append(1.0)

        args = make_grpo_config(prof, output_dir=ckpt_dir, device=device, reward_weights=weights,
                                processor=processor, gradient_accumulation_steps=accum)
        callbacks = []
        if checkpoint_uri:
            callbacks.append(checkpoints.mirror_callback(checkpoint_uri, log))
        if stop_after_steps is not None:
            callbacks.append(_stop_after_callback(stop_after_steps))
        train_ds = grpo_dataset(rows)
        trainer = GRPOTrainer(model=str(policy_dir), reward_funcs=funcs, args=args, train_dataset=train_ds,
                              processing_class=processor, callbacks=callbacks or None)
        resume_from = checkpoints.resume_checkpoint(ckpt_dir, checkpoint_uri, log) if resume else None
        t_train = time.time()
        result = trainer.train(resume_from_checkpoint=resume_from)
        train_seconds = time.time() - t_train
        steps_run = trainer.state.global_step - (int(Path(resume_from).name.split("-")[-1]) if resume_from else 0)
    finally:
        if critic is not None and not isinstance(critic, str):
            critic.close()
        if own_pool and pool is not None:
            pool.close()

    staging = work / "artifact"
    shutil.rmtree(staging, ignore_errors=True)
    trainer.save_model(str(staging))
    if not trainer.is_world_process_zero():
        return {"out": out_uri, "rank": int(os.environ.get("RANK", "0"))}
    processor.save_pretrained(staging)
    from visual_erm.rm.model import PROCESSOR_CLASS_FILE

    (staging / PROCESSOR_CLASS_FILE).write_text(json.dumps({"processor_class": "ImageOnlyQwenVLProcessor"}) + "\n")
    (staging / "profile.yaml").write_text(profile_yaml(prof))
    if (work / ROLLOUTS_FILE).is_file():
        shutil.copy2(work / ROLLOUTS_FILE, staging / ROLLOUTS_FILE)
    history = [h for h in trainer.state.log_history if "train_runtime" not in h]
    curve = [{"step": h["step"], "reward": h.get("reward"),
              "render_success": h.get("rewards/render_success/mean"),
              "visual_erm_fidelity": h.get("rewards/visual_erm_fidelity/mean")} for h in history if "reward" in h]
    import transformers
    import trl

    last_h = next((h for h in reversed(history) if "reward" in h), {})
    metrics = {
        "profile": prof.name,
        "fingerprint": fingerprint,
        "prompts": str(prompts_uri),
        "n_prompts": len(rows),
        "reward": {"variant": prof.reward.variant, "critic": prof.reward.critic,
                   "endpoint": reward_endpoint, "model": str(reward_model) if reward_model else None,
                   "baselines": prof.reward.baselines},
        "device": device,
        "world_size": world,
        "gradient_accumulation_steps": accum,
        "completions_per_step": g.prompts_per_step * g.num_generations,
        "steps": trainer.state.global_step,
        "steps_this_run": steps_run,
        "resumed_from": Path(resume_from).name if resume_from else None,
        "train_seconds": round(train_seconds, 1),
        "seconds_per_step": round(train_seconds / max(1, steps_run), 3),
        "total_seconds": round(time.time() - t_start, 1),
        "train_loss": float(result.training_loss) if result.training_loss is not None else None,
        "last_reward": last_h.get("reward"),
        "render_fail_rate": last_h.get(f"{REWARD_NAME}/render_fail_rate"),
        "parse_fail_rate": last_h.get(f"{REWARD_NAME}/parse_fail_rate"),
        "reward_curve": curve,
        "log_history": history,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__},
    }
    (staging / "metrics.json").write_text(json.dumps(metrics, indent=1, default=str) + "\n")
    files = {str(p.relative_to(staging)): storage.sha256_file(p) for p in sorted(staging.rglob("*")) if p.is_file()}
    manifest = {"kind": ARTIFACT_KIND, "profile": prof.name, "fingerprint": fingerprint, "files": files,
                "summary": {k: metrics[k] for k in ("steps", "seconds_per_step", "last_reward", "render_fail_rate",
                                                    "parse_fail_rate")}}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    dest = storage.publish_output(staging, out_uri)
    log(f"published the policy to {dest} ({metrics['steps']} steps, {metrics['seconds_per_step']} s/step)")
    return {**metrics, "out": dest}


# ------------------------------------------------------------------------------------------------ audits
def read_rollouts(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def recompute_rewards(rollouts: list[dict], reward, *, variant: str, prompt_rows: dict[str, dict]) -> dict:
    """Re-score recorded rollouts call by call with a fresh reward function and compare with what was recorded.

    ``reward`` is a :class:`~visual_erm.reward.functions.VisualERMReward` (same critic, same variant; a fresh render
    pool). ``prompt_rows`` maps prompt id → prompt-set row (reference image and code). Returns per-call means
    (recorded vs recomputed), the largest absolute per-item difference and the number of items compared.
    """
    by_call: dict[tuple[int, int], list[dict]] = {}
    for r in rollouts:  # one scoring call per optimizer step (its generation batch) and rank
        by_call.setdefault((r["step"], r.get("rank", 0)), []).append(r)
    calls, max_diff, n = [], 0.0, 0
    for call, items in sorted(by_call.items()):
        items = sorted(items, key=lambda r: r["index"])
        refs = [prompt_rows[r["id"]] for r in items]
        rewards, diag = reward.score([r["completion"] for r in items], [r["task"] for r in items],
                                     [x["reference_image"]["bytes"] for x in refs],
                                     reference_code=[x["reference_code"] for x in refs])
        terms = [split_terms(variant, it.outcome, rw) for it, rw in zip(diag.items, rewards)]
        for r, rw in zip(items, rewards):
            max_diff = max(max_diff, abs(float(rw) - float(r["reward"])))
            n += 1
        k = len(items)
        calls.append({
            "call": call, "step": items[0]["step"], "n": k,
            "recorded_reward": sum(r["reward"] for r in items) / k, "recomputed_reward": sum(rewards) / k,
            "recorded_render": sum(r["render_term"] for r in items) / k,
            "recomputed_render": sum(a for a, _ in terms) / k,
            "recorded_fidelity": sum(r["fidelity_term"] for r in items) / k,
            "recomputed_fidelity": sum(b for _, b in terms) / k,
            "kinds_match": all(it.outcome.kind == r["kind"] for it, r in zip(diag.items, items)),
        })
    return {"calls": calls, "items": n, "max_abs_diff": max_diff}


def logged_reward_terms(log_history: list[dict]) -> list[dict]:
    """Per logged step: TRL's logged means of each reward component and of the total reward."""
    out = []
    for h in log_history:
        if "rewards/render_success/mean" in h:
            out.append({"step": h["step"], "render": h["rewards/render_success/mean"],
                        "fidelity": h["rewards/visual_erm_fidelity/mean"], "reward": h.get("reward")})
    return out


def compare_logged_with_recorded(log_history: list[dict], rollouts: list[dict], tol: float = 1e-4) -> dict:
    """Check that what TRL logged per step equals the mean of the recorded per-rollout terms of that step's batch.

    With ``logging_steps=1`` and one generation batch per optimizer step, log entry ``step = s`` averages the
    batch scored at ``trainer_state.global_step = s - 1``.
    """
    rec: dict[int, list[dict]] = {}
    for r in rollouts:
        rec.setdefault(r["step"], []).append(r)
    rows, worst = [], 0.0
    for e in logged_reward_terms(log_history):
        batch = rec.get(e["step"] - 1)
        if not batch:
            continue
        k = len(batch)
        mr = sum(r["render_term"] for r in batch) / k
        mf = sum(r["fidelity_term"] for r in batch) / k
        mt = sum(r["reward"] for r in batch) / k
        d = max(abs(mr - e["render"]), abs(mf - e["fidelity"]), abs(mt - (e["reward"] or 0.0)))
        worst = max(worst, d)
        rows.append({"step": e["step"], "logged": [e["render"], e["fidelity"], e["reward"]],
                     "recorded": [mr, mf, mt], "max_diff": d})
    return {"steps": rows, "max_abs_diff": worst, "ok": bool(rows) and worst <= tol}
