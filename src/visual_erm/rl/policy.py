"""Policies: a tiny Qwen-VL policy built from a config (CPU tests and demos), and one client interface over
in-process ``transformers`` generation and OpenAI-compatible endpoints (vLLM, ``verm serve``, hosted APIs).

A policy request is the policy chat (:func:`visual_erm.rl.prompts_set.policy_messages`, possibly extended with a
revision turn) plus the images its ``{"type": "image"}`` placeholders stand for, in order::

    policy = open_policy("/models/policy")                 # a model directory → LocalPolicy
    policy = open_policy("http://rm:8000/v1", model="p")   # an endpoint        → EndpointPolicy
    texts = policy.generate([PolicyRequest(messages, [png])])

The tiny policy reuses the reward model's builders (:mod:`visual_erm.rm.model`): a byte-level BPE trained on the
policy prompts and reference programs (so programs tokenize compactly), a Qwen3-VL of a few hundred thousand
parameters, and the image-only processor (no torchvision).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

#: Architecture of the tiny policy (overridable per profile).
TINY_POLICY_ARCH = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                        head_dim=16, intermediate_size=128, vision_depth=1, vision_hidden_size=32, vision_heads=2,
                        vision_intermediate_size=64, patch_size=16)


@dataclass
class PolicyRequest:
    """One policy call: chat messages whose ``{"type": "image"}`` parts are ``images`` (PNG bytes), in order."""

    messages: list[dict]
    images: list[bytes] = field(default_factory=list)
    task: str = "chart"


class PolicyClient(Protocol):
    name: str

    def generate(self, requests: Sequence[PolicyRequest], *, max_new_tokens: int = 1024,
                 temperature: float = 0.0, seed: int | None = None) -> list[str]: ...

    def close(self) -> None: ...


def _pil(png: bytes):
    from PIL import Image

    img = Image.open(io.BytesIO(png))
    img.load()
    return img.convert("RGB")


# ---------------------------------------------------------------------------------------------- tiny policy
def build_tiny_policy(out_dir: str | Path, corpus: Sequence[str], *, vocab_size: int = 1024, seed: int = 0,
                      min_pixels: int = 56 * 56, max_pixels: int = 56 * 56 * 4, **arch) -> Path:
    """Build, save and return a randomly initialised tiny Qwen3-VL policy directory.

    Args:
        out_dir: Where the model and processor are saved (``from_pretrained``-ready; TRL loads it by path).
        corpus: Texts the BPE tokenizer is trained on (policy prompts, reference programs).
        vocab_size: BPE vocabulary size (the Qwen special tokens are added on top).
        seed: Weight initialisation seed.
        min_pixels: Image-processor pixel floor per image.
        max_pixels: Image-processor pixel budget per image.
        **arch: Overrides of :data:`TINY_POLICY_ARCH`.
    """
    from visual_erm.policy_prompts import POLICY_PROMPTS
    from visual_erm.rm import model as rm_model

    spec = {**TINY_POLICY_ARCH, **arch}
    texts = list(POLICY_PROMPTS.values()) * 4 + list(corpus)
    tokenizer = rm_model.build_bpe_tokenizer(texts, vocab_size)
    image_processor = rm_model.build_image_processor(patch_size=spec["patch_size"], min_pixels=min_pixels,
                                                     max_pixels=max_pixels)
    processor = rm_model.build_processor(tokenizer, image_processor)
    model = rm_model.build_tiny_model(tokenizer, seed=seed, **spec)
    return rm_model.save_model(model, processor, out_dir)


# ---------------------------------------------------------------------------------------------- clients
class LocalPolicy:
    """A Qwen-VL policy directory (or a loaded model + processor) generating in process with ``transformers``."""

    name = "local"

    def __init__(self, model, processor, *, batch_size: int = 8):
        self.model = model
        self.processor = processor
        self.batch_size = batch_size

    @classmethod
    def load(cls, model_dir: str | Path, *, device: str | None = None, dtype: str = "auto",
             batch_size: int = 8) -> "LocalPolicy":
        from visual_erm.rm.model import default_device, load_model, load_processor

        model = load_model(model_dir, dtype=dtype, device=device or default_device())
        model.eval()
        return cls(model, load_processor(model_dir), batch_size=batch_size)

    def generate(self, requests: Sequence[PolicyRequest], *, max_new_tokens: int = 1024, temperature: float = 0.0,
                 seed: int | None = None) -> list[str]:
        import torch
        from trl.data_utils import prepare_multimodal_messages

        tok = self.processor.tokenizer
        stop = [i for i in (tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>"))
                if isinstance(i, int) and i >= 0]
        device = next(self.model.parameters()).device
        if seed is not None:
            torch.manual_seed(seed)
        out: list[str] = []
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start:start + self.batch_size]
            convs = [prepare_multimodal_messages(json.loads(json.dumps(r.messages)), images=[_pil(p) for p in r.images])
                     for r in chunk]
            batch = self.processor.apply_chat_template(
                convs, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt",
                processor_kwargs={"padding": True, "padding_side": "left"}).to(device)
            n = batch["input_ids"].shape[1]
            kw = dict(max_new_tokens=max_new_tokens, eos_token_id=stop, pad_token_id=tok.pad_token_id)
            if temperature > 0:
                kw.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=None)
            else:
                kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            with torch.inference_mode():
                gen = self.model.generate(**batch, **kw)
            out.extend(tok.batch_decode(gen[:, n:], skip_special_tokens=True))
        return out

    def close(self) -> None:
        pass


def to_openai_messages(request: PolicyRequest) -> list[dict]:
    """The request as OpenAI chat messages: image placeholders become base64 ``image_url`` parts, in order."""
    from visual_erm.clients.openai_chat import image_part

    images = iter(request.images)
    out = []
    for m in request.messages:
        content = m["content"]
        if isinstance(content, str):
            out.append({"role": m["role"], "content": content})
            continue
        parts = []
        for part in content:
            if part.get("type") == "image":
                try:
                    parts.append(image_part(next(images)))
                except StopIteration:
                    raise ValueError("the request has more image placeholders than images") from None
            elif part.get("type") == "text":
                parts.append({"type": "text", "text": part["text"]})
        out.append({"role": m["role"], "content": parts})
    return out


class EndpointPolicy:
    """A policy behind an OpenAI-compatible ``/v1/chat/completions`` endpoint, called concurrently."""

    name = "endpoint"

    def __init__(self, endpoint: str, model: str, *, concurrency: int = 8, timeout_s: float = 300.0,
                 extra_sampling: dict | None = None):
        from visual_erm.clients.openai_chat import ChatClient

        self.client = ChatClient(endpoint, model, timeout_s=timeout_s)
        self.concurrency = concurrency
        self.extra_sampling = dict(extra_sampling or {})

    def generate(self, requests: Sequence[PolicyRequest], *, max_new_tokens: int = 1024, temperature: float = 0.0,
                 seed: int | None = None) -> list[str]:
        from concurrent.futures import ThreadPoolExecutor

        sampling = {"max_tokens": max_new_tokens, "temperature": temperature, **self.extra_sampling}
        if seed is not None:
            sampling["seed"] = seed

        def one(r: PolicyRequest) -> str:
            return self.client.complete(to_openai_messages(r), **sampling)

        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as ex:
            return list(ex.map(one, requests))

    def close(self) -> None:
        pass


class ScriptedPolicy:
    """A policy given as a function ``(request) -> text`` (tests, demos, replaying recorded outputs)."""

    name = "scripted"

    def __init__(self, fn: Callable[[PolicyRequest], str]):
        self.fn = fn

    def generate(self, requests: Sequence[PolicyRequest], *, max_new_tokens: int = 1024, temperature: float = 0.0,
                 seed: int | None = None) -> list[str]:
        return [self.fn(r) for r in requests]

    def close(self) -> None:
        pass


def open_policy(spec: str | Path, *, model: str | None = None, device: str | None = None,
                concurrency: int = 8) -> PolicyClient:
    """A policy client from a spec: ``http(s)://…`` → :class:`EndpointPolicy` (``model`` names the served model),
    else a local model directory → :class:`LocalPolicy`."""
    s = str(spec)
    if s.startswith(("http://", "https://")):
        return EndpointPolicy(s, model or "policy", concurrency=concurrency)
    if not Path(s).is_dir():
        raise ValueError(f"policy {s!r} is neither an http(s) endpoint nor a model directory")
    return LocalPolicy.load(s, device=device)


# ---------------------------------------------------------------------------------------------- warm start
_FENCE = {"chart": "python", "svg": "svg"}


def reference_answer(task: str, code: str) -> str:
    """The answer a perfect policy gives: the reference program in the task's expected form."""
    if task in _FENCE:
        return f"```{_FENCE[task]}\n{code.strip()}\n```"
    return code.strip()


