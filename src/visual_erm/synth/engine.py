"""The reward-data engine: seeds → candidates (verified edits, natural samples, identities) → pair dataset.

Work is cut into chunks of seed indices; each finished chunk leaves a marker with its shards' hashes, so a rerun
redoes nothing that is already complete and intact. Every random choice is derived from (seed, ids), and rendering
is deterministic, so the same config gives byte-identical shards.
"""

from __future__ import annotations

import json
import math
import platform
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from visual_erm.render.api import RenderJob, RenderResult
from visual_erm.schema import TASKS, Critique
from visual_erm.synth.candidates import Candidate, RenderedSeed, build_candidates, rejection_counts, render_options
from visual_erm.synth.dataset import image_cell, read_rows, sha256_file, summarize, write_json, write_preview, write_shard
from visual_erm.synth.splits import derived_seed, split_of
from visual_erm.tasks import get_task
from visual_erm.tasks.base import SeedProgram

FORMAT = "visual-erm-pairs/1"


class SynthConfig(BaseModel):
    """Everything that determines a synthesized dataset's content."""

    model_config = ConfigDict(frozen=True)

    tasks: tuple[str, ...] = TASKS
    n: int = Field(100, ge=1, description="target number of pairs over all tasks (before natural samples)")
    seed: int = 0
    candidates_per_seed: int = Field(3, ge=1, le=20)
    max_edits: int = Field(4, ge=1, le=4)
    identity_share: float = Field(0.1, ge=0.0, le=1.0)
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    chunk_seeds: int = Field(10, ge=1)
    timeout_s: float = Field(15.0, gt=0)
    corpus: str | None = None
    natural_endpoint: str | None = None
    natural_model: str = "policy"
    natural_per_seed: int = Field(1, ge=0)

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in v if t not in TASKS]
        if bad or not v:
            raise ValueError(f"tasks must be a non-empty subset of {', '.join(TASKS)}; got {', '.join(v) or 'none'}")
        return tuple(dict.fromkeys(v))

    def seeds_per_task(self) -> dict[str, int]:
        """How many seed programs each task needs for ``n`` pairs."""
        base, extra = divmod(self.n, len(self.tasks))
        return {t: math.ceil((base + (i < extra)) / self.candidates_per_seed) for i, t in enumerate(self.tasks)}


