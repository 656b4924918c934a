"""Did the reward model learn, and does its server agree with it? Two checks for a trained reward model.

    learned = compare_with_untrained("runs/rm", "bench/", "runs/rm-check", max_items=60)
    # → {"trained": {...summary...}, "untrained": {...}, "delta": {"f1_hard": 13.0, ...}}
    agree = served_agreement("runs/rm", "bench/", max_items=60)
    # → {"n": 60, "identical_text": 60, "identical_result": 60, "parseable": 57}

:func:`compare_with_untrained` benchmarks the model and its *untrained twin* (the same config, processor and
generation settings with freshly initialised weights) on the same bench items, greedy decoding, and reports both
summaries and the differences. It is the "measurably learns" check: a trained model must beat its own starting
point, whatever its size. An unreadable critique counts as finding nothing (the benchmark's default), so an
untrained model scores F1 0 rather than "undefined".

:func:`served_agreement` critiques the items in process and through ``verm serve`` (the OpenAI-compatible server,
started on 127.0.0.1 for the check) and counts identical raw texts and identical parsed results under greedy
decoding: a served reward model must give the RL loop the same critiques the benchmark measured.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from visual_erm.bench.benchset import build_benchset, is_pair_dataset, load_benchset
from visual_erm.bench.run_critic import run_critic_bench

__all__ = ["untrained_twin", "compare_with_untrained", "served_agreement"]

#: Files of a model directory that are not weights and are copied to the twin unchanged.
_SIDE_FILES = ("profile.yaml", "verm_processor.json")


def untrained_twin(model_dir: str | Path, out_dir: str | Path, *, seed: int = 0) -> Path:
    """Write a model with ``model_dir``'s architecture, processor and generation config but fresh random weights."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    from visual_erm.rm.model import load_model, load_processor, save_model

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} is not a model directory (no config.json); pass a train-rm output")
    torch.manual_seed(seed)
    twin = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(model_dir))
    twin.generation_config = load_model(model_dir).generation_config
    save_model(twin, load_processor(model_dir), out_dir)
    for name in _SIDE_FILES:
        if (model_dir / name).exists():
            shutil.copyfile(model_dir / name, out_dir / name)
    return out_dir


def _headline(summary: dict) -> dict:
    o = summary["overall"]
    return {"n_items": summary["n_items"], "n_scored": summary["n_scored"], "n_excluded": summary["n_excluded"],
            "f1_hard": o["f1_hard"], "f1_soft": o["f1_soft"], "sc": o["sc"], "sc_reason": o["sc_reason"],
            "by_task": {t: {k: r[k] for k in ("n", "f1_hard", "f1_soft", "sc")}
                        for t, r in summary["by_task"].items()}}


def compare_with_untrained(model_dir: str | Path, bench_dir: str | Path, out_dir: str | Path, *,
                           max_items: int | None = None, max_tokens: int = 384, seed: int = 0) -> dict:
    """Benchmark ``model_dir`` and its untrained twin on ``bench_dir`` (greedy); full results under ``out_dir``."""
    out_dir = Path(out_dir)
    twin = untrained_twin(model_dir, out_dir / "untrained-model", seed=seed)
    result: dict = {"model": str(model_dir), "bench": str(bench_dir), "max_tokens": max_tokens}
    for name, path in (("untrained", twin), ("trained", Path(model_dir))):
        run = run_critic_bench(bench_dir, "vlm", out_dir / name, max_items=max_items,
                               critic_options={"model_dir": str(path), "sampling": "greedy",
                                               "max_tokens": max_tokens, "device": "cpu"})
        result[name] = _headline(run["summary"]) | {"failures_by_reason": run["failures_by_reason"]}
    result["delta"] = {k: (None if result["trained"][k] is None or result["untrained"][k] is None
                           else round(result["trained"][k] - result["untrained"][k], 3))
                       for k in ("f1_hard", "f1_soft", "sc")}
    return result


def served_agreement(model_dir: str | Path, bench_dir: str | Path, *, max_items: int | None = None,
                     max_tokens: int = 384) -> dict:
    """Critique bench items in process and through a local ``verm serve``; count identical texts and results.
    ``bench_dir`` is a bench set or a pair dataset (its test split)."""
    with tempfile.TemporaryDirectory(prefix="verm-rm-check-") as tmp:
        if is_pair_dataset(bench_dir):  # a synthesized pair dataset: its test split, as run_critic_bench does
            build_benchset(bench_dir, Path(tmp) / "bench", split="test")
            bench_dir = Path(tmp) / "bench"
        return _served_agreement(model_dir, load_benchset(bench_dir).head(max_items), max_tokens)


def _served_agreement(model_dir: str | Path, items: list, max_tokens: int) -> dict:
    import json

    from visual_erm.critics.base import CritiqueFailure, CritiqueInput
    from visual_erm.critics.vlm import VLMCritic
    from visual_erm.serve.server import RewardModelServer

    inputs = [CritiqueInput(it.id, it.task, it.reference_png(), it.candidate_png()) for it in items]
    local = VLMCritic(model=str(model_dir), sampling="greedy", max_tokens=max_tokens, device="cpu")
    with RewardModelServer(model_dir, port=0, device="cpu") as server:
        http = VLMCritic(endpoint=server.url, sampling="greedy", max_tokens=max_tokens)
        got_local, got_http = local.critique_many(inputs), http.critique_many(inputs)
        text_local, text_http = local.last_texts, http.last_texts

    def key(r) -> tuple[str, str]:
        if isinstance(r, CritiqueFailure):
            return "failure", r.reason
        return "critique", json.dumps(r.to_json_dict(), sort_keys=True)

    differ = [it.id for it, a, b in zip(items, text_local, text_http) if a != b]
    return {"n": len(items),
            "identical_text": len(items) - len(differ),
            "identical_result": sum(key(a) == key(b) for a, b in zip(got_local, got_http)),
            "parseable": sum(not isinstance(r, CritiqueFailure) for r in got_local),
            "differing_ids": differ[:20]}
