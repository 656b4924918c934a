"""Policy RL for vision-to-code with the Visual-ERM reward: RL prompt sets, GRPO (TRL), reflect-and-revise."""
