"""One pipeline per stage, each runnable alone from an earlier run's artifacts (URI parameters + dsl.importer).

=====================  =========================================================================================
pipeline               graph
=====================  =========================================================================================
visual-erm-synthesize  preflight → synthesize
visual-erm-validate    preflight → import synth_dataset_uri → validate
visual-erm-train-rm    preflight → import synth_dataset_uri → train-reward-model (GPU)
visual-erm-bench-critic preflight → import bench_set_uri → benchmark-critic (bench_critic)
visual-erm-train-policy preflight → import dataset + reward model → build-prompts → train-policy (GPU)
visual-erm-bench-policy preflight → import bench_set_uri → benchmark-policy (endpoint, or imported responses)
visual-erm-publish     preflight → import publish_model_uri → publish (to publish_uri)
=====================  =========================================================================================

Every pipeline is built by ``make_pipeline`` from the parameter table ``pipelines.params.PARAMS``: the
signature (names, types, defaults) and the docstring (one line per parameter: the KFP UI help text) come from
there, so a parameter reads the same in every pipeline. The body receives the parameters as a dict of channels.
"""

from __future__ import annotations

import inspect
from typing import Callable

from kfp import dsl

from pipelines import tasks
from pipelines.params import DEFAULT_OPTIONS, K8S_PARAMS, OUTPUT_URI_PARAMS, PARAMS, CompileOptions

#: Stage groups in the order of the run form; a parameter's stage is its prefix.
GROUPS = (("synth_", "Synthesize and validate"), ("rm_", "Reward model"), ("bench_", "Benchmarks"),
          ("rl_", "RL"), ("publish_", "Publish"), ("k8s_", "Kubernetes"))


def docstring(summary: str, names: list[str]) -> str:
    lines = [summary, "", "Args:"]
    lines += [f"    {n}: {PARAMS[n].doc}" for n in names]
    return "\n".join(lines) + "\n"


def make_pipeline(name: str, summary: str, names: list[str],
                  body: Callable[[dict], None], *, description: str | None = None):
    """A ``@dsl.pipeline`` named ``name`` whose parameters are ``names`` (from PARAMS, in table order)."""
    order = list(PARAMS)
    names = sorted(dict.fromkeys(names), key=order.index)

    def pipeline_func(*args):
        return body(dict(zip(names, args)))

    pipeline_func.__signature__ = inspect.Signature([
        inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=PARAMS[n].default,
                          annotation=PARAMS[n].type) for n in names])
    pipeline_func.__name__ = name.replace("-", "_")
    pipeline_func.__qualname__ = pipeline_func.__name__
    pipeline_func.__doc__ = docstring(summary, names)
    return dsl.pipeline(name=name, description=description or summary)(pipeline_func)


def k8s_of(p: dict) -> tasks.K8s:
    """The k8s_* channels of a pipeline (CPU-only stage pipelines have no GPU parameters: those are None)."""
    return tasks.K8s(gpu_type=p.get("k8s_gpu_type"), gpu_count=p.get("k8s_gpu_count"),
                     node_selector=p.get("k8s_node_selector"), tolerations=p.get("k8s_gpu_tolerations"),
                     gpu_cpu_limit=p.get("k8s_gpu_cpu_limit"), gpu_memory_limit=p.get("k8s_gpu_memory_limit"),
                     cpu_limit=p["k8s_cpu_limit"], memory_limit=p["k8s_memory_limit"], s3_secret=p["k8s_s3_secret"],
                     wandb_secret=p.get("k8s_wandb_secret"))


