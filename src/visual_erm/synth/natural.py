"""Natural candidates: a policy model served behind an OpenAI-compatible endpoint reads the reference image and
writes a program; the program is rendered in the sandbox and labelled by the structural critic (no teacher)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable

from visual_erm.clients.openai_chat import ChatClient, EndpointError, image_part
from visual_erm.policy_prompts import policy_prompt
from visual_erm.render.api import RenderJob
from visual_erm.render.extract import extract_program
from visual_erm.schema import Critique
from visual_erm.synth.candidates import render_options
from visual_erm.synth.dataset import image_cell
from visual_erm.synth.images import pixel_diff
from visual_erm.synth.splits import derived_seed

if TYPE_CHECKING:
    from visual_erm.synth.candidates import RenderedSeed
    from visual_erm.synth.engine import SynthConfig


def natural_candidates(cfg: "SynthConfig", seeds: list["RenderedSeed"], render: Callable, stats: dict) -> list[dict]:
    """Ask the policy for ``cfg.natural_per_seed`` programs per seed; return the pair rows of those that rendered."""
    from visual_erm.synth.engine import RENDERER_NAMES, structural_labels

    client = ChatClient(cfg.natural_endpoint or "", cfg.natural_model)
    asks = [(rs, j) for rs in seeds for j in range(cfg.natural_per_seed)]
    stats["requested"] += len(asks)

    def ask(item):
        rs, j = item
        messages = [{"role": "user", "content": [image_part(rs.result.png),
                                                 {"type": "text", "text": policy_prompt(rs.seed.task)}]}]
        try:
            return client.complete(messages, temperature=0.7, top_p=0.8, max_tokens=4096,
                                   seed=derived_seed(rs.seed.seed_id, "natural", j))
        except EndpointError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=4) as ex:
        responses = list(ex.map(ask, asks))
    jobs, kept = [], []
    for (rs, j), resp in zip(asks, responses):
        if isinstance(resp, Exception):
            stats["failed"]["endpoint"] = stats["failed"].get("endpoint", 0) + 1
            stats.setdefault("last_error", str(resp)[:300])
            continue
        jobs.append(RenderJob(f"{rs.seed.seed_id}-n{j}", rs.seed.task, resp,
                              render_options(rs.seed.task, cfg.timeout_s), extract=True))
        kept.append((rs, j, resp))
    rows = []
    for (rs, j, resp), res in zip(kept, render(jobs) if jobs else []):
        if not res.ok:
            key = f"render_{res.status.value}"
            stats["failed"][key] = stats["failed"].get(key, 0) + 1
            continue
        stats["rendered"] += 1
        task = rs.seed.task
        program = extract_program(task, resp)
        critic = structural_labels(task, rs.seed.program, program, rs.result.figure, res.figure)
        if critic is None:
            stats["failed"]["critic"] = stats["failed"].get("critic", 0) + 1
            continue
        diff = pixel_diff(rs.result.png, res.png)
        if diff.identical and critic.errors:
            critic = Critique(task=task)  # pixel-identical renders are equivalent whatever the programs say
        rows.append({
            "id": f"{rs.seed.seed_id}-n{j}", "task": task, "split": rs.split, "seed_id": rs.seed.seed_id,
            "seed_kind": rs.seed.kind, "origin": f"natural:{cfg.natural_model}", "operators": [],
            "reference_code": rs.seed.program, "reference_image": image_cell(rs.result.png),
            "candidate_code": program, "candidate_image": image_cell(res.png), "gold": critic.to_json(),
            "n_errors": len(critic.errors), "severity_sum": critic.severity_sum,
            "changed_fraction": round(diff.changed_fraction, 6), "diff_bbox": list(diff.bbox or []),
            "structural_critique": critic.to_json(), "renderer": RENDERER_NAMES[task],
            "width": rs.result.width or 0, "height": rs.result.height or 0,
        })
    return rows
