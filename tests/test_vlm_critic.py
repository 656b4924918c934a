"""VLMCritic's HTTP backend against a stub OpenAI-compatible server: requests, sampling, images, retries, parsing."""

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from visual_erm.critics.base import CritiqueFailure, CritiqueInput
from visual_erm.critics.registry import get_critic
from visual_erm.critics.vlm import VLMCritic, encode_image, sampling_settings
from visual_erm.rm.prompts import rm_prompt
from visual_erm.schema import Critique

GOOD = json.dumps({"structure_error_count": 0, "data_error_count": 1, "text_error_count": 0, "style_error_count": 0,
                   "errors": [{"category": "data_error", "severity": 2, "location": "bar 2",
                               "description": "40 in the reference, 55 here"}]})
GOOD_TABLE = json.dumps({"layout_error_count": 0, "text_error_count": 0, "numeric_error_count": 1,
                         "errors": [{"type": "numeric_error", "severity": 3, "description": "1.5 vs 15"}]})


def png(size=(64, 48), colour="red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


class Stub:
    """A scripted chat-completions server: ``script`` is a list of (status, text) answers, then ``default``."""

    def __init__(self, script=(), default=(200, GOOD), models=("stub-rm",)):
        self.script, self.default, self.models = list(script), default, models
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        stub = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, status, body):
                data = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in stub.models]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    stub.requests.append(body)
                    status, text = stub.script.pop(0) if stub.script else stub.default
                if status != 200:
                    self._send(status, {"error": {"message": "scripted"}})
                else:
                    self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stub():
    s = Stub()
    yield s
    s.close()


def _image_of(part) -> Image.Image:
    url = part["image_url"]["url"]
    head, b64 = url.split(",", 1)
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.mime = head  # type: ignore[attr-defined]
    return img


def test_registered_as_vlm():
    c = get_critic("vlm", endpoint="http://127.0.0.1:1", model="x")
    assert isinstance(c, VLMCritic) and c.backend == "http"
    with pytest.raises(ValueError):
        VLMCritic()  # neither a model directory nor an endpoint


def test_paper_request_shape_sampling_and_images(stub):
    critic = VLMCritic(endpoint=stub.url)
    items = [CritiqueInput("c", "chart", png((2048, 1000)), png((300, 200), "blue")),
             CritiqueInput("t", "table", png((1600, 800)), png((100, 50)))]
    out = critic.critique_many(items)
    assert isinstance(out[0], Critique) and out[0].severity_sum == 2
    assert stub.requests[0]["model"] == "stub-rm"  # asked from /v1/models
    reqs = {r["messages"][0]["content"][2]["text"]: r for r in stub.requests}
    chart, table = reqs[rm_prompt("chart")], reqs[rm_prompt("table")]
    assert {k: chart[k] for k in ("temperature", "top_p", "top_k", "presence_penalty", "max_tokens")} == \
        {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "presence_penalty": 1.5, "max_tokens": 4096}
    assert table["temperature"] == 0.0 and table["repetition_penalty"] == 1.05 and "top_k" not in table
    ref, cand = (_image_of(p) for p in chart["messages"][0]["content"][:2])
    assert ref.mime == "data:image/jpeg;base64" and ref.size == (1024, 500)  # reference first, downscaled
    assert cand.size == (300, 200)  # never enlarged
    tref = _image_of(table["messages"][0]["content"][0])
    assert tref.mime == "data:image/png;base64" and tref.size == (768, 384)
    # the stub answered the table with a chart critique: not a table critique, and greedy → a single try
    assert isinstance(out[1], CritiqueFailure) and out[1].message.startswith("unknown_category")
    assert len(stub.requests) == 2


def test_greedy_option_and_max_tokens():
    s = sampling_settings("chart", "greedy", max_tokens=64)
    assert s == {"temperature": 0.0, "max_tokens": 64}
    assert sampling_settings("svg", {"temperature": 0.2})["top_k"] == 20