def preflight_for(opts: CompileOptions, p: dict, required: tuple[str, ...] = ()):
    """The preflight task of a pipeline whose parameters are ``p``: every scalar parameter is range-checked,
    every ``*_uri`` is checked as an input (or output), every ``*_endpoint`` probed."""
    # *_json parameters stay out: kfp 2.17.0 substitutes a parameter into a dict argument as raw text, so a value
    # holding a double quote ('{"grpo.beta": 0.02}') makes the task's executor input invalid JSON (the local runner
    # fails with JSONDecodeError before the component starts). Their training steps parse them first thing.
    scalars = {n: v for n, v in p.items()
               if PARAMS[n].type in (str, int, float, bool) and not n.endswith(("_uri", "_endpoint", "_json"))
               and not n.startswith("k8s_") or n == "k8s_gpu_count"}
    inputs = {n: v for n, v in p.items() if n.endswith("_uri") and n not in OUTPUT_URI_PARAMS}
    outputs = {n: v for n, v in p.items() if n in OUTPUT_URI_PARAMS}
    endpoints = {n: v for n, v in p.items() if n.endswith("_endpoint")}
    if "bench_judge_endpoint" in p:  # the cross-check bench_matcher=llm needs the endpoint's value too
        scalars["bench_judge_endpoint"] = p["bench_judge_endpoint"]
    return tasks.add_preflight(opts, k8s_of(p), params=scalars, input_uris=inputs, output_uris=outputs,
                               endpoints=endpoints, required=list(required))


SYNTH = ["synth_tasks", "synth_n", "synth_seed", "synth_candidates_per_seed", "synth_max_edits",
         "synth_identity_share", "synth_corpus_path", "synth_natural_endpoint", "synth_natural_model", "synth_workers"]
VALIDATE = ["synth_min_per_category", "synth_min_pairs_for_balance", "synth_identity_share_max"]
RM = ["rm_profile", "rm_max_steps", "rm_epochs", "rm_learning_rate", "rm_base_model", "rm_out_uri",
      "rm_overrides_json"]
BENCH = ["bench_matcher", "bench_judge_endpoint", "bench_judge_model", "bench_workers", "bench_max_items"]
K8S = list(K8S_PARAMS)
#: The Kubernetes parameters of CPU-only pipelines (their run form has no GPU settings).
K8S_CPU = ["k8s_cpu_limit", "k8s_memory_limit", "k8s_s3_secret"]


def build_synthesize(opts: CompileOptions = DEFAULT_OPTIONS):
    def body(p):
        pre = preflight_for(opts, p)
        tasks.add_synthesize(opts, k8s_of(p), p).after(pre)

    return make_pipeline("visual-erm-synthesize", "Synthesize a verified reward-model pair dataset.", SYNTH + K8S_CPU,
                         body)


def build_validate(opts: CompileOptions = DEFAULT_OPTIONS):
    def body(p):
        pre = preflight_for(opts, p, required=("synth_dataset_uri",))
        ds = tasks.import_artifact(p["synth_dataset_uri"], dsl.Dataset, "import-dataset").after(pre)
        tasks.add_validate(opts, k8s_of(p), p, ds.output)

    return make_pipeline("visual-erm-validate", "Validate a pair dataset of an earlier run (Great Expectations).",
                         ["synth_dataset_uri"] + VALIDATE + K8S_CPU, body)


def build_train_rm(opts: CompileOptions = DEFAULT_OPTIONS):
    def body(p):
        pre = preflight_for(opts, p, required=("synth_dataset_uri",))
        ds = tasks.import_artifact(p["synth_dataset_uri"], dsl.Dataset, "import-dataset").after(pre)
        tasks.add_train_rm(opts, k8s_of(p), p, ds.output)

    return make_pipeline("visual-erm-train-rm", "Train the Visual-ERM reward model on a pair dataset of an "
                         "earlier run.", ["synth_dataset_uri"] + RM + K8S, body)


def build_bench_critic(opts: CompileOptions = DEFAULT_OPTIONS):
    def body(p):
        pre = preflight_for(opts, p, required=("bench_set_uri",))
        bench = tasks.import_artifact(p["bench_set_uri"], dsl.Dataset, "import-bench-set").after(pre)
        tasks.add_bench_critic(opts, k8s_of(p), p, bench.output, p["bench_critic"], "benchmark-critic")

    return make_pipeline("visual-erm-bench-critic", "Benchmark a critic (F1-hard, F1-soft, Sc) on a bench set or "
                         "a pair dataset's test split.", ["bench_set_uri", "bench_critic"] + BENCH + K8S_CPU, body)


