"""`verm pipeline`: compile, run locally, submit and schedule the Kubeflow pipelines (pipelines/ in the repository).

    verm pipeline compile [--out pipelines/compiled] [--timeout STEP=SECONDS] [--retries STEP=N]
    verm pipeline run --local [--stage NAME] [--param k=v ...] [--run-dir runs/demo] [--full-size]
    verm pipeline submit --host URL [--stage NAME] [--param k=v ...] [--experiment NAME] [--run-name NAME]
    verm pipeline schedule --host URL --cron "0 3 * * 0" [--name ...] [--experiment ...] [--param k=v ...]

The pipelines and components live at the repository root (``pipelines/``, ``components/``), not in the installed
package: these commands run from a checkout (the root is found from the current directory, ``VERM_REPO_ROOT``,
or this file's location in an editable install).

``submit`` and ``schedule`` go through ``kfp.Client`` and reuse infra/scripts/upload_pipeline.py (upload the
compiled YAML as a pipeline version, named after its sha256) and infra/scripts/create_schedule.py (the recurring
run). Without a KFP server they are untested here; their argument building is (tests/test_pipelines_local.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import typer

pipeline_app = typer.Typer(help="Kubeflow pipelines: compile, run locally (kfp.local), submit, schedule.",
                           no_args_is_help=True)

E2E = "e2e"


# ---------------------------------------------------------------------------------------------------------------
# locating the repository and its pipelines
# ---------------------------------------------------------------------------------------------------------------
def repo_root() -> Path:
    """The checkout holding ``pipelines/`` and ``components/`` (put on sys.path)."""
    candidates = [os.environ.get("VERM_REPO_ROOT"), os.getcwd(), str(Path(__file__).resolve().parents[2])]
    for c in candidates:
        if c and (Path(c) / "pipelines" / "e2e.py").is_file() and (Path(c) / "components").is_dir():
            root = Path(c).resolve()
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            return root
    raise FileNotFoundError("cannot find the repository (pipelines/e2e.py): run from the checkout or set "
                            "VERM_REPO_ROOT")


def _load_script(name: str):
    """infra/scripts/<name>.py as a module (the scripts are not a package)."""
    path = repo_root() / "infra" / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"verm_infra_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


def stage_names() -> list[str]:
    repo_root()
    from pipelines import stages

    return [E2E, *stages.STAGES]


def build(stage: str = E2E, options=None):
    """The pipeline object of ``stage`` (``e2e`` or a key of pipelines.stages.STAGES) built with ``options``."""
    repo_root()
    from pipelines import e2e, stages
    from pipelines.params import DEFAULT_OPTIONS

    opts = options or DEFAULT_OPTIONS
    if stage == E2E:
        return e2e.build_e2e(opts)
    if stage not in stages.STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(stage_names())}")
    return stages.STAGES[stage](opts)


def compiled_name(stage: str) -> str:
    return f"{stage}.yaml"


def compile_all(out_dir: str | Path, options=None, stages: list[str] | None = None) -> list[Path]:
    """Compile every pipeline (or ``stages``) into ``out_dir/<stage>.yaml``; returns the paths."""
    from kfp import compiler

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for stage in stages or stage_names():
        path = out_dir / compiled_name(stage)
        compiler.Compiler().compile(build(stage, options), str(path))
        paths.append(path)
    return paths


def pipeline_parameters(stage: str = E2E) -> dict[str, Any]:
    """Name -> default of the pipeline's parameters (from its component spec)."""
    pipe = build(stage)
    return {name: spec.default for name, spec in pipe.component_spec.inputs.items()}


