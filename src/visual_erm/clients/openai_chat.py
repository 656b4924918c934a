"""A small client for OpenAI-compatible ``/v1/chat/completions`` endpoints (vLLM, the `verm serve` server, OpenAI).

It sends images as base64 data URLs, retries transient failures with exponential backoff, and raises
:class:`EndpointError` with the URL and what to check when the endpoint cannot be used.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass

import httpx


class EndpointError(RuntimeError):
    pass


def image_part(png: bytes, mime: str = "image/png") -> dict:
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{base64.b64encode(png).decode()}"}}


def chat_url(endpoint: str) -> str:
    """Accept ``http://host:port``, ``…/v1`` or the full ``…/v1/chat/completions`` URL."""
    url = endpoint.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if not url.endswith("/v1"):
        url += "/v1"
    return url + "/chat/completions"


@dataclass
class ChatClient:
    endpoint: str
    model: str
    timeout_s: float = 120.0
    retries: int = 3
    backoff_s: float = 0.5
    api_key: str | None = None

    def complete(self, messages: list[dict], **sampling) -> str:
        """Send one chat request and return the first choice's text."""
        url = chat_url(self.endpoint)
        headers = {}
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        payload = {"model": self.model, "messages": messages, **sampling}
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                resp = httpx.post(url, json=payload, headers=headers, timeout=self.timeout_s)
                if resp.status_code in (429, 500, 502, 503, 504):
                    raise EndpointError(f"{url} answered HTTP {resp.status_code}: {resp.text[:200]}")
                if resp.status_code != 200:
                    raise EndpointError(
                        f"{url} answered HTTP {resp.status_code}: {resp.text[:200]} "
                        "(check the model name and the request)"
                    )
                return resp.json()["choices"][0]["message"]["content"] or ""
            except (httpx.TransportError, EndpointError) as exc:
                last = exc
                if isinstance(exc, EndpointError) and "check the model name" in str(exc):
                    raise
                if attempt < self.retries:
                    time.sleep(self.backoff_s * (2**attempt))
            except (KeyError, IndexError, ValueError) as exc:
                raise EndpointError(f"{url} answered something that is not a chat completion: {exc}") from None
        raise EndpointError(f"{url} is not reachable after {self.retries + 1} tries: {last} (is the server up?)")