def warm_start_sft(policy_dir: str | Path, rows: Sequence[dict], *, steps: int, out_dir: str | Path,
                   learning_rate: float = 2e-3, max_length: int = 192, batch_size: int = 4, seed: int = 0,
                   svg_prefix_chars: int | None = None) -> Path:
    """Supervised warm start of a (tiny) policy on (reference image → reference program) for ``steps`` steps.

    RL starts from an SFT policy in the paper (VinciCoder-8B-SFT); a random tiny policy only emits noise, which
    renders nothing and gives GRPO no signal. A few hundred steps teach it the program *prefix* of its tasks;
    ``max_length`` truncates the answer; ``svg_prefix_chars`` replaces SVG targets by a short well-formed prefix
    program (:func:`svg_prefix_program`) so that short completions still render.
    Saves the result to ``out_dir`` (model + processor) and returns it.
    """
    import io as _io

    from datasets import Dataset
    from PIL import Image
    from trl import SFTConfig, SFTTrainer

    from visual_erm.policy_prompts import policy_prompt
    from visual_erm.rm.model import PROCESSOR_CLASS_FILE, load_model, load_processor, save_model

    def pil(png: bytes):
        im = Image.open(_io.BytesIO(png))
        im.load()
        return im.convert("RGB")

    def _target(r: dict) -> str:
        if r["task"] == "svg" and svg_prefix_chars:
            return svg_prefix_program(r["reference_code"], svg_prefix_chars)
        return r["reference_code"]

    data = Dataset.from_list([{
        "images": [pil(r["reference_image"]["bytes"])],
        "prompt": [{"role": "user", "content": [{"type": "image"},
                                                {"type": "text", "text": policy_prompt(r["task"])}]}],
        "completion": [{"role": "assistant", "content": [{"type": "text",
                                                          "text": reference_answer(r["task"], _target(r))}]}],
    } for r in rows])
    model = load_model(policy_dir, dtype="float32")
    processor = load_processor(policy_dir)
    work = Path(out_dir).with_name(Path(out_dir).name + ".sft")
    args = SFTConfig(output_dir=str(work), max_steps=steps, per_device_train_batch_size=batch_size,
                     learning_rate=learning_rate, lr_scheduler_type="cosine", warmup_steps=0.05, logging_steps=50,
                     save_strategy="no", report_to="none", use_cpu=True, max_length=max_length, seed=seed,
                     disable_tqdm=True, truncation_mode="keep_start")
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=processor)
    trainer.train()
    out = save_model(trainer.model, processor, out_dir)
    (Path(out) / PROCESSOR_CLASS_FILE).write_text(json.dumps({"processor_class": "ImageOnlyQwenVLProcessor"}) + "\n")
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return Path(out)


