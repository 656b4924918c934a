"""Helpers shared by the trainers (:mod:`visual_erm.rm.train`, :mod:`visual_erm.rl.grpo`): profiles, work
directories and checkpoints."""
