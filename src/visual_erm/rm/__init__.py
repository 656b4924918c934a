"""The Visual-ERM reward model: prompts, SFT data, tiny/production models, TRL training and in-process inference.

- :mod:`visual_erm.rm.prompts` — per-task prompts (reference image first, then the candidate's render).
- :mod:`visual_erm.rm.sft_data` — SFT rows (``images`` + ``messages``) from a pair dataset.
- :mod:`visual_erm.rm.model` / :mod:`visual_erm.rm.processor` — tiny Qwen3-VL builders, image-only processor,
  save/load.
- :mod:`visual_erm.rm.profile` — strict YAML training profiles (``profiles/tiny.yaml``, ``qwen3-vl-8b.yaml``).
- :mod:`visual_erm.rm.train` — :func:`~visual_erm.rm.train.train_reward_model` (TRL ``SFTTrainer``).
- :mod:`visual_erm.rm.inference` — :func:`~visual_erm.rm.inference.generate_critiques`.
"""
