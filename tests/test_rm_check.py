"""`verm bench rm`: a reward model against its untrained twin, and served vs in-process agreement."""

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.test_benchset import small_test_dataset
from visual_erm.bench.benchset import build_benchset
from visual_erm.bench.rm_check import compare_with_untrained, served_agreement, untrained_twin
from visual_erm.rm.prompts import rm_prompt

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny Qwen3-VL reward model (random weights: the check's mechanics, not learning, are under test here)."""
    from visual_erm.rm import model as rm_model

    tok = rm_model.build_bpe_tokenizer([rm_prompt(t) for t in ("chart", "table", "svg")] * 3, vocab_size=384)
    proc = rm_model.build_processor(tok, rm_model.build_image_processor(min_pixels=32 * 32, max_pixels=64 * 64))
    return rm_model.save_model(rm_model.build_tiny_model(tok, seed=5), proc, tmp_path_factory.mktemp("rm") / "rm")


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    return build_benchset(small_test_dataset(root / "pairs"), root / "bench") and root / "bench"


def _arch(model: Path) -> dict:
    """config.json without the dtype fields (transformers writes them into the sub-configs of a loaded model)."""
    def drop(x):
        return {k: drop(v) for k, v in x.items() if k != "dtype"} if isinstance(x, dict) else x
    return drop(json.loads((model / "config.json").read_text()))


def test_untrained_twin_keeps_the_architecture_and_processor_but_not_the_weights(model_dir, tmp_path):
    twin = untrained_twin(model_dir, tmp_path / "twin")
    assert _arch(twin) == _arch(model_dir)
    assert (twin / "tokenizer.json").read_text() == (model_dir / "tokenizer.json").read_text()
    a, b = load_file(model_dir / "model.safetensors"), load_file(twin / "model.safetensors")
    assert a.keys() == b.keys()
    assert any(not (a[k] == b[k]).all() for k in a if a[k].dim() >= 2)
    with pytest.raises(FileNotFoundError, match="config.json"):
        untrained_twin(tmp_path, tmp_path / "nope")


def test_compare_and_served_agreement_on_a_tiny_model(model_dir, bench, tmp_path):
    got = compare_with_untrained(model_dir, bench, tmp_path / "check", max_items=6, max_tokens=16)
    for name in ("trained", "untrained"):
        # a random model writes no JSON: every item is scored as "found nothing", none excluded
        assert got[name]["n_items"] == 6 and got[name]["n_scored"] == 6 and got[name]["n_excluded"] == 0
        assert got[name]["failures_by_reason"] == {"unparseable": 6}
        assert (tmp_path / "check" / name / "metrics.json").is_file()
    assert got["trained"]["f1_hard"] == got["untrained"]["f1_hard"] == 0.0 and got["delta"]["f1_hard"] == 0.0
    served = served_agreement(model_dir, bench, max_items=4, max_tokens=16)
    assert served["n"] == 4 and served["identical_text"] == 4 and served["identical_result"] == 4
    assert served["differing_ids"] == []



def test_served_agreement_takes_a_pair_dataset_too(model_dir, tmp_path):
    pairs = small_test_dataset(tmp_path / "pairs")  # its test split becomes the bench, as in run_critic_bench
    served = served_agreement(model_dir, pairs, max_items=3, max_tokens=8)
    assert served["n"] == 3 and served["identical_text"] == 3


def test_cli_bench_rm(model_dir, bench, tmp_path):
    from typer.testing import CliRunner

    from visual_erm.cli import app

    out = tmp_path / "cli"
    res = CliRunner().invoke(app, ["bench", "rm", "--model", str(model_dir), "--bench", str(bench), "--out", str(out),
                                   "--max-items", "3", "--max-tokens", "8", "--no-served"])
    assert res.exit_code == 0, res.output
    assert "untrained" in res.output and "delta" in res.output
    assert json.loads((out / "rm-check.json").read_text())["trained"]["n_items"] == 3
    bad = CliRunner().invoke(app, ["bench", "rm", "--model", str(tmp_path), "--bench", str(bench), "--out", str(out)])
    assert bad.exit_code == 2 and "config.json" in bad.output
