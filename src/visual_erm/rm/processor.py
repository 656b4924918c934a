"""An image-only Qwen-VL processor: the stock processors insist on a video processor, which needs torchvision.

:class:`ImageOnlyQwenVLProcessor` takes only ``(image_processor, tokenizer, chat_template)``; it keeps Qwen3-VL's
image handling (``<|image_pad|>`` expansion by the image grid, ``mm_token_type_ids`` for M-RoPE) and works for the
Qwen2-VL / Qwen2.5-VL / Qwen3-VL families alike. It saves and reloads with ``save_pretrained`` /
``ImageOnlyQwenVLProcessor.from_pretrained`` (``AutoProcessor`` does not know the class: load it with the class).
"""

from __future__ import annotations

from transformers import ProcessorMixin
from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor

#: The Qwen special tokens every VL tokenizer here carries, in Qwen2-VL's id order.
QWEN_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>",
)

#: Qwen2-VL/Qwen3-VL chat template (no system turn added), with ``{% generation %}`` markers around the assistant
#: answer so that TRL's ``assistant_only_loss`` trains on the critique only. Images render as
#: ``<|vision_start|><|image_pad|><|vision_end|>`` exactly as the released Qwen-VL templates do.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- generation -%}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for part in message['content'] -%}{%- if part['type'] == 'text' -%}{{- part['text'] -}}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>' -}}"
    "{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' or 'image' in part -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


class ImageOnlyQwenVLProcessor(Qwen3VLProcessor):
    """Qwen-VL processor without a video processor (no torchvision needed).

    Args:
        image_processor: A Qwen2-VL image processor (``Qwen2VLImageProcessorPil`` on CPU machines).
        tokenizer: A Qwen2 tokenizer carrying the Qwen special tokens (``<|image_pad|>``, ``<|vision_start|>``…).
        chat_template: Jinja chat template; :data:`CHAT_TEMPLATE` when None.
    """

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        tok = tokenizer
        self.image_token = getattr(tok, "image_token", None) or "<|image_pad|>"
        self.video_token = getattr(tok, "video_token", None) or "<|video_pad|>"
        self.image_token_id = tok.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tok.convert_tokens_to_ids(self.video_token)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template or CHAT_TEMPLATE)
        self.vision_start_token = "<|vision_start|>"
        self.vision_end_token = "<|vision_end|>"
        self.vision_start_token_id = tok.convert_tokens_to_ids(self.vision_start_token)
        self.vision_end_token_id = tok.convert_tokens_to_ids(self.vision_end_token)
