"""The end-to-end pipeline ``visual-erm-e2e``: every stage, each of which can start from an earlier run.

    preflight
    → [synth_dataset_uri == ""]  synthesize          | [else] import-dataset        (dsl.If/Else + dsl.OneOf)
    → validate
    → [rm_model_uri == ""]       train-reward-model  | [else] import-reward-model
    → benchmark-rm (the reward model as a critic, GPU) ‖ benchmark-baseline (bench_baseline_critic)
                                                                   (both on the dataset's test split)
    → gate (rl_gate, rl_gate_metric, rl_gate_margin)
    → [gate == "train"]: publish-reward-model;
        build-prompts → [rl_policy_uri == ""] train-policy (GPU) | [else] import-policy
        → reflect-policy (answers + bench_reflect_rounds revisions, GPU) → benchmark-policy → publish-policy

Starting from an earlier run: set ``synth_dataset_uri`` (and/or ``rm_model_uri``) to the artifact's URI (an s3://
prefix, or the artifact URI the KFP UI shows for an earlier run's output; a local path for local runs). The
stage it replaces is skipped (its branch of the dsl.If does not run) and ``dsl.importer`` brings the artifact in;
downstream steps consume ``dsl.OneOf(produced, imported)`` and do not know the difference. To re-run one stage
alone, use its stage pipeline (pipelines.stages).

The reward model's own benchmark is ``components/benchmark_reward_model``: the same scoring as
``benchmark_critic`` with the VLM critic over the model artifact (in process on a GPU, or at
``bench_rm_endpoint``), so the gate compares like with like.

Kubernetes: the GPU steps (train-reward-model, benchmark-rm, train-policy, reflect-policy) request ``k8s_gpu_count`` ×
``k8s_gpu_type`` and get the GPU pool's node selector and tolerations; every step has CPU/memory limits, a pod
deadline and (on I/O steps) retries; the object-store Secret is mounted as environment variables. Runtime
parameters: accelerator type/limit, CPU/memory limits, node selector (``add_node_selector_json``), tolerations
(``add_toleration_json``) and Secret names. Compile-time only (kfp-kubernetes takes literals): pod deadlines,
retry counts and the Secret key → variable mapping (``verm pipeline compile --timeout STEP=S --retries STEP=N``).

Caching: on for deterministic steps (synthesize — byte-identical output for the same seed and options —,
validate, the critic benchmarks, the gate); off for preflight (live checks), training (not bit-reproducible) and
publish (a side effect). KFP's cache key is the component and its inputs (parameters and input artifacts); an
imported URI is one artifact (``reimport=False``), so re-importing the same URI hits the cache. Locally, steps
with a Metrics output always miss the cache (kfp 2.17.0 local runner).
"""

from __future__ import annotations

from kfp import dsl

from pipelines import stages, tasks
from pipelines.params import DEFAULT_OPTIONS, CompileOptions

E2E_NAME = "visual-erm-e2e"

RL = ["rl_policy_uri", "rl_prompts_per_task", "rl_profile", "rl_reward_endpoint", "rl_variant", "rl_max_steps",
      "rl_learning_rate", "rl_base_policy", "rl_out_uri", "rl_overrides_json"]
BENCH_POLICY = ["bench_reflect_rounds", "bench_reflect_critic", "bench_policy_max_new_tokens",
                "bench_policy_critic", "bench_policy_reward_variant", "bench_policy_split"]

E2E_PARAMS = (["synth_dataset_uri"] + stages.SYNTH + stages.VALIDATE + ["rm_model_uri"] + stages.RM
              + ["bench_rm_endpoint", "bench_rm_max_new_tokens", "bench_baseline_critic"] + stages.BENCH + BENCH_POLICY
              + ["rl_gate", "rl_gate_metric", "rl_gate_margin"] + RL
              + ["publish_rm_uri", "publish_policy_uri", "publish_name", "publish_policy_name"] + stages.K8S)


