"""The Visual-ERM critic of the RL stage: the project's VLM critic (:class:`visual_erm.critics.vlm.VLMCritic`) over
the served reward model (vLLM in production, ``verm serve`` on CPU) or loaded in process.

Decoding: ``greedy`` makes rewards reproducible (the logged rewards of a run can be recomputed exactly; the released
table reward is greedy too); ``paper`` is the released chart/SVG reward's sampling (temperature 0.7, top_p 0.8,
top_k 20, presence penalty 1.5). Two tries before a critique counts as unparseable, as in the released reward.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from visual_erm.critics.base import Critic


def make_rm_critic(*, reward_model: str | Path | None = None, reward_endpoint: str | Sequence[str] | None = None,
                   model_name: str = "visual-erm", sampling: str = "greedy", tries: int = 2,
                   max_new_tokens: int | None = None, concurrency: int = 8, device: str | None = None) -> Critic:
    """The reward-model critic: served (``reward_endpoint``, one URL or several) or in process (``reward_model``)."""
    from visual_erm.critics.registry import get_critic

    if (reward_model is None) == (reward_endpoint is None):
        raise ValueError("give exactly one of reward_endpoint (a served reward model) and reward_model (a "
                         "reward-model directory run in process)")
    common = dict(sampling=sampling, tries=tries, max_tokens=max_new_tokens)
    if reward_endpoint is not None:
        eps = [reward_endpoint] if isinstance(reward_endpoint, str) else list(reward_endpoint)
        return get_critic("vlm", endpoint=eps, model=model_name, concurrency=concurrency, **common)
    return get_critic("vlm", model_dir=str(reward_model), device=device, **common)
