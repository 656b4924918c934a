"""What every critic is: a thing that turns (reference render, candidate render) into a paper-format Critique.

A critic gets both renders as PNG bytes and, when it has them, both programs and (charts) both figure descriptions
from the render sandbox (``RenderOptions(inspect=True)``)::

    critic = get_critic("pixel")                       # visual_erm.critics.registry
    critique = critic.critique("svg", ref_png, cand_png)
    results = critic.critique_many([CritiqueInput("a", "svg", ref_png, cand_png), ...])

``critique`` raises on failure (:class:`CriticError` with a stable ``reason`` when the critic knows why);
``critique_many`` never raises for one item: a failed item becomes a :class:`CritiqueFailure` (id, reason,
message) in its slot, and the benchmark leaves it out of every metric and lists it (see
:mod:`visual_erm.bench.critic_metrics`). Critics that hold resources (a render pool, an HTTP client) release them in
``close`` and can be used as context managers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from visual_erm.schema import Critique

__all__ = ["Critic", "CriticError", "CritiqueFailure", "CritiqueInput"]


@dataclass(frozen=True)
class CritiqueInput:
    """One (reference, candidate) pair to critique. Programs and figures are optional; some critics need them."""

    id: str
    task: str
    reference_png: bytes
    candidate_png: bytes
    reference_code: str | None = None
    candidate_code: str | None = None
    reference_figure: dict | None = None
    candidate_figure: dict | None = None


@dataclass(frozen=True)
class CritiqueFailure:
    """Why a critic produced no critique for an item. ``reason`` is a short stable code (``missing_code``,
    ``render_failed``, ``bad_image``, ``critic_error`` …); ``message`` says what happened."""

    id: str
    reason: str
    message: str = ""

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}" if self.message else self.reason


class CriticError(RuntimeError):
    """A critic could not critique an item, for a known ``reason`` (a stable code) explained by ``message``."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class Critic(ABC):
    """The critic interface. Subclasses set ``name`` and implement :meth:`critique`.

    ``critique_many`` has a sequential default that turns exceptions into :class:`CritiqueFailure`; critics that
    batch (a render pool, a served model) override it and keep the same contract: one result per input, in order.
    """

    name: str = "critic"

    @abstractmethod
    def critique(
        self,
        task: str,
        reference_png: bytes,
        candidate_png: bytes,
        *,
        reference_code: str | None = None,
        candidate_code: str | None = None,
        reference_figure: dict | None = None,
        candidate_figure: dict | None = None,
    ) -> Critique:
        """The discrepancies of the candidate with respect to the reference (empty when equivalent)."""

    def critique_many(self, items: Sequence[CritiqueInput]) -> list[Critique | CritiqueFailure]:
        """Critique every item, in order; an item that fails yields a :class:`CritiqueFailure` instead."""
        return [self._critique_safely(item) for item in items]

    def _critique_safely(self, item: CritiqueInput) -> Critique | CritiqueFailure:
        try:
            return self.critique(
                item.task, item.reference_png, item.candidate_png,
                reference_code=item.reference_code, candidate_code=item.candidate_code,
                reference_figure=item.reference_figure, candidate_figure=item.candidate_figure,
            )
        except CriticError as exc:
            return CritiqueFailure(item.id, exc.reason, exc.message)
        except Exception as exc:  # noqa: BLE001 - one bad item must not end a benchmark run
            return CritiqueFailure(item.id, "critic_error", f"{type(exc).__name__}: {str(exc)[:300]}")

    def close(self) -> None:
        """Release held resources (render pools, clients). The default holds none."""

    def __enter__(self) -> "Critic":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
