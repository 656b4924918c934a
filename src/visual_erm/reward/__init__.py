"""Critique → scalar rewards (:mod:`.formulas`), TRL reward functions (:mod:`.functions`), diagnostics."""

from visual_erm.reward.formulas import VARIANTS, Outcome, compute_rewards

__all__ = ["VARIANTS", "Outcome", "compute_rewards"]
