"""A small OpenAI-compatible server for a reward model, over in-process transformers ``generate``.

``verm serve MODEL --port 8000`` serves ``POST /v1/chat/completions``, ``GET /v1/models`` and ``GET /health`` with
the standard library's ``ThreadingHTTPServer`` — no extra dependencies. It is the CPU / single-GPU stand-in for the
production vLLM server: :class:`visual_erm.critics.vlm.VLMCritic` talks to either the same way.

Requests: ``messages`` with string content or content parts ``{"type": "text"}`` and ``{"type": "image_url",
"image_url": {"url": "data:image/png;base64,…"}}`` (PNG or JPEG data URLs; remote URLs are refused, nothing is
fetched); sampling ``temperature`` (0 → greedy), ``top_p``, ``top_k`` (0 or −1 = off), ``max_tokens``, ``seed``,
``presence_penalty``, ``repetition_penalty``; ``n`` must be 1 and ``stream`` false. A malformed request gets HTTP 400
with an OpenAI-style ``{"error": {"message", "type", "code"}}`` body that says what is wrong.

A reward-model request — one user turn [image, image, the reward-model prompt of a task] — goes through exactly the
code path of :func:`visual_erm.rm.inference.generate_critiques` (the task's image limits, the training prompt), so the
server and the in-process critic produce the same text under greedy decoding. Any other conversation is applied to
the chat template as sent. Requests are served one at a time (the model is guarded by a lock); batching is not done.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["BadRequest", "ChatModel", "RewardModelServer", "parse_request"]

MAX_BODY = 64 << 20
#: The model id served when none is given: the Helm chart's ``rmServer.model.servedModelName`` default.
DEFAULT_SERVED_NAME = "visual-erm"
MAX_TOKENS_LIMIT = 16384
DEFAULT_MAX_TOKENS = 1024
_ROLES = ("system", "user", "assistant")
_DATA_URL_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/jpg;base64,")


class BadRequest(ValueError):
    """A request the server refuses, with the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status = status
        self.kind = kind


