"""Task builders shared by the stage pipelines and the end-to-end pipeline.

Each ``add_*`` function adds one configured step to the pipeline being defined (inside a ``@dsl.pipeline``
function) and returns its task, so a stage pipeline and the end-to-end pipeline build exactly the same step:
same component, same Kubernetes settings, same timeouts, retries and caching.

Why flat builders and not nested pipelines: a stage pipeline must run alone from parameters only (URIs of an
earlier run's artifacts, imported with ``dsl.importer``), while in the end-to-end graph the same step consumes
the artifact of the step before it. Sharing the step builders gives both without a graph component per stage,
and keeps every task at a predictable place in the compiled YAML for the contract tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kfp import dsl, kubernetes
from kfp.dsl import pipeline_channel

from pipelines.params import CompileOptions


@dataclass
class K8s:
    """The ``k8s_*`` pipeline parameters (channels) of the pipeline being defined."""

    gpu_type: Any
    gpu_count: Any
    node_selector: Any
    tolerations: Any
    gpu_cpu_limit: Any
    gpu_memory_limit: Any
    cpu_limit: Any
    memory_limit: Any
    s3_secret: Any
    wandb_secret: Any = None


def _register(task: dsl.PipelineTask, *values: Any) -> None:
    # Workaround (kfp 2.17.0): set_accelerator_type/limit and set_cpu/memory_limit with a pipeline parameter do
    # not register the parameter as an input of an enclosing dsl.If/Else sub-DAG, so a GPU task inside a
    # condition references an input the sub-DAG does not have ("Parent pipeline input argument
    # 'pipelinechannel--k8s_gpu_type' not found" locally, an unresolved placeholder on a cluster). Registering the
    # channels on the task makes the compiler pass them down. (kfp-kubernetes' *_json helpers do this already.)
    channels = [v for v in values if isinstance(v, pipeline_channel.PipelineChannel)]
    task.register_pipeline_channels(channels)


def on_cpu(task: dsl.PipelineTask, k8s: K8s) -> dsl.PipelineTask:
    """CPU step: CPU and memory limits (no node selector: any node)."""
    task.set_cpu_limit(k8s.cpu_limit).set_memory_limit(k8s.memory_limit)
    _register(task, k8s.cpu_limit, k8s.memory_limit)
    return task


def on_gpu(task: dsl.PipelineTask, k8s: K8s) -> dsl.PipelineTask:
    """GPU step: accelerator type/limit, CPU/memory limits, the GPU pool's node selector and tolerations."""
    task.set_accelerator_type(k8s.gpu_type).set_accelerator_limit(k8s.gpu_count)
    task.set_cpu_limit(k8s.gpu_cpu_limit).set_memory_limit(k8s.gpu_memory_limit)
    _register(task, k8s.gpu_type, k8s.gpu_count, k8s.gpu_cpu_limit, k8s.gpu_memory_limit)
    kubernetes.add_node_selector_json(task, k8s.node_selector)
    kubernetes.add_toleration_json(task, k8s.tolerations)
    return task


def with_secrets(task: dsl.PipelineTask, k8s: K8s, opts: CompileOptions, *, wandb: bool = False) -> dsl.PipelineTask:
    """Object-store keys (and the W&B key) as environment variables. ``optional=True``: a missing Secret does not
    keep the pod from starting; preflight then reports the missing variable by name."""
    kubernetes.use_secret_as_env(task, k8s.s3_secret, opts.s3_secret_keys, optional=True)
    if wandb and k8s.wandb_secret is not None:
        kubernetes.use_secret_as_env(task, k8s.wandb_secret, opts.wandb_secret_keys, optional=True)
    return task


def step(task: dsl.PipelineTask, name: str, opts: CompileOptions, *, cache: bool) -> dsl.PipelineTask:
    """Display name, pod deadline, retries and caching of a step (``name`` keys CompileOptions)."""
    task.set_display_name(name)
    if name in opts.timeouts:
        kubernetes.set_timeout(task, opts.timeouts[name])
    retries = opts.retries.get(name, 0)
    if retries:
        task.set_retry(num_retries=retries, backoff_duration="30s", backoff_factor=2.0, backoff_max_duration="600s")
    task.set_caching_options(cache)
    return task


