"""Defaults shared by the pipelines, the compile-time options, and the tiny local profile.

Runtime parameters (the KFP run form) are declared on the pipeline functions; the values here are their
defaults, kept in one place so the stage pipelines and the end-to-end pipeline agree with each other and with
the Helm chart (charts/visual-erm/values.yaml) and infra/README.md (GPU pool label and taint).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# ---- Kubernetes defaults (must match charts/visual-erm/values.yaml rmServer.nodeSelector/tolerations) --------
GPU_TYPE = "nvidia.com/gpu"
GPU_COUNT = 1
GPU_NODE_SELECTOR = {"visual-erm.io/pool": "gpu"}
GPU_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
GPU_CPU_LIMIT = "16"
GPU_MEMORY_LIMIT = "128G"
CPU_LIMIT = "4"
MEMORY_LIMIT = "16G"
#: The object-store Secret (chart objectStore.credentials.existingSecret) and its keys -> the env storage.py reads.
S3_SECRET = "mlpipeline-minio-artifact"
#: The W&B Secret (chart: wandb.existingSecret or <release>-wandb).
WANDB_SECRET = "visual-erm-wandb"

# ---- stable publish prefixes (the chart's rmServer.model.uri serves the first) -------------------------------
PUBLISH_RM_URI = "s3://visual-erm/models/visual-erm/latest"
PUBLISH_POLICY_URI = "s3://visual-erm/models/visual-erm-policy/latest"


@dataclass(frozen=True)
class CompileOptions:
    """Settings kfp-kubernetes only takes as literals at compile time (``verm pipeline compile --timeout ...``).

    Everything else (GPU type/count, node selector, tolerations, Secret names, CPU/memory limits) is a runtime
    pipeline parameter.
    """

    #: Pod deadline per step in seconds (kubernetes.set_timeout: literal int only).
    timeouts: dict[str, int] = field(default_factory=lambda: {
        "preflight": 300, "synthesize": 6 * 3600, "build-prompts": 3600, "reflect-policy": 12 * 3600, "validate": 3600, "train-reward-model": 48 * 3600,
        "benchmark-critic": 6 * 3600, "benchmark-reward-model": 12 * 3600, "gate": 300, "train-policy": 72 * 3600,
        "benchmark-policy": 12 * 3600,
        "publish": 3600,
    })
    #: Retries per step (task.set_retry: literal only), on steps that do I/O and can resume or repeat safely.
    retries: dict[str, int] = field(default_factory=lambda: {
        "synthesize": 1, "validate": 1, "build-prompts": 1, "reflect-policy": 2, "train-reward-model": 2, "benchmark-critic": 2,
        "benchmark-reward-model": 2, "train-policy": 2,
        "benchmark-policy": 2, "publish": 3,
    })
    #: Secret data keys -> environment variables (use_secret_as_env: the mapping is a literal).
    s3_secret_keys: dict[str, str] = field(default_factory=lambda: {"accesskey": "AWS_ACCESS_KEY_ID",
                                                                    "secretkey": "AWS_SECRET_ACCESS_KEY"})
    wandb_secret_keys: dict[str, str] = field(default_factory=lambda: {"WANDB_API_KEY": "WANDB_API_KEY"})

    def with_overrides(self, timeouts: dict[str, int] | None = None,
                       retries: dict[str, int] | None = None) -> "CompileOptions":
        for name in {**(timeouts or {}), **(retries or {})}:
            if name not in self.timeouts:
                raise ValueError(f"unknown step {name!r}; steps: {', '.join(sorted(self.timeouts))}")
        return replace(self, timeouts={**self.timeouts, **(timeouts or {})},
                       retries={**self.retries, **(retries or {})})


DEFAULT_OPTIONS = CompileOptions()

#: Parameter overrides of ``verm pipeline run --local`` (tiny sizes, CPU, local paths; ``make demo``).
LOCAL_TINY: dict[str, object] = {
    "synth_tasks": "chart,table,svg",
    "synth_n": 24,
    "synth_workers": 2,
    "synth_min_pairs_for_balance": 100000,
    "rm_profile": "tiny",
    "rm_max_steps": 150,  # ~25 s: enough for the tiny reward model to write parseable critiques most of the time
    "bench_workers": 2,
    "bench_max_items": 12,
    "bench_rm_max_new_tokens": 256,  # a whole critique fits
    "rl_gate": "off",
    "rl_profile": "tiny",
    "rl_max_steps": 2,
    "rl_prompts_per_task": 2,
    "rl_overrides_json": '{"grpo.report_to": [], "grpo.max_completion_length": 16, "grpo.num_generations": 2, '
                         '"grpo.prompts_per_step": 1, "grpo.per_device_batch_size": 2}',
    "bench_reflect_rounds": 1,
    "bench_reflect_critic": "structural",
    "bench_policy_max_new_tokens": 32,
    "publish_rm_uri": "",
    "publish_policy_uri": "",
}


# ---- the pipeline parameters: one table, so every pipeline declares a parameter the same way ------------------
@dataclass(frozen=True)
class Param:
    type: type
    default: object
    doc: str


#: Every pipeline parameter, grouped by stage (the run form lists them in this order). The stage pipelines and
#: the end-to-end pipeline take the subsets they use; ``pipelines.stages.make_pipeline`` builds the signature and
#: the docstring (Args: the UI help text) from this table.
PARAMS: dict[str, Param] = {
    # synthesize + validate
    "synth_dataset_uri": Param(str, "", "Pair dataset of an earlier run (local path or s3:// URI); when set, "
                                        "synthesis is skipped and this dataset is imported."),
    "synth_tasks": Param(str, "chart,table,svg", "Comma-separated tasks to synthesize: chart, table, svg."),
    "synth_n": Param(int, 300, "Target number of pairs over all tasks (natural samples come on top)."),
    "synth_seed": Param(int, 0, "Seed; the same seed and options give byte-identical shards."),
    "synth_candidates_per_seed": Param(int, 3, "Candidates made from each seed program."),
    "synth_max_edits": Param(int, 4, "At most this many composed corruption edits per candidate (1-4)."),
    "synth_identity_share": Param(float, 0.1, "Share of identity (error-free) pairs."),
    "synth_corpus_path": Param(str, "", "Optional JSONL of user programs ({task, code, id}) used as seeds first."),
    "synth_natural_endpoint": Param(str, "", "Optional OpenAI-compatible endpoint of a policy model for natural "
                                             "candidates."),
    "synth_natural_model": Param(str, "policy", "Model name to request at synth_natural_endpoint."),
    "synth_workers": Param(int, 0, "Sandboxed render workers (0 = one per core)."),
    "synth_min_per_category": Param(int, 1, "Validation: labelled errors each category of a task needs at least."),
    "synth_min_pairs_for_balance": Param(int, 200, "Validation: pairs a task needs before its per-category "
                                                   "minimum is checked."),
    "synth_identity_share_max": Param(float, 0.5, "Validation: highest allowed share of identity pairs."),
    # reward model
    "rm_model_uri": Param(str, "", "Reward model of an earlier run (local path or s3:// URI); when set, training "
                                   "is skipped and this model is imported."),
    "rm_profile": Param(str, "qwen3-vl-8b", "Training profile: tiny (CPU, minutes), qwen3-vl-8b (GPU, paper "
                                            "settings) or a YAML path."),
    "rm_max_steps": Param(int, -1, "Stop after this many optimizer steps (-1: the profile's epochs / max_steps)."),
    "rm_epochs": Param(float, 0.0, "Training epochs (0: the profile's value)."),
    "rm_learning_rate": Param(float, 0.0, "Learning rate (0: the profile's value)."),
    "rm_base_model": Param(str, "", "Base weights: a local path or s3:// URI ('' = the profile's)."),
    "rm_out_uri": Param(str, "", "Also write the model and its checkpoints here (s3:// prefix), so a retried "
                                 "task resumes; '' = only the KFP artifact."),
    "rm_overrides_json": Param(str, "{}", "Further profile overrides as a JSON object of dotted keys, e.g. "
                                          "{\"lora.r\": 64}."),
    # benchmarks
    "bench_set_uri": Param(str, "", "Bench set (bench.jsonl + images, a VC-RewardBench JSONL, or a pair dataset "
                                    "whose test split is used): local path or s3:// URI."),
    "bench_critic": Param(str, "structural", "Critic to benchmark: pixel, structural or a 'module:Factory' spec."),
    "bench_rm_endpoint": Param(str, "", "OpenAI-compatible endpoint already serving the reward model for its "
                                        "benchmark; '' = run it in process on the benchmark's GPU."),
    "bench_rm_max_new_tokens": Param(int, 0, "Longest critique of the reward model in its benchmark (0 = the "
                                             "critic's default)."),
    "bench_baseline_critic": Param(str, "pixel", "Baseline critic the reward model must beat: pixel or "
                                                 "structural."),
    "bench_matcher": Param(str, "deterministic", "Matcher of predicted and gold errors: deterministic (offline) "
                                                 "or llm (LLM judge)."),
    "bench_judge_endpoint": Param(str, "", "OpenAI-compatible endpoint of the judge (bench_matcher=llm)."),
    "bench_judge_model": Param(str, "", "Judge model name at bench_judge_endpoint (bench_matcher=llm)."),
    "bench_workers": Param(int, 0, "Render workers of the critics / concurrent judge calls (0 = default)."),
    "bench_max_items": Param(int, 0, "Score only the first N bench items, for a smoke run (0 = all)."),
    "bench_policy_responses_uri": Param(str, "", "A policy's responses (JSONL of {id, response}) to score; '' = "
                                                 "generate them at bench_policy_endpoint."),
    "bench_policy_endpoint": Param(str, "", "OpenAI-compatible endpoint of the policy to benchmark (when no "
                                            "responses are given)."),
    "bench_policy_model": Param(str, "", "Policy model name at bench_policy_endpoint."),
    "bench_policy_critic": Param(str, "", "Critic of the policy benchmark's Visual-ERM score (pixel, structural, "
                                          "vlm); '' skips the score."),
    "bench_policy_reward_variant": Param(str, "released", "Reward formula of the Visual-ERM score: released, "
                                                          "paper, auto, ..."),
    "bench_policy_split": Param(str, "test", "Split of a pair dataset the policy is benchmarked on."),
    "bench_reflect_rounds": Param(int, 3, "Reflect-and-revise rounds after the policy's first answer (the paper's "
                                          "best: 3; 0 = none)."),
    "bench_reflect_critic": Param(str, "reward_model", "Critic whose feedback the policy revises with: "
                                                       "reward_model, structural or pixel."),
    "bench_policy_max_new_tokens": Param(int, 1024, "Policy tokens per answer in the policy benchmark."),
    # RL
    "rl_gate": Param(str, "on", "on: train the policy only when the reward model beats the baseline critic by "
                                "rl_gate_margin; off: always train."),
    "rl_gate_metric": Param(str, "f1_hard", "Overall benchmark metric the gate compares: f1_hard, f1_soft or sc."),
    "rl_gate_margin": Param(float, 0.0, "Points (0-100) by which the reward model must beat the baseline."),
    "rl_policy_uri": Param(str, "", "Policy of an earlier run (local path or s3:// URI); when set, RL training is "
                                    "skipped and this policy is imported."),
    "rl_prompts_per_task": Param(int, 0, "RL prompts per task built from the dataset (0 = all)."),
    "rl_profile": Param(str, "qwen3-vl-8b", "RL profile: tiny (CPU, minutes), qwen3-vl-8b (GPU, paper settings) "
                                            "or a YAML path."),
    "rl_reward_endpoint": Param(str, "", "Served reward model for RL (OpenAI-compatible URLs, comma-separated); "
                                         "'' = the trained reward model in process."),
    "rl_variant": Param(str, "", "Reward variant (paper, released, released-strict, table-released, auto); '' = "
                                 "the profile's."),
    "rl_max_steps": Param(int, -1, "GRPO optimizer steps (-1: the profile's)."),
    "rl_learning_rate": Param(float, 0.0, "Learning rate (0: the profile's)."),
    "rl_base_policy": Param(str, "", "Base policy weights: a local path or s3:// URI ('' = the profile's)."),
    "rl_out_uri": Param(str, "", "Also write the policy and its checkpoints here (s3:// prefix), so a retried task "
                                 "resumes; '' = only the KFP artifact."),
    "rl_overrides_json": Param(str, "{}", "Further RL profile overrides as a JSON object of dotted keys, e.g. "
                                          "{\"grpo.beta\": 0.02}."),
    # publish
    "publish_rm_uri": Param(str, PUBLISH_RM_URI, "Stable prefix the reward model is published to (s3:// or a "
                                                 "local path; '' = only the KFP artifact)."),
    "publish_policy_uri": Param(str, PUBLISH_POLICY_URI, "Stable prefix the policy is published to (s3:// or a "
                                                         "local path; '' = only the KFP artifact)."),
    "publish_name": Param(str, "visual-erm", "Model name in the card and the served model name."),
    "publish_policy_name": Param(str, "visual-erm-policy", "Policy name in its model card."),
    "publish_model_uri": Param(str, "", "Model directory of an earlier run to publish (local path or s3:// URI)."),
    "publish_uri": Param(str, PUBLISH_RM_URI, "Stable prefix to publish to (s3:// or a local path)."),
    # Kubernetes
    "k8s_gpu_type": Param(str, GPU_TYPE, "Accelerator resource of the GPU steps (the device plugin's resource "
                                         "name)."),
    "k8s_gpu_count": Param(int, GPU_COUNT, "GPUs per GPU step (accelerator limit)."),
    "k8s_node_selector": Param(dict, GPU_NODE_SELECTOR, "Node selector of the GPU steps (the GPU pool's label, "
                                                        "infra/README.md §3)."),
    "k8s_gpu_tolerations": Param(list, GPU_TOLERATIONS, "Tolerations of the GPU steps (the GPU pool's taint)."),
    "k8s_gpu_cpu_limit": Param(str, GPU_CPU_LIMIT, "CPU limit of the GPU steps."),
    "k8s_gpu_memory_limit": Param(str, GPU_MEMORY_LIMIT, "Memory limit of the GPU steps."),
    "k8s_cpu_limit": Param(str, CPU_LIMIT, "CPU limit of the CPU steps (rendering, validation, benchmarks)."),
    "k8s_memory_limit": Param(str, MEMORY_LIMIT, "Memory limit of the CPU steps."),
    "k8s_s3_secret": Param(str, S3_SECRET, "Secret with the object-store keys (accesskey/secretkey), mounted as "
                                           "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."),
    "k8s_wandb_secret": Param(str, WANDB_SECRET, "Secret with WANDB_API_KEY for the training steps (optional)."),
}

#: Parameters that name an output location (preflight checks the bucket / writability, not presence).
OUTPUT_URI_PARAMS = ("rm_out_uri", "rl_out_uri", "publish_rm_uri", "publish_policy_uri", "publish_uri")
K8S_PARAMS = tuple(n for n in PARAMS if n.startswith("k8s_"))
