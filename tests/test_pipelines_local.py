"""Pipelines run locally (kfp.local SubprocessRunner in this interpreter, pipeline root in tmp), each stage alone
from an earlier run's artifacts; and the argument building of `verm pipeline` (submit/schedule need a KFP server
and are not run here: only their pure argument-building functions, shared with infra/scripts, are tested)."""

import json
import time
from pathlib import Path

import pytest

from visual_erm import pipeline_cli

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory):
    """One tiny synthesize-stage run; later tests start from its dataset."""
    run_dir = tmp_path_factory.mktemp("synth-run")
    summary = pipeline_cli.run_local("synthesize", {"synth_tasks": "chart,table,svg", "synth_n": 12, "synth_seed": 0},
                                     run_dir)
    return run_dir, summary


def test_synthesize_stage_lays_out_the_run_folder(synth_run):
    run_dir, summary = synth_run
    assert summary["ok"] and summary["pipeline"] == "visual-erm-synthesize"
    manifest = json.loads((run_dir / "dataset" / "manifest.json").read_text())
    assert manifest["counts"]["pairs"] > 0 and set(manifest["counts"]["by_task"]) <= {"chart", "svg", "table"}
    assert (run_dir / "dataset-preview.html").read_text().count("<img") > 0
    assert json.loads((run_dir / "preflight.json").read_text())["ok"] is True
    assert json.loads((run_dir / "run.json").read_text())["outputs"]["dataset"] == str(run_dir / "dataset")


def test_validate_stage_alone_from_an_earlier_dataset(synth_run, tmp_path):
    run_dir, _ = synth_run
    dataset = (run_dir / "dataset").resolve()
    summary = pipeline_cli.run_local("validate", {"synth_dataset_uri": str(dataset)}, tmp_path / "v")
    assert summary["ok"]
    assert (tmp_path / "v" / "data-docs" / "data_docs" / "index.html").is_file()
    assert (tmp_path / "v" / "data-docs" / "report.html").is_file()
    assert (tmp_path / "v" / "dataset").resolve() == dataset  # the imported artifact is linked, not copied


def test_bench_critic_stage_alone_from_an_earlier_dataset(synth_run, tmp_path):
    run_dir, _ = synth_run
    summary = pipeline_cli.run_local("bench-critic", {"bench_set_uri": str((run_dir / "dataset").resolve()),
                                                      "bench_critic": "structural"}, tmp_path / "b")
    assert summary["ok"]
    metrics = json.loads((tmp_path / "b" / "bench" / "critic" / "metrics.json").read_text())
    assert metrics["summary"]["n_items"] > 0
    assert "<html" in (tmp_path / "b" / "bench" / "critic" / "report.html").read_text().lower()


def test_train_rm_then_train_policy_stages_alone_from_earlier_artifacts(synth_run, tmp_path):
    """train-rm alone from an earlier dataset; then train-policy alone from that dataset and that reward model."""
    run_dir, _ = synth_run
    dataset = (run_dir / "dataset").resolve()
    rm = pipeline_cli.run_local("train-rm", {"synth_dataset_uri": str(dataset), "rm_max_steps": 2}, tmp_path / "rm")
    assert rm["ok"]
    model = (tmp_path / "rm" / "reward-model").resolve()
    assert (model / "config.json").is_file() and json.loads((model / "metrics.json").read_text())["steps"] == 2
    pol = pipeline_cli.run_local("train-policy", {"synth_dataset_uri": str(dataset), "rm_model_uri": str(model),
                                                  "rl_max_steps": 1}, tmp_path / "pol")
    assert pol["ok"]
    policy = tmp_path / "pol" / "policy"
    assert (policy / "config.json").is_file()
    assert json.loads((policy / "metrics.json").read_text())["steps"] == 1


