"""Great Expectations suites for every dataset the pipeline writes: pair datasets, RL prompt sets, benchmarks.

``validate_dataset(path)`` loads the dataset into frames of per-row statistics (:mod:`.frames`), validates them
with one expectation suite per frame (:mod:`.suites`) through GX checkpoints that update a filesystem Data Docs
site, and returns a :class:`ValidationReport` whose failures name the offending rows and say what to fix
(:mod:`.run`). Great Expectations is imported only when a validation runs.
"""

from visual_erm.validation.frames import KIND_BY_FORMAT, KINDS, LoadProblem, Thresholds
from visual_erm.validation.run import CheckResult, ValidationReport, validate_dataset

__all__ = ["KINDS", "KIND_BY_FORMAT", "CheckResult", "LoadProblem", "Thresholds", "ValidationReport",
           "validate_dataset"]