def svg_prefix_program(code: str, max_chars: int) -> str:
    """A short, well-formed SVG made of the first elements of ``code`` (cut after the last complete tag within
    ``max_chars``, open elements closed). Warm-start targets for tiny policies whose completions are short."""
    import re

    code = code.strip()
    drawable = re.search(r"<(rect|circle|ellipse|path|line|polygon|polyline|text)\b[^>]*?(/?)>", code)
    if drawable:  # always keep the first drawn element, so the prefix renders something
        end = drawable.end() if drawable.group(2) else code.find(f"</{drawable.group(1)}>", drawable.end())
        if end > 0:
            end = code.find(">", end - 1 if drawable.group(2) else end) + 1
            max_chars = max(max_chars, end)
    if len(code) <= max_chars:
        return code
    cut = code.rfind(">", 0, max_chars)
    if cut < 0:
        cut = code.find(">")
    head = code[:cut + 1]
    stack: list[str] = []
    for m in re.finditer(r"<(/?)([A-Za-z][\w:.-]*)[^<>]*?(/?)>", head):
        closing, name, selfclose = m.group(1), m.group(2), m.group(3)
        if selfclose:
            continue
        if closing:
            if stack and stack[-1] == name:
                stack.pop()
        else:
            stack.append(name)
    return head + "".join(f"</{name}>" for name in reversed(stack))
