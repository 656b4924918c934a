"""TRL-signature reward functions: render every rollout, critique the rendered ones, fold critiques into rewards.

TRL's ``GRPOTrainer`` (1.16) calls each reward function once per generation batch as
``func(prompts=..., completions=..., completion_ids=..., trainer_state=..., log_extra=..., log_metric=...,
**every_other_dataset_column)``; ``completions`` are chat lists (``[{"role": "assistant", "content": ...}]``) for
conversational datasets, strings otherwise. Functions whose ``__call__`` is a coroutine are gathered concurrently
on the trainer's daemon event loop; ``None`` rewards become NaN. So here:

* :class:`VisualERMReward` — synchronous callable; :class:`AsyncVisualERMReward` — the same work in a worker
  thread behind ``async def __call__`` (runs alongside other async reward functions; the loop is never blocked).
* :func:`make_reward_function` builds either, with a proper ``__name__`` (TRL logs rewards under it).
* Module-level :func:`visual_erm_reward` / :func:`visual_erm_reward_async` use a process-wide default configured
  from the environment (``VERM_REWARD_CRITIC``, ``VERM_REWARD_VARIANT``, ``VERM_RM_ENDPOINT``, ``VERM_RM_MODEL``,
  ``VERM_RENDER_WORKERS``), so a config can name them by dotted path.
* Baselines for comparison: :func:`pixel_similarity_reward` (SSIM), :func:`teds_reward` (tables, needs the
  reference HTML), :func:`structural_reward` (the structural critic).

The reference image arrives as a dataset column: ``reference_image`` (PNG bytes, a PIL image, a ``{"bytes",
"path"}`` struct or a path) — or TRL's own ``image`` / ``images`` column (the policy's input image) when there is no
``reference_image``. The task comes from a ``task`` column (or ``task=`` when the function is built).

The ``paper`` variant's "task batch" is the call's batch (all generations of the prompts of one optimizer micro-step
on this process, grouped by task). Every failure maps to the variant's low end (see :mod:`visual_erm.reward.formulas`); a reward call that raises as a
whole returns the variant's failure value for every item (never 0.0 for tables, never ``None``).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from visual_erm.reward.diagnostics import ItemDiagnostics, RewardDiagnostics
from visual_erm.reward.formulas import VARIANTS, Outcome, compute_rewards, failure_reward

log = logging.getLogger(__name__)

__all__ = [
    "AsyncVisualERMReward", "PixelSimilarityReward", "VisualERMReward", "completion_text", "make_reward_function",
    "pixel_similarity_reward", "structural_reward", "teds_reward", "to_png_bytes", "visual_erm_reward",
    "visual_erm_reward_async",
]

#: Render status → outcome kind.
STATUS_KIND = {"ok": "ok", "timeout": "timeout", "memory": "memory", "crash": "crash", "error": "render_error",
               "blank": "blank", "rejected": "rejected", "infra_error": "infra_error"}
_PARSE_REASONS = {"unparseable", "parse_error", "empty", "no_json", "bad_json", "not_object", "missing_errors",
                  "bad_errors", "bad_error", "unknown_category", "count_mismatch"}


# ------------------------------------------------------------------------------------------------ input helpers
def completion_text(completion: Any) -> str:
    """The text of one TRL completion: a string, a chat list (last assistant message) or a content-part list."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        if "content" in completion:
            return completion_text(completion["content"])
        if completion.get("type") == "text":
            return str(completion.get("text") or "")
        return ""
    if isinstance(completion, (list, tuple)):
        if completion and all(isinstance(m, dict) and "role" in m for m in completion):
            answers = [m for m in completion if m.get("role") == "assistant"] or list(completion)
            return completion_text(answers[-1].get("content"))
        return "".join(completion_text(part) for part in completion
                       if not (isinstance(part, dict) and part.get("type") not in (None, "text")))
    return str(completion)