# -------------------------------------------------------------------------------------------- request parsing
def _decode_image(url: Any, where: str) -> bytes:
    if not isinstance(url, str):
        raise BadRequest(f"{where}: image_url.url must be a string data URL")
    if not url.startswith(_DATA_URL_PREFIXES):
        raise BadRequest(f"{where}: image_url must be a data URL (data:image/png;base64,… or "
                         "data:image/jpeg;base64,…); remote URLs are not fetched")
    try:
        data = base64.b64decode(url.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{where}: the image data URL is not valid base64") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format not in ("PNG", "JPEG"):
                raise BadRequest(f"{where}: the image is {im.format}, not PNG or JPEG")
            im.verify()
    except BadRequest:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise BadRequest(f"{where}: the image does not decode: {exc}") from None
    return data


def _number(body: dict, key: str, default, lo: float | None = None, hi: float | None = None, integer=False):
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and int(value) != value):
        raise BadRequest(f"'{key}' must be {'an integer' if integer else 'a number'}, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadRequest(f"'{key}' must be within [{lo}, {hi}], got {value!r}")
    return int(value) if integer else float(value)


def parse_request(body: Any) -> dict:
    """Validate a chat-completions body; returns {conversation, images, sampling…} or raises :class:`BadRequest`."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list of chat messages")
    conversation, images = [], []
    for m_i, msg in enumerate(messages):
        where = f"messages[{m_i}]"
        if not isinstance(msg, dict):
            raise BadRequest(f"{where} must be an object with 'role' and 'content'")
        role = msg.get("role")
        if role not in _ROLES:
            raise BadRequest(f"{where}.role must be one of {', '.join(_ROLES)}, got {role!r}")
        content = msg.get("content")
        parts: list[dict] = []
        if isinstance(content, str):
            parts.append({"type": "text", "text": content})
        elif isinstance(content, list):
            for p_i, part in enumerate(content):
                pw = f"{where}.content[{p_i}]"
                if not isinstance(part, dict) or "type" not in part:
                    raise BadRequest(f"{pw} must be an object with a 'type'")
                if part["type"] == "text":
                    if not isinstance(part.get("text"), str):
                        raise BadRequest(f"{pw}.text must be a string")
                    parts.append({"type": "text", "text": part["text"]})
                elif part["type"] == "image_url":
                    iu = part.get("image_url")
                    url = iu.get("url") if isinstance(iu, dict) else iu
                    images.append(_decode_image(url, pw))
                    parts.append({"type": "image"})
                else:
                    raise BadRequest(f"{pw}.type must be 'text' or 'image_url', got {part['type']!r}")
        else:
            raise BadRequest(f"{where}.content must be a string or a list of content parts")
        conversation.append({"role": role, "content": parts})
    if body.get("stream"):
        raise BadRequest("'stream' is not supported by this server; send stream=false")
    if _number(body, "n", 1, 1, 1, integer=True) != 1:
        raise BadRequest("'n' must be 1")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    max_tokens = _number({"max_tokens": max_tokens}, "max_tokens", DEFAULT_MAX_TOKENS, 1, MAX_TOKENS_LIMIT,
                         integer=True)
    top_k = _number(body, "top_k", 0, -1, None, integer=True)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest(f"'seed' must be an integer, got {seed!r}")
    for unsupported in ("frequency_penalty",):
        if body.get(unsupported):
            raise BadRequest(f"'{unsupported}' is not supported by this server")
    return {
        "model": body.get("model"),
        "conversation": conversation,
        "images": images,
        "temperature": _number(body, "temperature", 1.0, 0.0, 10.0),
        "top_p": _number(body, "top_p", 1.0, 0.0, 1.0),
        "top_k": max(0, top_k),
        "presence_penalty": _number(body, "presence_penalty", 0.0, -2.0, 2.0),
        "repetition_penalty": _number(body, "repetition_penalty", 1.0, 0.01, 10.0),
        "max_tokens": max_tokens,
        "seed": seed,
    }


def rm_task_of(conversation: list[dict]) -> str | None:
    """The task when the conversation is exactly a reward-model request ([image, image, rm_prompt(task)])."""
    from visual_erm.rm.prompts import rm_prompt

    if len(conversation) != 1 or conversation[0]["role"] != "user":
        return None
    parts = conversation[0]["content"]
    if [p["type"] for p in parts] != ["image", "image", "text"]:
        return None
    for task in ("chart", "table", "svg"):
        if parts[2]["text"] == rm_prompt(task):
            return task
    return None


# -------------------------------------------------------------------------------------------- the model
class _RecordingModel:
    """Delegates to the model and keeps the last ``generate`` output (for token counts)."""

    def __init__(self, model):
        self._model = model
        self.last = None

    def generate(self, *args, **kwargs):
        self.last = self._model.generate(*args, **kwargs)
        return self.last

    def __getattr__(self, name):
        return getattr(self._model, name)


class ChatModel:
    """A loaded reward model answering chat requests (one at a time)."""

    def __init__(self, generator):
        from visual_erm.rm.inference import CritiqueGenerator

        base = generator
        outer = self

        class _Generator(CritiqueGenerator):
            def _batch_inputs(self, items):
                if "conversation" not in items[0]:
                    batch = super()._batch_inputs(items)  # the reward-model path, exactly as in-process
                else:
                    from trl.data_utils import prepare_multimodal_messages

                    from visual_erm.rm.sft_data import to_pil

                    convs = [prepare_multimodal_messages(it["conversation"], images=[to_pil(b) for b in it["images"]])
                             for it in items]
                    batch = self.processor.apply_chat_template(
                        convs, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt",
                        processor_kwargs={"padding": True, "padding_side": "left"})
                outer._prompt_len = int(batch["input_ids"].shape[1])
                return batch

        self._recorder = _RecordingModel(base.model)
        self.generator = _Generator(self._recorder, base.processor, max_side=base.max_side)
        self._lock = threading.Lock()
        self._prompt_len = 0

    @classmethod
    def load(cls, model_dir: str | Path, *, device: str | None = None) -> "ChatModel":
        from visual_erm.rm.inference import CritiqueGenerator

        return cls(CritiqueGenerator.load(model_dir, device=device))

    def complete(self, req: dict) -> dict:
        """Generate one answer: {text, prompt_tokens, completion_tokens, finish_reason}."""
        from visual_erm.critics.vlm import to_inference_sampling

        task = rm_task_of(req["conversation"])
        if task is not None:
            item = {"task": task, "reference_image": req["images"][0], "candidate_image": req["images"][1]}
        else:
            item = {"conversation": req["conversation"], "images": req["images"]}
        sampling = to_inference_sampling(req)
        tok = self.generator.processor.tokenizer
        stop = {i for i in (tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>"))
                if isinstance(i, int) and i >= 0}
        with self._lock:
            text = self.generator.generate([item], max_new_tokens=req["max_tokens"], batch_size=1, sampling=sampling,
                                           seed=req.get("seed"))[0]
            prompt_len = self._prompt_len
            new = self._recorder.last[0, prompt_len:].tolist() if self._recorder.last is not None else []
        n, finish = len(new), "length"
        for k, t in enumerate(new):
            if t in stop:
                n, finish = k + 1, "stop"
                break
        return {"text": text, "prompt_tokens": prompt_len, "completion_tokens": n, "finish_reason": finish}


# -------------------------------------------------------------------------------------------- HTTP
class _Handler(BaseHTTPRequestHandler):
    server: "_HTTPServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # route to logging, not stderr
        log.info("%s - %s", self.address_string(), fmt % args)

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self._send(status, {"error": {"message": message, "type": kind, "code": status}})

    def do_GET(self):  # noqa: N802
        path = self.path.split("?", 1)[0].rstrip("/")
        app = self.server.app
        if path in ("/health", "/v1/health"):
            self._send(200, {"status": "ok", "model": app.served_name, "requests": app.requests})
        elif path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": app.served_name, "object": "model",
                                                         "created": app.created, "owned_by": "visual-erm",
                                                         "root": str(app.model_dir)}]})
        else:
            self._error(404, f"no route GET {path}; try /health, /v1/models or POST /v1/chat/completions",
                        "not_found_error")

    def do_POST(self):  # noqa: N802
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/v1/chat/completions":
            self._drain()
            self._error(404, f"no route POST {path}; use /v1/chat/completions", "not_found_error")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._error(400, "bad Content-Length")
            return
        if length <= 0:
            self._error(400, "the request has no body; send a JSON chat-completions request")
            return
        if length > MAX_BODY:
            self.close_connection = True
            self._error(413, f"the request body exceeds {MAX_BODY >> 20} MiB")
            return
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._error(400, f"the request body is not valid JSON: {exc}")
            return
        app = self.server.app
        try:
            req = parse_request(body)
            if req["model"] is not None and req["model"] not in app.aliases:
                raise BadRequest(f"model {req['model']!r} is not served here; this server serves "
                                 f"{app.served_name!r}", status=404, kind="not_found_error")
        except BadRequest as exc:
            self._error(exc.status, str(exc), exc.kind)
            return
        try:
            out = app.model.complete(req)
        except Exception as exc:  # noqa: BLE001
            log.exception("generation failed")
            self._error(500, f"generation failed: {type(exc).__name__}: {exc}", "server_error")
            return
        app.requests += 1
        self._send(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": app.served_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": out["text"]},
                         "finish_reason": out["finish_reason"], "logprobs": None}],
            "usage": {"prompt_tokens": out["prompt_tokens"], "completion_tokens": out["completion_tokens"],
                      "total_tokens": out["prompt_tokens"] + out["completion_tokens"]},
        })

    def _drain(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if 0 < length <= MAX_BODY:
                self.rfile.read(length)
        except (ValueError, OSError):
            pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: "RewardModelServer"


class RewardModelServer:
    """The server object: ``RewardModelServer(model_dir, port=0).start()`` runs it in a thread (tests);
    :meth:`serve_forever` blocks (``verm serve``). The model id is ``served_name`` (default ``visual-erm``, as the
    Helm chart's vLLM server); requests may also name the model directory or its base name."""

    def __init__(self, model: str | Path | ChatModel, *, host: str = "127.0.0.1", port: int = 8000,
                 served_name: str | None = None, device: str | None = None):
        self.model_dir = Path(model) if not isinstance(model, ChatModel) else Path("in-memory")
        self.model = model if isinstance(model, ChatModel) else ChatModel.load(model, device=device)
        self.served_name = served_name or DEFAULT_SERVED_NAME
        #: Names a request may send as ``model``: the served name, the directory and its base name.
        self.aliases = {self.served_name, str(self.model_dir), self.model_dir.name}
        self.created = int(time.time())
        self.requests = 0
        self.httpd = _HTTPServer((host, port), _Handler)
        self.httpd.app = self
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self.httpd.server_address[0]

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "RewardModelServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="verm-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "RewardModelServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.shutdown()
