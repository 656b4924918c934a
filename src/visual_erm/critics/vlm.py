"""The Visual-ERM critic: a VLM that sees the reference image, then the candidate's render, and writes the critique.

Two backends behind one interface (:class:`~visual_erm.critics.base.Critic`)::

    VLMCritic(model="runs/rm/model")                                 # in-process transformers generate (batched)
    VLMCritic(endpoint=["http://rm-0:8000", "http://rm-1:8000"])     # OpenAI-compatible servers (vLLM, verm serve)

Both build the same request: the prompt of :func:`visual_erm.rm.prompts.rm_prompt`, the reference image first, each
image downscaled as the paper does (longest side 1024 px, JPEG, for chart/SVG; 768 px, PNG, for tables) and
encoded *once* here — the in-process backend decodes the very bytes the HTTP backend would send, so both see the
same pixels. Outputs are parsed with :func:`visual_erm.schema.parse_critique`; an unparseable output is retried
once (the paper's two tries; a greedy decoder would repeat itself, so greedy decoding gets one try) and then
becomes ``CritiqueFailure(reason="unparseable", message="<parse reason>: …")``.

Sampling (``sampling=``): ``"paper"`` (default) — chart/SVG: temperature 0.7, top_p 0.8, top_k 20,
presence_penalty 1.5, max 4096 tokens; tables: temperature 0 (greedy), repetition_penalty 1.05 (max 4096 tokens, not
stated by the paper). ``"greedy"`` — temperature 0, no penalties. Or a dict of those OpenAI-style keys, applied to
every task on top of ``"paper"``.

HTTP backend: a thread pool of ``concurrency`` requests in flight, endpoints used round-robin (a retry moves to the
next endpoint), exponential backoff with jitter on transport errors, timeouts and HTTP 408/429/5xx, a per-request
timeout. Failure reasons: ``unparseable``, ``endpoint_error`` (a non-retryable answer), ``endpoint_unreachable``
(retries exhausted), ``bad_image``, ``generation_error``.
"""

from __future__ import annotations

import io
import itertools
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from visual_erm.critics.base import Critic, CriticError, CritiqueFailure, CritiqueInput
from visual_erm.schema import CATEGORIES, Critique, CritiqueParseError, parse_critique

__all__ = ["PAPER_SETTINGS", "VLMCritic", "encode_image", "rm_chat_messages", "sampling_settings"]

#: The released reward code's sampling settings, OpenAI/vLLM request keys.
PAPER_SETTINGS: dict[str, dict[str, Any]] = {
    "chart": {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "presence_penalty": 1.5, "max_tokens": 4096},
    "svg": {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "presence_penalty": 1.5, "max_tokens": 4096},
    "table": {"temperature": 0.0, "repetition_penalty": 1.05, "max_tokens": 4096},
}
GREEDY_SETTINGS: dict[str, Any] = {"temperature": 0.0, "max_tokens": 4096}
#: Image encoding per task: (longest side, format).
PAPER_IMAGES: dict[str, tuple[int, str]] = {"chart": (1024, "JPEG"), "svg": (1024, "JPEG"), "table": (768, "PNG")}

RETRYABLE_HTTP = (408, 429, 500, 502, 503, 504)


def sampling_settings(task: str, sampling: str | dict | None = "paper", max_tokens: int | None = None) -> dict:
    """OpenAI-style sampling keys for ``task`` (see the module docstring)."""
    if task not in CATEGORIES:
        raise ValueError(f"unknown task {task!r}")
    if sampling is None or sampling == "paper":
        out = dict(PAPER_SETTINGS[task])
    elif sampling == "greedy":
        out = dict(GREEDY_SETTINGS)
    elif isinstance(sampling, dict):
        out = {**PAPER_SETTINGS[task], **sampling}
    else:
        raise ValueError(f"sampling must be 'paper', 'greedy' or a dict, got {sampling!r}")
    if max_tokens is not None:
        out["max_tokens"] = int(max_tokens)
    return out


def is_greedy(settings: dict) -> bool:
    return float(settings.get("temperature", 1.0)) <= 0.0


def to_inference_sampling(settings: dict):
    """The :class:`visual_erm.rm.inference.Sampling` equivalent of OpenAI-style keys (temperature 0 → greedy)."""
    from visual_erm.rm.inference import Sampling

    greedy = is_greedy(settings)
    top_k = int(settings.get("top_k") or 0)
    return Sampling(do_sample=not greedy, temperature=1.0 if greedy else float(settings.get("temperature", 1.0)),
                    top_p=1.0 if greedy else float(settings.get("top_p", 1.0)), top_k=0 if greedy else max(0, top_k),
                    presence_penalty=float(settings.get("presence_penalty") or 0.0),
                    repetition_penalty=float(settings.get("repetition_penalty") or 1.0))


