"""reflect_policy: a tiny local policy answers and revises; the best answers become benchmark_policy's responses."""

import json
from pathlib import Path

import pytest

from components.reflect_policy.component import reflect_policy
from components.testing import Artifact
from visual_erm.rl.policy import build_tiny_policy
from visual_erm.rl.prompts_set import build_prompt_set, read_prompt_rows
from visual_erm.rl.testing import write_svg_pair_dataset

pytestmark = pytest.mark.slow


def test_python_func_structural_critic(tmp_path):
    build_prompt_set(write_svg_pair_dataset(tmp_path / "pairs"), tmp_path / "prompts", split="all")
    rows = read_prompt_rows(tmp_path / "prompts", "all")
    build_tiny_policy(tmp_path / "policy", [r["reference_code"] for r in rows], vocab_size=400)
    responses, report, metrics = (Artifact(tmp_path / "responses.jsonl"), Artifact(tmp_path / "reflect.json"),
                                  Artifact(tmp_path / "m"))
    reflect_policy.python_func(prompts=Artifact(tmp_path / "prompts"), policy=Artifact(tmp_path / "policy"),
                               responses=responses, report=report, metrics=metrics, critic="structural", rounds=1,
                               split="all", n=1, max_new_tokens=8)
    lines = [json.loads(x) for x in Path(responses.path).read_text().splitlines()]
    assert lines and all(set(x) == {"id", "response"} for x in lines)
    assert json.loads(Path(report.path).read_text())["rounds"][0]["round"] == 0
    assert metrics.metadata["items"] == len(lines)
