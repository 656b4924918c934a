"""A patch to the KFP 2.17.0 local runner so the pipelines run unchanged with ``kfp.local``.

``dsl.OneOf`` over *artifacts* (how a stage consumes either the upstream step's output or an imported artifact of an
earlier run) compiles and runs on a KFP backend, and the local runner resolves ``dsl.OneOf`` over *parameters*,
but ``kfp/local/orchestrator/orchestrator_utils.py`` ``OrchestratorUtils.get_dag_output_artifacts`` (2.17.0)
raises ``ValueError: Expected 1 artifact in ArtifactSelectorSpec. Got: 2`` for the artifact case. No upstream issue
was found for it at the time of writing; remove this module when kfp's local runner resolves artifact OneOf.

The replacement resolves each DAG output artifact from the selectors whose producer task ran: exactly one must
have run (the semantics of ``dsl.OneOf``); a single selector behaves as before.
"""

from __future__ import annotations

_APPLIED = False


def apply() -> None:
    """Install the patch (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    from kfp.local.orchestrator import orchestrator_utils

    def get_dag_output_artifacts(cls, dag_outputs_spec, io_store):
        outputs = {}
        for key, spec in dag_outputs_spec.artifacts.items():
            selectors = list(spec.artifact_selectors)
            if len(selectors) == 1:
                outputs[key] = io_store.get_task_output(selectors[0].producer_subtask,
                                                        selectors[0].output_artifact_key)
                continue
            found = []
            for sel in selectors:
                try:
                    found.append(io_store.get_task_output(sel.producer_subtask, sel.output_artifact_key))
                except ValueError:  # that branch did not run
                    continue
            if len(found) != 1:
                raise ValueError(f"dsl.OneOf output {key!r}: {len(found)} branches produced it, expected exactly 1")
            outputs[key] = found[0]
        return outputs

    orchestrator_utils.OrchestratorUtils.get_dag_output_artifacts = classmethod(get_dag_output_artifacts)
    _APPLIED = True
