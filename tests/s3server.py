"""A real S3-compatible server on 127.0.0.1 for the storage tests, and its pytest fixtures.

The server is ``localbucket`` (PyPI, pure Python, stores buckets as folders on disk, starts in well under a
second) extended by two things MinIO does and localbucket leaves out, so the tests see MinIO's behaviour:

* **AWS Signature V4 checking**: every request must be signed with the server's access/secret key; a wrong key
  gets ``403 InvalidAccessKeyId``, a wrong secret ``403 SignatureDoesNotMatch`` (as MinIO answers);
* **user metadata** (``x-amz-meta-*``) kept in a sidecar folder ``DATA_ROOT/.verm-meta`` (not a valid bucket
  name, so never listed) and sent back on GET/HEAD, for PutObject, multipart uploads and CopyObject.

Run it by hand: ``python tests/s3server.py DATA_ROOT --port 9000 --access-key K --secret-key S``.

Fixtures: ``s3_server`` (session: one server on a free port, killed at teardown), ``s3_env`` (the
``VERM_S3_*``/``AWS_*`` variables pointing at it), ``s3_bucket`` (a fresh bucket per test). ``S3Server`` starts
extra instances (a test that stops and restarts a server on the same data dir).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote, urlsplit

import localbucket
from localbucket import S3Error, S3Handler

ACCESS_KEY = "verm-test-access"
SECRET_KEY = "verm-test-secret-key-0123456789"
META_DIR = ".verm-meta"
UPLOAD_META_FILE = "verm-user-meta.json"


class VermS3Handler(S3Handler):
    """localbucket's handler plus SigV4 authentication and user metadata."""

    access_key = ACCESS_KEY
    secret_key = SECRET_KEY
    _meta_headers: dict[str, str] | None = None

    # ---- authentication ---------------------------------------------------------------------------------------
    def _dispatch(self, action):
        self._meta_headers = None
        try:
            self._authenticate()
        except S3Error as error:
            # the body of a rejected request is never read: drop the connection after answering
            self._send_error(error)
            return
        super()._dispatch(action)

    def _authenticate(self) -> None:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise S3Error(HTTPStatus.FORBIDDEN, "AccessDenied", "Access Denied.")
        fields = {}
        for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value
        try:
            access_key, date, region, service, _ = fields["Credential"].split("/")
            signed_headers = fields["SignedHeaders"].split(";")
            signature = fields["Signature"]
        except (KeyError, ValueError):
            raise S3Error(HTTPStatus.BAD_REQUEST, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed.") from None
        if access_key != self.access_key:
            raise S3Error(HTTPStatus.FORBIDDEN, "InvalidAccessKeyId",
                          "The Access Key Id you provided does not exist in our records.")
        url = urlsplit(self.path)
        pairs = sorted(p.split("=") for p in url.query.split("&")) if url.query else []
        canonical_query = "&".join("=".join(p) for p in pairs)
        canonical_headers = "\n".join(
            f"{h}:{','.join(' '.join(v.split()) for v in (self.headers.get_all(h) or []))}" for h in signed_headers
        )
        canonical = "\n".join([
            self.command, url.path or "/", canonical_query, canonical_headers, "",
            ";".join(signed_headers), self.headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ])
        scope = f"{date}/{region}/{service}/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", self.headers.get("x-amz-date", ""), scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + self.secret_key).encode()
        for item in (date, region, service, "aws4_request"):
            key = hmac.new(key, item.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise S3Error(HTTPStatus.FORBIDDEN, "SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature you provided.")

    # ---- user metadata ----------------------------------------------------------------------------------------
    def _request_meta(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("x-amz-meta-")}

    def _meta_path(self, bucket: str, key: str) -> Path:
        return self.data_root / META_DIR / bucket / quote(key, safe="")

    def _load_meta(self, bucket: str, key: str) -> dict[str, str]:
        try:
            return json.loads(self._meta_path(bucket, key).read_text())
        except (OSError, ValueError):
            return {}

    def _save_meta(self, bucket: str, key: str, meta: dict[str, str]) -> None:
        path = self._meta_path(bucket, key)
        if not meta:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(meta))
        tmp.replace(path)

    def _write_object(self, bucket: str, key: str, write) -> str:
        if self.command == "POST":  # CompleteMultipartUpload: the metadata came with CreateMultipartUpload
            try:
                meta = json.loads((self._upload_dir(bucket, key) / UPLOAD_META_FILE).read_text())
            except (OSError, ValueError):
                meta = {}
        elif "x-amz-copy-source" in self.headers:
            directive = self.headers.get("x-amz-metadata-directive", "COPY").strip().upper()
            if directive == "REPLACE":
                meta = self._request_meta()
            else:
                src = self.headers["x-amz-copy-source"].partition("?")[0]
                sb, _, sk = localbucket.unquote(src).lstrip("/").partition("/")
                meta = self._load_meta(sb, sk)
        else:
            meta = self._request_meta()
        etag = super()._write_object(bucket, key, write)
        self._save_meta(bucket, key, meta)
        return etag

    def _create_multipart_upload(self, bucket: str, key: str):
        self._object_path(bucket, key)
        upload_id = uuid.uuid4().hex
        upload_dir = self.data_root / localbucket.UPLOADS_DIR / upload_id
        upload_dir.mkdir(parents=True)
        (upload_dir / localbucket.UPLOAD_META).write_text(json.dumps({"bucket": bucket, "key": key}))
        (upload_dir / UPLOAD_META_FILE).write_text(json.dumps(self._request_meta()))
        root = localbucket.ET.Element("InitiateMultipartUploadResult", xmlns=localbucket.S3_NAMESPACE)
        localbucket.sub_element(root, "Bucket", bucket)
        localbucket.sub_element(root, "Key", key)
        localbucket.sub_element(root, "UploadId", upload_id)
        self._send_xml(root)

    def _delete_object(self, bucket: str, key: str):
        super()._delete_object(bucket, key)
        self._meta_path(bucket, key).unlink(missing_ok=True)

    def _get(self, bucket: str, key: str, include_body: bool):
        self._meta_headers = self._load_meta(bucket, key)
        super()._get(bucket, key, include_body)

    def _send_headers(self, status, length, headers=None):
        if self._meta_headers and status in (HTTPStatus.OK, HTTPStatus.PARTIAL_CONTENT):
            headers = {**(headers or {}), **self._meta_headers}
        self._meta_headers = None
        super()._send_headers(status, length, headers)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """One server process on 127.0.0.1 serving ``data_dir``; ``stop()``/``start()`` keep the data dir and port."""

    def __init__(self, data_dir: Path, port: int | None = None, access_key: str = ACCESS_KEY,
                 secret_key: str = SECRET_KEY):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.access_key, self.secret_key = access_key, secret_key
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def env(self) -> dict[str, str]:
        return {"VERM_S3_ENDPOINT": self.url, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": "us-east-1", "VERM_S3_SECURE": "false"}

    def start(self, timeout: float = 5.0) -> "S3Server":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(self.data_dir), "--port", str(self.port),
             "--access-key", self.access_key, "--secret-key", self.secret_key],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        t0 = time.monotonic()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"S3 test server exited at start: see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                self.start_seconds = time.monotonic() - t0
                return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"S3 test server did not listen on {self.endpoint} within {timeout}s: see {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def make_bucket(self, name: str) -> None:
        (self.data_dir / name).mkdir(parents=True, exist_ok=False)

    def object_path(self, bucket: str, key: str) -> Path:
        return self.data_dir / bucket / key

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


