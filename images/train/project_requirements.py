"""Print pyproject.toml's pinned dependencies minus the GPU stack that images/train/constraints.txt pins instead."""

import tomllib

GPU_STACK = {"torch", "transformers", "trl", "accelerate", "peft", "datasets", "wandb"}

deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print("\n".join(d for d in deps if d.split("==")[0].strip().lower() not in GPU_STACK))
