"""Tiny Qwen3-VL reward models: built from a config, an image-only processor, save and reload, generation."""

import io

import pytest
import torch
from PIL import Image

from visual_erm.rm import model as rm_model
from visual_erm.rm.prompts import rm_messages, rm_prompt
from visual_erm.rm.processor import ImageOnlyQwenVLProcessor

CORPUS = [rm_prompt(t) for t in ("chart", "table", "svg")] * 3 + [
    '{"data_error_count": 1, "errors": [{"category": "data_error", "severity": 2, "location": "bar 2", '
    '"description": "The bar is 40 in the reference but 55 in the candidate."}]}'] * 3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tok = rm_model.build_bpe_tokenizer(CORPUS, vocab_size=512)
    proc = rm_model.build_processor(tok, rm_model.build_image_processor(min_pixels=32 * 32, max_pixels=64 * 64))
    model = rm_model.build_tiny_model(tok, hidden_size=64, intermediate_size=128, head_dim=16)
    return model, proc


def _images():
    return [Image.new("RGB", (200, 120), "white"), Image.new("RGB", (120, 200), "red")]


def test_tokenizer_has_qwen_special_tokens_and_roundtrips(tiny):
    _, proc = tiny
    tok = proc.tokenizer
    for t in ("<|im_start|>", "<|im_end|>", "<|image_pad|>", "<|vision_start|>", "<|vision_end|>", "<|video_pad|>"):
        assert tok.convert_tokens_to_ids(t) >= 0
        assert len(tok(t, add_special_tokens=False)["input_ids"]) == 1
    text = 'naïve {"x": "Ünïcode ✓ 42"}'  # byte-level: anything encodes, even unseen characters
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok.eos_token == "<|im_end|>"


def test_processor_expands_images_in_order_and_masks_the_answer(tiny):
    from trl.data_utils import prepare_multimodal_messages

    model, proc = tiny
    msgs = prepare_multimodal_messages(rm_messages("chart", '{"errors": []}'), images=_images())
    out = proc.apply_chat_template([msgs], tokenize=True, return_dict=True, return_tensors="pt",
                                   return_assistant_tokens_mask=True)
    ids = out["input_ids"][0]
    n_img = int((ids == proc.image_token_id).sum())
    assert n_img == int(out["image_grid_thw"].prod(-1).sum()) // 4
    assert out["image_grid_thw"][0].tolist()[1:] != out["image_grid_thw"][1].tolist()[1:]  # landscape, portrait
    answer = proc.tokenizer.decode(ids[out["assistant_masks"][0].bool()])
    assert answer == '{"errors": []}<|im_end|>'
    out.pop("assistant_masks")
    loss = model(**out, labels=out["input_ids"]).loss
    assert torch.isfinite(loss)


def test_save_and_reload(tiny, tmp_path):
    model, proc = tiny
    rm_model.save_model(model, proc, tmp_path / "m")
    proc2 = rm_model.load_processor(tmp_path / "m")
    model2 = rm_model.load_model(tmp_path / "m", dtype="float32")
    assert isinstance(proc2, ImageOnlyQwenVLProcessor)
    assert proc2.tokenizer.get_vocab() == proc.tokenizer.get_vocab()
    assert proc2.chat_template == proc.chat_template
    assert proc2.image_processor.size == proc.image_processor.size
    for (n1, p1), (n2, p2) in zip(model.state_dict().items(), model2.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2)


def test_generate_critiques_batched(tiny, tmp_path):
    from visual_erm.rm.inference import PAPER_SAMPLING, CritiqueGenerator, generate_critiques

    model, proc = tiny
    rm_model.save_model(model, proc, tmp_path / "m")
    buf = io.BytesIO()
    _images()[0].save(buf, format="PNG")
    items = [{"task": "chart", "reference_image": _images()[0], "candidate_image": _images()[1]},
             {"task": "table", "reference_image": {"bytes": buf.getvalue(), "path": None},
              "candidate_image": buf.getvalue()},
             {"task": "svg", "reference_image": _images()[1], "candidate_image": _images()[0]}]
    out = generate_critiques(tmp_path / "m", items, max_new_tokens=6, batch_size=2, device="cpu")
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
    gen = CritiqueGenerator(model, proc)
    # batching does not change greedy outputs (left padding)
    assert gen.generate(items, max_new_tokens=6, batch_size=1) == gen.generate(items, max_new_tokens=6, batch_size=3)
    sampled = gen.generate(items[:1], max_new_tokens=6, sampling=PAPER_SAMPLING, seed=0)
    assert sampled == gen.generate(items[:1], max_new_tokens=6, sampling=PAPER_SAMPLING, seed=0)


@pytest.mark.slow
def test_real_qwen_vocabulary_matches_qwen2_vl_ids():
    tok = rm_model.build_qwen_tokenizer()
    assert tok.convert_tokens_to_ids("<|endoftext|>") == 151643
    assert tok.convert_tokens_to_ids("<|im_start|>") == 151644
    assert tok.convert_tokens_to_ids("<|vision_start|>") == 151652
    assert tok.convert_tokens_to_ids("<|image_pad|>") == 151655
    assert tok.decode(tok("Hello world")["input_ids"]) == "Hello world"
