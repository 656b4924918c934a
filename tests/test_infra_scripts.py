"""infra/scripts: the argument building of upload_pipeline.py and create_schedule.py, and their single network
function against a recording stand-in for ``kfp.Client`` (no KFP server exists here)."""


import json
from types import SimpleNamespace as NS

import pytest
import yaml

from infra.scripts import create_schedule as cs
from infra.scripts import upload_pipeline as up


class RecordingClient:
    """Answers the ``kfp.Client`` calls the scripts make, from a small in-memory state, and records them."""

    def __init__(self, pipelines=None, versions=None, recurring=None):
        self.pipelines = dict(pipelines or {})          # name -> id
        self.versions = dict(versions or {})            # pipeline id -> [(version id, name)] newest first
        self.recurring = list(recurring or [])          # [(id, name)]
        self.calls: list[tuple[str, dict]] = []

    def _log(self, call, **kw):
        self.calls.append((call, kw))

    def create_experiment(self, name, description=None, namespace=None):
        self._log("create_experiment", name=name, namespace=namespace)
        return NS(experiment_id=f"exp-{name}")

    def get_pipeline_id(self, name):
        self._log("get_pipeline_id", name=name)
        return self.pipelines.get(name)

    def list_pipeline_versions(self, pipeline_id, page_token="", page_size=10, sort_by="", filter=None):
        self._log("list_pipeline_versions", pipeline_id=pipeline_id, sort_by=sort_by, filter=filter)
        versions = self.versions.get(pipeline_id, [])
        if filter:
            wanted = json.loads(filter)["predicates"][0]["stringValue"]
            versions = [v for v in versions if v[1] == wanted]
        return NS(pipeline_versions=[NS(pipeline_version_id=v, display_name=n) for v, n in versions[:page_size]]
                  or None)

    def list_recurring_runs(self, experiment_id=None, filter=None, page_size=10, **kw):
        self._log("list_recurring_runs", experiment_id=experiment_id, filter=filter)
        wanted = json.loads(filter)["predicates"][0]["stringValue"]
        return NS(recurring_runs=[NS(recurring_run_id=i, display_name=n) for i, n in self.recurring if n == wanted]
                  or None)

    def delete_recurring_run(self, recurring_run_id):
        self._log("delete_recurring_run", recurring_run_id=recurring_run_id)

    def create_recurring_run(self, **kwargs):
        self._log("create_recurring_run", **kwargs)
        return NS(recurring_run_id="rr-new")

    def upload_pipeline(self, **kwargs):
        self._log("upload_pipeline", **kwargs)
        self.versions["p-new"] = [("v-first", "first")]
        return NS(pipeline_id="p-new")

    def upload_pipeline_version(self, **kwargs):
        self._log("upload_pipeline_version", **kwargs)
        return NS(pipeline_version_id="v-new", pipeline_id=kwargs["pipeline_id"])

    def names(self):
        return [c[0] for c in self.calls]


# ---- create_schedule -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expr,expected", [
    ("0 3 * * 0", "0 0 3 * * 0"),
    ("*/15 * * * *", "0 */15 * * * *"),
    ("30 0 3 ? * MON-FRI", "30 0 3 ? * MON-FRI"),
    ("  0  3 * *  0 ", "0 0 3 * * 0"),
])
def test_normalize_cron(expr, expected):
    assert cs.normalize_cron(expr) == expected


@pytest.mark.parametrize("expr", ["", "0 3 * *", "0 0 0 3 * * * *", "0 3 * * 0; rm -rf /", "@daily"])
def test_normalize_cron_rejects(expr):
    with pytest.raises(ValueError):
        cs.normalize_cron(expr)


def test_parse_params(tmp_path):
    assert cs.parse_params("") == {} and cs.parse_params(None) == {}
    assert cs.parse_params('{"rm_epochs": 2, "synth_tasks": ["chart", "svg"]}') == {
        "rm_epochs": 2, "synth_tasks": ["chart", "svg"]}
    f = tmp_path / "p.json"
    f.write_text('{"a": 1}')
    assert cs.parse_params(f"@{f}") == {"a": 1}
    with pytest.raises(ValueError, match="JSON object"):
        cs.parse_params("[1, 2]")
    with pytest.raises(ValueError, match="not valid JSON"):
        cs.parse_params("{a: 1")


def _spec(*extra):
    args = cs.build_parser().parse_args(["--host", "http://kfp:8888", "--name", "nightly", "--experiment", "retrain",
                                         "--cron", "0 2 * * *", *extra])
    return cs.build_spec(args)


def test_build_spec_and_recurring_run_kwargs():
    spec = _spec("--pipeline-name", "visual-erm-e2e", "--params-json", '{"rm_epochs": 1}', "--no-catchup",
                 "--service-account", "runner", "--max-concurrency", "2")
    kwargs = cs.recurring_run_kwargs(spec, experiment_id="e1", version_id="v1", pipeline_id="p1")
    assert kwargs == {"experiment_id": "e1", "job_name": "nightly", "description": None,
                      "cron_expression": "0 0 2 * * *", "max_concurrency": 2, "no_catchup": True,
                      "params": {"rm_epochs": 1}, "pipeline_id": "p1", "version_id": "v1", "enabled": True,
                      "service_account": "runner"}
    # every key is a real parameter of kfp.Client.create_recurring_run
    import inspect

    import kfp

    accepted = set(inspect.signature(kfp.Client.create_recurring_run).parameters)
    assert set(kwargs) <= accepted
    assert "service_account" not in cs.recurring_run_kwargs(_spec("--version-id", "v9"), experiment_id="e",
                                                            version_id="v9")
    with pytest.raises(SystemExit):
        cs.build_parser().parse_args(["--host", "h", "--name", "n", "--experiment", "e", "--cron", "0 2 * * *"])
    with pytest.raises(ValueError):
        _spec("--version-id", "v1", "--max-concurrency", "0")