# ---------------------------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------------------------
def parse_param(item: str, known: dict[str, Any] | None = None) -> tuple[str, Any]:
    """``k=v`` → (k, v) with v converted to the parameter's type (JSON for dict/list parameters)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--param takes NAME=VALUE, got {item!r}")
    repo_root()
    from pipelines.params import PARAMS

    if known is not None and key not in known:
        raise ValueError(f"unknown parameter {key!r} for this pipeline; parameters: {', '.join(sorted(known))}")
    ptype = PARAMS[key].type if key in PARAMS else str
    try:
        if ptype is bool:
            value: Any = raw.strip().lower() in ("1", "true", "yes", "on")
        elif ptype is int:
            value = int(raw)
        elif ptype is float:
            value = float(raw)
        elif ptype in (dict, list):
            value = json.loads(raw)
            if not isinstance(value, ptype):
                raise ValueError(f"expected a JSON {ptype.__name__}")
        else:
            value = raw
    except ValueError as exc:
        raise ValueError(f"--param {key}: cannot read {raw!r} as {ptype.__name__} ({exc})") from None
    return key, value


def parse_params(items: list[str], known: dict[str, Any] | None = None) -> dict[str, Any]:
    return dict(parse_param(i, known) for i in items)


#: Bucket of a local run's published models when VERM_S3_ENDPOINT is set (VERM_S3_BUCKET overrides).
DEMO_BUCKET = "visual-erm"


def local_params(stage: str, user: dict[str, Any], run_dir: Path, *, tiny: bool = True) -> dict[str, Any]:
    """The arguments of a local run: the tiny profile (for the parameters this pipeline has), publish destinations,
    then the user's ``--param`` values (which win).

    Publish destinations are folders under ``run_dir/published``, or, when ``VERM_S3_ENDPOINT`` points at an
    S3-compatible server (MinIO, or the local test server), ``s3://$VERM_S3_BUCKET/runs/<run folder name>/
    published/...`` (bucket default ``visual-erm``; it must exist): a run-specific prefix, never the
    cluster's stable ``.../latest``."""
    repo_root()
    from pipelines.params import LOCAL_TINY

    known = pipeline_parameters(stage)
    unknown = sorted(set(user) - set(known))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for pipeline {stage}; parameters: {', '.join(sorted(known))}")
    params: dict[str, Any] = {}
    if tiny:
        params.update({k: v for k, v in LOCAL_TINY.items() if k in known})
    s3_prefix = None
    if os.environ.get("VERM_S3_ENDPOINT"):
        s3_prefix = f"s3://{os.environ.get('VERM_S3_BUCKET', DEMO_BUCKET)}/runs/{run_dir.absolute().name}/published"
    for name, sub in (("publish_rm_uri", "reward-model"), ("publish_policy_uri", "policy"),
                      ("publish_uri", "model")):
        if name in known:
            params[name] = f"{s3_prefix}/{sub}" if s3_prefix else str((run_dir / "published" / sub).absolute())
    params.update(user)
    return params


