"""Run a critic over a bench set and score it the VC-RewardBench way.

    result = run_critic_bench("bench/", "pixel", "runs/bench-pixel")   # → the metrics.json content

``bench_dir`` is a bench set (:mod:`visual_erm.bench.benchset`: our directory or a VC-RewardBench JSONL) or a pair
dataset from ``verm synth``, whose test split is turned into ``out_dir/bench`` first. Writes into ``out_dir``:

- ``predictions.jsonl``  one line per item: the critique (paper format) or the failure reason
- ``items.jsonl``        per scored item: matches, counts, severities
- ``metrics.json``       F1-hard, F1-soft, Sc (×100) overall and per task (``summary``), the full groups per task,
                         per task × category and per category, excluded items with stage and reason, run info
- ``report.html``        :mod:`visual_erm.bench.report` (tables, bar charts, a gallery of the worst items)
- ``manifest.json``      written last: format, file hashes (the output is complete when it exists)

Scoring is :func:`visual_erm.bench.critic_metrics.score_items` with the deterministic matcher (default, offline) or
the LLM judge (``matcher="llm"`` with ``judge_endpoint`` and ``judge_model``, an OpenAI-compatible endpoint).
A critique the model wrote but that does not parse counts as an empty prediction (the authors' scoring); items
the infrastructure failed on and items the judge could not decide are excluded from every metric and listed.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from dataclasses import asdict
from pathlib import Path

from visual_erm.bench.benchset import BenchItem, build_benchset, is_pair_dataset, load_benchset
from visual_erm.bench.critic_metrics import BenchMetrics, ItemResult, item_from_record, score_items
from visual_erm.critics.base import CritiqueFailure, CritiqueInput
from visual_erm.schema import Critique

__all__ = ["RESULT_FORMAT", "make_matcher", "run_critic_bench"]

RESULT_FORMAT = "visual-erm-critic-bench-result/1"


def make_matcher(matcher: str = "deterministic", judge_endpoint: str | None = None, judge_model: str | None = None):
    """The matcher by name: ``deterministic`` (offline) or ``llm`` (needs an endpoint and a model)."""
    from visual_erm.bench.matchers import DeterministicMatcher, LLMJudgeMatcher

    if matcher == "deterministic":
        return DeterministicMatcher()
    if matcher == "llm":
        if not judge_endpoint or not judge_model:
            raise ValueError("matcher 'llm' needs judge_endpoint (an OpenAI-compatible URL) and judge_model")
        return LLMJudgeMatcher(endpoint=judge_endpoint, model=judge_model)
    raise ValueError(f"matcher must be 'deterministic' or 'llm', got {matcher!r}")


def _make_critic(name: str, workers: int | None, options: dict | None):
    from visual_erm.critics.registry import critic_factory, get_critic

    options = dict(options or {})
    if workers and "workers" not in options:
        try:
            params = inspect.signature(critic_factory(name)).parameters
        except (TypeError, ValueError):
            params = {}
        if "workers" in params:  # only factories that name it (a **options wrapper may not pass it on)
            options["workers"] = workers
    return get_critic(name, **options)


def _inputs(items: list[BenchItem]) -> tuple[list[CritiqueInput], dict[int, CritiqueFailure]]:
    inputs, failed = [], {}
    for i, it in enumerate(items):
        try:
            ref, cand = it.reference_png(), it.candidate_png()
        except OSError as exc:
            failed[i] = CritiqueFailure(it.id, "missing_image", str(exc))
            ref, cand = b"", b""
        inputs.append(CritiqueInput(it.id, it.task, ref, cand, reference_code=it.reference_code,
                                    candidate_code=it.candidate_code))
    return inputs, failed


def _write_jsonl(path: Path, rows) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _worst(metrics: BenchMetrics, items: list[BenchItem], results: list[ItemResult], n: int) -> list[dict]:
    """Gallery entries: up to ``n`` scored items with the most unmatched errors (ties: more gold errors, then id),
    then excluded items (critic or judge failures), at least 4 of them when there are any."""
    by_id = {it.id: it for it in items}
    res_by_id = {r.id: r for r in results}
    ranked = sorted(metrics.items, key=lambda s: (-(s.counts.fp_soft + s.counts.fn_soft), -s.n_gold, s.id))
    out = []
    for s in ranked:
        if len(out) >= n or s.counts.fp_soft + s.counts.fn_soft == 0:
            break
        it, r = by_id[s.id], res_by_id[s.id]
        out.append({"id": s.id, "task": s.task, "origin": it.origin, "reference_image": it.gt_img_path,
                    "candidate_image": it.pred_img_path,
                    "predicted": [e.to_json_dict() for e in (r.predicted.errors if r.predicted else ())],
                    "gold": [e.to_json_dict() for e in r.gold.errors],
                    "matches": [asdict(m) for m in s.matches], "fp": s.counts.fp_soft, "fn": s.counts.fn_soft,
                    "pred_severity": s.pred_severity, "gold_severity": s.gold_severity})
    for x in [x for x in metrics.excluded if x.id in by_id][: max(4, n - len(out))]:
        it = by_id[x.id]
        out.append({"id": x.id, "task": x.task, "origin": it.origin, "reference_image": it.gt_img_path,
                    "candidate_image": it.pred_img_path, "failure": f"{x.stage}: {x.reason}",
                    "gold": [e.to_json_dict() for e in it.gold.errors], "matches": []})
    return out


def run_critic_bench(bench_dir: str | Path, critic_name: str, out_dir: str | Path, matcher: str = "deterministic",
                     judge_endpoint: str | None = None, judge_model: str | None = None, workers: int | None = None,
                     *, critic_options: dict | None = None, batch_size: int = 64, gallery: int = 12,
                     partial_in_hard: str = "ignore", max_items: int | None = None,
                     critique_failure: str = "unparseable_as_empty") -> dict:
    """Critique every item of the bench set with ``critic_name``, score, write the outputs (module docstring).

    ``workers`` goes to the critic when it takes it (the structural critic's render pool) and sets the LLM judge's
    concurrency. ``max_items`` scores only that many items, taken in turn from each task (a smoke run). ``critique_failure`` says how an item the
    critic failed on counts (:func:`visual_erm.bench.critic_metrics.score_items`): by default an unreadable critique
    counts as "found nothing" and an infrastructure failure is excluded. Returns the ``metrics.json`` content.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").unlink(missing_ok=True)
    if is_pair_dataset(bench_dir):  # a synthesized pair dataset: benchmark on its test split
        build_benchset(bench_dir, out_dir / "bench", split="test")
        bench_dir = out_dir / "bench"
    bench = load_benchset(bench_dir)
    items = bench.head(max_items)
    judge = make_matcher(matcher, judge_endpoint, judge_model)

    t0 = time.perf_counter()
    predictions: list[Critique | CritiqueFailure] = []
    with _make_critic(critic_name, workers, critic_options) as critic:
        for start in range(0, len(items), batch_size):
            chunk = items[start: start + batch_size]
            inputs, failed = _inputs(chunk)
            todo = [k for k in range(len(chunk)) if k not in failed]
            got = critic.critique_many([inputs[k] for k in todo]) if todo else []
            if len(got) != len(todo):
                raise RuntimeError(f"critic {critic_name!r} returned {len(got)} results for {len(todo)} items")
            slot = dict(zip(todo, got))
            predictions.extend(failed.get(k) or slot[k] for k in range(len(chunk)))
    critic_s = time.perf_counter() - t0

    results: list[ItemResult] = []
    pred_rows = []
    for it, p in zip(items, predictions):
        if isinstance(p, CritiqueFailure):
            results.append(item_from_record(it.to_record(), None, failure=str(p)))
            pred_rows.append({"id": it.id, "task": it.task, "failure": {"reason": p.reason, "message": p.message}})
        else:
            results.append(item_from_record(it.to_record(), p))
            pred_rows.append({"id": it.id, "task": it.task, "critique": p.to_json_dict()})
    t1 = time.perf_counter()
    metrics = score_items(results, judge, partial_in_hard=partial_in_hard,  # type: ignore[arg-type]
                          critique_failure=critique_failure,  # type: ignore[arg-type]
                          workers=(workers or 4) if matcher == "llm" else 1)
    score_s = time.perf_counter() - t1

    full = metrics.to_dict()
    result = {
        "format": RESULT_FORMAT,
        "critic": critic_name,
        "matcher": matcher if matcher != "llm" else f"llm:{judge_model}",
        "critique_failure": critique_failure,
        "bench": str(bench_dir),
        "bench_manifest": (bench.manifest or {}).get("files"),
        "summary": full["summary"],
        "overall": full["overall"],
        "by_task": full["by_task"],
        "by_task_category": full["by_task_category"],
        "by_category": full["by_category"],
        "excluded": full["excluded"],
        "failures_by_reason": _count_reasons(predictions),
        "timing": {"critic_s": round(critic_s, 2), "score_s": round(score_s, 2),
                   "critic_ms_per_item": round(1000 * critic_s / max(1, len(items)), 1)},
    }
    _write_jsonl(out_dir / "predictions.jsonl", pred_rows)
    _write_jsonl(out_dir / "items.jsonl", full["items"])
    _write_json(out_dir / "metrics.json", result)
    from visual_erm.bench.report import write_report

    write_report(out_dir / "report.html", result, _worst(metrics, items, results, gallery))
    files = ("predictions.jsonl", "items.jsonl", "metrics.json", "report.html")
    _write_json(out_dir / "manifest.json", {"format": RESULT_FORMAT, "critic": critic_name,
                                            "files": {f: _sha256(out_dir / f) for f in files}})
    return result


def _count_reasons(predictions) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in predictions:
        if isinstance(p, CritiqueFailure):
            out[p.reason] = out.get(p.reason, 0) + 1
    return dict(sorted(out.items()))
