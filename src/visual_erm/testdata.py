"""Where the third-party test data lives (ChartMimic programs, PubTabNet tables): ``shared/testdata`` beside the
repository, or ``VERM_TESTDATA``. Used by tests and by `verm bench render` for realistic inputs."""

from __future__ import annotations

import os
from pathlib import Path


def testdata_dir() -> Path:
    """The folder holding ``chartmimic/`` and ``pubtabnet/``; raises with what to set when it is missing."""
    candidates = []
    if os.environ.get("VERM_TESTDATA"):
        candidates.append(Path(os.environ["VERM_TESTDATA"]))
    repo = Path(__file__).resolve().parents[2]
    candidates += [repo.parent / "shared" / "testdata", Path("/work/shared/testdata")]
    for c in candidates:
        if (c / "chartmimic").is_dir() and (c / "pubtabnet").is_dir():
            return c
    raise FileNotFoundError(
        "test data not found: set VERM_TESTDATA to the folder holding chartmimic/ and pubtabnet/ "
        f"(looked in {', '.join(map(str, candidates))})"
    )


def chartmimic_jsonl() -> Path:
    return Path(os.environ.get("VERM_CHARTMIMIC") or testdata_dir() / "chartmimic" / "direct_codes.jsonl")


def pubtabnet_dir() -> Path:
    return testdata_dir() / "pubtabnet"