def test_bench_policy_stage_alone_from_responses(synth_run, tmp_path):
    """A policy's responses of an earlier run (here: a perfect scripted policy) scored on the earlier dataset."""
    from visual_erm.bench.policy import load_policy_items
    from visual_erm.rl.policy import reference_answer

    run_dir, _ = synth_run
    dataset = (run_dir / "dataset").resolve()
    items = load_policy_items(dataset, split="test")[:4]
    responses = tmp_path / "responses.jsonl"
    responses.write_text("".join(json.dumps({"id": it.id, "response": reference_answer(it.task, it.reference_code)})
                                 + "\n" for it in items))
    summary = pipeline_cli.run_local("bench-policy", {"bench_set_uri": str(dataset),
                                                      "bench_policy_responses_uri": str(responses),
                                                      "bench_max_items": 4}, tmp_path / "bp")
    assert summary["ok"]
    metrics = json.loads((tmp_path / "bp" / "bench" / "policy" / "metrics.json").read_text())
    assert metrics["overall"]["exec_rate"] == 1.0


def test_stage_without_its_input_fails_in_preflight(tmp_path):
    with pytest.raises(RuntimeError):
        pipeline_cli.run_local("validate", {}, tmp_path / "x")
    report = json.loads(next((tmp_path / "x" / "pipeline-root").rglob("report")).read_text())
    assert any("synth_dataset_uri is required" in p for p in report["problems"])
    assert json.loads((tmp_path / "x" / "run.json").read_text())["ok"] is False


def test_publish_stage_alone(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    summary = pipeline_cli.run_local("publish", {"publish_model_uri": str(model)}, tmp_path / "p")
    dest = tmp_path / "p" / "published" / "model"
    assert summary["ok"] and (dest / "_VERM_COMPLETE.json").is_file() and (dest / "README.md").is_file()


def test_publish_stage_alone_goes_to_the_s3_server_when_one_is_configured(tmp_path, s3_env, s3_bucket, monkeypatch):
    """With VERM_S3_ENDPOINT set (here: the S3 test server on 127.0.0.1), a local run publishes to a run-specific
    prefix of the bucket, never to a local folder and never to the cluster's .../latest."""
    from visual_erm import storage

    monkeypatch.setenv("VERM_S3_BUCKET", s3_bucket)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"a": 1}')
    summary = pipeline_cli.run_local("publish", {"publish_model_uri": str(model)}, tmp_path / "p")
    uri = f"s3://{s3_bucket}/runs/p/published/model"
    assert summary["ok"] and not (tmp_path / "p" / "published" / "model").exists()
    got = storage.fetch_dir(uri, tmp_path / "back", marker=None)  # refuses an incomplete prefix
    assert json.loads((got / "config.json").read_text()) == {"a": 1} and (got / "README.md").is_file()


@pytest.mark.slow
def test_e2e_tiny_from_an_earlier_dataset(synth_run, tmp_path):
    """The whole graph with the tiny profile, starting from the earlier dataset (synthesis skipped via the
    importer branch); measures the run time (printed; `make demo` runs the same with synthesis)."""
    run_dir, _ = synth_run
    t0 = time.perf_counter()
    summary = pipeline_cli.run_local("e2e", {"synth_dataset_uri": str((run_dir / "dataset").resolve())},
                                     tmp_path / "e2e")
    seconds = time.perf_counter() - t0
    print(f"e2e tiny local run: {seconds:.1f} s")
    out = tmp_path / "e2e"
    assert summary["ok"]
    for rel in ("data-docs/report.html", "bench/rm/report.html", "bench/baseline/metrics.json", "gate.json",
                "reward-model", "published/reward-model/README.md", "published/reward-model/_VERM_COMPLETE.json",
                "policy", "rl/reflect.json", "rl/responses.jsonl", "rl/curves.png", "bench/policy/report.html",
                "bench/policy/metrics.json", "published/policy/README.md", "published/policy/_VERM_COMPLETE.json"):
        assert (out / rel).exists(), rel
    assert not list((out / "pipeline-root").glob("*/synthesize"))  # the importer replaced the synthesize step
    assert json.loads((out / "gate.json").read_text())["decision"] == "train"  # rl_gate=off in the tiny profile
    assert len(json.loads((out / "rl" / "reflect.json").read_text())["rounds"]) >= 1