def encode_image(image: Any, task: str, *, image_format: str = "auto", jpeg_quality: int = 95,
                 max_side: int | None = None) -> tuple[bytes, str]:
    """Downscale (never enlarge) and encode one image as the paper does; returns (bytes, MIME type).

    ``image``: PNG/JPEG bytes, a PIL image, a ``{"bytes","path"}`` struct or a path. ``image_format``: ``auto``
    (JPEG for chart/SVG, PNG for tables), ``png`` or ``jpeg``.
    """
    from visual_erm.rm.sft_data import resize_for_task, to_pil

    limit, fmt = PAPER_IMAGES[task]
    if max_side is not None:
        limit = max_side
    if image_format != "auto":
        fmt = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG"}[image_format.lower()]
    img = to_pil(image if not isinstance(image, memoryview) else bytes(image))
    img = resize_for_task(img, task, {task: limit})
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, format="JPEG", quality=jpeg_quality)
        return buf.getvalue(), "image/jpeg"
    img.save(buf, format="PNG")
    return buf.getvalue(), "image/png"


def rm_chat_messages(task: str, reference: tuple[bytes, str], candidate: tuple[bytes, str]) -> list[dict]:
    """The OpenAI chat request for one pair: one user turn [reference image, candidate image, instruction]."""
    from visual_erm.clients.openai_chat import image_part
    from visual_erm.rm.prompts import rm_prompt

    return [{"role": "user", "content": [image_part(reference[0], reference[1]), image_part(candidate[0], candidate[1]),
                                         {"type": "text", "text": rm_prompt(task)}]}]