def import_artifact(uri: Any, artifact_class: type, name: str) -> dsl.PipelineTask:
    """An artifact of an earlier run (local path or s3:// URI). ``reimport=False``: the same URI is the same
    artifact in ML Metadata, so downstream cache keys stay stable."""
    task = dsl.importer(artifact_uri=uri, artifact_class=artifact_class, reimport=False)
    task.set_display_name(name)
    return task


# ---- steps --------------------------------------------------------------------------------------------------
def add_preflight(opts: CompileOptions, k8s: K8s, *, params: dict, input_uris: dict | None = None,
                  output_uris: dict | None = None, endpoints: dict | None = None, required: list | None = None):
    from components.preflight.component import preflight

    task = preflight(params=params, input_uris=input_uris or {}, output_uris=output_uris or {},
                     endpoints=endpoints or {}, secrets=[], required=required or [])
    with_secrets(task, k8s, opts, wandb=False)
    on_cpu(task, k8s)
    # never cached: it checks live state (endpoints up, buckets present); no retries: it must fail fast
    return step(task, "preflight", opts, cache=False)


def add_synthesize(opts: CompileOptions, k8s: K8s, p: dict):
    from components.synthesize.component import synthesize

    task = synthesize(tasks=p["synth_tasks"], n=p["synth_n"], seed=p["synth_seed"],
                      candidates_per_seed=p["synth_candidates_per_seed"], max_edits=p["synth_max_edits"],
                      identity_share=p["synth_identity_share"], corpus_path=p["synth_corpus_path"],
                      natural_endpoint=p["synth_natural_endpoint"], natural_model=p["synth_natural_model"],
                      workers=p["synth_workers"])
    with_secrets(task, k8s, opts)
    on_cpu(task, k8s)
    # deterministic: the same seed and options give byte-identical shards, so a cache hit is a content match
    return step(task, "synthesize", opts, cache=True)


def add_validate(opts: CompileOptions, k8s: K8s, p: dict, dataset):
    from components.validate.component import validate

    task = validate(dataset=dataset, kind="", min_per_category=p["synth_min_per_category"],
                    min_pairs_for_balance=p["synth_min_pairs_for_balance"],
                    identity_share_max=p["synth_identity_share_max"])
    on_cpu(task, k8s)
    return step(task, "validate", opts, cache=True)


def add_train_rm(opts: CompileOptions, k8s: K8s, p: dict, dataset):
    from components.train_reward_model.component import train_reward_model

    task = train_reward_model(dataset=dataset, profile=p["rm_profile"], max_steps=p["rm_max_steps"],
                              epochs=p["rm_epochs"], learning_rate=p["rm_learning_rate"],
                              base_model=p["rm_base_model"], out_uri=p["rm_out_uri"],
                              overrides_json=p["rm_overrides_json"], resume=True)
    with_secrets(task, k8s, opts, wandb=True)
    on_gpu(task, k8s)
    # GPU training is not bit-reproducible: never served from the cache (a retry resumes from checkpoints)
    return step(task, "train-reward-model", opts, cache=False)


def add_bench_critic(opts: CompileOptions, k8s: K8s, p: dict, bench, critic, display: str):
    from components.benchmark_critic.component import benchmark_critic

    task = benchmark_critic(bench=bench, critic=critic, matcher=p["bench_matcher"],
                            judge_endpoint=p["bench_judge_endpoint"], judge_model=p["bench_judge_model"],
                            workers=p["bench_workers"], max_items=p["bench_max_items"])
    with_secrets(task, k8s, opts)
    on_cpu(task, k8s)
    step(task, "benchmark-critic", opts, cache=True)  # critics and the deterministic matcher are deterministic
    return task.set_display_name(display)


def add_bench_rm(opts: CompileOptions, k8s: K8s, p: dict, bench, model):
    from components.benchmark_reward_model.component import benchmark_reward_model

    task = benchmark_reward_model(bench=bench, model=model, endpoint=p["bench_rm_endpoint"],
                                  max_new_tokens=p["bench_rm_max_new_tokens"], matcher=p["bench_matcher"],
                                  judge_endpoint=p["bench_judge_endpoint"], judge_model=p["bench_judge_model"],
                                  workers=p["bench_workers"], max_items=p["bench_max_items"])
    with_secrets(task, k8s, opts)
    on_gpu(task, k8s)  # the reward model runs in process (unless bench_rm_endpoint serves it)
    step(task, "benchmark-reward-model", opts, cache=True)  # greedy decoding of a given model: repeatable
    return task.set_display_name("benchmark-rm")