try:  # fixtures (pytest is only there in tests)
    if __name__ == "__main__":
        raise ImportError
    import pytest

    @pytest.fixture(scope="session")
    def s3_server(tmp_path_factory):
        server = S3Server(tmp_path_factory.mktemp("s3") / "data")
        server.start()
        yield server
        server.stop()

    @pytest.fixture
    def s3_env(s3_server, monkeypatch):
        for name in ("VERM_S3_CONFIG", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "S3_ENDPOINT", "MINIO_ENDPOINT",
                     "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_S3_USE_TLS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in s3_server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("VERM_S3_RETRIES", "2")
        monkeypatch.setenv("VERM_S3_RETRY_BASE", "0.05")
        return s3_server.env()

    @pytest.fixture
    def s3_bucket(s3_server, s3_env) -> str:
        name = f"t-{uuid.uuid4().hex[:12]}"
        s3_server.make_bucket(name)
        return name
except ImportError:  # pragma: no cover
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description="localbucket with SigV4 checks and user metadata (tests only)")
    parser.add_argument("data_root", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--access-key", default=ACCESS_KEY)
    parser.add_argument("--secret-key", default=SECRET_KEY)
    args = parser.parse_args()
    localbucket.logging.basicConfig(level=localbucket.logging.INFO, format="%(asctime)s %(message)s")
    data_root = args.data_root.resolve()
    data_root.mkdir(parents=True, exist_ok=True)
    VermS3Handler.data_root = data_root
    VermS3Handler.access_key, VermS3Handler.secret_key = args.access_key, args.secret_key
    server = localbucket.ThreadingHTTPServer((args.host, args.port), VermS3Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
