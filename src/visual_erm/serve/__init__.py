"""The OpenAI-compatible reward-model server (``verm serve``): :mod:`visual_erm.serve.server`."""