def build_e2e(opts: CompileOptions = DEFAULT_OPTIONS):
    def body(p):
        k8s = stages.k8s_of(p)
        pre = stages.preflight_for(opts, p)

        with dsl.If(p["synth_dataset_uri"] == "", name="synthesize-dataset"):
            synth = tasks.add_synthesize(opts, k8s, p).after(pre)
        with dsl.Else(name="import-dataset"):
            ds_import = tasks.import_artifact(p["synth_dataset_uri"], dsl.Dataset, "import-dataset").after(pre)
        dataset = dsl.OneOf(synth.outputs["dataset"], ds_import.output)

        validate = tasks.add_validate(opts, k8s, p, dataset)

        with dsl.If(p["rm_model_uri"] == "", name="train-rm"):
            train = tasks.add_train_rm(opts, k8s, p, dataset).after(validate)
        with dsl.Else(name="import-rm"):
            rm_import = tasks.import_artifact(p["rm_model_uri"], dsl.Model, "import-reward-model").after(validate)
        reward_model = dsl.OneOf(train.outputs["model"], rm_import.output)

        bench_rm = tasks.add_bench_rm(opts, k8s, p, dataset, reward_model)
        bench_base = tasks.add_bench_critic(opts, k8s, p, dataset, p["bench_baseline_critic"], "benchmark-baseline")
        bench_base.after(validate)
        gate = tasks.add_gate(opts, k8s, p, bench_rm.outputs["results"], bench_base.outputs["results"])

        with dsl.If(gate.outputs["Output"] == "train", name="rl-gate"):
            tasks.add_publish(opts, k8s, model=reward_model, dest=p["publish_rm_uri"], name=p["publish_name"],
                              display="publish-reward-model", bench_metrics=bench_rm.outputs["metrics"],
                              baseline_metrics=bench_base.outputs["metrics"],
                              bench_report=bench_rm.outputs["report"],
                              sources={"dataset": p["synth_dataset_uri"], "reward_model": p["rm_model_uri"]})
            _rl_steps(opts, k8s, p, dataset=dataset, reward_model=reward_model)

    return stages.make_pipeline(E2E_NAME, "Visual-ERM end to end: synthesize → validate → train the reward model "
                                "→ benchmark it against a baseline critic → gate → RL → benchmark the policy → "
                                "publish. Any stage can start from an earlier run's artifacts (the *_uri "
                                "parameters).", E2E_PARAMS, body)


def _rl_steps(opts, k8s, p, *, dataset, reward_model):
    """build-prompts → train-policy (or import rl_policy_uri) → reflect-policy → benchmark-policy → publish-policy."""
    prompts = tasks.add_build_prompts(opts, k8s, p, dataset)
    with dsl.If(p["rl_policy_uri"] == "", name="train-policy"):
        train = tasks.add_train_policy(opts, k8s, p, prompts.outputs["prompts"], reward_model)
    with dsl.Else(name="import-policy"):
        imported = tasks.import_artifact(p["rl_policy_uri"], dsl.Model, "import-policy").after(prompts)
    policy = dsl.OneOf(train.outputs["model"], imported.output)
    reflect = tasks.add_reflect(opts, k8s, p, prompts.outputs["prompts"], policy, reward_model)
    bench = tasks.add_bench_policy(opts, k8s, p, prompts.outputs["prompts"], responses=reflect.outputs["responses"],
                                   endpoint="", model="")
    tasks.add_publish(opts, k8s, model=policy, dest=p["publish_policy_uri"], name=p["publish_policy_name"],
                      display="publish-policy", bench_metrics=bench.outputs["metrics"],
                      bench_report=bench.outputs["report"],
                      sources={"dataset": p["synth_dataset_uri"], "reward_model": p["rm_model_uri"],
                               "policy": p["rl_policy_uri"]})


visual_erm_e2e = build_e2e()
