"""Benchmark a policy (image → code model): execution rate, task metrics and the Visual-ERM score.

    result = run_policy_bench("pairs/", "runs/bench-policy", responses="responses.jsonl", critic="structural")

Items are (task, reference program, reference image) triples, read from (see :func:`load_policy_items`):

- a **pair dataset** from ``verm synth`` (``data/<split>/*.parquet``): the ``split`` rows (default ``test``), one
  item per seed program (``id`` = ``seed_id``; the pair rows of a seed share its reference);
- an **RL prompt set** (:mod:`visual_erm.rl.prompts_set`, the same layout, manifest format
  ``visual-erm-rl-prompts/1``): one item per row of the split (``id`` = the row id), reference image and program;
- a **bench set** (``bench.jsonl``, :mod:`visual_erm.bench.benchset`): one item per distinct reference program
  (``id`` = ``seed_id`` when present, else the record id);
- a **prompt list**: a JSONL file (or a directory holding ``prompts.jsonl``) with ``id``, ``task``, the reference
  image as ``image`` / ``reference_image`` / ``gt_img_path`` (a path relative to the file) and/or
  ``reference_code`` (rendered when the image is missing). Items with an image only are still benchmarked; the
  metrics that need the reference program (chart low-level, TEDS) are left out for them.

Responses come from a JSONL of ``{"id", "response"}`` (``text``/``completion`` accepted too) or are generated from
an OpenAI-compatible endpoint (:class:`visual_erm.clients.openai_chat.ChatClient`) with
:func:`visual_erm.policy_prompts.policy_prompt` and the reference image; they are kept in ``responses.jsonl``.

Every response is rendered in the sandbox (``RenderJob(extract=True)``: the program is pulled out of the response
the released code's way). Per item:

- **executed**: the render status is ``ok`` (a non-blank image). No response, no code block, errors, timeouts,
  memory and crash kills and blank images are failures, counted per status. The execution rate is per task.
- **chart**: ChartMimic's low-level metrics (:mod:`visual_erm.bench.chart_metrics`: text, layout, chart-type and
  colour F1, and their mean), reference and candidate both rendered with ``inspect=True``. A failed render scores
  0 on each, as in ChartMimic.
- **table**: TEDS and TEDS-S (:mod:`visual_erm.bench.teds`) of the response's table HTML
  (:func:`visual_erm.render.extract.extract_table_html`) against the reference HTML. Text metrics: computed
  whether or not the page rendered (a response without a table scores 0).
- **svg**: SSIM and MSE (:mod:`visual_erm.bench.image_metrics`) of the candidate render against the reference
  image. A failed render scores SSIM 0 and MSE 1 (the worst values).
- **Visual-ERM score** (with ``critic``): every rendered item is critiqued (reference image vs candidate render,
  with both programs and chart figure descriptions) and the critique's severity sum ``S`` becomes a reward with the
  ``reward_variant`` of :mod:`visual_erm.reward.formulas` (default ``released``: 0 for a render failure, else
  ``1 + clip(1 − S/50, 0, 1)``; a critique failure counts as S = 25). When that module is not importable, the
  ``released`` formula is computed here. The mean reward and the mean S (over critiqued items) are reported.

Metric means run over all scored items of a task (failures included with their failure values — the published
convention) and, separately, over the executed items only (``*_on_executed``). An item whose *reference* does
not render (or has no program where one is needed) is excluded from every metric and listed with its reason.

Writes into ``out_dir``: ``responses.jsonl`` (when generated), ``items.jsonl`` (one row per item),
``metrics.json``, ``report.html`` (:mod:`visual_erm.bench.policy_report`) and, last, ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RESULT_FORMAT", "PolicyItem", "generate_responses", "load_policy_items", "load_responses",
           "run_policy_bench"]

RESULT_FORMAT = "visual-erm-policy-bench-result/1"
TASKS = ("chart", "table", "svg")
#: The failure values of each metric (a render failure scores these).
FAILURE_VALUES = {"text_f1": 0.0, "layout_f1": 0.0, "type_f1": 0.0, "color_f1": 0.0, "low_level": 0.0,
                  "teds": 0.0, "teds_s": 0.0, "ssim": 0.0, "mse": 1.0}
TASK_METRICS = {"chart": ("low_level", "text_f1", "layout_f1", "type_f1", "color_f1"),
                "table": ("teds", "teds_s"), "svg": ("ssim", "mse")}
#: Metric used to rank the worst items in the gallery (higher is better for each).
PRIMARY = {"chart": "low_level", "table": "teds", "svg": "ssim"}
RELEASED_SCALE = 50.0
RELEASED_UNPARSEABLE_S = 25.0


class PolicyBenchError(ValueError):
    """Inputs that cannot be benchmarked; the message says which file and what to fix."""


@dataclass
class PolicyItem:
    """One benchmark item: what the policy is shown (``reference_png``) and what it is scored against."""

    id: str
    task: str
    reference_png: bytes | None = None
    reference_code: str | None = None
    meta: dict = field(default_factory=dict)


# -------------------------------------------------------------------------------------------------- loading
RL_PROMPTS_FORMAT = "visual-erm-rl-prompts/1"


def _pair_items(path: Path, split: str) -> list[PolicyItem]:
    """Items of a pair dataset (one per seed, id = seed id) or an RL prompt set (one per row, id = row id)."""
    import pyarrow.parquet as pq

    manifest = {}
    if (path / "manifest.json").is_file():
        try:
            manifest = json.loads((path / "manifest.json").read_text())
        except (OSError, json.JSONDecodeError):
            manifest = {}
    per_row = manifest.get("format") == RL_PROMPTS_FORMAT
    wanted = ["id", "task", "split", "seed_id", "reference_code", "reference_image"]
    items: dict[str, PolicyItem] = {}
    for shard in sorted((path / "data").glob("*/*.parquet")):
        names = set(pq.read_schema(shard).names)
        if not {"id", "task", "split", "reference_image"} <= names:
            raise PolicyBenchError(f"{shard}: needs the columns id, task, split and reference_image")
        keys = pq.read_table(shard, columns=[c for c in ("id", "split", "seed_id") if c in names]).to_pylist()

        def key(r: dict) -> str:
            return r["id"] if per_row else (r.get("seed_id") or r["id"])

        if not any(r["split"] == split and key(r) not in items for r in keys):
            continue
        full = pq.read_table(shard, columns=[c for c in wanted if c in names]).to_pylist()
        for r in sorted(full, key=lambda r: r["id"]):
            if r["split"] != split or key(r) in items:
                continue
            img = r.get("reference_image") or {}
            items[key(r)] = PolicyItem(key(r), r["task"], img.get("bytes"), r.get("reference_code"),
                                       {"source_row": r["id"]} if not per_row else {})
    if not items:
        raise PolicyBenchError(f"{path} has no {split!r} rows: nothing to benchmark")
    return list(items.values())


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PolicyBenchError(f"{path}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise PolicyBenchError(f"{path}:{n}: expected a JSON object")
        rows.append(row)
    return rows


def _image_field(row: dict, base: Path) -> bytes | None:
    for key in ("reference_image", "image", "gt_img_path", "image_path"):
        v = row.get(key)
        if isinstance(v, dict):
            v = v.get("bytes") or v.get("path")
        if isinstance(v, (bytes, bytearray)):
            return bytes(v)
        if isinstance(v, str) and v:
            p = Path(v) if Path(v).is_absolute() else base / v
            try:
                return p.read_bytes()
            except OSError as exc:
                raise PolicyBenchError(f"item {row.get('id')!r}: cannot read its image {p}: {exc}") from None
    return None


def _jsonl_items(path: Path, dedupe_reference: bool) -> list[PolicyItem]:
    items: dict[str, PolicyItem] = {}
    seen_refs: set[str] = set()
    for row in _read_jsonl(path):
        task = row.get("task") or row.get("category")
        if task not in TASKS:
            raise PolicyBenchError(f"{path}: item {row.get('id')!r} has task {task!r}; expected chart|table|svg")
        code = row.get("reference_code") or row.get("code")
        key = str(row.get("seed_id") or row.get("id") or "")
        if not key:
            raise PolicyBenchError(f"{path}: an item has no id")
        if dedupe_reference:  # bench sets hold several pairs per reference: one item each
            ref_key = row.get("seed_id") or hashlib.sha256(f"{task}\0{code}".encode()).hexdigest()
            if ref_key in seen_refs or key in items:
                continue
            seen_refs.add(ref_key)
        elif key in items:
            raise PolicyBenchError(f"{path}: item id {key!r} appears twice")
        items[key] = PolicyItem(key, task, _image_field(row, path.parent), code,
                                {"source_row": row.get("id")} if dedupe_reference else {})
    if not items:
        raise PolicyBenchError(f"{path} holds no items")
    return list(items.values())


def load_policy_items(path: str | Path, *, split: str = "test") -> list[PolicyItem]:
    """The items of a pair dataset, a bench set or a prompt set (module docstring), in a stable order."""
    from visual_erm.bench.benchset import is_pair_dataset

    path = Path(path)
    if is_pair_dataset(path):
        items = _pair_items(path, split)
    elif path.is_dir() and (path / "bench.jsonl").is_file():
        items = _jsonl_items(path / "bench.jsonl", dedupe_reference=True)
    elif path.is_dir() and (path / "prompts.jsonl").is_file():
        items = _jsonl_items(path / "prompts.jsonl", dedupe_reference=False)
    elif path.is_file():
        items = _jsonl_items(path, dedupe_reference=False)
    else:
        raise PolicyBenchError(f"{path} is not a pair dataset (data/<split>/*.parquet), a bench set (bench.jsonl) "
                               "or a prompt set (a JSONL file or a folder with prompts.jsonl)")
    return sorted(items, key=lambda it: (TASKS.index(it.task), it.id))


def load_responses(path: str | Path) -> dict[str, str]:
    """``{id: response}`` from a JSONL of ``{"id", "response"}`` (``text``/``completion`` also read)."""
    out: dict[str, str] = {}
    path = Path(path)
    for n, row in enumerate(_read_jsonl(path), 1):
        rid = row.get("id")
        text = next((row[k] for k in ("response", "text", "completion") if k in row), None)
        if rid is None or text is None:
            raise PolicyBenchError(f"{path}: row {n} needs 'id' and 'response'")
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        if str(rid) in out:
            raise PolicyBenchError(f"{path}: response id {rid!r} appears twice")
        out[str(rid)] = text
    return out


def generate_responses(items: Sequence[PolicyItem], endpoint: str, model: str, *, workers: int = 4,
                       client=None, **sampling) -> tuple[dict[str, str], dict[str, str]]:
    """Ask the policy at ``endpoint`` for every item; returns ``({id: response}, {id: error})``."""
    from visual_erm.clients.openai_chat import ChatClient, image_part
    from visual_erm.policy_prompts import policy_prompt

    client = client or ChatClient(endpoint=endpoint, model=model)

    def ask(it: PolicyItem):
        if not it.reference_png:
            return it.id, None, "the item has no reference image to show the policy"
        messages = [{"role": "user", "content": [image_part(it.reference_png),
                                                 {"type": "text", "text": policy_prompt(it.task)}]}]
        try:
            return it.id, client.complete(messages, **sampling), None
        except Exception as exc:  # noqa: BLE001 - one failed call is that item's failure, not the run's
            return it.id, None, f"{type(exc).__name__}: {str(exc)[:300]}"

    responses, errors = {}, {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
        for rid, text, err in ex.map(ask, items):
            if err is None:
                responses[rid] = text
            else:
                errors[rid] = err
    return responses, errors


# ---------------------------------------------------------------------------------------------------- scoring
def _png_size(png: bytes | None) -> tuple[int, int] | None:
    if not png:
        return None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(png)) as im:
            return im.size
    except Exception:  # noqa: BLE001
        return None


def _candidate_program(task: str, response: str) -> str | None:
    from visual_erm.render import extract

    if task == "chart":
        return extract.extract_chart_code(response)
    if task == "svg":
        return extract.extract_svg(response)
    return extract.extract_table_html(response) or None


def _outcome_kind(status: str, message: str) -> str:
    return {"timeout": "timeout", "memory": "memory", "crash": "crash", "error": "render_error", "blank": "blank",
            "infra_error": "infra_error", "no_response": "no_code"}.get(
        status, "no_code" if status == "rejected" and ("no " in message or "empty" in message) else "rejected")


def _rewards(variant: str, outcomes: list[tuple[str, float | None, str]]) -> tuple[list[float], str]:
    """Rewards of (kind, S, task) outcomes with :mod:`visual_erm.reward.formulas`, else the local ``released``."""
    try:
        from visual_erm.reward.formulas import Outcome, compute_rewards
    except ImportError:
        if variant != "released":
            raise PolicyBenchError(f"reward variant {variant!r} needs visual_erm.reward, which is not installed")
        out = []
        for kind, s, _task in outcomes:
            if kind not in ("ok", "unparseable", "critic_error"):
                out.append(0.0)
            else:
                s = s if kind == "ok" else RELEASED_UNPARSEABLE_S
                out.append(1.0 + min(1.0, max(0.0, 1.0 - s / RELEASED_SCALE)))
        return out, "local released formula: 0 on render failure, else 1 + clip(1 - S/50, 0, 1)"
    objs = [Outcome(kind, s if kind == "ok" else None, task) for kind, s, task in outcomes]
    return compute_rewards(variant, objs), f"visual_erm.reward.formulas:{variant}"


def _make_critic(name: str, pool, options: dict | None):
    from visual_erm.critics.registry import critic_factory, get_critic

    options = dict(options or {})
    try:
        params = inspect.signature(critic_factory(name)).parameters
    except (TypeError, ValueError):
        params = {}
    if "render" in params and "render" not in options:  # reuse this run's render pool (the structural critic)
        options["render"] = pool.render
    return get_critic(name, **options)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _summarize(rows: list[dict]) -> dict:
    """Per-group figures: counts, execution rate, metric means (all scored / executed only), Visual-ERM score."""
    scored = [r for r in rows if not r.get("excluded")]
    n = len(scored)
    executed = [r for r in scored if r["executed"]]
    out: dict = {"n_items": len(rows), "n_scored": n, "n_excluded": len(rows) - n, "n_executed": len(executed),
                 "exec_rate": len(executed) / n if n else None,
                 "status_counts": dict(sorted(Counter(r["status"] for r in scored).items()))}
    metrics: dict = {}
    names = sorted({k for r in scored for k in (r.get("metrics") or {})},
                   key=lambda k: list(FAILURE_VALUES).index(k) if k in FAILURE_VALUES else 99)
    for k in names:
        vals = [r["metrics"][k] for r in scored if (r.get("metrics") or {}).get(k) is not None]
        vals_ex = [r["metrics"][k] for r in executed if (r.get("metrics") or {}).get(k) is not None]
        metrics[k] = _mean(vals)
        metrics[f"{k}_on_executed"] = _mean(vals_ex)
        metrics[f"{k}_n"] = len(vals)
    out["metrics"] = metrics
    rewarded = [r for r in scored if r.get("reward") is not None]
    if rewarded:
        crit = [r["severity_sum"] for r in scored if r.get("severity_sum") is not None]
        out["verm"] = {"reward_mean": _mean([r["reward"] for r in rewarded]), "n": len(rewarded),
                       "severity_sum_mean": _mean(crit), "n_critiqued": len(crit),
                       "critique_failures": sum(1 for r in scored if r.get("critique_failure"))}
    return out


def run_policy_bench(data: str | Path, out_dir: str | Path, *, responses: str | Path | dict[str, str] | None = None,
                     endpoint: str | None = None, model: str | None = None, critic: str | None = None,
                     critic_options: dict | None = None, reward_variant: str = "released", split: str = "test",
                     workers: int | None = None, timeout_s: float = 15.0, max_items: int | None = None,
                     gallery: int = 12, pool=None, client=None, sampling: dict | None = None,
                     policy_name: str | None = None) -> dict:
    """Render and score a policy's responses on the items of ``data``; write the outputs (module docstring).

    Args:
        data: A pair dataset, a bench set or a prompt set (see :func:`load_policy_items`).
        out_dir: Output directory.
        responses: A responses JSONL, or ``{id: response}``; exclusive with ``endpoint``.
        endpoint, model: An OpenAI-compatible policy endpoint and model name to generate the responses.
        critic: A registered critic name (or ``module:Factory``) for the Visual-ERM score; None skips it.
        reward_variant: The reward formula for the critic's severity sums (``released`` by default).
        workers: Render workers (and concurrent endpoint calls). ``pool``: an already started RenderPool.
        timeout_s: Per-response render timeout (the released code uses 15 s).
        max_items: Benchmark only the first N items (a smoke run).

    Returns the ``metrics.json`` content.
    """
    from visual_erm.bench.run_critic import _sha256, _write_json, _write_jsonl
    from visual_erm.render.api import RenderJob, RenderOptions

    if (responses is None) == (endpoint is None):
        raise PolicyBenchError("give exactly one of responses (a JSONL) and endpoint (with model)")
    if endpoint is not None and not model:
        raise PolicyBenchError("an endpoint needs a model name")
    if not 0 < timeout_s <= 300:
        raise PolicyBenchError(f"timeout_s must be in (0, 300] seconds, got {timeout_s}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").unlink(missing_ok=True)
    items = load_policy_items(data, split=split)
    if max_items:
        items = items[:max_items]

    t0 = time.perf_counter()
    endpoint_errors: dict[str, str] = {}
    if endpoint is not None:
        resp, endpoint_errors = generate_responses(items, endpoint, model or "", workers=workers or 4,
                                                   client=client, **(sampling or {}))
        _write_jsonl(out_dir / "responses.jsonl", [{"id": it.id, "response": resp[it.id]} for it in items
                                                   if it.id in resp])
    elif isinstance(responses, dict):
        resp = {str(k): v for k, v in responses.items()}
    else:
        resp = load_responses(responses)  # type: ignore[arg-type]
    generate_s = time.perf_counter() - t0
    item_ids = {it.id for it in items}
    unmatched = sorted(set(resp) - item_ids)

    own_pool = None
    if pool is None:
        from visual_erm.render.pool import RenderPool

        own_pool = pool = RenderPool(workers=workers).start()
    try:
        t1 = time.perf_counter()
        # references: charts always (their figure description); others only when the image is missing. A reference
        # gets at least 30 s: a slow reference is not the policy's failure.
        ref_jobs, ref_idx = [], []
        for i, it in enumerate(items):
            if it.reference_code and (it.task == "chart" or not it.reference_png):
                size = _png_size(it.reference_png)
                opts = RenderOptions(timeout_s=min(300.0, max(timeout_s, 30.0)), inspect=it.task == "chart")
                if it.task == "svg" and size:
                    opts = RenderOptions(timeout_s=opts.timeout_s, width=size[0], height=size[1])
                ref_jobs.append(RenderJob(f"ref:{it.id}", it.task, it.reference_code, opts, extract=False))
                ref_idx.append(i)
        cand_jobs, cand_idx = [], []
        for i, it in enumerate(items):
            if it.id not in resp:
                continue
            size = _png_size(it.reference_png)
            opts = RenderOptions(timeout_s=timeout_s, inspect=it.task == "chart")
            if it.task == "svg" and size:
                opts = RenderOptions(timeout_s=timeout_s, width=size[0], height=size[1])
            cand_jobs.append(RenderJob(f"cand:{it.id}", it.task, resp[it.id], opts, extract=True))
            cand_idx.append(i)
        results = pool.render(ref_jobs + cand_jobs) if ref_jobs or cand_jobs else []
        ref_res = dict(zip(ref_idx, results[: len(ref_jobs)]))
        cand_res = dict(zip(cand_idx, results[len(ref_jobs):]))
        render_s = time.perf_counter() - t1

        rows, cand_pngs, ref_pngs = _score_items(items, resp, ref_res, cand_res, endpoint_errors)
        t2 = time.perf_counter()
        reward_source = None
        if critic:
            reward_source = _critique(critic, critic_options, pool, items, resp, rows, ref_res, cand_res, ref_pngs,
                                      cand_pngs, reward_variant)
        critic_s = time.perf_counter() - t2
    finally:
        if own_pool is not None:
            own_pool.close()

    by_task = {t: _summarize([r for r in rows if r["task"] == t]) for t in TASKS if any(r["task"] == t for r in rows)}
    result = {
        "format": RESULT_FORMAT,
        "policy": policy_name or (f"{model}@{endpoint}" if endpoint else str(responses if not isinstance(
            responses, dict) else "responses")),
        "data": str(data),
        "split": split,
        "critic": critic,
        "reward_variant": reward_variant if critic else None,
        "reward_source": reward_source,
        "render_timeout_s": timeout_s,
        "overall": _summarize(rows),
        "by_task": by_task,
        "excluded": [{"id": r["id"], "task": r["task"], "reason": r["excluded"]} for r in rows if r.get("excluded")],
        "unmatched_responses": unmatched,
        "endpoint_errors": endpoint_errors,
        "timing": {"generate_s": round(generate_s, 2), "render_s": round(render_s, 2), "critic_s": round(critic_s, 2)},
    }
    _write_jsonl(out_dir / "items.jsonl", rows)
    _write_json(out_dir / "metrics.json", result)
    from visual_erm.bench.policy_report import worst_items, write_policy_report

    write_policy_report(out_dir / "report.html", result,
                        worst_items(rows, gallery, ref_pngs=ref_pngs, cand_pngs=cand_pngs))
    files = [f for f in ("responses.jsonl", "items.jsonl", "metrics.json", "report.html") if (out_dir / f).is_file()]
    _write_json(out_dir / "manifest.json", {"format": RESULT_FORMAT, "files": {f: _sha256(out_dir / f) for f in files}})
    return result


def _score_items(items, resp, ref_res, cand_res, endpoint_errors):
    """Per-item rows (status, executed, task metrics); the reference and candidate PNGs by item id."""
    from visual_erm.bench.chart_metrics import chart_scores

    rows: list[dict] = []
    cand_pngs: dict[str, bytes] = {}
    ref_pngs: dict[str, bytes] = {}
    for i, it in enumerate(items):
        row: dict = {"id": it.id, "task": it.task, **({"source_row": it.meta["source_row"]}
                                                       if it.meta.get("source_row") else {})}
        rr = ref_res.get(i)
        ref_png = it.reference_png or (rr.png if rr is not None and rr.ok else None)
        if ref_png:
            ref_pngs[it.id] = ref_png
        cr = cand_res.get(i)
        if cr is None:
            row.update(status="no_response", message=endpoint_errors.get(it.id, "no response for this item"))
        else:
            row.update(status=cr.status.value, message=(cr.message or "")[:300])
            if cr.ok and cr.png:
                cand_pngs[it.id] = cr.png
        row["executed"] = row["status"] == "ok"
        metrics: dict = {}
        if it.task == "chart":
            if not it.reference_code:
                row["note"] = "no reference program: chart metrics not computed"
            elif rr is None or not rr.ok or rr.figure is None:
                row["excluded"] = (f"reference did not render: {rr.status.value} {rr.message[:200]}".strip()
                                   if rr is not None else "reference did not render")
            else:
                metrics = chart_scores(rr.figure, cr.figure if cr is not None and cr.ok else None).flat()
        elif it.task == "table":
            from visual_erm.bench.teds import teds, teds_s
            from visual_erm.render.extract import extract_table_html

            ref_html = extract_table_html(it.reference_code) if it.reference_code else ""
            if not it.reference_code:
                row["note"] = "no reference program: TEDS not computed"
            elif not ref_html:
                row["excluded"] = "the reference holds no table"
            else:
                cand_html = extract_table_html(resp[it.id]) if it.id in resp else ""
                metrics = {"teds": teds(cand_html, ref_html), "teds_s": teds_s(cand_html, ref_html)}
        else:
            from visual_erm.bench.image_metrics import mse, ssim

            if not ref_png:
                row["excluded"] = "no reference image"
            elif it.id in cand_pngs:
                metrics = {"ssim": float(ssim(ref_png, cand_pngs[it.id])), "mse": float(mse(ref_png, cand_pngs[it.id]))}
            else:
                metrics = {"ssim": FAILURE_VALUES["ssim"], "mse": FAILURE_VALUES["mse"]}
        if not ref_png and not row.get("excluded"):
            row["excluded"] = "no reference image"
        row["metrics"] = {k: round(float(v), 6) for k, v in metrics.items()}
        rows.append(row)
    return rows, cand_pngs, ref_pngs


def _critique(critic_name, critic_options, pool, items, resp, rows, ref_res, cand_res, ref_pngs, cand_pngs,
              variant) -> str:
    """Critique every rendered item; fill ``severity_sum``/``errors``/``reward`` into the rows. Returns the reward
    formula's source."""
    from visual_erm.critics.base import CritiqueFailure, CritiqueInput

    inputs, idx = [], []
    for i, (it, row) in enumerate(zip(items, rows)):
        if row.get("excluded") or not row["executed"]:
            continue
        cr, rr = cand_res[i], ref_res.get(i)
        chart = it.task == "chart"
        inputs.append(CritiqueInput(it.id, it.task, ref_pngs[it.id], cand_pngs[it.id],
                                    reference_code=it.reference_code,
                                    candidate_code=_candidate_program(it.task, resp[it.id]),
                                    reference_figure=rr.figure if chart and rr is not None else None,
                                    candidate_figure=cr.figure if chart else None))
        idx.append(i)
    got: list = []
    if inputs:
        with _make_critic(critic_name, pool, critic_options) as c:
            got = c.critique_many(inputs)
        if len(got) != len(inputs):
            raise RuntimeError(f"critic {critic_name!r} returned {len(got)} results for {len(inputs)} items")
    by_row = dict(zip(idx, got))
    outcomes = []
    for i, row in enumerate(rows):
        if row.get("excluded"):
            continue
        if not row["executed"]:
            outcomes.append((i, _outcome_kind(row["status"], row.get("message", "")), None))
            continue
        g = by_row[i]
        if isinstance(g, CritiqueFailure):
            row["critique_failure"] = str(g)
            outcomes.append((i, "unparseable" if g.reason == "unparseable" else "critic_error", None))
        else:
            row["severity_sum"] = float(g.severity_sum)
            row["errors"] = [e.to_json_dict() for e in g.errors]
            outcomes.append((i, "ok", float(g.severity_sum)))
    rewards, source = _rewards(variant, [(k, s, rows[i]["task"]) for i, k, s in outcomes])
    for (i, _k, _s), r in zip(outcomes, rewards):
        rows[i]["reward"] = round(float(r), 6)
    return source
