"""Critics by name: ``get_critic("pixel")``, ``get_critic("structural", workers=2)``.

Built in: ``pixel`` (:class:`visual_erm.critics.pixel.PixelCritic`, images only) and ``structural``
(:class:`StructuralCritic`, programs; charts also need figure descriptions, rendered here when missing). Other
critics join with ``register_critic(name, factory)``; the factory may be given as a ``"package.module:attr"``
string, imported on first use — a VLM critic is one line at the end of this module::

    register_critic("vlm", "visual_erm.critics.vlm:VLMCritic")

``get_critic`` also takes such a spec directly, without registering. A factory (a Critic subclass or a function)
takes keyword options and returns a :class:`~visual_erm.critics.base.Critic`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from visual_erm.critics.base import Critic, CriticError, CritiqueFailure, CritiqueInput
from visual_erm.schema import CATEGORIES, Critique

__all__ = ["StructuralCritic", "available_critics", "critic_factory", "get_critic", "register_critic"]

CriticFactory = Callable[..., Critic]

_FACTORIES: dict[str, CriticFactory | str] = {}


def register_critic(name: str, factory: CriticFactory | str, *, replace: bool = False) -> None:
    """Make ``factory`` available as ``get_critic(name)``. A ``"package.module:attr"`` string is imported on first
    use (so heavy critics cost nothing until asked for). Registering a taken name needs ``replace=True``."""
    if not name or ":" in name:
        raise ValueError(f"critic names are non-empty and have no ':' (got {name!r})")
    if isinstance(factory, str) and ":" not in factory:
        raise ValueError(f"a factory spec is 'package.module:attr', got {factory!r}")
    if name in _FACTORIES and not replace and _FACTORIES[name] != factory:
        raise ValueError(f"a critic named {name!r} is already registered; pass replace=True to override it")
    _FACTORIES[name] = factory


def available_critics() -> list[str]:
    """Registered critic names, sorted."""
    return sorted(_FACTORIES)


def critic_factory(name: str) -> CriticFactory:
    """The factory of a registered name or of a ``"module:attr"`` spec (ValueError when there is none)."""
    spec = _FACTORIES.get(name)
    if spec is None and ":" in name:
        spec = name
    if spec is None:
        raise ValueError(f"unknown critic {name!r}; known: {', '.join(available_critics())} "
                         "(or give a 'package.module:Factory' spec)")
    if not isinstance(spec, str):
        return spec
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load critic {name!r} from {spec!r}: {exc}") from None


def get_critic(name: str, **options) -> Critic:
    """A new critic by registered name or ``"module:attr"`` spec, built with ``options``."""
    critic = critic_factory(name)(**options)
    if not isinstance(critic, Critic):
        raise TypeError(f"critic factory {name!r} returned {type(critic).__name__}, not a Critic")
    return critic


# ------------------------------------------------------------------------------------------ structural adapter

RenderFn = Callable[[list], list]


class StructuralCritic(Critic):
    """:func:`visual_erm.critics.structural.structural_critique` behind the Critic interface.

    Tables and SVG compare the two programs (DOM / XML). Charts compare figure descriptions: when the caller does
    not pass them, both programs are rendered with ``RenderOptions(inspect=True)`` — through ``render`` (a
    ``RenderPool.render``-like callable) if given, else through a ``RenderPool(workers=workers)`` started on first
    use and closed by :meth:`close`. ``critique_many`` renders every missing figure in one batch.

    Failures (reported per item): ``missing_code`` (a program is absent), ``render_failed`` (a chart program did
    not render in the sandbox), ``critic_error`` (the structural diff raised).
    """

    name = "structural"

    def __init__(self, *, render: RenderFn | None = None, workers: int | None = None, timeout_s: float = 15.0):
        self._render = render
        self._pool = None
        self.workers = workers
        self.timeout_s = timeout_s

    def _render_fn(self) -> RenderFn:
        if self._render is None:
            from visual_erm.render.pool import RenderPool

            self._pool = RenderPool(workers=self.workers).start()
            self._render = self._pool.render
        return self._render

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
            self._render = None

    def _figures(self, jobs: list[tuple[str, str]]) -> list[dict | CriticError]:
        """Figure descriptions of chart programs [(job id, code)], or the render failure of each."""
        from visual_erm.render.api import RenderJob, RenderOptions

        if not jobs:
            return []
        opts = RenderOptions(timeout_s=self.timeout_s, inspect=True)
        results = self._render_fn()([RenderJob(jid, "chart", code, opts) for jid, code in jobs])
        if len(results) != len(jobs):
            raise CriticError("render_failed", f"the renderer returned {len(results)} results for {len(jobs)} jobs")
        out: list[dict | CriticError] = []
        for (jid, _), res in zip(jobs, results):
            if res.ok and res.figure is not None:
                out.append(res.figure)
            else:
                status = getattr(res.status, "value", res.status)
                out.append(CriticError("render_failed",
                                       f"{jid}: {status} {res.message[:200] if res.message else ''}".strip()))
        return out

    @staticmethod
    def _check(task: str, reference_code: str | None, candidate_code: str | None) -> None:
        if task not in CATEGORIES:
            raise CriticError("unknown_task", f"unknown task {task!r}")
        if not reference_code or not candidate_code:
            which = "reference" if not reference_code else "candidate"
            raise CriticError("missing_code", f"the structural critic needs both programs; the {which} program is missing")

    @staticmethod
    def _diff(task, reference_code, candidate_code, ref_fig, cand_fig) -> Critique:
        from visual_erm.critics.structural import structural_critique

        return structural_critique(task, reference_code, candidate_code, ref_figure=ref_fig, cand_figure=cand_fig)

    def critique(self, task, reference_png, candidate_png, *, reference_code=None, candidate_code=None,
                 reference_figure=None, candidate_figure=None) -> Critique:
        self._check(task, reference_code, candidate_code)
        if task == "chart" and (reference_figure is None or candidate_figure is None):
            ref_fig, cand_fig = self._figures([("reference", reference_code), ("candidate", candidate_code)])
            for fig in (ref_fig, cand_fig):
                if isinstance(fig, CriticError):
                    raise fig
            reference_figure = reference_figure if reference_figure is not None else ref_fig
            candidate_figure = candidate_figure if candidate_figure is not None else cand_fig
        return self._diff(task, reference_code, candidate_code, reference_figure, candidate_figure)

    def critique_many(self, items: Sequence[CritiqueInput]) -> list[Critique | CritiqueFailure]:
        out: list[Critique | CritiqueFailure | None] = [None] * len(items)
        need: list[tuple[int, str, str]] = []  # (item index, "ref"|"cand", code)
        for i, it in enumerate(items):
            try:
                self._check(it.task, it.reference_code, it.candidate_code)
            except CriticError as exc:
                out[i] = CritiqueFailure(it.id, exc.reason, exc.message)
                continue
            if it.task == "chart":
                if it.reference_figure is None:
                    need.append((i, "ref", it.reference_code))
                if it.candidate_figure is None:
                    need.append((i, "cand", it.candidate_code))
        figs: dict[tuple[int, str], dict | CriticError] = {}
        if need:
            try:
                rendered = self._figures([(f"{items[i].id}-{side}", code) for i, side, code in need])
            except CriticError as exc:
                rendered = [exc] * len(need)
            except Exception as exc:  # noqa: BLE001 - the pool itself failed: every chart item fails, not the run
                rendered = [CriticError("render_failed", f"render pool: {type(exc).__name__}: {exc}")] * len(need)
            figs = {(i, side): fig for (i, side, _), fig in zip(need, rendered)}
        for i, it in enumerate(items):
            if out[i] is not None:
                continue
            ref_fig = it.reference_figure if it.reference_figure is not None else figs.get((i, "ref"))
            cand_fig = it.candidate_figure if it.candidate_figure is not None else figs.get((i, "cand"))
            bad = next((f for f in (ref_fig, cand_fig) if isinstance(f, CriticError)), None)
            if bad is not None:
                out[i] = CritiqueFailure(it.id, bad.reason, bad.message)
                continue
            try:
                out[i] = self._diff(it.task, it.reference_code, it.candidate_code, ref_fig, cand_fig)
            except CriticError as exc:
                out[i] = CritiqueFailure(it.id, exc.reason, exc.message)
            except Exception as exc:  # noqa: BLE001
                out[i] = CritiqueFailure(it.id, "critic_error", f"{type(exc).__name__}: {str(exc)[:300]}")
        return out  # type: ignore[return-value]


register_critic("pixel", "visual_erm.critics.pixel:PixelCritic")
register_critic("structural", StructuralCritic)
register_critic("vlm", "visual_erm.critics.vlm:VLMCritic")