def add_bench_policy(opts: CompileOptions, k8s: K8s, p: dict, data, *, responses=None, endpoint=None,
                     model=None, display: str = "benchmark-policy"):
    from components.benchmark_policy.component import benchmark_policy

    kwargs = {"responses": responses} if responses is not None else {}
    task = benchmark_policy(data=data, endpoint=p.get("bench_policy_endpoint", "") if endpoint is None else endpoint,
                            model=p.get("bench_policy_model", "") if model is None else model,
                            critic=p["bench_policy_critic"], reward_variant=p["bench_policy_reward_variant"],
                            split=p["bench_policy_split"], workers=p["bench_workers"], max_items=p["bench_max_items"],
                            **kwargs)
    with_secrets(task, k8s, opts)
    on_cpu(task, k8s)  # renders and scores; the policy itself is served elsewhere (or its responses are given)
    step(task, "benchmark-policy", opts, cache=True)
    return task.set_display_name(display)


def add_build_prompts(opts: CompileOptions, k8s: K8s, p: dict, dataset):
    from components.build_prompts.component import build_prompts

    task = build_prompts(dataset=dataset, n=p["rl_prompts_per_task"], split="all")
    on_cpu(task, k8s)
    return step(task, "build-prompts", opts, cache=True)  # deterministic function of the dataset


def add_train_policy(opts: CompileOptions, k8s: K8s, p: dict, prompts, reward_model):
    from components.train_policy.component import train_policy

    task = train_policy(prompts=prompts, reward_model=reward_model, reward_endpoint=p["rl_reward_endpoint"],
                        profile=p["rl_profile"], variant=p["rl_variant"], max_steps=p["rl_max_steps"],
                        learning_rate=p["rl_learning_rate"], base_policy=p["rl_base_policy"], out_uri=p["rl_out_uri"],
                        overrides_json=p["rl_overrides_json"], resume=True)
    with_secrets(task, k8s, opts, wandb=True)
    on_gpu(task, k8s)
    return step(task, "train-policy", opts, cache=False)  # sampled rollouts: never served from the cache


def add_reflect(opts: CompileOptions, k8s: K8s, p: dict, prompts, policy, reward_model):
    from components.reflect_policy.component import reflect_policy

    task = reflect_policy(prompts=prompts, policy=policy, reward_model=reward_model,
                          reward_endpoint=p["rl_reward_endpoint"], critic=p["bench_reflect_critic"],
                          variant=p["bench_policy_reward_variant"], rounds=p["bench_reflect_rounds"],
                          split=p["bench_policy_split"], n=p["bench_max_items"],
                          max_new_tokens=p["bench_policy_max_new_tokens"])
    with_secrets(task, k8s, opts)
    on_gpu(task, k8s)  # the policy (and the reward model, unless served) run in process
    return step(task, "reflect-policy", opts, cache=True)  # greedy decoding (temperature 0)


def add_gate(opts: CompileOptions, k8s: K8s, p: dict, candidate, baseline):
    from components.gate.component import rm_gate

    task = rm_gate(candidate=candidate, baseline=baseline, mode=p["rl_gate"], metric=p["rl_gate_metric"],
                   margin=p["rl_gate_margin"])
    on_cpu(task, k8s)
    return step(task, "gate", opts, cache=True)


def add_publish(opts: CompileOptions, k8s: K8s, *, model, dest, name, display: str, bench_metrics=None,
                baseline_metrics=None, bench_report=None, sources: dict | None = None):
    from components.publish.component import publish

    kwargs = {k: v for k, v in (("bench_metrics", bench_metrics), ("baseline_metrics", baseline_metrics),
                                ("bench_report", bench_report)) if v is not None}
    task = publish(model=model, dest_uri=dest, name=name, sources=sources or {}, **kwargs)
    with_secrets(task, k8s, opts)
    on_cpu(task, k8s)
    step(task, "publish", opts, cache=False)  # a side effect outside KFP: always performed
    return task.set_display_name(display)
