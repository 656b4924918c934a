"""Build verified candidates for a batch of seed programs: composed edits, each confirmed visible by rendering.

Edits are applied one step at a time to every active candidate of the batch, and each step is rendered as one batch
through the render pool. An edit is kept only if its program renders and the render differs from the previous
step's pixels; otherwise it is discarded and another operator is tried. So every kept label describes a change that
was visible at the moment it was made.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from visual_erm.render.api import RenderJob, RenderOptions, RenderResult
from visual_erm.synth.images import PixelDiff, pixel_diff
from visual_erm.synth.splits import derived_seed
from visual_erm.tasks import get_task
from visual_erm.tasks.base import Edit, SeedProgram

#: Share of candidates by number of composed edits (0 = identity pair), before ``identity_share`` is applied.
EDIT_COUNT_WEIGHTS = {1: 0.40, 2: 0.30, 3: 0.18, 4: 0.12}

RenderFn = Callable[[list[RenderJob]], list[RenderResult]]


@dataclass
class RenderedSeed:
    """A seed program with its reference render (or the reason it could not be rendered)."""

    seed: SeedProgram
    split: str
    result: RenderResult

    @property
    def ok(self) -> bool:
        return self.result.ok


@dataclass
class Candidate:
    """One candidate of a seed, edited step by step."""

    seed: RenderedSeed
    index: int
    target_edits: int
    program: str
    png: bytes
    figure: dict | None
    edits: list[Edit] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)  # reason → count
    diff: PixelDiff | None = None
    kept: bool = False

    @property
    def id(self) -> str:
        return f"{self.seed.seed.seed_id}-c{self.index}"

    @property
    def origin(self) -> str:
        if not self.edits:
            return "identity"
        return "edit:" + "+".join(e.operator for e in self.edits)


def render_options(task: str, timeout_s: float) -> RenderOptions:
    """Options used for every render of the dataset (charts are inspected so the structural critic can run)."""
    return RenderOptions(timeout_s=timeout_s, inspect=(task == "chart"))


def choose_edit_count(rng: random.Random, max_edits: int, identity_share: float) -> int:
    """0 with probability ``identity_share``, else 1..max_edits by :data:`EDIT_COUNT_WEIGHTS`."""
    if rng.random() < identity_share:
        return 0
    counts = [k for k in EDIT_COUNT_WEIGHTS if k <= max_edits]
    return rng.choices(counts, weights=[EDIT_COUNT_WEIGHTS[k] for k in counts])[0]


def operator_order(operators: list, rng: random.Random) -> list:
    """A seeded order by category: the categories shuffled, each one's operators shuffled and tried together.

    Every category is then first in line equally often, and the first category with an applicable operator gets
    the edit, whatever the number of operators it has: chart structure has 4 of 22, and three of them apply only
    to charts with several subplots or twin axes, so a plain shuffle of all operators left it at ~2 % of labels."""
    by_category: dict[str, list] = {}
    for op in operators:
        by_category.setdefault(op.category, []).append(op)
    categories = sorted(by_category)
    rng.shuffle(categories)
    order = []
    for cat in categories:
        ops = by_category[cat]
        rng.shuffle(ops)
        order.extend(ops)
    return order


def _propose(c: Candidate, step: int, operators: list, compatible: Callable | None) -> Edit | None:
    """Try operators not yet tried on this candidate, in a seeded category-balanced order, until one applies.

    ``compatible(earlier, later)`` (a task module's ``compose_compatible``, when it has one) vetoes an edit that
    would make an earlier gold label untrue, e.g. dropping the row an earlier edit changed.
    """
    untried = [op for op in operators if op.name not in c.tried]
    order = operator_order(untried, random.Random(derived_seed(c.id, "order", step)))
    for op in order:
        c.tried.append(op.name)
        edit = op.apply(c.program, random.Random(derived_seed(c.id, op.name, step)))
        if edit is None:
            c.rejected["not_applicable"] = c.rejected.get("not_applicable", 0) + 1
        elif compatible is not None and not all(compatible(prev, edit) for prev in c.edits):
            c.rejected["incompatible"] = c.rejected.get("incompatible", 0) + 1
        else:
            return edit
    return None


def build_candidates(
    seeds: list[RenderedSeed],
    render: RenderFn,
    *,
    candidates_per_seed: int,
    max_edits: int,
    identity_share: float,
    timeout_s: float,
    rounds_slack: int = 3,
) -> list[Candidate]:
    """Make ``candidates_per_seed`` candidates for every rendered seed; returns all of them, ``kept`` set on those
    that form a pair. A candidate that wanted edits but got none visible (or whose edits cancelled out) is not kept.
    """
    cands: list[Candidate] = []
    for rs in seeds:
        if not rs.ok:
            continue
        for i in range(candidates_per_seed):
            rng = random.Random(derived_seed(rs.seed.seed_id, i, "count"))
            k = choose_edit_count(rng, max_edits, identity_share)
            cands.append(Candidate(rs, i, k, rs.seed.program, rs.result.png, rs.result.figure))
    modules = {task: get_task(task) for task in {c.seed.seed.task for c in cands}}
    operators = {task: list(m.OPERATORS) for task, m in modules.items()}
    compat = {task: getattr(m, "compose_compatible", None) for task, m in modules.items()}
    for step in range(max_edits + rounds_slack):
        proposals: list[tuple[Candidate, Edit]] = []
        for c in cands:
            if len(c.edits) >= c.target_edits:
                continue
            edit = _propose(c, step, operators[c.seed.seed.task], compat[c.seed.seed.task])
            if edit is not None:
                proposals.append((c, edit))
        if not proposals:
            break
        jobs = [
            RenderJob(f"{c.id}-s{step}", c.seed.seed.task, e.program, render_options(c.seed.seed.task, timeout_s))
            for c, e in proposals
        ]
        for (c, edit), res in zip(proposals, render(jobs)):
            if not res.ok:
                key = f"render_{res.status.value}"
                c.rejected[key] = c.rejected.get(key, 0) + 1
                continue
            if pixel_diff(c.png, res.png).identical:
                c.rejected["invisible"] = c.rejected.get("invisible", 0) + 1
                continue
            c.program, c.png, c.figure = edit.program, res.png, res.figure
            c.edits.append(edit)
    seen: set[tuple[str, str]] = set()
    for c in cands:
        if c.target_edits > 0 and not c.edits:
            continue
        key = (c.seed.seed.seed_id, c.program)
        if key in seen:  # two candidates of one seed ended on the same program: one pair is enough
            c.rejected["duplicate"] = c.rejected.get("duplicate", 0) + 1
            continue
        c.diff = pixel_diff(c.seed.result.png, c.png)
        c.kept = not (c.edits and c.diff.identical)  # later edits may undo earlier ones
        if c.kept:
            seen.add(key)
    return cands


def rejection_counts(cands: list[Candidate]) -> dict[str, int]:
    """Sum of the reasons edits were discarded, over candidates."""
    out: dict[str, int] = {}
    for c in cands:
        for k, v in c.rejected.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))
