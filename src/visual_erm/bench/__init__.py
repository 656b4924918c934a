"""Benchmark metrics: TEDS/TEDS-S for tables, VC-RewardBench critic metrics, pixel metrics for rendered images.

Submodules import their heavy dependencies (apted, scipy, scikit-image) themselves; import what you use::

    from visual_erm.bench.teds import TEDS, teds, teds_s
    from visual_erm.bench.critic_metrics import ItemResult, score_items
    from visual_erm.bench.matchers import DeterministicMatcher, LLMJudgeMatcher
    from visual_erm.bench.image_metrics import ssim, mse
"""
