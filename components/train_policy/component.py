"""KFP component: GRPO-train a vision-to-code policy against the Visual-ERM reward (thin wrapper over
visual_erm.rl.grpo)."""

from kfp import dsl

from components.images import TRAIN_IMAGE


@dsl.component(base_image=TRAIN_IMAGE, install_kfp_package=False)
def train_policy(
    prompts: dsl.Input[dsl.Dataset],
    model: dsl.Output[dsl.Model],
    metrics: dsl.Output[dsl.Metrics],
    profile: str = "tiny",
    reward_endpoint: str = "",
    reward_model: dsl.Input[dsl.Model] = None,
    variant: str = "",
    baselines: str = "",
    max_steps: int = -1,
    learning_rate: float = 0.0,
    base_policy: str = "",
    out_uri: str = "",
    overrides_json: str = "{}",
    resume: bool = True,
):
    """GRPO-train a vision-to-code policy with TRL against the Visual-ERM reward (render success + reward-model fidelity).

    Args:
        prompts: RL prompt set written by the build-prompts step (Parquet shards + manifest.json).
        model: Output directory: the trained policy and processor (``from_pretrained``-ready), profile.yaml,
            metrics.json (per-step log history, reward curve), rollouts.jsonl and manifest.json.
        metrics: Steps, seconds per step, last reward and its components, render-failure and parse-failure rates.
        profile: Training profile: ``tiny`` (CPU, minutes) or ``qwen3-vl-8b`` (GPU, paper settings), or a YAML path.
        reward_endpoint: OpenAI-compatible URL(s) of the served reward model (vLLM or ``verm serve``), comma-separated.
        reward_model: A reward-model artifact to run in process instead of an endpoint (CPU runs).
        variant: Reward variant (paper, released, released-strict, table-released, table-released-strict, auto);
            '' = the profile's.
        baselines: Comma-separated baseline rewards logged next to the reward: ssim, teds, structural.
        max_steps: Stop after this many optimizer steps (-1: the profile's).
        learning_rate: Learning rate (0: the profile's).
        base_policy: Base policy weights for base-model profiles: a local path or an s3:// URI ('' = the profile's).
        out_uri: Also publish the policy here (an s3:// prefix or a stable path; checkpoints are mirrored to
            ``<out_uri>.checkpoints`` so a retried task resumes); '' = only the KFP output artifact.
        overrides_json: Further profile overrides as a JSON object of dotted keys, e.g. {"grpo.beta": 0.02}.
        resume: Resume from the last checkpoint of an earlier attempt.
    """
    import json
    import shutil
    import tempfile

    from visual_erm.rl.grpo import train_policy as train

    overrides = json.loads(overrides_json or "{}")
    if not isinstance(overrides, dict):
        raise ValueError("overrides_json must be a JSON object of dotted keys")
    if learning_rate:
        overrides["grpo.learning_rate"] = learning_rate
    if base_policy:
        overrides["policy.base"] = base_policy
        overrides["policy.tiny"] = None
    endpoints = [e.strip() for e in reward_endpoint.split(",") if e.strip()] or None
    rm_dir = reward_model.path if reward_model is not None and not endpoints else None
    kwargs = dict(reward_endpoint=endpoints, reward_model=rm_dir, variant=variant or None,
                  baseline_rewards=[b.strip() for b in baselines.split(",") if b.strip()] or None,
                  max_steps=max_steps if max_steps != -1 else None, resume=resume)
    if out_uri:  # stable location: checkpoints survive a retried pod, the artifact is copied into the output
        result = train(prompts.path, out_uri, profile, overrides, **kwargs)
        from visual_erm import storage

        if storage.is_s3_uri(out_uri):
            storage.fetch_dir(out_uri, model.path)
        else:
            shutil.copytree(out_uri, model.path, dirs_exist_ok=True)
    else:
        work = tempfile.mkdtemp(prefix="verm-train-policy-")
        result = train(prompts.path, model.path, profile, overrides, workdir=work, **kwargs)
        shutil.rmtree(work, ignore_errors=True)
    model.metadata["profile"] = result["profile"]
    model.metadata["reward_variant"] = result["reward"]["variant"]
    metrics.log_metric("steps", result["steps"])
    metrics.log_metric("seconds_per_step", result["seconds_per_step"])
    curve = result.get("reward_curve") or []
    if curve:
        last = curve[-1]
        for key in ("reward", "render_success", "visual_erm_fidelity"):
            if last.get(key) is not None:
                metrics.log_metric(f"last_{key}", float(last[key]))
    for key in ("render_fail_rate", "parse_fail_rate"):
        if result.get(key) is not None:
            metrics.log_metric(key, float(result[key]))
