"""build_prompts: a pair dataset becomes an RL prompt set with its splits kept."""

import json
from pathlib import Path

from components.build_prompts.component import build_prompts
from visual_erm.rl.testing import write_svg_pair_dataset


class _Artifact:
    def __init__(self, path: Path):
        self.path = str(path)
        self.metadata: dict = {}


def test_python_func(tmp_path):
    pairs = write_svg_pair_dataset(tmp_path / "pairs")
    out = _Artifact(tmp_path / "prompts")
    build_prompts.python_func(dataset=_Artifact(pairs), prompts=out)
    manifest = json.loads((tmp_path / "prompts" / "manifest.json").read_text())
    assert manifest["format"] == "visual-erm-rl-prompts/1" and out.metadata["counts"] == manifest["counts"]