class VLMCritic(Critic):
    """The reward model as a critic. See the module docstring for backends, sampling and failure reasons.

    Args:
        model: In-process: a model directory (or a loaded ``CritiqueGenerator``). HTTP: the served model name
            (default: the first id of the endpoint's ``/v1/models``).
        endpoint: One URL or a list (round-robin); selects the HTTP backend.
        backend: ``local`` / ``http``; default: ``http`` when ``endpoint`` is given.
        sampling: ``paper`` / ``greedy`` / dict of overrides (module docstring).
        max_tokens: Overrides the generation budget.
        tries: Generations per item until one parses (2 in the paper; 1 under greedy decoding).
        concurrency: HTTP requests in flight.
        timeout_s / retries / backoff_s: Per-request timeout, retries on retryable failures, base backoff.
        batch_size: In-process items per ``generate`` call.
        image_format / jpeg_quality: Image encoding (``auto`` = the paper's).
        seed: In-process sampling seed (``seed + attempt``); sent as ``seed`` over HTTP.
        drop_foreign: Drop errors whose category is outside the task instead of failing the parse.
        model_dir: Alias of ``model`` for the in-process backend.
    """

    name = "vlm"

    def __init__(self, model: Any = None, endpoint: str | Sequence[str] | None = None, *, backend: str | None = None,
                 sampling: str | dict | None = "paper", max_tokens: int | None = None, tries: int = 2,
                 concurrency: int = 8, timeout_s: float = 120.0, retries: int = 3, backoff_s: float = 0.5,
                 api_key: str | None = None, batch_size: int = 8, device: str | None = None,
                 image_format: str = "auto", jpeg_quality: int = 95, seed: int | None = None,
                 drop_foreign: bool = False, model_dir: str | Path | None = None):
        if model_dir is not None:  # alias of model= for the in-process backend
            if model is not None:
                raise ValueError("give model= or model_dir=, not both")
            model = model_dir
        endpoints = [endpoint] if isinstance(endpoint, str) else list(endpoint or [])
        self.backend = backend or ("http" if endpoints else "local")
        if self.backend not in ("local", "http"):
            raise ValueError(f"backend must be 'local' or 'http', got {self.backend!r}")
        if self.backend == "http" and not endpoints:
            raise ValueError("the http backend needs endpoint= (one URL or a list)")
        if self.backend == "local" and model is None:
            raise ValueError("the local backend needs model= (a reward-model directory)")
        self.model = model
        self.endpoints = endpoints
        self.sampling = sampling
        self.max_tokens = max_tokens
        self.tries = max(1, int(tries))
        self.concurrency = max(1, int(concurrency))
        self.timeout_s = timeout_s
        self.retries = max(0, int(retries))
        self.backoff_s = backoff_s
        self.api_key = api_key
        self.batch_size = batch_size
        self.device = device
        self.image_format = image_format
        self.jpeg_quality = jpeg_quality
        self.seed = seed
        self.drop_foreign = drop_foreign
        self._rr = itertools.count()
        self._lock = threading.Lock()
        self._generator = None
        self._gen_lock = threading.Lock()
        self._http = None
        self._executor: ThreadPoolExecutor | None = None
        self._served_name: str | None = model if (self.backend == "http" and isinstance(model, str)) else None
        self.last_texts: list[list[str]] = []  # raw outputs of the last critique_many, one list of tries per item

    # ------------------------------------------------------------------------------------------- resources
    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def _local_generator(self):
        from visual_erm.rm.inference import CritiqueGenerator

        with self._lock:
            if self._generator is None:
                self._generator = (self.model if isinstance(self.model, CritiqueGenerator)
                                   else CritiqueGenerator.load(Path(self.model), device=self.device))
            return self._generator

    def _client(self):
        import httpx

        with self._lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.timeout_s,
                                          limits=httpx.Limits(max_connections=self.concurrency * 2))
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="verm-vlm")
            return self._http

    def _next_endpoint(self) -> str:
        with self._lock:
            return self.endpoints[next(self._rr) % len(self.endpoints)]

    def _headers(self) -> dict:
        key = self.api_key or os.environ.get("VERM_RM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def served_model(self) -> str:
        """The model name sent to the endpoint (asked from ``/v1/models`` when not given)."""
        if self._served_name is None:
            client = self._client()
            url = self.endpoints[0].rstrip("/")
            url = url[: -len("/chat/completions")] if url.endswith("/chat/completions") else url
            url = (url if url.endswith("/v1") else url + "/v1") + "/models"
            try:
                resp = client.get(url, headers=self._headers(), timeout=self.timeout_s)
                resp.raise_for_status()
                self._served_name = resp.json()["data"][0]["id"]
            except Exception as exc:  # noqa: BLE001
                raise CriticError("endpoint_unreachable", f"cannot list models at {url}: {exc} "
                                  "(is the server up? or pass model=<served name>)") from None
        return self._served_name

    # ------------------------------------------------------------------------------------------- requests
    def settings(self, task: str) -> dict:
        return sampling_settings(task, self.sampling, self.max_tokens)

    def prepare(self, item: CritiqueInput) -> tuple[tuple[bytes, str], tuple[bytes, str]]:
        """The encoded (reference, candidate) images of one item."""
        kw = dict(image_format=self.image_format, jpeg_quality=self.jpeg_quality)
        return encode_image(item.reference_png, item.task, **kw), encode_image(item.candidate_png, item.task, **kw)

    def _post(self, payload: dict) -> str:
        import httpx

        from visual_erm.clients.openai_chat import chat_url

        client = self._client()
        last = ""
        for attempt in range(self.retries + 1):
            url = chat_url(self._next_endpoint())
            try:
                resp = client.post(url, json=payload, headers=self._headers(), timeout=self.timeout_s)
            except httpx.TransportError as exc:  # connect errors and timeouts
                last = f"{url}: {type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    try:
                        return resp.json()["choices"][0]["message"]["content"] or ""
                    except (KeyError, IndexError, TypeError, ValueError) as exc:
                        raise CriticError("endpoint_error", f"{url} answered something that is not a chat "
                                          f"completion: {exc}") from None
                if resp.status_code not in RETRYABLE_HTTP:
                    raise CriticError("endpoint_error", f"{url} answered HTTP {resp.status_code}: {resp.text[:300]}")
                last = f"{url}: HTTP {resp.status_code}: {resp.text[:200]}"
            if attempt < self.retries:
                time.sleep(self.backoff_s * (2 ** attempt) * (0.5 + random.random()))
        raise CriticError("endpoint_unreachable", f"no answer after {self.retries + 1} tries; last: {last}")

    def _complete_http(self, jobs: list[tuple[str, tuple, tuple]], attempt: int) -> list[str | Exception]:
        self._client()
        name = self.served_model()

        def one(job) -> str | Exception:
            task, ref, cand = job
            settings = self.settings(task)
            payload = {"model": name, "messages": rm_chat_messages(task, ref, cand), "max_tokens":
                       settings["max_tokens"], "temperature": settings.get("temperature", 1.0)}
            for key in ("top_p", "presence_penalty"):
                if key in settings:
                    payload[key] = settings[key]
            if settings.get("top_k"):
                payload["top_k"] = settings["top_k"]
            if settings.get("repetition_penalty", 1.0) != 1.0:
                payload["repetition_penalty"] = settings["repetition_penalty"]
            if self.seed is not None:
                payload["seed"] = self.seed + attempt
            try:
                return self._post(payload)
            except Exception as exc:  # noqa: BLE001
                return exc

        return list(self._executor.map(one, jobs))  # type: ignore[union-attr]

    def _complete_local(self, jobs: list[tuple[str, tuple, tuple]], attempt: int) -> list[str | Exception]:
        gen = self._local_generator()
        out: list[str | Exception] = [RuntimeError("not generated")] * len(jobs)
        by_task: dict[str, list[int]] = {}
        for i, (task, _, _) in enumerate(jobs):
            by_task.setdefault(task, []).append(i)
        for task, idxs in by_task.items():
            settings = self.settings(task)
            items = [{"task": task, "reference_image": jobs[i][1][0], "candidate_image": jobs[i][2][0]} for i in idxs]
            try:
                with self._gen_lock:
                    texts = gen.generate(items, max_new_tokens=int(settings["max_tokens"]), batch_size=self.batch_size,
                                         sampling=to_inference_sampling(settings),
                                         seed=None if self.seed is None else self.seed + attempt)
            except Exception as exc:  # noqa: BLE001
                texts = [CriticError("generation_error", f"{type(exc).__name__}: {exc}"[:300])] * len(idxs)
            for i, t in zip(idxs, texts):
                out[i] = t
        return out

    def generate_texts(self, items: Sequence[CritiqueInput], attempt: int = 0) -> list[str | Exception]:
        """One raw model output per item (no parsing, no retry); an exception in a slot when it failed."""
        jobs, out = [], []
        for it in items:
            try:
                ref, cand = self.prepare(it)
                jobs.append((it.task, ref, cand))
                out.append(None)
            except Exception as exc:  # noqa: BLE001
                out.append(CriticError("bad_image", f"{type(exc).__name__}: {exc}"[:300]))
        idx = [i for i, o in enumerate(out) if o is None]
        if idx:
            try:
                done = (self._complete_http if self.backend == "http" else self._complete_local)(jobs, attempt)
            except CriticError as exc:  # e.g. the endpoint cannot list its models, the model does not load
                done = [exc] * len(jobs)
            except Exception as exc:  # noqa: BLE001
                done = [CriticError("critic_error", f"{type(exc).__name__}: {exc}"[:300])] * len(jobs)
            for i, r in zip(idx, done):
                out[i] = r
        return out  # type: ignore[return-value]

    # ------------------------------------------------------------------------------------------- critic API
    def critique_many(self, items: Sequence[CritiqueInput]) -> list[Critique | CritiqueFailure]:
        items = list(items)
        out: list[Critique | CritiqueFailure | None] = [None] * len(items)
        texts: list[list[str]] = [[] for _ in items]
        parse_errors: dict[int, CritiqueParseError] = {}
        pending = []
        for i, it in enumerate(items):
            if it.task not in CATEGORIES:
                out[i] = CritiqueFailure(it.id, "unknown_task", f"unknown task {it.task!r}")
            else:
                pending.append(i)
        for attempt in range(self.tries):
            if not pending:
                break
            if attempt > 0:  # greedy decoding repeats itself: no point in a second try
                pending = [i for i in pending if not is_greedy(self.settings(items[i].task))]
                if not pending:
                    break
            results = self.generate_texts([items[i] for i in pending], attempt)
            still = []
            for i, res in zip(pending, results):
                if isinstance(res, Exception):
                    reason = res.reason if isinstance(res, CriticError) else "critic_error"
                    msg = res.message if isinstance(res, CriticError) else f"{type(res).__name__}: {res}"
                    out[i] = CritiqueFailure(items[i].id, reason, msg[:500])
                    continue
                texts[i].append(res)
                try:
                    out[i] = parse_critique(res, items[i].task, drop_foreign=self.drop_foreign).critique
                except CritiqueParseError as exc:
                    parse_errors[i] = exc
                    still.append(i)
            pending = still
        for i, exc in parse_errors.items():
            if out[i] is None:
                out[i] = CritiqueFailure(items[i].id, "unparseable",
                                         f"{exc.reason}: {exc.message} (after {len(texts[i])} tries)"[:500])
        self.last_texts = texts
        return out  # type: ignore[return-value]

    def critique(self, task, reference_png, candidate_png, *, reference_code=None, candidate_code=None,
                 reference_figure=None, candidate_figure=None) -> Critique:
        res = self.critique_many([CritiqueInput("item", task, reference_png, candidate_png)])[0]
        if isinstance(res, CritiqueFailure):
            raise CriticError(res.reason, res.message)
        return res
