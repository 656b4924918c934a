"""In-process critique generation with transformers ``generate`` (CPU or one GPU).

The VLM critic and the reward-model HTTP server build on :func:`generate_critiques`; production RL serves the
same checkpoint with vLLM instead. Items are pair-like mappings::

    {"task": "chart" | "table" | "svg",
     "reference_image": <PIL image | PNG bytes | {"bytes", "path"} struct | path>,
     "candidate_image": <same>}

Images are downscaled exactly as in training (longest side 1024 px for chart/SVG, 768 px for tables, or the
limits recorded in the model directory's ``profile.yaml``), the prompt is :func:`visual_erm.rm.prompts.rm_prompt`,
and the reference image comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from visual_erm.rm.prompts import rm_messages
from visual_erm.rm.sft_data import PAPER_MAX_SIDE, resize_for_task, to_pil


@dataclass(frozen=True)
class Sampling:
    """Decoding settings. The default is greedy decoding.

    ``presence_penalty`` is OpenAI/vLLM-style: subtracted once from the logit of every token already generated.
    ``repetition_penalty`` is the multiplicative CTRL penalty of transformers/vLLM.
    """

    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    presence_penalty: float = 0.0
    repetition_penalty: float = 1.0


GREEDY = Sampling()
#: The released chart/SVG reward: temperature 0.7, top_p 0.8, top_k 20, presence_penalty 1.5.
PAPER_SAMPLING = Sampling(do_sample=True, temperature=0.7, top_p=0.8, top_k=20, presence_penalty=1.5)
#: The released table reward: temperature 0 (greedy), repetition_penalty 1.05.
PAPER_TABLE_SAMPLING = Sampling(do_sample=False, repetition_penalty=1.05)


class _PresencePenalty:
    """Subtract ``penalty`` from the logits of tokens present in the generated continuation."""

    def __init__(self, penalty: float, prompt_len: int):
        self.penalty = penalty
        self.prompt_len = prompt_len

    def __call__(self, input_ids, scores):
        generated = input_ids[:, self.prompt_len:]
        if generated.shape[1] == 0:
            return scores
        import torch

        present = torch.zeros_like(scores, dtype=torch.bool)
        present.scatter_(1, generated, True)
        return scores - self.penalty * present.to(scores.dtype)


class CritiqueGenerator:
    """A loaded reward model (model + processor) that writes critiques for batches of pairs."""

    def __init__(self, model, processor, *, max_side: Mapping[str, int] | None = None):
        self.model = model
        self.processor = processor
        self.max_side = dict(max_side or PAPER_MAX_SIDE)

    @classmethod
    def load(cls, model_dir: str | Path, *, device: str | None = None, dtype: str = "auto") -> "CritiqueGenerator":
        """Load a reward-model directory (``train_reward_model``'s artifact or any Qwen-VL checkpoint)."""
        from visual_erm.rm.model import default_device, load_model, load_processor

        model_dir = Path(model_dir)
        max_side, min_px, max_px = None, None, None
        prof = model_dir / "profile.yaml"
        if prof.is_file():
            import yaml

            images = (yaml.safe_load(prof.read_text()) or {}).get("images") or {}
            max_side, min_px, max_px = images.get("max_side"), images.get("min_pixels"), images.get("max_pixels")
        device = device or default_device()
        model = load_model(model_dir, dtype=dtype, device=device)
        model.eval()
        return cls(model, load_processor(model_dir, min_pixels=min_px, max_pixels=max_px), max_side=max_side)

    def _batch_inputs(self, items: Sequence[Mapping[str, Any]]):
        from trl.data_utils import prepare_multimodal_messages

        conversations = []
        for item in items:
            task = item["task"]
            images = [resize_for_task(to_pil(item["reference_image"]), task, self.max_side),
                      resize_for_task(to_pil(item["candidate_image"]), task, self.max_side)]
            conversations.append(prepare_multimodal_messages(rm_messages(task), images=images))
        return self.processor.apply_chat_template(
            conversations, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt",
            processor_kwargs={"padding": True, "padding_side": "left"},
        )

    def generate(self, items: Iterable[Mapping[str, Any]], *, max_new_tokens: int = 1024, batch_size: int = 8,
                 sampling: Sampling = GREEDY, seed: int | None = None) -> list[str]:
        import torch
        from transformers import LogitsProcessorList

        items = list(items)
        tok = self.processor.tokenizer
        stop = [i for i in (tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>"))
                if isinstance(i, int) and i >= 0]
        device = next(self.model.parameters()).device
        if seed is not None:
            torch.manual_seed(seed)
        out: list[str] = []
        for start in range(0, len(items), max(1, batch_size)):
            batch = self._batch_inputs(items[start:start + batch_size]).to(device)
            prompt_len = batch["input_ids"].shape[1]
            kwargs: dict[str, Any] = dict(max_new_tokens=max_new_tokens, eos_token_id=stop,
                                          pad_token_id=tok.pad_token_id, do_sample=sampling.do_sample)
            if sampling.do_sample:
                kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k or None)
            else:
                kwargs.update(temperature=None, top_p=None, top_k=None)
            if sampling.repetition_penalty != 1.0:
                kwargs["repetition_penalty"] = sampling.repetition_penalty
            if sampling.presence_penalty:
                kwargs["logits_processor"] = LogitsProcessorList([_PresencePenalty(sampling.presence_penalty,
                                                                                   prompt_len)])
            with torch.inference_mode():
                generated = self.model.generate(**batch, **kwargs)
            out.extend(tok.batch_decode(generated[:, prompt_len:], skip_special_tokens=True))
        return out


def generate_critiques(model_dir: "str | Path | CritiqueGenerator", items: Iterable[Mapping[str, Any]], *,
                       max_new_tokens: int = 1024, batch_size: int = 8, sampling: Sampling = GREEDY,
                       device: str | None = None, seed: int | None = None) -> list[str]:
    """Write one critique (raw model text, the paper's JSON when the model behaves) per item, in order.

    Args:
        model_dir: A reward-model directory (loaded on ``device``; CUDA when present), or a loaded
            :class:`CritiqueGenerator` to reuse across calls.
        items: Mappings with ``task``, ``reference_image`` and ``candidate_image`` (PIL image, PNG bytes, a
            ``{"bytes", "path"}`` struct as in pair datasets, or a path). Pair-dataset rows qualify as they are.
        max_new_tokens: Generation budget per critique.
        batch_size: Items per ``generate`` call (left-padded).
        sampling: :data:`GREEDY` (default), :data:`PAPER_SAMPLING` (chart/SVG reward: temperature 0.7, top_p 0.8,
            top_k 20, presence penalty 1.5) or :data:`PAPER_TABLE_SAMPLING` (greedy, repetition penalty 1.05).
        device: ``cpu`` / ``cuda``; default CUDA when available.
        seed: Seeds torch before sampling, for reproducible samples.

    Returns:
        The decoded completions (special tokens removed). Parse them with :func:`visual_erm.schema.parse_critique`.
    """
    gen = model_dir if isinstance(model_dir, CritiqueGenerator) else CritiqueGenerator.load(model_dir, device=device)
    return gen.generate(items, max_new_tokens=max_new_tokens, batch_size=batch_size, sampling=sampling, seed=seed)


def parse_rate(texts: Sequence[str], tasks: Sequence[str]) -> dict:
    """Share of texts that :func:`visual_erm.schema.parse_critique` accepts, with failure reasons counted."""
    from collections import Counter

    from visual_erm.schema import CritiqueParseError, parse_critique

    reasons: Counter = Counter()
    ok = 0
    for text, task in zip(texts, tasks):
        try:
            parse_critique(text, task)
            ok += 1
        except CritiqueParseError as exc:
            reasons[exc.reason] += 1
    n = len(texts)
    return {"n": n, "parsed": ok, "parse_rate": (ok / n) if n else None, "failures": dict(reasons)}