def localize_inputs(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Local runs read artifacts from local paths only (kfp.local's importer cannot fetch s3://): download s3://
    input URIs through the project's storage layer and pass the local copies."""
    from visual_erm import storage

    out = dict(params)
    for name, value in params.items():
        if name.endswith("_uri") and isinstance(value, str) and storage.is_s3_uri(value) and not name.startswith(
                "publish_") and name != "rm_out_uri":
            marker = storage.DEFAULT_MARKER if name in ("synth_dataset_uri", "bench_set_uri") else None
            out[name] = str(storage.resolve_input(value, workdir, marker=marker))
        elif name.endswith("_uri") and isinstance(value, str) and value and not storage.is_s3_uri(value):
            out[name] = str(Path(value).expanduser().absolute()) if not name.startswith("publish_") else value
    return out


# ---------------------------------------------------------------------------------------------------------------
# local runs
# ---------------------------------------------------------------------------------------------------------------
def display_names(pipe) -> dict[str, str]:
    """Task key → display name over every DAG of the compiled pipeline (conditions included)."""
    spec = pipe.pipeline_spec
    names = {}
    dags = [spec.root.dag] + [c.dag for c in spec.components.values() if c.HasField("dag")]
    for dag in dags:
        for key, task in dag.tasks.items():
            names[key] = task.task_info.name or key
    return names


#: Readable layout of a run folder: (display name of the task, output name) → path in the run folder.
LAYOUT = [
    ("synthesize", "dataset", "dataset"),
    ("synthesize", "preview", "dataset-preview.html"),
    ("import-dataset", "artifact", "dataset"),
    ("validate", "data_docs", "data-docs"),
    ("train-reward-model", "model", "reward-model"),
    ("import-reward-model", "artifact", "reward-model"),
    ("benchmark-rm", "report", "bench/rm/report.html"),
    ("benchmark-rm", "results", "bench/rm/metrics.json"),
    ("benchmark-baseline", "report", "bench/baseline/report.html"),
    ("benchmark-baseline", "results", "bench/baseline/metrics.json"),
    ("benchmark-critic", "report", "bench/critic/report.html"),
    ("benchmark-critic", "results", "bench/critic/metrics.json"),
    ("gate", "decision", "gate.json"),
    ("preflight", "report", "preflight.json"),
    ("train-policy", "model", "policy"),
    ("import-policy", "artifact", "policy"),
    ("reflect-policy", "report", "rl/reflect.json"),
    ("reflect-policy", "responses", "rl/responses.jsonl"),
    ("benchmark-policy", "report", "bench/policy/report.html"),
    ("benchmark-policy", "results", "bench/policy/metrics.json"),
    ("publish-reward-model", "card", "published/reward-model.card.md"),
    ("publish-policy", "card", "published/policy.card.md"),
    ("publish", "card", "published/model.card.md"),
]


#: URI parameters (imported artifacts) → readable name in the run folder.
IMPORTED = {"synth_dataset_uri": "dataset", "rm_model_uri": "reward-model", "bench_set_uri": "bench-set",
            "publish_model_uri": "model", "rl_policy_uri": "policy"}


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)
    link.symlink_to(os.path.relpath(target, link.parent))


def write_rl_curves(metrics_json: Path, out_dir: Path) -> list[Path]:
    """The RL curves of a trained policy (its metrics.json ``reward_curve``): curves.json and curves.png."""
    if not metrics_json.is_file():
        return []
    try:
        curve = json.loads(metrics_json.read_text()).get("reward_curve") or []
    except (OSError, ValueError):
        return []
    if not curve:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "curves.json").write_text(json.dumps(curve, indent=1) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [row.get("step", i + 1) for i, row in enumerate(curve)]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in ("reward", "render_success", "visual_erm_fidelity"):
        ys = [row.get(key) for row in curve]
        if any(y is not None for y in ys):
            ax.plot(steps, [float("nan") if y is None else y for y in ys], marker="o", label=key)
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("mean reward")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "curves.png", dpi=100)
    plt.close(fig)
    return [out_dir / "curves.json", out_dir / "curves.png"]


def collect_outputs(pipe, run_root: Path, run_dir: Path) -> dict[str, str]:
    """Symlink the outputs of a finished local run (``run_root`` = pipeline_root/<run>) into ``run_dir`` under
    readable names (LAYOUT); returns readable name → path. Every other output stays under pipeline-root/."""
    names = display_names(pipe)
    by_display: dict[str, Path] = {}
    for task_dir in sorted(p for p in run_root.iterdir() if p.is_dir()):
        by_display[names.get(task_dir.name, task_dir.name)] = task_dir
    found: dict[str, str] = {}
    for display, output, rel in LAYOUT:
        task_dir = by_display.get(display)
        if task_dir is None or rel in found:
            continue
        target = task_dir / output
        if not target.exists():
            continue
        _link(target, run_dir / rel)
        found[rel] = str(run_dir / rel)
    # the data docs site's entry points
    docs = run_dir / "data-docs"
    for entry in ("data_docs/index.html", "report.html"):
        if (docs / entry).exists():
            found[f"data-docs/{entry}"] = str(docs / entry)
    preview = run_dir / "dataset" / "preview.html"
    if preview.exists() and "dataset-preview.html" not in found:
        _link(preview.resolve(), run_dir / "dataset-preview.html")
        found["dataset-preview.html"] = str(run_dir / "dataset-preview.html")
    published = run_dir / "published"
    if published.is_dir():
        for sub in sorted(p for p in published.iterdir() if p.is_dir()):
            found[f"published/{sub.name}"] = str(sub)
    return found