# ---- argument building (no server) --------------------------------------------------------------------------
def test_parse_params_types():
    known = pipeline_cli.pipeline_parameters("e2e")
    params = pipeline_cli.parse_params(["synth_n=12", "synth_identity_share=0.2", "rl_gate=off",
                                        'k8s_node_selector={"pool": "a100"}', "k8s_gpu_tolerations=[]"], known)
    assert params == {"synth_n": 12, "synth_identity_share": 0.2, "rl_gate": "off",
                      "k8s_node_selector": {"pool": "a100"}, "k8s_gpu_tolerations": []}
    for bad in ("synth_n=many", "nope=1", "synth_n", "k8s_node_selector=[1]"):
        with pytest.raises(ValueError):
            pipeline_cli.parse_params([bad], known)


def test_local_params_tiny_profile_and_overrides(tmp_path):
    params = pipeline_cli.local_params("e2e", {"synth_n": 5}, tmp_path)
    assert params["synth_n"] == 5 and params["rm_profile"] == "tiny"
    assert params["publish_rm_uri"] == str(tmp_path.absolute() / "published" / "reward-model")
    assert "rm_profile" not in pipeline_cli.local_params("synthesize", {}, tmp_path)  # only the stage's own
    with pytest.raises(ValueError, match="unknown parameter"):
        pipeline_cli.local_params("synthesize", {"rm_profile": "tiny"}, tmp_path)


def test_submit_and_schedule_arguments(tmp_path):
    (path,) = pipeline_cli.compile_all(tmp_path, stages=["e2e"])
    spec = pipeline_cli.upload_spec(path, version="0.1.0")
    assert spec.pipeline_name == "visual-erm-e2e" and spec.version_name.startswith("0.1.0-")
    kwargs = pipeline_cli.run_kwargs(experiment_id="e", run_name="r", pipeline_id="p", version_id="v",
                                     params={"synth_n": 3}, enable_caching=False)
    assert kwargs == {"experiment_id": "e", "job_name": "r", "params": {"synth_n": 3}, "pipeline_id": "p",
                      "version_id": "v", "enable_caching": False}
    sched = pipeline_cli.schedule_spec(name="n", experiment="x", cron="0 3 * * 0", pipeline_name="visual-erm-e2e",
                                       params={"rl_gate": "on"})
    assert sched.cron == "0 0 3 * * 0" and sched.replace and sched.no_catchup
    cs = pipeline_cli._load_script("create_schedule")
    rr = cs.recurring_run_kwargs(sched, experiment_id="e", version_id="v", pipeline_id="p")
    assert rr["cron_expression"] == "0 0 3 * * 0" and rr["params"] == {"rl_gate": "on"}
    with pytest.raises(ValueError):
        pipeline_cli.schedule_spec(name="n", experiment="x", cron="every day", pipeline_name="p", params={})


def test_cli_compile_and_run_need_local(tmp_path):
    from typer.testing import CliRunner

    from visual_erm.cli import app

    res = CliRunner().invoke(app, ["pipeline", "compile", "--out", str(tmp_path), "--stage", "validate",
                                   "--timeout", "validate=42"])
    assert res.exit_code == 0, res.output
    assert "activeDeadlineSeconds: '42'" in (tmp_path / "validate.yaml").read_text()
    res = CliRunner().invoke(app, ["pipeline", "run", "--stage", "validate"])
    assert res.exit_code == 2 and "--local" in res.output
    res = CliRunner().invoke(app, ["pipeline", "compile", "--out", str(tmp_path), "--timeout", "nostep=1"])
    assert res.exit_code == 2
