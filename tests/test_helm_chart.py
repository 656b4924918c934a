"""The Helm chart (charts/visual-erm): lint, offline render, schema validation, and what the objects say.

Rendering uses helm-python-sdk (Helm v4's Go SDK in a bundled shared library: the same template engine as the
`helm` CLI, no binary and no cluster). Every rendered object is validated against the Kubernetes 1.30 JSON
schemas with kubernetes-validate in strict mode (unknown fields are errors).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "visual-erm"
KUBE_VERSION = "1.30.0"
NAMESPACE = "kubeflow"
RELEASE = "verm"

FULL_VALUES = yaml.safe_load((CHART / "ci" / "full-values.yaml").read_text())
ACCESS_SENTINEL = "AKIA-SENTINEL-ACCESS-7f3e"
SECRET_SENTINEL = "s3cr3t-SENTINEL-9a1b-do-not-leak"
WANDB_SENTINEL = "wandb-SENTINEL-key-0c4d"
CREATED_SECRETS = {
    "objectStore": {"credentials": {"existingSecret": "", "accessKey": ACCESS_SENTINEL,
                                    "secretKey": SECRET_SENTINEL}},
    "wandb": {"enabled": True, "apiKey": WANDB_SENTINEL},
    "schedule": {"enabled": True, "params": {"rm_epochs": 1}},
}
VARIANTS = {"default": {}, "full": FULL_VALUES, "created-secrets": CREATED_SECRETS}


def render(values: dict | None = None) -> dict[str, str]:
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)


def objects(values: dict | None = None) -> list[dict]:
    docs = []
    for path, text in render(values).items():
        if path.endswith("NOTES.txt"):  # shown to the user after install, not a manifest
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str, name_suffix: str = "") -> dict:
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} *{name_suffix}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request) -> tuple[str, list[dict]]:
    return request.param, objects(VARIANTS[request.param])


# ---- lint and schema ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(VARIANTS))
def test_lint_has_no_errors_or_warnings(name):
    report = helm.lint(str(CHART), VARIANTS[name], strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_every_rendered_object_validates_strictly_against_kubernetes_1_30(variant):
    name, docs = variant
    assert docs, f"{name}: nothing rendered"
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']}: {exc.message}")


def test_rendered_kinds_per_variant():
    kinds = {name: sorted(d["kind"] for d in objects(values)) for name, values in VARIANTS.items()}
    assert kinds["default"] == ["ConfigMap", "Deployment", "Role", "RoleBinding", "Service", "ServiceAccount"]
    assert kinds["full"] == ["ConfigMap", "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Job", "Role",
                             "RoleBinding", "Service", "ServiceAccount"]
    assert kinds["created-secrets"].count("Secret") == 2


def test_notes_render_the_server_url():
    notes = next(t for p, t in render().items() if p.endswith("NOTES.txt"))
    assert f"http://{RELEASE}-visual-erm-rm-server.{NAMESPACE}.svc:8000/v1" in notes


@pytest.mark.parametrize("values", [
    {"rmServer": {"modle": {"uri": "s3://b/m"}}},                # typo: unknown key
    {"rmserver": {"enabled": False}},                            # typo at the top level
    {"rmServer": {"vllm": {"gpuMemoryUtilization": 1.5}}},
    {"rmServer": {"gpu": {"count": "one"}}},
    {"wandb": {"mode": "sometimes"}},
    {"schedule": {"enabled": True, "cron": "daily"}},
    {"objectStore": {"bucket": "Not_A_Bucket"}},
])
def test_values_schema_rejects_bad_values(values):
    with pytest.raises(helm.HelmError):
        render(values)
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmError):
            chart.validate_schema(values)


def test_invalid_values_fail_with_a_message():
    with pytest.raises(helm.HelmError, match="objectStore.credentials"):
        render({"objectStore": {"credentials": {"existingSecret": ""}}})
    with pytest.raises(helm.HelmError, match="s3://"):
        render({"rmServer": {"model": {"uri": "/local/path"}}})


# ---- reward-model server ---------------------------------------------------------------------------------------
def _pod(docs):
    return one(docs, "Deployment", "-rm-server")["spec"]["template"]["spec"]


def test_rm_server_requests_gpus_and_lands_on_the_gpu_pool():
    pod = _pod(objects())
    vllm = pod["containers"][0]
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == {"visual-erm.io/pool": "gpu"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]

    full = _pod(objects(FULL_VALUES))
    vllm = full["containers"][0]
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert "--tensor-parallel-size=2" in vllm["args"]
    assert full["nodeSelector"] == FULL_VALUES["rmServer"]["nodeSelector"]
    assert full["tolerations"] == FULL_VALUES["rmServer"]["tolerations"]
    assert full["affinity"] == FULL_VALUES["rmServer"]["affinity"]


def test_rm_server_probes_hit_health_on_the_served_port():
    vllm = _pod(objects())["containers"][0]
    assert vllm["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert vllm[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    svc = one(objects(), "Service", "-rm-server")
    assert svc["spec"]["ports"][0]["port"] == 8000 and svc["spec"]["ports"][0]["targetPort"] == "http"
    assert svc["spec"]["selector"] == one(objects(), "Deployment")["spec"]["selector"]["matchLabels"]


def test_rm_server_vllm_arguments():
    vllm = _pod(objects())["containers"][0]
    assert vllm["command"] == ["vllm", "serve"]
    args = vllm["args"]
    assert args[0] == "/models/visual-erm"
    assert {"--served-model-name=visual-erm", "--max-model-len=16384", "--dtype=bfloat16",
            "--gpu-memory-utilization=0.9", "--port=8000", "--host=0.0.0.0"} <= set(args)
    mm = [a for a in args if a.startswith("--limit-mm-per-prompt=")]
    assert len(mm) == 1 and json.loads(mm[0].split("=", 1)[1]) == {"image": 2}

    full_args = _pod(objects(FULL_VALUES))["containers"][0]["args"]
    assert full_args[0] == "/models/visual-erm-7b"
    assert {"--served-model-name=visual-erm-7b", "--max-num-seqs=64", "--trust-remote-code",
            "--enable-prefix-caching"} <= set(full_args)


def test_init_container_fetches_the_configured_s3_uri_into_the_served_directory():
    for values, uri, model_dir, endpoint, secret in (
            ({}, "s3://visual-erm/models/visual-erm/latest", "/models/visual-erm", "minio-service.kubeflow:9000",
             "mlpipeline-minio-artifact"),
            (FULL_VALUES, "s3://verm-prod/models/visual-erm-7b/v3", "/models/visual-erm-7b",
             "https://minio.storage.svc:9000", "verm-minio")):
        pod = _pod(objects(values))
        (fetch,) = pod["initContainers"]
        assert fetch["command"] == ["verm-fetch-model"]
        assert fetch["args"][:2] == [uri, model_dir]
        env = {e["name"]: e for e in fetch["env"]}
        assert env["VERM_S3_ENDPOINT"]["value"] == endpoint
        assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == secret
        assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == secret
        mounts = {m["name"]: m for m in fetch["volumeMounts"]}
        served = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        assert mounts["model"]["mountPath"] == served["model"]["mountPath"] == "/models"
        assert served["model"]["readOnly"] is True
        assert pod["containers"][0]["args"][0] == model_dir
    volumes = {v["name"]: v for v in _pod(objects())["volumes"]}
    assert "emptyDir" in volumes["model"] and volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    volumes = {v["name"]: v for v in _pod(objects(FULL_VALUES))["volumes"]}
    assert volumes["model"]["persistentVolumeClaim"] == {"claimName": "verm-models"}


def test_images_follow_the_registry_and_tag_values():
    default = _pod(objects())
    assert default["containers"][0]["image"] == "ghcr.io/visual-erm/visual-erm-rm-server:0.1.0"
    assert default["initContainers"][0]["image"] == default["containers"][0]["image"]
    full_docs = objects(FULL_VALUES)
    assert _pod(full_docs)["containers"][0]["image"] == "registry.example.com/ml/visual-erm-rm-server:0.2.0"
    job = one(full_docs, "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/ml/visual-erm-cpu:0.2.0"


def test_hpa_only_when_enabled_and_replicas_left_to_it():
    assert by_kind(objects(), "HorizontalPodAutoscaler") == []
    assert one(objects(), "Deployment")["spec"]["replicas"] == 1
    docs = objects(FULL_VALUES)
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": one(docs, "Deployment")["metadata"]["name"]}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert "replicas" not in one(docs, "Deployment")["spec"]


# ---- platform wiring -------------------------------------------------------------------------------------------
def test_kfp_launcher_configmap_points_the_pipeline_root_at_minio():
    cm = one(objects(), "ConfigMap", "kfp-launcher")
    assert cm["metadata"]["name"] == "kfp-launcher"
    assert cm["data"]["defaultPipelineRoot"] == "s3://visual-erm/pipeline-root"
    s3 = yaml.safe_load(cm["data"]["providers"])["s3"]["default"]
    assert s3["endpoint"] == "minio-service.kubeflow:9000"
    assert s3["disableSSL"] is True and s3["forcePathStyle"] is True and s3["region"] == "us-east-1"
    assert s3["credentials"] == {"fromEnv": False, "secretRef": {
        "secretName": "mlpipeline-minio-artifact", "accessKeyKey": "accesskey", "secretKeyKey": "secretkey"}}

    cm = one(objects(FULL_VALUES), "ConfigMap", "kfp-launcher")
    assert cm["data"]["defaultPipelineRoot"] == "s3://verm-prod/kfp/root"
    s3 = yaml.safe_load(cm["data"]["providers"])["s3"]["default"]
    assert s3["endpoint"] == "minio.storage.svc:9000"  # the launcher wants host:port
    assert s3["disableSSL"] is False and s3["region"] == "eu-west-1"
    assert s3["credentials"]["secretRef"]["secretName"] == "verm-minio"


def test_secrets_come_from_values_or_existing_secrets():
    assert by_kind(objects(), "Secret") == []
    assert by_kind(objects(FULL_VALUES), "Secret") == []
    secrets = {s["metadata"]["name"]: s for s in by_kind(objects(CREATED_SECRETS), "Secret")}
    s3 = secrets[f"{RELEASE}-visual-erm-s3"]["data"]
    assert base64.b64decode(s3["accesskey"]).decode() == ACCESS_SENTINEL
    assert base64.b64decode(s3["secretkey"]).decode() == SECRET_SENTINEL
    wandb = secrets[f"{RELEASE}-visual-erm-wandb"]["data"]
    assert base64.b64decode(wandb["WANDB_API_KEY"]).decode() == WANDB_SENTINEL
    cm = one(objects(CREATED_SECRETS), "ConfigMap", "kfp-launcher")
    assert yaml.safe_load(cm["data"]["providers"])["s3"]["default"]["credentials"]["secretRef"]["secretName"] == \
        f"{RELEASE}-visual-erm-s3"


def test_no_secret_value_outside_secrets():
    for name, doc in ((d["kind"], d) for d in objects(CREATED_SECRETS)):
        if name == "Secret":
            continue
        text = json.dumps(doc)
        for sentinel in (ACCESS_SENTINEL, SECRET_SENTINEL, WANDB_SENTINEL):
            assert sentinel not in text, f"{doc['kind']}/{doc['metadata']['name']} leaks a credential"
            assert base64.b64encode(sentinel.encode()).decode() not in text
    for cm in by_kind(objects(CREATED_SECRETS), "ConfigMap"):
        for key in cm["data"]:
            assert "SECRET_KEY" not in key.upper() and "API_KEY" not in key.upper()


def test_rbac_binds_the_runner_role_to_its_service_account():
    docs = objects(FULL_VALUES)
    sa, role, binding = one(docs, "ServiceAccount"), one(docs, "Role"), one(docs, "RoleBinding")
    assert sa["metadata"]["name"] == "verm-runner"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "verm-runner", "namespace": NAMESPACE}]
    secrets_rule = [r for r in role["rules"] if r["resources"] == ["secrets"]]
    assert secrets_rule == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["verm-minio", "mlpipeline-minio-artifact", "verm-wandb"],
                             "verbs": ["get"]}]
    assert {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list"]} in role["rules"]
    assert all("*" not in r["verbs"] for r in role["rules"])
    default_role = one(objects(), "Role")
    assert [r["resourceNames"] for r in default_role["rules"] if r["resources"] == ["secrets"]] == \
        [["mlpipeline-minio-artifact"]]
    assert by_kind(objects({"pipelineRunner": {"create": False}}), "Role") == []


def test_schedule_job_is_a_hook_running_create_schedule_with_the_values():
    assert by_kind(objects(), "Job") == []
    job = one(objects(FULL_VALUES), "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "post-install,post-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "/opt/visual-erm/infra/scripts/create_schedule.py"]

    # the arguments the Job passes are exactly what the script accepts
    spec = _create_schedule().build_spec(_create_schedule().build_parser().parse_args(container["args"]))
    assert spec.name == "nightly-retrain" and spec.experiment == "visual-erm-nightly"
    assert spec.pipeline_name == "visual-erm-e2e" and spec.version_id is None
    assert spec.cron == "0 0 2 * * *"
    assert spec.params == FULL_VALUES["schedule"]["params"]
    assert spec.service_account == "verm-runner" and spec.replace and spec.no_catchup
    assert "--host=http://ml-pipeline.kubeflow:8888" in container["args"]


def _create_schedule():
    path = ROOT / "infra" / "scripts" / "create_schedule.py"
    spec = importlib.util.spec_from_file_location("verm_create_schedule_for_chart", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# ---- documentation ---------------------------------------------------------------------------------------------
def _gen_readme():
    spec = importlib.util.spec_from_file_location("verm_gen_readme", ROOT / "charts" / "gen_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_value_is_documented_and_the_readme_table_is_fresh():
    gen = _gen_readme()
    values_text = (CHART / "values.yaml").read_text()
    documented, undocumented = gen.parse_values_doc(values_text)
    assert undocumented == [], "add a `# --` comment to these values"
    assert gen.update_readme(CHART, check=True), "README.md is stale: python charts/gen_readme.py charts/visual-erm"
    readme = (CHART / "README.md").read_text()
    for key in yaml.safe_load(values_text):
        assert f"| `{key}" in readme, f"top-level value {key} is not in README.md"
    assert len(documented) > 50
