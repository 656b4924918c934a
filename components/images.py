"""Container images for every component, in one place. Override at compile time with VERM_IMAGE_<NAME>."""

import os

REGISTRY = os.environ.get("VERM_IMAGE_REGISTRY", "ghcr.io/visual-erm")
VERSION = os.environ.get("VERM_IMAGE_TAG", "0.1.0")

#: Rendering, synthesis, validation and benchmarks (chromium, cairo, fonts, bubblewrap; no CUDA).
CPU_IMAGE = os.environ.get("VERM_IMAGE_CPU", f"{REGISTRY}/visual-erm-cpu:{VERSION}")
#: Training: CUDA, torch, trl, vllm.
TRAIN_IMAGE = os.environ.get("VERM_IMAGE_TRAIN", f"{REGISTRY}/visual-erm-train:{VERSION}")
#: Reward-model server: vLLM's OpenAI-compatible server; the model is fetched from MinIO at start.
RM_SERVER_IMAGE = os.environ.get("VERM_IMAGE_RM_SERVER", f"{REGISTRY}/visual-erm-rm-server:{VERSION}")
