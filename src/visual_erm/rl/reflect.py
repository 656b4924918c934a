"""Test-time scaling by reflect-and-revise (paper: "Test-time scaling").

For every prompt: the policy answers; the answer is rendered and critiqued; while the reward is below a threshold
(and rounds remain), the policy gets its previous program and the critique (the reward model's JSON, or the render
failure) and writes a revision. The best answer seen is kept. Works with any policy (a local model directory, an
OpenAI-compatible endpoint, a scripted function) and any critic (the reward model served or in process, the
structural critic, the pixel critic)::

    report = reflect_and_revise(rows, open_policy("http://policy:8000/v1", model="p"),
                                make_reward_function(make_rm_critic(reward_endpoint=URL), "released"), rounds=3)

``report["rounds"]`` holds, per round (0 = the first answer): the mean reward and execution rate of the answers
held after that round, and of the best answers so far.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

from visual_erm.policy_prompts import policy_prompt
from visual_erm.rl.policy import PolicyClient, PolicyRequest

REPORT_FORMAT = "visual-erm-reflect/1"

#: What a revision turn says after the previous program and the feedback.
REVISE_INSTRUCTION = (
    "Revise the program so that its rendering matches the reference image: fix every listed discrepancy, keep "
    "everything that is already correct, and return the complete program in the same format as before."
)


def _fence(task: str) -> str:
    return {"chart": "python", "svg": "svg", "table": "html"}[task]


def revision_text(task: str, previous: str, feedback: dict) -> str:
    """The text of a revision request: the instruction, the previous program, the critique JSON, what to do."""
    from visual_erm.reward.functions import extract_program

    program = extract_program(task, previous) or previous
    if feedback.get("critique") is not None:
        why = ("A reviewer compared the image rendered from your program with the reference image and listed these "
               "discrepancies (JSON; severity 1 minor, 2 medium, 3 severe):\n" + feedback["critique"])
    else:
        why = f"Your program did not produce a usable image ({feedback.get('status', 'failure')}): " \
              f"{feedback.get('detail') or 'no details'}."
    return (f"{policy_prompt(task)}\n\nYour previous answer:\n```{_fence(task)}\n{program.strip()}\n```\n\n"
            f"{why}\n\n{REVISE_INSTRUCTION}")


def revision_messages(task: str, previous: str, feedback: dict) -> list[dict]:
    """One user turn: the reference image, then :func:`revision_text`."""
    return [{"role": "user", "content": [{"type": "image"},
                                         {"type": "text", "text": revision_text(task, previous, feedback)}]}]


def _passes(item, reward: float, threshold: float | None) -> bool:
    if threshold is None:  # default: stop when the critic finds the rendering equivalent to the reference
        return item.outcome.kind == "ok" and item.outcome.severity_sum == 0
    return reward >= threshold


def reflect_and_revise(rows: Sequence[dict], policy: PolicyClient, reward, *, rounds: int = 3,
                       threshold: float | None = None, max_new_tokens: int = 1024, temperature: float = 0.0,
                       seed: int | None = 0, log=None) -> dict:
    """Run reflect-and-revise over prompt-set rows and report per-round scores.

    Args:
        rows: RL prompt-set rows (``id``, ``task``, ``reference_image`` {bytes}, ``reference_code``, ``prompt``).
        policy: A :class:`~visual_erm.rl.policy.PolicyClient`.
        reward: A :class:`~visual_erm.reward.functions.VisualERMReward` (its critic and variant score each answer).
        rounds: Revision rounds after the first answer (the paper's best is 3).
        threshold: Stop revising an item once its reward reaches this; None: once the critique is empty (S = 0).
        max_new_tokens: Policy generation budget per answer.
        temperature: Policy sampling temperature (0: greedy).
        seed: Sampling seed per round (``seed + round``).

    Returns:
        ``{"format", "config", "rounds": [per-round scores], "items": [per-item rewards per round, best]}``.
    """
    t0 = time.time()
    rows = list(rows)
    n = len(rows)
    tasks = [r["task"] for r in rows]
    refs = [r["reference_image"]["bytes"] if isinstance(r["reference_image"], dict) else r["reference_image"]
            for r in rows]
    codes = [r.get("reference_code") for r in rows]
    first = [PolicyRequest(json.loads(r["prompt"]) if isinstance(r["prompt"], str) else r["prompt"], [ref], r["task"])
             for r, ref in zip(rows, refs)]
    answers = policy.generate(first, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    held = list(answers)
    history: list[list[dict]] = [[] for _ in range(n)]
    best: list[dict | None] = [None] * n
    active = list(range(n))
    per_round = []
    for rnd in range(rounds + 1):
        if rnd > 0:
            reqs = []
            for i in active:
                last = history[i][-1]
                reqs.append(PolicyRequest(revision_messages(tasks[i], held[i], last["feedback"]), [refs[i]], tasks[i]))
            new = policy.generate(reqs, max_new_tokens=max_new_tokens, temperature=temperature,
                                  seed=None if seed is None else seed + rnd)
            for i, text in zip(active, new):
                held[i] = text
        scored = active if rnd > 0 else list(range(n))
        rewards, diag = reward.score([held[i] for i in scored], [tasks[i] for i in scored], [refs[i] for i in scored],
                                     reference_code=[codes[i] for i in scored])
        for i, r, it in zip(scored, rewards, diag.items):
            entry = {"round": rnd, "reward": float(r), "kind": it.outcome.kind,
                     "severity_sum": it.outcome.severity_sum, "answer": held[i],
                     "feedback": {"critique": it.critique_json, "status": it.outcome.kind,
                                  "detail": it.outcome.detail},
                     "passed": _passes(it, float(r), threshold)}
            history[i].append(entry)
            if best[i] is None or entry["reward"] > best[i]["reward"]:
                best[i] = entry
        cur = [history[i][-1] for i in range(n)]
        per_round.append({
            "round": rnd,
            "revised": len(scored) if rnd > 0 else 0,
            "mean_reward": sum(e["reward"] for e in cur) / max(1, n),
            "exec_rate": sum(1 for e in cur if e["kind"] in ("ok", "unparseable", "critic_error")) / max(1, n),
            "best_mean_reward": sum(b["reward"] for b in best if b) / max(1, n),
            "best_exec_rate": sum(1 for b in best if b and b["kind"] in ("ok", "unparseable", "critic_error"))
            / max(1, n),
            "passed": sum(1 for e in cur if e["passed"]),
            "parse_fail": sum(1 for e in cur if e["kind"] == "unparseable"),
        })
        if log:
            log(f"round {rnd}: mean reward {per_round[-1]['mean_reward']:.4f}, exec rate "
                f"{per_round[-1]['exec_rate']:.3f}, best {per_round[-1]['best_mean_reward']:.4f}")
        active = [i for i in scored if not history[i][-1]["passed"]]
        if not active:
            break
    items = [{"id": r["id"], "task": r["task"], "rewards": [e["reward"] for e in h], "kinds": [e["kind"] for e in h],
              "best_round": b["round"] if b else None, "best_reward": b["reward"] if b else None,
              "best_answer": b["answer"] if b else None, "last_critique": h[-1]["feedback"]["critique"] if h else None}
             for r, h, b in zip(rows, history, best)]
    return {
        "format": REPORT_FORMAT,
        "config": {"rounds": rounds, "threshold": threshold, "variant": getattr(reward, "variant", None),
                   "critic": getattr(reward, "critic_name", None), "policy": getattr(policy, "name", None),
                   "temperature": temperature, "max_new_tokens": max_new_tokens, "n": n},
        "rounds": per_round,
        "items": items,
        "seconds": round(time.time() - t0, 2),
    }


def run_reflect(prompts_uri: str, out_path: str | Path | None, *, policy: str, policy_model: str | None = None,
                reward_model: str | None = None, reward_endpoint: str | Sequence[str] | None = None,
                critic: str = "reward_model", rm_model_name: str = "visual-erm", variant: str = "released",
                rounds: int = 3, threshold: float | None = None, n: int | None = None, split: str = "test",
                tasks: str = "all", max_new_tokens: int = 1024, temperature: float = 0.0, workers: int | None = None,
                unsafe_no_sandbox: bool = False, rm_sampling: str = "greedy", rm_max_tokens: int | None = None,
                log=None) -> dict:
    """`verm reflect`: read a prompt set, open the policy and the critic, run :func:`reflect_and_revise`, write the
    report JSON (``out_path``) and return it."""
    from visual_erm import storage
    from visual_erm.render.pool import RenderPool
    from visual_erm.reward.functions import make_reward_function
    from visual_erm.rl.critic import make_rm_critic
    from visual_erm.rl.policy import open_policy
    from visual_erm.rl.prompts_set import read_prompt_rows

    local = storage.resolve_input(prompts_uri, Path(out_path).parent if out_path else Path("."))
    rows = read_prompt_rows(local, split, tasks)
    if n is not None:
        per: dict[str, list[dict]] = {}
        for r in rows:
            per.setdefault(r["task"], []).append(r)
        rows = [r for rs in per.values() for r in rs[:n]]
    if not rows:
        raise ValueError(f"{prompts_uri}: no prompts in split {split!r} for tasks {tasks!r}")
    pol = open_policy(policy, model=policy_model)
    with RenderPool(workers=workers, unsafe_no_sandbox=unsafe_no_sandbox) as pool:
        crit: Any
        if critic == "reward_model":
            crit = make_rm_critic(reward_model=reward_model, reward_endpoint=reward_endpoint, model_name=rm_model_name,
                                  sampling=rm_sampling, max_new_tokens=rm_max_tokens)
        else:
            crit = critic
        reward = make_reward_function(crit, variant, pool, name="visual_erm")
        try:
            report = reflect_and_revise(rows, pol, reward, rounds=rounds, threshold=threshold,
                                        max_new_tokens=max_new_tokens, temperature=temperature, log=log)
        finally:
            reward.close()
            pol.close()
    report["config"].update({"prompts": str(prompts_uri), "split": split, "policy": policy,
                             "reward_endpoint": reward_endpoint, "reward_model": reward_model})
    if out_path:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        Path(out_path).write_text(json.dumps(report, indent=1, default=str) + "\n")
    return report