def to_png_bytes(value: Any) -> bytes | None:
    """PNG bytes of an image cell: bytes (PNG/JPEG/...), a PIL image, a ``{"bytes","path"}`` struct, a path, or a
    one-element list of those (TRL ``images`` columns). ``None`` when there is nothing."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return to_png_bytes(value[0]) if value else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return data
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return _pil_png(im)
    if isinstance(value, dict):
        if value.get("bytes"):
            return to_png_bytes(value["bytes"])
        if value.get("path"):
            return to_png_bytes(Path(value["path"]))
        return None
    if isinstance(value, (str, Path)):
        return to_png_bytes(Path(value).read_bytes())
    if hasattr(value, "save") and hasattr(value, "size"):  # PIL image
        return _pil_png(value)
    raise TypeError(f"cannot read an image from {type(value).__name__}")


def _pil_png(im) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _column(value: Any, n: int, name: str) -> list:
    """A per-item list from a dataset column (a list of n) or a constant."""
    if isinstance(value, (list, tuple)) and len(value) == n:
        return list(value)
    return [value] * n


def _reference_column(n: int, reference_image: Any, kwargs: dict) -> list:
    if reference_image is not None:
        return _column(reference_image, n, "reference_image")
    for key in ("image", "images"):
        if kwargs.get(key) is not None:
            col = kwargs[key]
            if isinstance(col, (list, tuple)) and len(col) == n:
                return list(col)
            return [col] * n
    return [None] * n


def extract_program(task: str, text: str) -> str | None:
    """The program the renderer would run for a response (released-code extraction), or None."""
    from visual_erm.render import extract

    if task == "chart":
        return extract.extract_chart_code(text)
    if task == "svg":
        return extract.extract_svg(text)
    if task == "table":
        return extract.extract_table_html(text) or None
    return None


# ------------------------------------------------------------------------------------------------ the reward
class _RenderingReward:
    """Shared machinery: a lazily started (or borrowed) RenderPool and the batch render step."""

    def __init__(self, *, pool=None, workers: int | None = None, unsafe_no_sandbox: bool = False,
                 render_options: dict | None = None, task: str | None = None, name: str = "reward"):
        self._pool = pool
        self._own_pool = False
        self._pool_lock = threading.Lock()
        self.workers = workers
        self.unsafe_no_sandbox = unsafe_no_sandbox
        self.render_options = dict(render_options or {})
        self.task = task
        self.__name__ = name
        self.__qualname__ = name

    @property
    def pool(self):
        with self._pool_lock:
            if self._pool is None:
                from visual_erm.render.pool import RenderPool

                self._pool = RenderPool(workers=self.workers, unsafe_no_sandbox=self.unsafe_no_sandbox).start()
                self._own_pool = True
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            if self._own_pool and self._pool is not None:
                self._pool.close()
            self._pool, self._own_pool = None, False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _tasks(self, n: int, task: Any) -> list[str]:
        tasks = _column(task if task is not None else self.task, n, "task")
        for t in tasks:
            if t not in ("chart", "table", "svg"):
                raise ValueError(f"every item needs a task (chart, table or svg); got {t!r} — pass a 'task' column "
                                 "or build the reward function with task=")
        return tasks

    def _render(self, tasks: list[str], texts: list[str], inspect: bool = False):
        """Render every response in one batch; returns (outcome kind, detail, result) per item."""
        from visual_erm.render.api import RenderJob, RenderOptions

        opts = {}
        for t in set(tasks):
            kw = dict(self.render_options.get(t, {}) if isinstance(self.render_options.get(t), dict) else {})
            kw.update({k: v for k, v in self.render_options.items() if not isinstance(v, dict)})
            if inspect and t == "chart":
                kw["inspect"] = True
            opts[t] = RenderOptions(**kw)
        jobs = [RenderJob(id=str(i), task=t, source=txt, options=opts[t], extract=True)
                for i, (t, txt) in enumerate(zip(tasks, texts))]
        results = self.pool.render(jobs)
        if len(results) != len(jobs):
            raise RuntimeError(f"the render pool returned {len(results)} results for {len(jobs)} jobs")
        out = []
        for t, txt, res in zip(tasks, texts, results):
            status = getattr(res.status, "value", res.status)
            kind = STATUS_KIND.get(status, "infra_error")
            if kind == "rejected" and extract_program(t, txt) is None:
                kind = "no_code"
            if kind == "ok" and not res.png:
                kind = "render_error"
            out.append((kind, "" if kind == "ok" else (res.message or status)[:200], res))
        return out


class VisualERMReward(_RenderingReward):
    """Render → critique → reward, with TRL's reward-function signature (see the module docstring).

    Args:
        critic: A :class:`~visual_erm.critics.base.Critic`, or a registered name (``vlm``, ``structural``,
            ``pixel``) built with ``critic_options``. The structural critic borrows this function's render pool.
        variant: A reward variant of :data:`visual_erm.reward.formulas.VARIANTS` (``paper`` by default).
        pool: A started :class:`~visual_erm.render.pool.RenderPool` to share; else one is started on first use
            (``workers``, ``unsafe_no_sandbox``) and closed by :meth:`close`.
        render_options: ``RenderOptions`` fields, global or per task (``{"chart": {"timeout_s": 15}}``).
        task: The task when the dataset has no ``task`` column.
        name: ``__name__`` (TRL logs the reward and its metrics under it).
        variant_options: Extra keyword options of the variant (e.g. ``eps``, ``failure``).
    """

    def __init__(self, critic: Any = "vlm", variant: str = "paper", pool=None, *, critic_options: dict | None = None,
                 render_options: dict | None = None, workers: int | None = None, unsafe_no_sandbox: bool = False,
                 task: str | None = None, name: str | None = None, variant_options: dict | None = None):
        if variant not in VARIANTS:
            raise ValueError(f"unknown reward variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        critic_name = critic if isinstance(critic, str) else getattr(critic, "name", type(critic).__name__)
        super().__init__(pool=pool, workers=workers, unsafe_no_sandbox=unsafe_no_sandbox,
                         render_options=render_options, task=task,
                         name=name or f"{critic_name}_{variant}_reward".replace("-", "_").replace(":", "_")
                         .replace(".", "_"))
        self.variant = variant
        self.variant_options = dict(variant_options or {})
        self._critic_spec = critic
        self._critic_options = dict(critic_options or {})
        self._critic = None if isinstance(critic, str) else critic
        self._own_critic = isinstance(critic, str)
        self.critic_name = critic_name
        self.last_diagnostics: RewardDiagnostics | None = None

    @property
    def critic(self):
        if self._critic is None:
            from visual_erm.critics.registry import get_critic

            opts = dict(self._critic_options)
            if self._critic_spec == "structural" and "render" not in opts:
                opts["render"] = lambda jobs: self.pool.render(jobs)
            self._critic = get_critic(self._critic_spec, **opts)
        return self._critic

    def close(self) -> None:
        if self._own_critic and self._critic is not None:
            self._critic.close()
            self._critic = None
        super().close()

    # --------------------------------------------------------------------------------------------- scoring
    def score(self, completions: Sequence[Any], task: Any = None, reference_image: Any = None, *,
              reference_code: Any = None, **kwargs) -> tuple[list[float], RewardDiagnostics]:
        """Rewards and diagnostics for a batch. Never raises for a failing item or a failing critic."""
        n = len(completions)
        try:
            return self._score(completions, task, reference_image, reference_code, kwargs)
        except Exception as exc:  # noqa: BLE001 - a reward call must answer; failures go to the low end
            log.exception("reward function %s failed for the whole batch", self.__name__)
            try:
                tasks = [t if t in ("chart", "table", "svg") else "chart"
                         for t in _column(task if task is not None else self.task, n, "task")]
            except Exception:  # noqa: BLE001
                tasks = ["chart"] * n
            rewards = [failure_reward(self.variant, t) for t in tasks]
            items = [ItemDiagnostics(Outcome("infra_error", task=t, detail=f"{type(exc).__name__}: {exc}"[:200]),
                                     reward=r) for t, r in zip(tasks, rewards)]
            diag = RewardDiagnostics(self.__name__, items, error=f"{type(exc).__name__}: {exc}"[:500])
            return rewards, diag

    def _score(self, completions, task, reference_image, reference_code, kwargs):
        from visual_erm.critics.base import CritiqueFailure, CritiqueInput

        n = len(completions)
        texts = [completion_text(c) for c in completions]
        tasks = self._tasks(n, task)
        refs_raw = _reference_column(n, reference_image, kwargs)
        ref_codes = _column(reference_code, n, "reference_code")
        t0 = time.monotonic()
        needs_figures = self.critic_name == "structural"
        rendered = self._render(tasks, texts, inspect=needs_figures) if n else []
        render_s = time.monotonic() - t0
        outcomes: list[Outcome | None] = [None] * n
        items = [ItemDiagnostics(Outcome("infra_error", task=t)) for t in tasks]
        inputs, where = [], []
        for i, (kind, detail, res) in enumerate(rendered):
            items[i].render_ms, items[i].cached = res.total_ms, res.cached
            if kind != "ok":
                outcomes[i] = Outcome(kind, task=tasks[i], detail=detail)
                continue
            try:
                ref_png = to_png_bytes(refs_raw[i])
            except Exception as exc:  # noqa: BLE001
                ref_png, detail = None, f"reference image unreadable: {exc}"
            if ref_png is None:
                outcomes[i] = Outcome("infra_error", task=tasks[i],
                                      detail=detail or "no reference image (reference_image/image column)")
                continue
            inputs.append(CritiqueInput(id=str(i), task=tasks[i], reference_png=ref_png, candidate_png=res.png,
                                        reference_code=ref_codes[i] or None,
                                        candidate_code=extract_program(tasks[i], texts[i]),
                                        candidate_figure=res.figure))
            where.append(i)
        t1 = time.monotonic()
        if inputs:
            try:
                results = self.critic.critique_many(inputs)
                if len(results) != len(inputs):
                    raise RuntimeError(f"critic returned {len(results)} results for {len(inputs)} inputs")
            except Exception as exc:  # noqa: BLE001
                results = [CritiqueFailure(x.id, "critic_error", f"{type(exc).__name__}: {exc}"[:300]) for x in inputs]
            for i, res in zip(where, results):
                if isinstance(res, CritiqueFailure):
                    reason = res.reason
                    if reason in _PARSE_REASONS:
                        detail = res.message.split(":", 1)[0] if reason == "unparseable" and res.message else reason
                        outcomes[i] = Outcome("unparseable", task=tasks[i], detail=detail)
                    else:
                        outcomes[i] = Outcome("critic_error", task=tasks[i], detail=str(res)[:200])
                else:
                    outcomes[i] = Outcome.critiqued(res.severity_sum, tasks[i])
                    items[i].critique_json = res.to_json()
                    items[i].category_counts = dict(res.counts)
        critic_s = time.monotonic() - t1
        final = [o if o is not None else Outcome("infra_error", task=t) for o, t in zip(outcomes, tasks)]
        rewards = compute_rewards(self.variant, final, **self.variant_options)
        for it, o, r in zip(items, final, rewards):
            it.outcome, it.reward = o, r
        return rewards, RewardDiagnostics(self.__name__, items, critic_s=critic_s, render_s=render_s)

    # ------------------------------------------------------------------------------------------ TRL entry
    def _call(self, prompts=None, completions=None, task=None, reference_image=None, **kwargs) -> list[float]:
        log_metric, log_extra = kwargs.pop("log_metric", None), kwargs.pop("log_extra", None)
        for key in ("trainer_state", "completion_ids", "environments"):
            kwargs.pop(key, None)
        rewards, diag = self.score(completions or [], task, reference_image, **kwargs)
        self.last_diagnostics = diag
        diag.emit(log_metric, log_extra)
        return [float(r) for r in rewards]

    def __call__(self, prompts=None, completions=None, task=None, reference_image=None, **kwargs) -> list[float]:
        return self._call(prompts, completions, task, reference_image, **kwargs)


class AsyncVisualERMReward(VisualERMReward):
    """:class:`VisualERMReward` with ``async def __call__`` (TRL ≥ 1.x gathers async reward functions concurrently on
    a daemon event loop); the blocking work runs in a worker thread."""

    async def __call__(self, prompts=None, completions=None, task=None, reference_image=None,
                       **kwargs) -> list[float]:
        return await asyncio.to_thread(self._call, prompts, completions, task, reference_image, **kwargs)


def make_reward_function(critic: Any = "vlm", variant: str = "paper", pool=None, *, asynchronous: bool = False,
                         name: str | None = None, **options) -> VisualERMReward:
    """A TRL reward function (callable object with ``__name__``): ``critic`` → ``variant``; see VisualERMReward."""
    cls = AsyncVisualERMReward if asynchronous else VisualERMReward
    return cls(critic, variant, pool, name=name, **options)


# ------------------------------------------------------------------------------------------------ baselines
class PixelSimilarityReward(_RenderingReward):
    """Baseline: ``render_bonus·r_render + clip(SSIM(reference, render), 0, 1)``; any render failure → 0.

    SSIM follows :func:`visual_erm.bench.image_metrics.ssim` (grayscale, 7×7 box window, data range 1)."""

    def __init__(self, pool=None, *, render_bonus: float = 0.0, name: str = "pixel_similarity_reward", **options):
        super().__init__(pool=pool, name=name, **options)
        self.render_bonus = render_bonus

    def _call(self, prompts=None, completions=None, task=None, reference_image=None, **kwargs) -> list[float]:
        from visual_erm.bench.image_metrics import ssim

        log_metric = kwargs.get("log_metric")
        completions = completions or []
        n = len(completions)
        try:
            tasks = self._tasks(n, task)
            refs = _reference_column(n, reference_image, kwargs)
            rendered = self._render(tasks, [completion_text(c) for c in completions]) if n else []
            out = []
            for (kind, _, res), ref in zip(rendered, refs):
                ref_png = to_png_bytes(ref) if kind == "ok" else None
                if kind != "ok" or ref_png is None:
                    out.append(0.0)
                    continue
                s = ssim(ref_png, res.png)
                out.append(self.render_bonus + min(1.0, max(0.0, float(s))))
            if log_metric is not None and n:
                log_metric(f"{self.__name__}/render_ok_rate", sum(1 for k, _, _ in rendered if k == "ok") / n)
            return out
        except Exception:  # noqa: BLE001
            log.exception("pixel similarity reward failed for the whole batch")
            return [0.0] * n

    def __call__(self, prompts=None, completions=None, task=None, reference_image=None, **kwargs) -> list[float]:
        return self._call(prompts, completions, task, reference_image, **kwargs)


def teds_reward(prompts=None, completions=None, reference_code=None, **kwargs) -> list[float]:
    """Baseline for tables: TEDS (:mod:`visual_erm.bench.teds`) of the response's table HTML against the reference
    HTML (column ``reference_code``, or ``solution`` / ``reference_html``). No table in the response → 0.0, the
    lowest TEDS. Set ``structure_only`` in kwargs (e.g. a dataset column) for TEDS-S."""
    from visual_erm.bench.teds import teds, teds_s
    from visual_erm.render.extract import extract_table_html

    completions = completions or []
    n = len(completions)
    ref = reference_code
    if ref is None:
        ref = kwargs.get("solution", kwargs.get("reference_html"))
    refs = _column(ref, n, "reference_code")
    structure_only = bool(_column(kwargs.get("structure_only", False), n, "structure_only")[0]) if n else False
    fn = teds_s if structure_only else teds
    out = []
    for c, r in zip(completions, refs):
        try:
            pred = extract_table_html(completion_text(c))
            out.append(float(fn(pred, r)) if pred and r else 0.0)
        except Exception:  # noqa: BLE001
            out.append(0.0)
    return out


# ------------------------------------------------------------------------------------------------ defaults
_DEFAULTS: dict[str, Any] = {}
_DEFAULTS_LOCK = threading.Lock()


def _default(kind: str):
    """Process-wide reward objects configured from the environment, built on first use."""
    with _DEFAULTS_LOCK:
        if kind not in _DEFAULTS:
            workers = int(os.environ["VERM_RENDER_WORKERS"]) if os.environ.get("VERM_RENDER_WORKERS") else None
            if kind == "pixel":
                _DEFAULTS[kind] = PixelSimilarityReward(workers=workers)
            else:
                critic = "structural" if kind == "structural" else os.environ.get("VERM_REWARD_CRITIC", "vlm")
                opts: dict = {}
                if critic == "vlm":
                    if os.environ.get("VERM_RM_ENDPOINT"):
                        opts["endpoint"] = [e for e in os.environ["VERM_RM_ENDPOINT"].split(",") if e.strip()]
                    if os.environ.get("VERM_RM_MODEL"):
                        opts["model"] = os.environ["VERM_RM_MODEL"]
                _DEFAULTS[kind] = (AsyncVisualERMReward if kind == "async" else VisualERMReward)(
                    critic, os.environ.get("VERM_REWARD_VARIANT", "paper"), critic_options=opts, workers=workers)
        return _DEFAULTS[kind]


def visual_erm_reward(prompts, completions, task=None, reference_image=None, **kwargs) -> list[float]:
    """The Visual-ERM reward with the environment's configuration (see the module docstring)."""
    return _default("sync")(prompts=prompts, completions=completions, task=task, reference_image=reference_image,
                            **kwargs)


async def visual_erm_reward_async(prompts, completions, task=None, reference_image=None, **kwargs) -> list[float]:
    """Async :func:`visual_erm_reward` (TRL runs async reward functions concurrently)."""
    return await _default("async")(prompts=prompts, completions=completions, task=task,
                                   reference_image=reference_image, **kwargs)


def structural_reward(prompts, completions, task=None, reference_image=None, **kwargs) -> list[float]:
    """Baseline: the structural critic's severity sum folded with ``VERM_REWARD_VARIANT`` (needs ``reference_code``)."""
    return _default("structural")(prompts=prompts, completions=completions, task=task,
                                  reference_image=reference_image, **kwargs)


def pixel_similarity_reward(prompts, completions, task=None, reference_image=None, **kwargs) -> list[float]:
    """Baseline: SSIM of the render against the reference image, 0 on any render failure."""
    return _default("pixel")(prompts=prompts, completions=completions, task=task, reference_image=reference_image,
                             **kwargs)
