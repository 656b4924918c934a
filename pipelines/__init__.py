"""Visual-ERM Kubeflow pipelines: one pipeline per stage (pipelines.stages) and the end-to-end one (pipelines.e2e).

Compile with ``verm pipeline compile`` (writes pipelines/compiled/*.yaml, committed and checked fresh by
tests/test_pipelines_contract.py); run locally with ``verm pipeline run --local``.
"""
