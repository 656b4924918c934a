"""Contract tests on the compiled pipelines (pipelines/compiled/*.yaml, committed): the run form (parameters and
defaults), the DAG's tasks, GPU requests, tolerations, node selectors, timeouts, retries, caching — and a check
that the committed YAML is what the sources compile to today.

kfp-kubernetes settings and resources only exist in the YAML (the local runner ignores them), so this is where
they are tested. Regenerate the YAML with `verm pipeline compile`.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPILED = ROOT / "pipelines" / "compiled"
STAGE_FILES = {"e2e.yaml", "synthesize.yaml", "validate.yaml", "train-rm.yaml", "bench-critic.yaml",
               "train-policy.yaml", "bench-policy.yaml", "publish.yaml"}

GPU_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]

#: The e2e run form, in order: every parameter and its default.
E2E_PARAMETERS = {
    "synth_dataset_uri": "",
    "synth_tasks": "chart,table,svg",
    "synth_n": 300,
    "synth_seed": 0,
    "synth_candidates_per_seed": 3,
    "synth_max_edits": 4,
    "synth_identity_share": 0.1,
    "synth_corpus_path": "",
    "synth_natural_endpoint": "",
    "synth_natural_model": "policy",
    "synth_workers": 0,
    "synth_min_per_category": 1,
    "synth_min_pairs_for_balance": 200,
    "synth_identity_share_max": 0.5,
    "rm_model_uri": "",
    "rm_profile": "qwen3-vl-8b",
    "rm_max_steps": -1,
    "rm_epochs": 0.0,
    "rm_learning_rate": 0.0,
    "rm_base_model": "",
    "rm_out_uri": "",
    "rm_overrides_json": "{}",
    "bench_rm_endpoint": "",
    "bench_rm_max_new_tokens": 0,
    "bench_baseline_critic": "pixel",
    "bench_matcher": "deterministic",
    "bench_judge_endpoint": "",
    "bench_judge_model": "",
    "bench_workers": 0,
    "bench_max_items": 0,
    "bench_policy_critic": "",
    "bench_policy_reward_variant": "released",
    "bench_policy_split": "test",
    "bench_reflect_rounds": 3,
    "bench_reflect_critic": "reward_model",
    "bench_policy_max_new_tokens": 1024,
    "rl_gate": "on",
    "rl_gate_metric": "f1_hard",
    "rl_gate_margin": 0.0,
    "rl_policy_uri": "",
    "rl_prompts_per_task": 0,
    "rl_profile": "qwen3-vl-8b",
    "rl_reward_endpoint": "",
    "rl_variant": "",
    "rl_max_steps": -1,
    "rl_learning_rate": 0.0,
    "rl_base_policy": "",
    "rl_out_uri": "",
    "rl_overrides_json": "{}",
    "publish_rm_uri": "s3://visual-erm/models/visual-erm/latest",
    "publish_policy_uri": "s3://visual-erm/models/visual-erm-policy/latest",
    "publish_name": "visual-erm",
    "publish_policy_name": "visual-erm-policy",
    "k8s_gpu_type": "nvidia.com/gpu",
    "k8s_gpu_count": 1,
    "k8s_node_selector": {"visual-erm.io/pool": "gpu"},
    "k8s_gpu_tolerations": GPU_TOLERATIONS,
    "k8s_gpu_cpu_limit": "16",
    "k8s_gpu_memory_limit": "128G",
    "k8s_cpu_limit": "4",
    "k8s_memory_limit": "16G",
    "k8s_s3_secret": "mlpipeline-minio-artifact",
    "k8s_wandb_secret": "visual-erm-wandb",
}

#: Every task of the e2e graph: DAG key -> display name (conditions included).
E2E_TASKS = {
    "preflight": "preflight",
    "condition-branches-1": "condition-branches-1",
    "condition-2": "synthesize-dataset",
    "synthesize": "synthesize",
    "condition-3": "import-dataset",
    "importer": "import-dataset",
    "validate": "validate",
    "condition-branches-4": "condition-branches-4",
    "condition-5": "train-rm",
    "train-reward-model": "train-reward-model",
    "condition-6": "import-rm",
    "importer-2": "import-reward-model",
    "benchmark-reward-model": "benchmark-rm",
    "benchmark-critic": "benchmark-baseline",
    "rm-gate": "gate",
    "condition-7": "rl-gate",
    "publish": "publish-reward-model",
    "build-prompts": "build-prompts",
    "condition-branches-8": "condition-branches-8",
    "condition-9": "train-policy",
    "train-policy": "train-policy",
    "condition-10": "import-policy",
    "importer-3": "import-policy",
    "reflect-policy": "reflect-policy",
    "benchmark-policy": "benchmark-policy",
    "publish-2": "publish-policy",
}
GPU_EXECUTORS = {"exec-train-reward-model", "exec-benchmark-reward-model", "exec-train-policy",
                 "exec-reflect-policy"}
#: executor -> pod deadline (s)
TIMEOUTS = {
    "exec-preflight": 300, "exec-synthesize": 21600, "exec-validate": 3600, "exec-train-reward-model": 172800,
    "exec-benchmark-reward-model": 43200, "exec-benchmark-critic": 21600, "exec-rm-gate": 300, "exec-publish": 3600,
    "exec-build-prompts": 3600, "exec-train-policy": 259200, "exec-reflect-policy": 43200,
    "exec-benchmark-policy": 43200, "exec-publish-2": 3600,
}
#: display name -> retries (I/O steps); every other task has none
RETRIES = {"synthesize": 1, "validate": 1, "train-reward-model": 2, "benchmark-rm": 2, "benchmark-baseline": 2,
           "publish-reward-model": 3, "build-prompts": 1, "train-policy": 2, "reflect-policy": 2,
           "benchmark-policy": 2, "publish-policy": 3}
NOT_CACHED = {"preflight", "train-reward-model", "publish-reward-model", "train-policy", "publish-policy"}


def _load(name: str):
    docs = list(yaml.safe_load_all((COMPILED / name).read_text()))
    spec = docs[0]
    platform = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"] if len(docs) > 1 else {}
    return spec, platform


def _tasks(spec) -> dict[str, dict]:
    dags = [spec["root"]["dag"]] + [c["dag"] for c in spec["components"].values() if "dag" in c]
    out = {}
    for dag in dags:
        for key, task in dag["tasks"].items():
            assert key not in out, f"task key {key} twice"
            out[key] = task
    return out


def _param(ref: dict) -> str:
    """The pipeline parameter a platform setting reads (root tasks name it directly, tasks inside a condition
    through the sub-DAG's ``pipelinechannel--`` input)."""
    return ref["componentInputParameter"].removeprefix("pipelinechannel--")


@pytest.fixture(scope="module")
def e2e():
    return _load("e2e.yaml")


_DEFAULT_COMMENT = re.compile(r"^(#\s+\w+: \w+ \[Default: )(.*)\]$")


def _same_compiled(a: str, b: str) -> bool:
    """Equal text, except that a header comment's ``[Default: ...]`` is compared as a Python value: kfp 2.17.0
    prints a dict inside a list default in per-process hash order (see pipelines/compile.py)."""
    la, lb = a.splitlines(), b.splitlines()
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        if x == y:
            continue
        mx, my = _DEFAULT_COMMENT.match(x), _DEFAULT_COMMENT.match(y)
        if not (mx and my and mx.group(1) == my.group(1)
                and ast.literal_eval(mx.group(2)) == ast.literal_eval(my.group(2))):
            return False
    return True


# ---- freshness ------------------------------------------------------------------------------------------------
def test_compiled_yaml_is_fresh(tmp_path):
    """Compile every pipeline from the sources now and compare byte for byte. kfp 2.17.0 writes no timestamps; the
    SDK version it writes is pinned; the images come from the environment, so compile with VERM_IMAGE_* unset."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERM_IMAGE_")}
    res = subprocess.run([sys.executable, "-m", "pipelines.compile", "--out", str(tmp_path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*.yaml")}
    committed = {p.name: p.read_text() for p in COMPILED.glob("*.yaml")}
    assert set(fresh) == set(committed) == STAGE_FILES
    stale = sorted(n for n in fresh if not _same_compiled(fresh[n], committed[n]))
    assert not stale, f"pipelines/compiled/{stale} are stale: run `verm pipeline compile` and commit the result"


# ---- the run form ---------------------------------------------------------------------------------------------
def test_e2e_parameters_and_defaults(e2e):
    spec, _ = e2e
    params = spec["root"]["inputDefinitions"]["parameters"]
    got = {name: p.get("defaultValue") for name, p in params.items()}
    expected = {k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v)  # the IR stores ints as floats
                for k, v in E2E_PARAMETERS.items()}
    assert got == expected
    assert all(p.get("description") for p in params.values()), "every parameter needs its one-line help text"


def test_parameters_grouped_by_stage():
    from pipelines.params import PARAMS

    prefixes = ["synth_", "rm_", "bench_", "rl_", "publish_", "k8s_"]
    order = [next(i for i, p in enumerate(prefixes) if n.startswith(p)) for n in PARAMS]
    assert order == sorted(order), "PARAMS must list parameters stage by stage"
    assert list(E2E_PARAMETERS) == [n for n in PARAMS if n in E2E_PARAMETERS]


def test_k8s_defaults_match_the_chart_and_infra():
    values = yaml.safe_load((ROOT / "charts" / "visual-erm" / "values.yaml").read_text())
    assert E2E_PARAMETERS["k8s_node_selector"] == values["rmServer"]["nodeSelector"]
    assert E2E_PARAMETERS["k8s_gpu_tolerations"] == values["rmServer"]["tolerations"]
    assert E2E_PARAMETERS["k8s_gpu_type"] == values["rmServer"]["gpu"]["resourceName"]
    assert E2E_PARAMETERS["k8s_s3_secret"] == values["objectStore"]["credentials"]["existingSecret"]
    assert E2E_PARAMETERS["publish_rm_uri"] == values["rmServer"]["model"]["uri"]


# ---- the graph ------------------------------------------------------------------------------------------------
def test_e2e_task_names(e2e):
    spec, _ = e2e
    assert {k: t["taskInfo"]["name"] for k, t in _tasks(spec).items()} == E2E_TASKS
    assert spec["pipelineInfo"]["name"] == "visual-erm-e2e"


def test_preflight_comes_first(e2e):
    """Every root task depends, directly or through others, on preflight (no GPU before it passed)."""
    spec, _ = e2e
    root = spec["root"]["dag"]["tasks"]
    deps = {k: set(t.get("dependentTasks", [])) for k, t in root.items()}

    def reaches(k, seen=()):
        return "preflight" in deps[k] or any(reaches(d, seen + (k,)) for d in deps[k] if d not in seen)

    assert not deps["preflight"]
    assert all(reaches(k) for k in root if k != "preflight"), deps


def test_importer_branches_replace_upstream_stages(e2e):
    spec, _ = e2e
    tasks = _tasks(spec)
    conds = {t["taskInfo"]["name"]: t["triggerPolicy"]["condition"] for k, t in tasks.items()
             if k.startswith("condition-") and "triggerPolicy" in t}
    assert conds["synthesize-dataset"] == "inputs.parameter_values['pipelinechannel--synth_dataset_uri'] == ''"
    assert conds["import-dataset"] == "!(inputs.parameter_values['pipelinechannel--synth_dataset_uri'] == '')"
    assert conds["train-rm"] == "inputs.parameter_values['pipelinechannel--rm_model_uri'] == ''"
    assert conds["train-policy"] == "inputs.parameter_values['pipelinechannel--rl_policy_uri'] == ''"
    assert "rm-gate" in conds["rl-gate"] and "== 'train'" in conds["rl-gate"]
    importers = {k: v for k, v in spec["deploymentSpec"]["executors"].items() if "importer" in v}
    assert {v["importer"]["typeSchema"]["schemaTitle"] for v in importers.values()} == {"system.Dataset",
                                                                                         "system.Model"}
    assert all(not v["importer"].get("reimport") for v in importers.values())


def test_gpu_tasks(e2e):
    spec, platform = e2e
    executors = spec["deploymentSpec"]["executors"]
    gpu = {e for e, x in executors.items() if "accelerator" in x.get("container", {}).get("resources", {})}
    assert gpu == GPU_EXECUTORS
    for e in gpu:
        res = executors[e]["container"]["resources"]
        assert res["accelerator"]["resourceType"] == "{{$.inputs.parameters['pipelinechannel--k8s_gpu_type']}}"
        assert res["accelerator"]["resourceCount"] == "{{$.inputs.parameters['pipelinechannel--k8s_gpu_count']}}"
        assert res["resourceCpuLimit"].endswith("k8s_gpu_cpu_limit']}}")
        assert res["resourceMemoryLimit"].endswith("k8s_gpu_memory_limit']}}")
        assert _param(platform[e]["nodeSelector"]["nodeSelectorJson"]) == "k8s_node_selector"
        (toleration,) = platform[e]["tolerations"]
        assert _param(toleration["tolerationJson"]) == "k8s_gpu_tolerations"
    for e in set(platform) - gpu:  # CPU steps run anywhere
        assert "nodeSelector" not in platform[e] and "tolerations" not in platform[e]
        res = executors[e]["container"]["resources"]
        assert res["resourceCpuLimit"].endswith("k8s_cpu_limit']}}") and "accelerator" not in res


def test_gpu_parameters_reach_the_condition_dags(e2e):
    """The kfp 2.17.0 workaround in pipelines/tasks.py: a GPU task inside dsl.If gets its channels as inputs."""
    spec, _ = e2e
    for task in ("train-reward-model", "train-policy", "reflect-policy"):
        comp = next(c for c in spec["components"].values() if "dag" in c and task in c["dag"]["tasks"])
        inputs = set(comp["inputDefinitions"]["parameters"])
        for name in ("k8s_gpu_type", "k8s_gpu_count", "k8s_gpu_cpu_limit", "k8s_gpu_memory_limit",
                     "k8s_node_selector", "k8s_gpu_tolerations"):
            assert f"pipelinechannel--{name}" in inputs, (task, name)


def test_timeouts_and_secrets(e2e):
    spec, platform = e2e
    got = {e: int(x["activeDeadlineSeconds"]) for e, x in platform.items() if "activeDeadlineSeconds" in x}
    assert got == TIMEOUTS
    needs_s3 = {"exec-preflight", "exec-synthesize", "exec-train-reward-model", "exec-benchmark-critic",
                "exec-benchmark-reward-model", "exec-publish", "exec-train-policy", "exec-reflect-policy",
                "exec-benchmark-policy", "exec-publish-2"}
    for e in needs_s3:
        s3 = platform[e]["secretAsEnv"][0]
        assert _param(s3["secretNameParameter"]) == "k8s_s3_secret"
        assert {m["envVar"] for m in s3["keyToEnv"]} == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        assert s3["optional"] is True
    for e in ("exec-train-reward-model", "exec-train-policy"):  # the training steps log to W&B
        wandb = [s for s in platform[e]["secretAsEnv"] if _param(s["secretNameParameter"]) == "k8s_wandb_secret"]
        assert wandb and wandb[0]["keyToEnv"] == [{"envVar": "WANDB_API_KEY", "secretKey": "WANDB_API_KEY"}]


def test_retries_and_caching(e2e):
    spec, _ = e2e
    containers = {k: t for k, t in _tasks(spec).items() if not k.startswith("condition")}
    retries = {t["taskInfo"]["name"]: t["retryPolicy"]["maxRetryCount"] for t in containers.values()
               if "retryPolicy" in t}
    assert retries == RETRIES
    cached = {t["taskInfo"]["name"]: t.get("cachingOptions", {}).get("enableCache", False)
              for k, t in containers.items() if not k.startswith("importer")}
    assert {n for n, c in cached.items() if not c} == NOT_CACHED


# ---- stage pipelines ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,first_input,tasks", [
    ("synthesize.yaml", None, {"preflight", "synthesize"}),
    ("validate.yaml", "synth_dataset_uri", {"preflight", "importer", "validate"}),
    ("train-rm.yaml", "synth_dataset_uri", {"preflight", "importer", "train-reward-model"}),
    ("bench-critic.yaml", "bench_set_uri", {"preflight", "importer", "benchmark-critic"}),
    ("bench-policy.yaml", "bench_set_uri", {"preflight", "importer", "condition-branches-1"}),
    ("train-policy.yaml", "synth_dataset_uri", {"preflight", "importer", "importer-2", "build-prompts",
                                                "train-policy"}),
    ("publish.yaml", "publish_model_uri", {"preflight", "importer", "publish"}),
])
def test_stage_pipelines(name, first_input, tasks):
    spec, platform = _load(name)
    root = spec["root"]["dag"]["tasks"]
    assert set(root) == tasks
    assert not root["preflight"].get("dependentTasks")
    if first_input:
        assert root["importer"]["dependentTasks"] == ["preflight"]
        assert first_input in spec["root"]["inputDefinitions"]["parameters"]
        required = root["preflight"]["inputs"]["parameters"]["required"]["runtimeValue"]["constant"]
        assert first_input in required
    gpu = {e for e, x in spec["deploymentSpec"]["executors"].items()
           if "accelerator" in x.get("container", {}).get("resources", {})}
    assert gpu == {"train-rm.yaml": {"exec-train-reward-model"},
                   "train-policy.yaml": {"exec-train-policy"}}.get(name, set())
    params = set(spec["root"]["inputDefinitions"]["parameters"])
    gpu_params = {"k8s_gpu_type", "k8s_gpu_count", "k8s_node_selector", "k8s_gpu_tolerations", "k8s_gpu_cpu_limit",
                  "k8s_gpu_memory_limit", "k8s_wandb_secret"}
    assert (gpu_params <= params) if gpu else not (gpu_params & params)  # CPU pipelines: no GPU settings in the form
    assert not [e for e, x in platform.items() if "nodeSelector" in x or "tolerations" in x] or gpu
