"""How well the structural critic recovers the corruption operators' gold labels on held-out, render-verified pairs.

Matching is one-to-one by category: for each category, min(#gold, #predicted) are true positives, the rest of the
predictions are false positives and the rest of the gold are false negatives (summed over items, per task).
"""

from __future__ import annotations

import math
from collections import Counter

from visual_erm.critics.structural import structural_critique
from visual_erm.render.api import RenderJob
from visual_erm.schema import CATEGORIES, Critique
from visual_erm.synth.candidates import RenderedSeed, build_candidates, render_options
from visual_erm.synth.splits import derived_seed
from visual_erm.tasks import get_task


def category_counts(gold: Critique, pred: Critique) -> dict[str, tuple[int, int, int]]:
    """Per category (tp, fp, fn) under one-to-one matching by category."""
    g = Counter(e.category for e in gold.errors)
    p = Counter(e.category for e in pred.errors)
    return {c: (min(g[c], p[c]), max(p[c] - g[c], 0), max(g[c] - p[c], 0)) for c in set(g) | set(p)}


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def evaluate_structural(tasks: list[str], *, n: int = 100, seed: int = 12345, workers: int | None = None,
                        max_edits: int = 3, identity_share: float = 0.1) -> dict:
    """Build ``n`` held-out candidates per task (1–``max_edits`` verified edits, a few identities) and score the critic."""
    from visual_erm.render.pool import RenderPool

    out: dict = {"n_per_task": n, "seed": seed, "tasks": {}}
    total = [0, 0, 0]
    with RenderPool(workers=workers) as pool:
        for task in tasks:
            gen = get_task(task).generate_seed
            seeds = [gen(derived_seed("eval-structural", seed, task, i)) for i in range(math.ceil(n / 2))]
            jobs = [RenderJob(f"{s.seed_id}-ref", task, s.program, render_options(task, 15.0)) for s in seeds]
            refs = [RenderedSeed(s, "test", r) for s, r in zip(seeds, pool.render(jobs))]
            cands = [c for c in build_candidates(refs, pool.render, candidates_per_seed=2, max_edits=max_edits,
                                                 identity_share=identity_share, timeout_s=15.0) if c.kept][:n]
            per_cat: dict[str, list[int]] = {c: [0, 0, 0] for c in CATEGORIES[task]}
            failures = 0
            identity_fp = 0
            for c in cands:
                gold = Critique(task=task, errors=tuple(e.discrepancy for e in c.edits))
                try:
                    pred = structural_critique(task, c.seed.seed.program, c.program,
                                               ref_figure=c.seed.result.figure, cand_figure=c.figure)
                except Exception:
                    failures += 1
                    pred = Critique(task=task)
                if not c.edits and pred.errors:
                    identity_fp += 1
                for cat, (tp, fp, fn) in category_counts(gold, pred).items():
                    acc = per_cat.setdefault(cat, [0, 0, 0])
                    acc[0] += tp
                    acc[1] += fp
                    acc[2] += fn
            tp, fp, fn = (sum(v[i] for v in per_cat.values()) for i in range(3))
            total = [total[0] + tp, total[1] + fp, total[2] + fn]
            out["tasks"][task] = {
                **_prf(tp, fp, fn),
                "pairs": len(cands),
                "identity_pairs_with_false_alarms": identity_fp,
                "critic_failures": failures,
                "by_category": {cat: _prf(*v) for cat, v in sorted(per_cat.items())},
            }
    out["overall"] = _prf(*total)
    return out