@dataclass
class SynthReport:
    out_dir: Path
    pairs: int
    seconds: float
    chunks_done: int
    chunks_skipped: int
    manifest: dict = field(default_factory=dict)

    @property
    def pairs_per_s(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else float("inf")


def plan_seeds(cfg: SynthConfig) -> dict[str, list[SeedProgram]]:
    """Seed programs per task: user corpus entries first (in file order), then built-in generator seeds."""
    from visual_erm.synth.corpus import read_corpus

    corpus = read_corpus(Path(cfg.corpus)) if cfg.corpus else {}
    plan: dict[str, list[SeedProgram]] = {}
    for task, need in cfg.seeds_per_task().items():
        seeds = list(corpus.get(task, []))[:need]
        gen = get_task(task).generate_seed
        i = 0
        while len(seeds) < need:
            seeds.append(gen(derived_seed(cfg.seed, task, i)))
            i += 1
        plan[task] = seeds
    return plan


def structural_labels(task: str, ref_program: str, cand_program: str, ref_fig: dict | None, cand_fig: dict | None):
    """The structural critic's critique of a pair (None if it could not run, e.g. a chart without figures)."""
    from visual_erm.critics.structural import structural_critique

    try:
        return structural_critique(task, ref_program, cand_program, ref_figure=ref_fig, cand_figure=cand_fig)
    except Exception:  # a critic failure must not lose the pair; the column stays empty
        return None


def _row(c: Candidate, renderer: str, gold: Critique, critic: Critique | None, origin: str | None = None) -> dict:
    seed = c.seed.seed
    diff = c.diff
    return {
        "id": c.id,
        "task": seed.task,
        "split": c.seed.split,
        "seed_id": seed.seed_id,
        "seed_kind": seed.kind,
        "origin": origin or c.origin,
        "operators": [e.operator for e in c.edits],
        "reference_code": seed.program,
        "reference_image": image_cell(c.seed.result.png),
        "candidate_code": c.program,
        "candidate_image": image_cell(c.png),
        "gold": gold.to_json(),
        "n_errors": len(gold.errors),
        "severity_sum": gold.severity_sum,
        "changed_fraction": round(diff.changed_fraction, 6) if diff else 0.0,
        "diff_bbox": list(diff.bbox) if diff and diff.bbox else [],
        "structural_critique": critic.to_json() if critic is not None else "",
        "renderer": renderer,
        "width": c.seed.result.width or 0,
        "height": c.seed.result.height or 0,
    }


def _critic_agreement(gold: Critique, critic: Critique | None) -> tuple[int, int]:
    """(gold labels whose category the structural critic also reports, one-to-one; gold labels)."""
    if critic is None:
        return 0, 0
    pool = [e.category for e in critic.errors]
    hit = 0
    for e in gold.errors:
        if e.category in pool:
            pool.remove(e.category)
            hit += 1
    return hit, len(gold.errors)


RENDERER_NAMES = {"chart": "matplotlib-agg", "table": "chromium", "svg": "cairosvg"}


def process_chunk(
    cfg: SynthConfig, chunk: int, seeds: dict[str, list[SeedProgram]], render: Callable, out_dir: Path
) -> dict:
    """Render, edit, verify and write one chunk; returns its marker (shards + stats)."""
    refs: list[RenderedSeed] = []
    jobs: list[RenderJob] = []
    for task in cfg.tasks:
        for s in seeds.get(task, []):
            jobs.append(RenderJob(f"{s.seed_id}-ref", task, s.program, render_options(task, cfg.timeout_s)))
            refs.append(RenderedSeed(s, split_of(s.seed_id, cfg.split_ratios), None))  # type: ignore[arg-type]
    for rs, res in zip(refs, render(jobs)):
        rs.result = res
    cands = build_candidates(
        refs,
        render,
        candidates_per_seed=cfg.candidates_per_seed,
        max_edits=cfg.max_edits,
        identity_share=cfg.identity_share,
        timeout_s=cfg.timeout_s,
    )
    rows_by_shard: dict[str, list[dict]] = {}
    agree, labels = 0, 0
    for c in cands:
        if not c.kept:
            continue
        task = c.seed.seed.task
        gold = Critique(task=task, errors=tuple(e.discrepancy for e in c.edits))
        critic = None
        if c.edits:
            critic = structural_labels(task, c.seed.seed.program, c.program, c.seed.result.figure, c.figure)
            a, n = _critic_agreement(gold, critic)
            agree, labels = agree + a, labels + n
        rel = f"data/{c.seed.split}/{task}-{chunk:05d}.parquet"
        rows_by_shard.setdefault(rel, []).append(_row(c, RENDERER_NAMES[task], gold, critic))
    natural = {"requested": 0, "rendered": 0, "failed": {}}
    if cfg.natural_endpoint and cfg.natural_per_seed:
        from visual_erm.synth.natural import natural_candidates

        for row in natural_candidates(cfg, [r for r in refs if r.ok], render, natural):
            rows_by_shard.setdefault(f"data/{row['split']}/{row['task']}-{chunk:05d}.parquet", []).append(row)
    shards = {rel: write_shard(rows, out_dir / rel) for rel, rows in sorted(rows_by_shard.items())}
    return {
        "chunk": chunk,
        "shards": shards,
        "stats": {
            "seeds": len(refs),
            "seed_failures": [
                {"seed_id": r.seed.seed_id, "status": r.result.status.value, "message": r.result.message[:300]}
                for r in refs
                if not r.ok
            ],
            "candidates": len(cands),
            "kept": sum(c.kept for c in cands),
            "edit_labels": sum(len(c.edits) for c in cands if c.kept),
            "rejections": rejection_counts(cands),
            "critic_agreement": [agree, labels],
            "natural": natural,
        },
    }


def _chunk_intact(marker_path: Path, out_dir: Path) -> dict | None:
    try:
        marker = json.loads(marker_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    for rel, sha in marker.get("shards", {}).items():
        p = out_dir / rel
        if not p.is_file() or sha256_file(p) != sha:
            return None
    return marker


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("visual-erm", "matplotlib", "numpy", "cairosvg", "lxml", "playwright", "pyarrow"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "missing"
    try:
        out["chromium"] = subprocess.run(
            ["chromium", "--version"], capture_output=True, text=True, timeout=20
        ).stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        out["chromium"] = "missing"
    return out


class ConfigMismatch(RuntimeError):
    pass


def synthesize(
    cfg: SynthConfig,
    out_dir: Path,
    *,
    render: Callable[[list[RenderJob]], list[RenderResult]],
    progress: Callable[[int, int], None] | None = None,
) -> SynthReport:
    """Build (or finish building) the dataset for ``cfg`` in ``out_dir`` using ``render`` (a RenderPool's method)."""
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = out_dir / "config.json"
    cfg_json = json.loads(cfg.model_dump_json())
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        if old != cfg_json:
            diff = sorted(k for k in set(old) | set(cfg_json) if old.get(k) != cfg_json.get(k))
            raise ConfigMismatch(
                f"{out_dir} holds a dataset made with another config (differs in: {', '.join(diff)}); "
                "use a new --out directory, or delete that one"
            )
    else:
        write_json(cfg_path, cfg_json)
    manifest_path = out_dir / "manifest.json"
    plan = plan_seeds(cfg)
    n_chunks = max(math.ceil(len(v) / cfg.chunk_seeds) for v in plan.values())
    markers, done, skipped = [], 0, 0
    for chunk in range(n_chunks):
        marker_path = out_dir / "chunks" / f"{chunk:05d}.json"
        marker = _chunk_intact(marker_path, out_dir)
        if marker is None:
            manifest_path.unlink(missing_ok=True)  # the dataset is incomplete until the manifest is rewritten
            lo, hi = chunk * cfg.chunk_seeds, (chunk + 1) * cfg.chunk_seeds
            marker = process_chunk(cfg, chunk, {t: s[lo:hi] for t, s in plan.items()}, render, out_dir)
            marker_path.parent.mkdir(parents=True, exist_ok=True)
            write_json(marker_path, marker)
            done += 1
        else:
            skipped += 1
        markers.append(marker)
        if progress:
            progress(chunk + 1, n_chunks)
    manifest = build_manifest(cfg, out_dir, markers)
    rows = read_rows(out_dir)
    write_preview(rows, out_dir / "preview.html", title=f"Visual-ERM pairs (seed {cfg.seed})")
    write_json(manifest_path, manifest)
    seconds = time.perf_counter() - t0
    report = SynthReport(out_dir, manifest["counts"]["pairs"], seconds, done, skipped, manifest)
    write_json(out_dir / "run.json", {"seconds": round(seconds, 2), "pairs": report.pairs,
                                      "pairs_per_s": round(report.pairs_per_s, 3), "chunks_built": done,
                                      "chunks_reused": skipped})
    return report


def build_manifest(cfg: SynthConfig, out_dir: Path, markers: list[dict]) -> dict:
    rows = read_rows(out_dir, columns=["task", "split", "origin", "operators", "gold", "seed_id"])
    shards = {rel: sha for m in markers for rel, sha in sorted(m["shards"].items())}
    agree = sum(m["stats"]["critic_agreement"][0] for m in markers)
    labels = sum(m["stats"]["critic_agreement"][1] for m in markers)
    rejections: dict[str, int] = {}
    for m in markers:
        for k, v in m["stats"]["rejections"].items():
            rejections[k] = rejections.get(k, 0) + v
    edit_labels = sum(m["stats"]["edit_labels"] for m in markers)
    return {
        "format": FORMAT,
        "config": json.loads(cfg.model_dump_json()),
        "versions": versions(),
        "counts": summarize(rows),
        "verification": {
            "edit_labels_kept": edit_labels,
            "edit_labels_verified_visible": edit_labels,  # kept only if its render step changed pixels
            "edits_discarded": dict(sorted(rejections.items())),
            "structural_critic_agreement": round(agree / labels, 4) if labels else None,
            "seed_render_failures": [f for m in markers for f in m["stats"]["seed_failures"]],
        },
        "seeds_by_split": _seeds_by_split(rows),
        "shards": dict(sorted(shards.items())),
    }


def _seeds_by_split(rows: list[dict]) -> dict[str, int]:
    seen: dict[str, set] = {}
    for r in rows:
        seen.setdefault(r["split"], set()).add(r["seed_id"])
    return {k: len(v) for k, v in sorted(seen.items())}
