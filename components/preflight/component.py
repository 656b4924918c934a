"""KFP component: preflight checks before any GPU is scheduled (thin wrapper over visual_erm.preflight)."""

from kfp import dsl

from components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def preflight(
    report: dsl.Output[dsl.Artifact],
    params: dict = {},
    input_uris: dict = {},
    output_uris: dict = {},
    endpoints: dict = {},
    secrets: list = [],
    required: list = [],
    timeout_s: float = 3.0,
) -> str:
    """Check storage, secrets, endpoints and parameter ranges; fail in seconds listing every problem.

    Args:
        report: preflight.json: every check that passed, every problem, seconds taken.
        params: Pipeline parameters by name; those with a rule in visual_erm.preflight.RULES are range-checked.
        input_uris: Inputs by parameter name (local path or s3:// URI; empty = not used): each must hold an artifact.
        output_uris: Outputs by parameter name (local path or s3:// URI; empty = not used): bucket must exist.
        endpoints: OpenAI-compatible endpoints by parameter name (empty = not used): GET /health or /v1/models.
        secrets: Environment variables that must be set (the Kubernetes Secrets mounted into this task).
        required: Names of parameters or URIs that must not be empty in this pipeline.
        timeout_s: Seconds each network check may take.

    Returns:
        "ok" (the task fails when there is any problem).

    Raises:
        visual_erm.preflight.PreflightError: One message listing every problem found.
    """
    import json

    from visual_erm.preflight import run_preflight

    result = run_preflight(params=params, input_uris=input_uris, output_uris=output_uris, secrets=secrets,
                           endpoints=endpoints, timeout_s=timeout_s, required=required)
    with open(report.path, "w") as fh:
        json.dump(result.to_json_dict(), fh, indent=1)
    print(result.format())
    result.raise_for_problems()
    return "ok"