def test_unparseable_output_is_retried_once_then_fails():
    # round 1: a → garbage, b → broken JSON; round 2 (both retried): a → a critique, b → broken again
    s = Stub(script=[(200, "not json at all"), (200, "{oops"), (200, GOOD), (200, "still {bad")])
    try:
        critic = VLMCritic(endpoint=s.url, model="stub-rm", concurrency=1)
        out = critic.critique_many([CritiqueInput("a", "chart", png(), png()),
                                    CritiqueInput("b", "chart", png(), png())])
        assert len(s.requests) == 4
        assert isinstance(out[0], Critique) and out[0].severity_sum == 2
        assert isinstance(out[1], CritiqueFailure) and out[1].reason == "unparseable"
        assert out[1].message.startswith("bad_json") and "after 2 tries" in out[1].message
        assert critic.last_texts == [["not json at all", GOOD], ["{oops", "still {bad"]]
    finally:
        s.close()


def test_greedy_decoding_gets_one_try():
    s = Stub(default=(200, "garbage"))
    try:
        out = VLMCritic(endpoint=s.url, model="m", sampling="greedy").critique_many(
            [CritiqueInput("a", "svg", png(), png())])
        assert isinstance(out[0], CritiqueFailure) and out[0].reason == "unparseable"
        assert out[0].message.startswith("no_json") and len(s.requests) == 1
    finally:
        s.close()


def test_retries_with_backoff_and_round_robin():
    bad, good = Stub(default=(503, "")), Stub()
    try:
        critic = VLMCritic(endpoint=[bad.url, good.url], model="stub-rm", backoff_s=0.01, retries=3, concurrency=2)
        out = critic.critique_many([CritiqueInput(str(i), "chart", png(), png()) for i in range(4)])
        assert all(isinstance(o, Critique) for o in out)
        assert len(good.requests) == 4 and len(bad.requests) >= 2  # both endpoints were used
    finally:
        bad.close()
        good.close()


def test_unreachable_and_non_retryable_errors_become_failures():
    s = Stub(default=(400, ""))
    try:
        out = VLMCritic(endpoint=s.url, model="m", backoff_s=0.01).critique_many(
            [CritiqueInput("a", "chart", png(), png())])
        assert out[0].reason == "endpoint_error" and len(s.requests) == 1  # 400 is not retried
    finally:
        s.close()
    out = VLMCritic(endpoint="http://127.0.0.1:9", model="m", retries=1, backoff_s=0.01, timeout_s=2).critique_many(
        [CritiqueInput("a", "chart", png(), png())])
    assert out[0].reason == "endpoint_unreachable"
    # no model name and no /v1/models to ask: every item fails, nothing raises
    out = VLMCritic(endpoint="http://127.0.0.1:9", timeout_s=2).critique_many(
        [CritiqueInput("a", "chart", png(), png()), CritiqueInput("b", "svg", png(), png())])
    assert [o.reason for o in out] == ["endpoint_unreachable"] * 2
    out = VLMCritic(model="/nonexistent/model-dir").critique_many([CritiqueInput("a", "chart", png(), png())])
    assert out[0].reason == "critic_error"
    bad = VLMCritic(endpoint="http://127.0.0.1:9", model="m").critique_many(
        [CritiqueInput("a", "chart", b"not an image", png())])
    assert bad[0].reason == "bad_image"


def test_critique_raises_critic_error_on_failure(stub):
    from visual_erm.critics.base import CriticError

    stub.default = (200, "")
    with pytest.raises(CriticError) as exc:
        VLMCritic(endpoint=stub.url, sampling="greedy").critique("chart", png(), png())
    assert exc.value.reason == "unparseable"


def test_encode_image_conventions():
    data, mime = encode_image(png((3000, 1500)), "svg")
    assert mime == "image/jpeg" and Image.open(io.BytesIO(data)).size == (1024, 512)
    data, mime = encode_image(png((1000, 2000)), "table")
    assert mime == "image/png" and Image.open(io.BytesIO(data)).size == (384, 768)
    data, mime = encode_image(png((10, 10)), "chart", image_format="png")
    assert mime == "image/png"


def test_released_table_critique_with_type_key_parses():
    s = Stub(default=(200, "```json\n" + GOOD_TABLE + "\n```"))
    try:
        out = VLMCritic(endpoint=s.url).critique_many([CritiqueInput("t", "table", png(), png())])
        assert isinstance(out[0], Critique) and out[0].severity_sum == 3
        assert out[0].errors[0].category == "numeric_error"
    finally:
        s.close()
