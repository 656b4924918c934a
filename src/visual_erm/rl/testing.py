"""A minimal OpenAI-compatible chat server for tests and CPU demos: a function answers each request.

``ChatServer(handler)`` serves ``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1 in a thread.
``handler(request_json) -> str`` returns the assistant text. Used for scripted policy endpoints (fixed or edited
programs, so that reflect-and-revise sees non-trivial rewards); reward models are served by ``verm serve``.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


def request_images(request: dict) -> list[bytes]:
    """The images of a chat request (data URLs), in order."""
    out = []
    for m in request.get("messages", []):
        content = m.get("content")
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "image_url":
                    url = part["image_url"]["url"]
                    out.append(base64.b64decode(url.split(",", 1)[1]))
    return out


def request_text(request: dict, role: str | None = None) -> str:
    """All text parts of the request's messages (of ``role`` when given), joined by newlines."""
    out = []
    for m in request.get("messages", []):
        if role and m.get("role") != role:
            continue
        content = m.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(p.get("text", "") for p in content if p.get("type") == "text")
    return "\n".join(out)


class ChatServer:
    def __init__(self, handler: Callable[[dict], str], *, host: str = "127.0.0.1", port: int = 0,
                 model: str = "scripted"):
        self.handler = handler
        self.model = model
        self.requests: list[dict] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _send(self, code: int, obj: dict) -> None:
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": outer.model, "object": "model"}]})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self):
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": "not found"})
                    return
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(req)
                try:
                    text = outer.handler(req)
                except Exception as exc:  # noqa: BLE001
                    self._send(500, {"error": f"{type(exc).__name__}: {exc}"})
                    return
                self._send(200, {"id": "x", "object": "chat.completion", "model": req.get("model"),
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": text}}]})

        self._httpd = ThreadingHTTPServer((host, port), H)
        self.url = f"http://{host}:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ChatServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


#: Small reference SVG programs (distinct images) for tests and demos.
SVG_PROGRAMS: dict[str, str] = {
    "disc": '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
            '<circle cx="32" cy="32" r="20" fill="#2563eb" stroke="#1e3a8a" stroke-width="3"/></svg>',
    "card": '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
            '<rect x="10" y="14" width="44" height="36" rx="4" fill="#f59e0b" stroke="#78350f" stroke-width="2"/>'
            '</svg>',
    "flag": '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
            '<rect x="8" y="8" width="48" height="16" fill="#16a34a"/><rect x="8" y="24" width="48" height="16" '
            'fill="#ffffff" stroke="#111827"/><rect x="8" y="40" width="48" height="16" fill="#dc2626"/></svg>',
    "ring": '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
            '<circle cx="32" cy="32" r="22" fill="none" stroke="#7c3aed" stroke-width="8"/></svg>',
}


def render_svg_trusted(code: str, size: int = 336) -> bytes:
    """Render a *trusted* SVG in process (test fixtures only; untrusted programs go through the RenderPool)."""
    import cairosvg

    return cairosvg.svg2png(bytestring=code.encode(), output_width=size, output_height=size,
                            background_color="white")


def write_svg_pair_dataset(out_dir, programs: dict[str, str] | None = None, *, candidates_per_seed: int = 2,
                           split: str = "train") -> "object":
    """A small pair dataset (the ``verm synth`` layout) whose seeds are ``programs``: each seed has
    ``candidates_per_seed`` rows sharing one reference (as synthesized pairs do)."""
    from pathlib import Path

    from visual_erm.schema import Critique
    from visual_erm.synth.dataset import image_cell, write_shard

    programs = programs or SVG_PROGRAMS
    rows = []
    for name, code in programs.items():
        png = render_svg_trusted(code)
        for k in range(candidates_per_seed):
            rows.append({
                "id": f"svg-{name}-c{k}", "task": "svg", "split": split, "seed_id": f"svg-{name}",
                "seed_kind": "test", "origin": "identity", "operators": [], "reference_code": code,
                "reference_image": image_cell(png), "candidate_code": code, "candidate_image": image_cell(png),
                "gold": Critique(task="svg", errors=()).to_json(), "n_errors": 0, "severity_sum": 0,
                "changed_fraction": 0.0, "diff_bbox": [], "structural_critique": Critique(task="svg", errors=()).to_json(),
                "renderer": "cairosvg", "width": 336, "height": 336,
            })
    out = Path(out_dir)
    write_shard(rows, out / "data" / split / "svg-00000.parquet")
    (out / "manifest.json").write_text('{"format": "visual-erm-pairs/1"}\n')
    return out
