"""The RL gate: train only when the reward model beats the baseline by the margin; never on missing evidence."""

import json
from pathlib import Path

import pytest

from components.gate.component import rm_gate
from visual_erm.gate import gate_decision


def _metrics(f1_hard, sc=None, n_scored=10):
    return {"summary": {"n_scored": n_scored, "overall": {"f1_hard": f1_hard, "f1_soft": f1_hard, "sc": sc}}}


class _Artifact:
    def __init__(self, path: Path):
        self.path = str(path)
        self.metadata: dict = {}


@pytest.mark.parametrize("cand,base,margin,mode,expected", [
    (40.0, 30.0, 5.0, "on", "train"),
    (40.0, 30.0, 10.0, "on", "train"),
    (40.0, 30.0, 10.5, "on", "skip"),
    (20.0, 30.0, 0.0, "on", "skip"),
    (20.0, 30.0, 0.0, "off", "train"),
])
def test_decision(cand, base, margin, mode, expected):
    assert gate_decision(_metrics(cand), _metrics(base), mode=mode, margin=margin)["decision"] == expected


def test_undefined_metric_or_nothing_scored_skips():
    assert gate_decision(_metrics(40, sc=None), _metrics(30, sc=10.0), metric="sc")["decision"] == "skip"
    assert gate_decision(_metrics(40, n_scored=0), _metrics(30))["decision"] == "skip"
    with pytest.raises(ValueError):
        gate_decision(_metrics(1), _metrics(1), mode="maybe")


def test_python_func(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps(_metrics(50.0)))
    (tmp_path / "b.json").write_text(json.dumps(_metrics(10.0)))
    out = _Artifact(tmp_path / "gate.json")
    assert rm_gate.python_func(candidate=_Artifact(tmp_path / "c.json"), baseline=_Artifact(tmp_path / "b.json"),
                               decision=out, margin=5.0) == "train"
    assert json.loads(Path(out.path).read_text())["delta"] == 40.0 and out.metadata["decision"] == "train"