RL = ["rl_prompts_per_task", "rl_profile", "rl_reward_endpoint", "rl_variant", "rl_max_steps", "rl_learning_rate",
      "rl_base_policy", "rl_out_uri", "rl_overrides_json"]


def build_train_policy(opts: CompileOptions = DEFAULT_OPTIONS):
    def body(p):
        pre = preflight_for(opts, p, required=("synth_dataset_uri", "rm_model_uri"))
        k8s = k8s_of(p)
        ds = tasks.import_artifact(p["synth_dataset_uri"], dsl.Dataset, "import-dataset").after(pre)
        rm = tasks.import_artifact(p["rm_model_uri"], dsl.Model, "import-reward-model").after(pre)
        prompts = tasks.add_build_prompts(opts, k8s, p, ds.output)
        tasks.add_train_policy(opts, k8s, p, prompts.outputs["prompts"], rm.output)

    return make_pipeline("visual-erm-train-policy", "GRPO-train a policy against the Visual-ERM reward, from an "
                         "earlier run's dataset and reward model (in process, or served at rl_reward_endpoint).",
                         ["synth_dataset_uri", "rm_model_uri"] + RL + K8S, body)


BENCH_POLICY = ["bench_policy_critic", "bench_policy_reward_variant", "bench_policy_split", "bench_workers",
                "bench_max_items"]


def build_bench_policy(opts: CompileOptions = DEFAULT_OPTIONS):
    def body(p):
        pre = preflight_for(opts, p, required=("bench_set_uri",))
        data = tasks.import_artifact(p["bench_set_uri"], dsl.Dataset, "import-bench-set").after(pre)
        k8s = k8s_of(p)
        with dsl.If(p["bench_policy_responses_uri"] == "", name="generate-responses"):
            tasks.add_bench_policy(opts, k8s, p, data.output)
        with dsl.Else(name="given-responses"):
            responses = tasks.import_artifact(p["bench_policy_responses_uri"], dsl.Artifact, "import-responses")
            tasks.add_bench_policy(opts, k8s, p, data.output, responses=responses.output, endpoint="", model="")

    return make_pipeline("visual-erm-bench-policy", "Benchmark a vision-to-code policy (execution rate, task "
                         "metrics, Visual-ERM score) from its endpoint or its responses.",
                         ["bench_set_uri", "bench_policy_responses_uri", "bench_policy_endpoint",
                          "bench_policy_model"] + BENCH_POLICY + K8S_CPU, body)


def build_publish(opts: CompileOptions = DEFAULT_OPTIONS):
    def body(p):
        pre = preflight_for(opts, p, required=("publish_model_uri", "publish_uri"))
        model = tasks.import_artifact(p["publish_model_uri"], dsl.Model, "import-model").after(pre)
        tasks.add_publish(opts, k8s_of(p), model=model.output, dest=p["publish_uri"], name=p["publish_name"],
                          display="publish", sources={"model": p["publish_model_uri"]})

    return make_pipeline("visual-erm-publish", "Publish a model with its card and metrics to a stable prefix.",
                         ["publish_model_uri", "publish_uri", "publish_name"] + K8S_CPU, body)


#: Stage name (``verm pipeline run --stage``) -> builder. Compiled to pipelines/compiled/<name>.yaml.
STAGES: dict[str, Callable[[CompileOptions], object]] = {
    "synthesize": build_synthesize,
    "validate": build_validate,
    "train-rm": build_train_rm,
    "bench-critic": build_bench_critic,
    "train-policy": build_train_policy,
    "bench-policy": build_bench_policy,
    "publish": build_publish,
}

synthesize_pipeline = build_synthesize()
validate_pipeline = build_validate()
train_rm_pipeline = build_train_rm()
bench_critic_pipeline = build_bench_critic()
train_policy_pipeline = build_train_policy()
bench_policy_pipeline = build_bench_policy()
publish_pipeline = build_publish()