def run_local(stage: str = E2E, params: dict[str, Any] | None = None, run_dir: str | Path = "runs/demo", *,
              tiny: bool = True) -> dict[str, Any]:
    """Run a pipeline with kfp.local (SubprocessRunner in this interpreter, pipeline root in ``run_dir``) and lay
    its outputs out under readable names in ``run_dir``; returns the summary also written to run.json."""
    repo_root()
    from kfp import local

    from pipelines import local_compat

    run_dir = Path(run_dir).absolute()
    run_dir.mkdir(parents=True, exist_ok=True)
    root = run_dir / "pipeline-root"
    root.mkdir(exist_ok=True)
    args = local_params(stage, params or {}, run_dir, tiny=tiny)
    args = localize_inputs(args, run_dir / ".inputs")
    local_compat.apply()
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    pipe = build(stage)
    before = {p.name for p in root.iterdir()}
    t0 = time.perf_counter()
    error = None
    try:
        pipe(**args)
    except Exception as exc:  # noqa: BLE001 - reported in run.json and re-raised below
        error = exc
    seconds = time.perf_counter() - t0
    new = sorted((p for p in root.iterdir() if p.name not in before and p.is_dir()), key=lambda p: p.stat().st_mtime)
    run_root = new[-1] if new else None
    outputs = collect_outputs(pipe, run_root, run_dir) if run_root else {}
    for name, rel in IMPORTED.items():  # an imported artifact has no task folder: link the URI it came from
        if args.get(name) and rel not in outputs and Path(args[name]).exists():
            _link(Path(args[name]), run_dir / rel)
            outputs[rel] = str(run_dir / rel)
    curves = write_rl_curves(run_dir / "policy" / "metrics.json", run_dir / "rl")
    outputs.update({f"rl/{c.name}": str(c) for c in curves})
    summary = {"pipeline": pipe.name, "stage": stage, "ok": error is None, "seconds": round(seconds, 1),
               "run_root": str(run_root) if run_root else None, "params": args, "outputs": outputs,
               "error": None if error is None else f"{type(error).__name__}: {error}"}
    (run_dir / "run.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    if error is not None:
        raise error
    return summary


# ---------------------------------------------------------------------------------------------------------------
# submit / schedule (kfp.Client; argument building is pure and tested)
# ---------------------------------------------------------------------------------------------------------------
def upload_spec(package: Path, *, pipeline_name: str | None = None, version_name: str | None = None,
                description: str | None = None, namespace: str | None = None, version: str | None = None):
    """infra/scripts/upload_pipeline.build_spec for a compiled package (version name ``<version>-<sha256[:12]>``)."""
    return _load_script("upload_pipeline").build_spec(str(package), pipeline_name=pipeline_name,
                                                      version_name=version_name, description=description,
                                                      namespace=namespace, version=version)


def run_kwargs(*, experiment_id: str, run_name: str, pipeline_id: str, version_id: str,
               params: dict[str, Any], enable_caching: bool | None = None,
               service_account: str | None = None) -> dict[str, Any]:
    """Keyword arguments of ``kfp.Client.run_pipeline`` for a run of an uploaded pipeline version."""
    kwargs: dict[str, Any] = {"experiment_id": experiment_id, "job_name": run_name, "params": dict(params),
                              "pipeline_id": pipeline_id, "version_id": version_id}
    if enable_caching is not None:
        kwargs["enable_caching"] = enable_caching
    if service_account:
        kwargs["service_account"] = service_account
    return kwargs


def schedule_spec(*, name: str, experiment: str, cron: str, pipeline_name: str, params: dict[str, Any],
                  max_concurrency: int = 1, no_catchup: bool = True, service_account: str | None = None,
                  namespace: str | None = None, description: str = "", enabled: bool = True,
                  replace: bool = True):
    """infra/scripts/create_schedule.ScheduleSpec (cron normalized to KFP's 6 fields)."""
    cs = _load_script("create_schedule")
    if max_concurrency < 1:
        raise ValueError("--max-concurrency must be at least 1")
    return cs.ScheduleSpec(name=name, experiment=experiment, cron=cs.normalize_cron(cron),
                           pipeline_name=pipeline_name, params=dict(params), max_concurrency=max_concurrency,
                           no_catchup=no_catchup, service_account=service_account, namespace=namespace,
                           description=description, enabled=enabled, replace=replace)


def submit(client: Any, package: Path, *, params: dict[str, Any], experiment: str, run_name: str,
           enable_caching: bool | None = None, namespace: str | None = None,
           service_account: str | None = None) -> dict[str, Any]:  # pragma: no cover - needs a KFP server
    """Upload the package (a new version when it changed) and start a run of that version."""
    up = _load_script("upload_pipeline")
    uploaded = up.upload(client, upload_spec(package, namespace=namespace))
    exp = client.create_experiment(name=experiment, namespace=namespace)
    run = client.run_pipeline(**run_kwargs(experiment_id=exp.experiment_id, run_name=run_name,
                                           pipeline_id=uploaded["pipeline_id"], version_id=uploaded["version_id"],
                                           params=params, enable_caching=enable_caching,
                                           service_account=service_account))
    return {**uploaded, "experiment_id": exp.experiment_id, "run_id": run.run_id}


# ---------------------------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------------------------
def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _options(timeout: list[str], retries: list[str]):
    repo_root()
    from pipelines.params import DEFAULT_OPTIONS

    def kv(items: list[str], flag: str) -> dict[str, int]:
        out = {}
        for item in items:
            k, sep, v = item.partition("=")
            if not sep or not v.strip().isdigit():
                _fail(f"{flag} takes STEP=INTEGER, got {item!r}")
            out[k.strip()] = int(v)
        return out

    try:
        return DEFAULT_OPTIONS.with_overrides(kv(timeout, "--timeout"), kv(retries, "--retries"))
    except ValueError as exc:
        _fail(str(exc))


@pipeline_app.command("compile")
def compile_cmd(
    out: Path = typer.Option(Path("pipelines/compiled"), help="Folder for <stage>.yaml (e2e.yaml and one per stage)."),
    stage: list[str] = typer.Option([], help="Compile only these pipelines (default: all)."),
    timeout: list[str] = typer.Option([], help="Pod deadline STEP=SECONDS (compile-time: kfp-kubernetes literal)."),
    retries: list[str] = typer.Option([], help="Retries STEP=N (compile-time: a literal in the IR)."),
) -> None:
    """Compile the pipelines to KFP IR YAML (the committed copies live in pipelines/compiled/)."""
    opts = _options(timeout, retries)
    if os.environ.get("PYTHONHASHSEED") != "0":
        # stable header comments in the compiled YAML: see pipelines/compile.py
        import subprocess

        cmd = [sys.executable, "-m", "visual_erm.cli", "pipeline", "compile", "--out", str(out.absolute())]
        for flag, items in (("--stage", stage), ("--timeout", timeout), ("--retries", retries)):
            for item in items:
                cmd += [flag, item]
        raise typer.Exit(subprocess.run(cmd, env={**os.environ, "PYTHONHASHSEED": "0"}, cwd=repo_root()).returncode)
    try:
        paths = compile_all(out, opts, stage or None)
    except ValueError as exc:
        _fail(str(exc))
    for p in paths:
        typer.echo(str(p))


@pipeline_app.command("run")
def run_cmd(
    local_: bool = typer.Option(False, "--local", help="Run with kfp.local in this interpreter (the only mode here; "
                                                       "use `submit` for a cluster)."),
    stage: str = typer.Option(E2E, help="Pipeline: e2e or a stage (synthesize, validate, train-rm, ...)."),
    param: list[str] = typer.Option([], "--param", help="Pipeline parameter NAME=VALUE (JSON for dict/list)."),
    run_dir: Path = typer.Option(Path("runs/demo"), help="Run folder: pipeline root and readable links to outputs."),
    full_size: bool = typer.Option(False, help="Keep the pipeline defaults instead of the tiny local profile."),
) -> None:
    """Run a pipeline locally and print where its outputs are (dataset preview, Data Docs, reports, RL curves)."""
    if not local_:
        _fail("only --local runs start here; use `verm pipeline submit --host URL` for a cluster")
    try:
        known = pipeline_parameters(stage)
        params = parse_params(param, known)
    except ValueError as exc:
        _fail(str(exc))
    try:
        summary = run_local(stage, params, run_dir, tiny=not full_size)
    except Exception as exc:  # noqa: BLE001
        typer.secho(f"pipeline {stage} failed: {type(exc).__name__}: {exc}", fg=typer.colors.RED, err=True)
        typer.echo(f"run folder: {run_dir} (run.json, pipeline-root/)", err=True)
        raise typer.Exit(1)
    typer.echo(f"pipeline {summary['pipeline']} finished in {summary['seconds']} s")
    typer.echo(f"run folder: {run_dir.absolute()}")
    for name, path in summary["outputs"].items():
        typer.echo(f"  {name:32s} {path}")


@pipeline_app.command("submit")
def submit_cmd(
    host: str = typer.Option(..., help="KFP API endpoint, e.g. http://ml-pipeline.kubeflow:8888."),
    stage: str = typer.Option(E2E, help="Pipeline: e2e or a stage."),
    param: list[str] = typer.Option([], "--param", help="Pipeline parameter NAME=VALUE."),
    experiment: str = typer.Option("visual-erm", help="Experiment to file the run under (created if missing)."),
    run_name: Optional[str] = typer.Option(None, help="Run name (default: <pipeline>-<UTC time>)."),
    cache: Optional[bool] = typer.Option(None, "--cache/--no-cache", help="Override the compiled caching options."),
    namespace: Optional[str] = typer.Option(None, help="KFP namespace (multi-user deployments)."),
    service_account: Optional[str] = typer.Option(None, help="ServiceAccount of the run pods."),
) -> None:  # pragma: no cover - needs a KFP server
    """Compile, upload (a new pipeline version when it changed) and start a run on a KFP cluster."""
    try:
        params = parse_params(param, pipeline_parameters(stage))
    except ValueError as exc:
        _fail(str(exc))
    import kfp

    with tempfile.TemporaryDirectory(prefix="verm-submit-") as tmp:
        (package,) = compile_all(tmp, stages=[stage])
        name = run_name or f"{build(stage).name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
        client = kfp.Client(host=host, namespace=namespace or "kubeflow")
        result = submit(client, package, params=params, experiment=experiment, run_name=name,
                        enable_caching=cache, namespace=namespace, service_account=service_account)
    typer.echo(json.dumps(result, sort_keys=True))


@pipeline_app.command("schedule")
def schedule_cmd(
    host: str = typer.Option(..., help="KFP API endpoint."),
    cron: str = typer.Option(..., help="Cron schedule, 5 fields (crontab) or 6 (seconds first)."),
    stage: str = typer.Option(E2E, help="Pipeline: e2e or a stage."),
    name: str = typer.Option("visual-erm-retrain", help="Recurring run name."),
    experiment: str = typer.Option("visual-erm-retrain", help="Experiment of the runs."),
    param: list[str] = typer.Option([], "--param", help="Pipeline parameter NAME=VALUE of each run."),
    max_concurrency: int = typer.Option(1, help="Runs of this schedule at once."),
    catchup: bool = typer.Option(False, help="Backfill missed intervals."),
    namespace: Optional[str] = typer.Option(None, help="KFP namespace (multi-user deployments)."),
    service_account: Optional[str] = typer.Option(None, help="ServiceAccount of the run pods."),
) -> None:  # pragma: no cover - needs a KFP server
    """Upload the pipeline (new version when changed) and (re)register a recurring run of its latest version."""
    try:
        params = parse_params(param, pipeline_parameters(stage))
        pipe_name = build(stage).name
        spec = schedule_spec(name=name, experiment=experiment, cron=cron, pipeline_name=pipe_name, params=params,
                             max_concurrency=max_concurrency, no_catchup=not catchup,
                             service_account=service_account, namespace=namespace)
    except ValueError as exc:
        _fail(str(exc))
    import kfp

    client = kfp.Client(host=host, namespace=namespace or "kubeflow")
    with tempfile.TemporaryDirectory(prefix="verm-schedule-") as tmp:
        (package,) = compile_all(tmp, stages=[stage])
        uploaded = _load_script("upload_pipeline").upload(client, upload_spec(package, namespace=namespace))
    summary = _load_script("create_schedule").apply_schedule(client, spec)
    typer.echo(json.dumps({"upload": uploaded, "schedule": summary}, sort_keys=True, default=str))