def test_apply_schedule_resolves_the_latest_version_and_creates():
    client = RecordingClient(pipelines={"visual-erm-e2e": "p1"}, versions={"p1": [("v2", "b"), ("v1", "a")]})
    summary = cs.apply_schedule(client, _spec("--pipeline-name", "visual-erm-e2e"))
    assert summary == {"action": "created", "experiment_id": "exp-retrain", "pipeline_id": "p1", "version_id": "v2",
                       "recurring_run_id": "rr-new"}
    assert client.names() == ["create_experiment", "get_pipeline_id", "list_pipeline_versions",
                              "list_recurring_runs", "create_recurring_run"]
    assert dict(client.calls)["list_pipeline_versions"]["sort_by"] == "created_at desc"
    created = dict(client.calls)["create_recurring_run"]
    assert created["version_id"] == "v2" and created["experiment_id"] == "exp-retrain"


def test_apply_schedule_keeps_or_replaces_an_existing_run():
    client = RecordingClient(recurring=[("rr-old", "nightly"), ("rr-other", "weekly")])
    kept = cs.apply_schedule(client, _spec("--version-id", "v7"))
    assert kept["action"] == "kept" and kept["recurring_run_id"] == "rr-old"
    assert "create_recurring_run" not in client.names()

    client = RecordingClient(recurring=[("rr-old", "nightly")])
    replaced = cs.apply_schedule(client, _spec("--version-id", "v7", "--replace"))
    assert replaced["action"] == "replaced" and replaced["version_id"] == "v7"
    assert client.names()[-2:] == ["delete_recurring_run", "create_recurring_run"]
    assert dict(client.calls)["delete_recurring_run"] == {"recurring_run_id": "rr-old"}


def test_apply_schedule_explains_a_missing_pipeline():
    with pytest.raises(LookupError, match="upload it first"):
        cs.apply_schedule(RecordingClient(), _spec("--pipeline-name", "nope"))


def test_create_schedule_main_rejects_bad_input_before_any_network(capsys):
    assert cs.main(["--host", "http://127.0.0.1:9", "--name", "n", "--experiment", "e", "--version-id", "v",
                    "--cron", "every day"]) == 2
    assert "cron expression" in capsys.readouterr().err


# ---- upload_pipeline -------------------------------------------------------------------------------------------
@pytest.fixture
def package(tmp_path):
    path = tmp_path / "e2e.yaml"
    docs = [{"pipelineInfo": {"name": "visual-erm-e2e"}, "root": {"dag": {"tasks": {}}}, "schemaVersion": "2.1.0"},
            {"platforms": {"kubernetes": {}}}]
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_build_upload_spec_defaults(package):
    spec = up.build_spec(str(package), version="0.1.0")
    assert spec.pipeline_name == "visual-erm-e2e"
    assert spec.version_name == f"0.1.0-{up.package_sha256(package)[:12]}"
    assert up.build_spec(str(package), pipeline_name="other", version_name="v1").version_name == "v1"
    with pytest.raises(FileNotFoundError, match="compile the pipeline first"):
        up.build_spec(str(package.with_name("missing.yaml")))
    bad = package.with_name("notes.txt")
    bad.write_text("x")
    with pytest.raises(ValueError):
        up.build_spec(str(bad))


def test_upload_kwargs_match_the_kfp_client(package):
    import inspect

    import kfp

    spec = up.build_spec(str(package), version="0.1.0", description="nightly build")
    first = up.upload_pipeline_kwargs(spec)
    later = up.upload_version_kwargs(spec, "p1")
    assert first == {"pipeline_package_path": str(package), "pipeline_name": "visual-erm-e2e",
                     "description": "nightly build", "namespace": None}
    assert later == {"pipeline_package_path": str(package), "pipeline_version_name": spec.version_name,
                     "pipeline_id": "p1", "description": "nightly build"}
    assert set(first) <= set(inspect.signature(kfp.Client.upload_pipeline).parameters)
    assert set(later) <= set(inspect.signature(kfp.Client.upload_pipeline_version).parameters)


def test_upload_creates_versions_or_detects_the_same_build(package):
    spec = up.build_spec(str(package), version="0.1.0")
    client = RecordingClient()
    assert up.upload(client, spec) == {"action": "created", "pipeline_id": "p-new", "version_id": "v-first"}

    client = RecordingClient(pipelines={"visual-erm-e2e": "p1"}, versions={"p1": [("v1", "0.0.9-abc")]})
    assert up.upload(client, spec) == {"action": "versioned", "pipeline_id": "p1", "version_id": "v-new"}
    assert dict(client.calls)["upload_pipeline_version"]["pipeline_version_name"] == spec.version_name

    client = RecordingClient(pipelines={"visual-erm-e2e": "p1"}, versions={"p1": [("v5", spec.version_name)]})
    assert up.upload(client, spec) == {"action": "exists", "pipeline_id": "p1", "version_id": "v5"}
    assert "upload_pipeline_version" not in client.names()


def test_upload_reads_the_name_of_a_really_compiled_pipeline(tmp_path):
    from kfp import compiler, dsl

    @dsl.component(base_image="python:3.11-slim", install_kfp_package=False)
    def hello(x: int) -> int:
        return x

    @dsl.pipeline(name="verm-hello")
    def pipe(x: int = 1):
        hello(x=x)

    path = tmp_path / "hello.yaml"
    compiler.Compiler().compile(pipe, str(path))
    assert up.compiled_pipeline_name(path) == "verm-hello"
