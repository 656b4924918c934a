"""Register a recurring run (scheduled retraining) of an uploaded pipeline with the KFP API.

    python infra/scripts/create_schedule.py --host http://localhost:8888 \\
        --name visual-erm-retrain --experiment visual-erm-retrain \\
        --pipeline-name visual-erm-e2e --cron "0 3 * * 0" \\
        --params-json '{"rm_epochs": 1}' --service-account visual-erm-pipeline-runner --replace

The chart's schedule Job (charts/visual-erm/templates/schedule-job.yaml) runs exactly this from the cpu image.
Everything but ``apply_schedule`` is a pure function of its arguments (unit-tested without a server); the
network calls all happen in ``apply_schedule`` through a ``kfp.Client``-like object.

Cron: KFP's scheduler takes 6 fields with seconds first (robfig/cron); a 5-field crontab expression gets a
leading ``0``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#LW-]+$")


@dataclass(frozen=True)
class ScheduleSpec:
    """What to schedule: one recurring run of one pipeline version (or the latest version of a pipeline)."""

    name: str
    experiment: str
    cron: str
    pipeline_name: str | None = None
    version_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    max_concurrency: int = 1
    no_catchup: bool = True
    service_account: str | None = None
    namespace: str | None = None
    description: str = ""
    enabled: bool = True
    replace: bool = False


def normalize_cron(expr: str) -> str:
    """A KFP (6-field, seconds first) cron expression from a 5- or 6-field one; raises ValueError otherwise."""
    fields = str(expr).split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"cron expression {expr!r}: expected 5 fields (m h dom mon dow) or 6 (s m h dom mon dow)")
    bad = [f for f in fields if not _CRON_FIELD.match(f)]
    if bad:
        raise ValueError(f"cron expression {expr!r}: invalid field(s) {bad}")
    return " ".join(fields)


def parse_params(text: str | None) -> dict[str, Any]:
    """Pipeline parameters from JSON text, or from a JSON file given as ``@path``; empty means none."""
    if text is None or not str(text).strip():
        return {}
    text = str(text).strip()
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--params-json is not valid JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise ValueError(f"--params-json must be a JSON object of pipeline parameters, got {type(params).__name__}")
    return params


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", required=True, help="KFP API endpoint, e.g. http://ml-pipeline.kubeflow:8888")
    p.add_argument("--name", required=True, help="recurring run name shown in the UI")
    p.add_argument("--experiment", required=True, help="experiment to file the runs under (created if missing)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--pipeline-name", help="uploaded pipeline; its latest version is scheduled")
    target.add_argument("--version-id", help="pipeline version id to schedule")
    p.add_argument("--cron", required=True, help="cron schedule, 5 fields (crontab) or 6 (seconds first)")
    p.add_argument("--params-json", default="", help="pipeline parameters as a JSON object, or @file.json")
    p.add_argument("--max-concurrency", type=int, default=1, help="runs of this schedule allowed at once")
    p.add_argument("--no-catchup", action="store_true", help="skip missed intervals instead of backfilling")
    p.add_argument("--service-account", default=None, help="Kubernetes ServiceAccount of the run pods")
    p.add_argument("--namespace", default=None, help="KFP namespace (multi-user deployments only)")
    p.add_argument("--description", default="", help="description shown in the UI")
    p.add_argument("--disabled", action="store_true", help="register the schedule paused")
    p.add_argument("--replace", action="store_true",
                   help="replace a recurring run of the same name in the experiment (else keep it and exit 0)")
    return p


def build_spec(args: argparse.Namespace) -> ScheduleSpec:
    """Validate the command line into a ``ScheduleSpec`` (raises ValueError on a bad cron or params)."""
    if args.max_concurrency < 1:
        raise ValueError("--max-concurrency must be at least 1")
    return ScheduleSpec(
        name=args.name, experiment=args.experiment, cron=normalize_cron(args.cron),
        pipeline_name=args.pipeline_name, version_id=args.version_id, params=parse_params(args.params_json),
        max_concurrency=args.max_concurrency, no_catchup=args.no_catchup, service_account=args.service_account,
        namespace=args.namespace, description=args.description, enabled=not args.disabled, replace=args.replace)


def recurring_run_kwargs(spec: ScheduleSpec, *, experiment_id: str, version_id: str,
                         pipeline_id: str | None = None) -> dict[str, Any]:
    """The keyword arguments of ``kfp.Client.create_recurring_run`` for ``spec``."""
    kwargs: dict[str, Any] = {
        "experiment_id": experiment_id,
        "job_name": spec.name,
        "description": spec.description or None,
        "cron_expression": spec.cron,
        "max_concurrency": spec.max_concurrency,
        "no_catchup": spec.no_catchup,
        "params": dict(spec.params),
        "pipeline_id": pipeline_id,
        "version_id": version_id,
        "enabled": spec.enabled,
    }
    if spec.service_account:
        kwargs["service_account"] = spec.service_account
    return kwargs


def _items(response: Any, attr: str) -> list[Any]:
    return list(getattr(response, attr, None) or [])


def apply_schedule(client: Any, spec: ScheduleSpec) -> dict[str, Any]:
    """Create (or replace) the recurring run; every KFP API call of this script happens here.

    Returns a summary: experiment id, pipeline and version ids, recurring run id and what was done
    (``created``, ``replaced`` or ``kept``).
    """
    experiment = client.create_experiment(name=spec.experiment, namespace=spec.namespace)  # get-or-create
    experiment_id = experiment.experiment_id
    pipeline_id = None
    version_id = spec.version_id
    if not version_id:
        pipeline_id = client.get_pipeline_id(spec.pipeline_name)
        if not pipeline_id:
            raise LookupError(f"no pipeline named {spec.pipeline_name!r}: upload it first "
                              f"(infra/scripts/upload_pipeline.py)")
        versions = _items(client.list_pipeline_versions(pipeline_id=pipeline_id, page_size=1,
                                                        sort_by="created_at desc"), "pipeline_versions")
        if not versions:
            raise LookupError(f"pipeline {spec.pipeline_name!r} has no versions")
        version_id = versions[0].pipeline_version_id

    name_filter = json.dumps({"predicates": [{"operation": "EQUALS", "key": "display_name",
                                              "stringValue": spec.name}]})
    existing = _items(client.list_recurring_runs(experiment_id=experiment_id, filter=name_filter, page_size=100),
                      "recurring_runs")
    existing = [r for r in existing if getattr(r, "display_name", spec.name) == spec.name]
    action = "created"
    if existing and not spec.replace:
        return {"action": "kept", "experiment_id": experiment_id, "pipeline_id": pipeline_id,
                "version_id": version_id, "recurring_run_id": existing[0].recurring_run_id}
    for run in existing:
        client.delete_recurring_run(run.recurring_run_id)
        action = "replaced"
    created = client.create_recurring_run(**recurring_run_kwargs(spec, experiment_id=experiment_id,
                                                                 version_id=version_id, pipeline_id=pipeline_id))
    return {"action": action, "experiment_id": experiment_id, "pipeline_id": pipeline_id, "version_id": version_id,
            "recurring_run_id": created.recurring_run_id}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        spec = build_spec(args)
    except (ValueError, OSError) as exc:
        print(f"create_schedule: {exc}", file=sys.stderr)
        return 2
    import kfp

    client = kfp.Client(host=args.host, namespace=args.namespace or "kubeflow")
    summary = apply_schedule(client, spec)
    print(json.dumps({**summary, "spec": asdict(spec)}, sort_keys=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
