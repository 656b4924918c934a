"""Upload a compiled pipeline (KFP IR YAML) to the KFP API: a new pipeline, or a new version of an existing one.

    python infra/scripts/upload_pipeline.py --host http://localhost:8888 pipelines/compiled/e2e.yaml \\
        [--pipeline-name visual-erm-e2e] [--version-name 0.1.0-3f9c2a1b7d4e] [--description "..."]

The pipeline name defaults to the one compiled into the YAML (``pipelineInfo.name``), the version name to
``<package version>-<first 12 hex of the file's sha256>``, so uploading the same file twice is detected and the
version names say which build they came from. Everything but ``upload`` is a pure function (unit-tested without
a server); the network calls all happen in ``upload`` through a ``kfp.Client``-like object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

PACKAGE_SUFFIXES = (".yaml", ".yml", ".json", ".zip", ".tar.gz", ".tgz")


@dataclass(frozen=True)
class UploadSpec:
    package_path: str
    pipeline_name: str
    version_name: str
    description: str | None = None
    namespace: str | None = None


def package_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def compiled_pipeline_name(path: str | Path) -> str:
    """The pipeline name compiled into a KFP IR YAML (``pipelineInfo.name``; the pipeline spec is the first
    document when platform specs follow it)."""
    import yaml

    with open(path) as fh:
        doc = next(iter(yaml.safe_load_all(fh)), None) or {}
    spec = doc.get("pipelineSpec", doc)  # a PipelineJob wraps the spec
    name = (spec.get("pipelineInfo") or {}).get("name")
    if not name:
        raise ValueError(f"{path}: no pipelineInfo.name: is this a compiled KFP pipeline?")
    return name


def default_version_name(path: str | Path, version: str | None = None) -> str:
    """``<version>-<sha256[:12]>`` of the package (``version`` defaults to the installed visual-erm's)."""
    if version is None:
        try:
            from importlib.metadata import version as dist_version

            version = dist_version("visual-erm")
        except Exception:  # noqa: BLE001 - running outside the project environment
            version = "dev"
    return f"{version}-{package_sha256(path)[:12]}"


def build_spec(package_path: str, *, pipeline_name: str | None = None, version_name: str | None = None,
               description: str | None = None, namespace: str | None = None,
               version: str | None = None) -> UploadSpec:
    """Validate the package and fill in the defaults (raises FileNotFoundError/ValueError)."""
    path = Path(package_path)
    if not path.is_file():
        raise FileNotFoundError(f"pipeline package {path} does not exist: compile the pipeline first")
    if not path.name.endswith(PACKAGE_SUFFIXES):
        raise ValueError(f"{path}: a pipeline package ends with one of {', '.join(PACKAGE_SUFFIXES)}")
    if pipeline_name is None:
        if not path.name.endswith((".yaml", ".yml")):
            raise ValueError(f"{path}: give --pipeline-name (only YAML packages carry their name)")
        pipeline_name = compiled_pipeline_name(path)
    return UploadSpec(package_path=str(path), pipeline_name=pipeline_name,
                      version_name=version_name or default_version_name(path, version),
                      description=description, namespace=namespace)


def upload_pipeline_kwargs(spec: UploadSpec) -> dict[str, Any]:
    """Keyword arguments of ``kfp.Client.upload_pipeline`` (first upload: creates the pipeline)."""
    return {"pipeline_package_path": spec.package_path, "pipeline_name": spec.pipeline_name,
            "description": spec.description, "namespace": spec.namespace}


def upload_version_kwargs(spec: UploadSpec, pipeline_id: str) -> dict[str, Any]:
    """Keyword arguments of ``kfp.Client.upload_pipeline_version`` (later uploads: a new version)."""
    return {"pipeline_package_path": spec.package_path, "pipeline_version_name": spec.version_name,
            "pipeline_id": pipeline_id, "description": spec.description}


def upload(client: Any, spec: UploadSpec) -> dict[str, Any]:
    """Upload ``spec``; every KFP API call of this script happens here.

    A pipeline that does not exist yet is created (its first version is the package, named by KFP after the
    pipeline); otherwise a version named ``spec.version_name`` is added, unless one of that name exists already
    (same build: nothing to do).
    """
    pipeline_id = client.get_pipeline_id(spec.pipeline_name)
    if not pipeline_id:
        pipeline = client.upload_pipeline(**upload_pipeline_kwargs(spec))
        versions = client.list_pipeline_versions(pipeline_id=pipeline.pipeline_id, page_size=1,
                                                 sort_by="created_at desc").pipeline_versions or []
        return {"action": "created", "pipeline_id": pipeline.pipeline_id,
                "version_id": versions[0].pipeline_version_id if versions else None}
    name_filter = json.dumps({"predicates": [{"operation": "EQUALS", "key": "display_name",
                                              "stringValue": spec.version_name}]})
    same = client.list_pipeline_versions(pipeline_id=pipeline_id, filter=name_filter).pipeline_versions or []
    if same:
        return {"action": "exists", "pipeline_id": pipeline_id, "version_id": same[0].pipeline_version_id}
    version = client.upload_pipeline_version(**upload_version_kwargs(spec, pipeline_id))
    return {"action": "versioned", "pipeline_id": pipeline_id, "version_id": version.pipeline_version_id}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("package", help="compiled pipeline YAML")
    p.add_argument("--host", required=True, help="KFP API endpoint, e.g. http://ml-pipeline.kubeflow:8888")
    p.add_argument("--pipeline-name", default=None, help="default: the name compiled into the YAML")
    p.add_argument("--version-name", default=None, help="default: <visual-erm version>-<sha256[:12]>")
    p.add_argument("--description", default=None)
    p.add_argument("--namespace", default=None, help="KFP namespace (multi-user deployments only)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        spec = build_spec(args.package, pipeline_name=args.pipeline_name, version_name=args.version_name,
                          description=args.description, namespace=args.namespace)
    except (OSError, ValueError) as exc:
        print(f"upload_pipeline: {exc}", file=sys.stderr)
        return 2
    import kfp

    client = kfp.Client(host=args.host, namespace=args.namespace or "kubeflow")
    print(json.dumps({**upload(client, spec), "spec": asdict(spec)}, sort_keys=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
