"""Artifact store: local paths and ``s3://bucket/prefix`` URIs (MinIO, ``minio`` client) behind one interface.

Every ``verm`` command accepts a local path or an ``s3://`` URI for its inputs and outputs. The call pattern::

    from visual_erm import storage

    data_dir = storage.resolve_input(args.data, workdir)          # s3:// → verified local copy; path → itself
    model_dir = storage.resolve_input(args.model, workdir, marker=None)   # a model dir has no manifest.json
    out_dir = storage.local_output(args.out, workdir)             # where to write locally (a temp dir for s3://)
    ... run the stage, writing out_dir (manifest.json last) ...
    storage.publish_output(out_dir, args.out)                     # upload (marker last) or no-op when local

Store API (``open_store(uri)`` returns a ``LocalStore`` or an ``S3Store``; keys are relative to the URI)::

    store.put_file(path, key) / get_file(key, path)    single files; sha256 stored on upload, verified on download
    store.put_bytes / get_bytes, open_read(key) (a file-like, verified at EOF), iter_chunks(key)
    store.put_dir(dir, prefix) / get_dir(prefix, dir)  recursive
    store.list(prefix) / exists(key) / stat(key) / delete(key)
    store.publish_dir(dir, prefix, marker="manifest.json")   everything else first, verified, the marker last
    store.fetch_dir(prefix, dir) / require_complete(prefix)  refuse a prefix whose marker is missing

Module-level ``publish_dir(local_dir, uri)``, ``fetch_dir(uri, local_dir)`` and ``require_complete(uri)`` do the
same from a URI. A directory is *complete* when its marker (``manifest.json`` for datasets, the synth engine
writes it last) is present. A publish writes the marker last, so an interrupted one leaves no marker and every
reader refuses it; re-running it skips the objects already there with the same sha256 and completes it. With
``marker=None`` (model checkpoints and other directories without a manifest) the store writes its own marker
``_VERM_COMPLETE.json`` (file list and hashes) last.

Checksums: every uploaded object carries its sha256 in the user metadata ``x-amz-meta-sha256``; downloads hash
what they receive and raise ``ChecksumMismatch`` (naming the key) on a difference (objects written by other
tools, without that metadata, are read unverified). The marker object also carries
``x-amz-meta-verm-tree`` (sha256 over the sorted "key<TAB>sha256" lines of the directory) so that a fetch detects a
missing or extra object.

Configuration (environment, compatible with how KFP and its pods are pointed at MinIO; first one set wins):

=====================  ============================================================================================
endpoint               ``VERM_S3_ENDPOINT``, ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``, ``S3_ENDPOINT``,
                       ``MINIO_ENDPOINT``, else ``MINIO_SERVICE_SERVICE_HOST``:``MINIO_SERVICE_SERVICE_PORT``
                       (the Kubernetes service variables of KFP's ``minio-service``). ``host:port`` or a URL;
                       ``https://`` turns TLS on, ``http://`` off.
access / secret key    ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, else ``MINIO_ACCESS_KEY`` /
                       ``MINIO_SECRET_KEY`` (also ``MINIO_ROOT_USER`` / ``MINIO_ROOT_PASSWORD``);
                       ``AWS_SESSION_TOKEN`` optional
TLS                    ``VERM_S3_SECURE``, else ``AWS_S3_USE_TLS``, else ``S3_USE_HTTPS`` (true/false, 1/0);
                       default: from the URL scheme, else false (in-cluster MinIO). ``VERM_S3_VERIFY`` /
                       ``S3_VERIFY_SSL`` = false skips certificate checks; ``SSL_CERT_FILE`` sets the CA bundle.
region                 ``VERM_S3_REGION``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``; default ``us-east-1`` (always
                       passed to the client, which skips the bucket-location lookup)
config file            ``VERM_S3_CONFIG``: a JSON or YAML mapping with keys ``endpoint``, ``access_key``,
                       ``secret_key``, ``session_token``, ``secure``, ``verify``, ``region`` (environment wins)
tuning                 ``VERM_S3_RETRIES`` (attempts on transient errors, default 5), ``VERM_S3_RETRY_BASE``
                       (first back-off in s, doubled each time, capped at 10 s, default 0.5),
                       ``VERM_S3_PART_SIZE`` (multipart part size in bytes, default 16 MiB, at least 5 MiB),
                       ``VERM_S3_TIMEOUT`` (connect/read timeout in s, default 60)
=====================  ============================================================================================

Errors derive from ``StorageError`` and name the endpoint, bucket and key and what to check:
``StorageConfigError``, ``StorageUnavailable`` (endpoint down, 5xx after the retries), ``StorageAuthError``,
``BucketNotFound``, ``ObjectNotFound`` (also a ``FileNotFoundError``), ``ChecksumMismatch``,
``IncompleteArtifact``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

SHA256_META = "x-amz-meta-sha256"
TREE_META = "x-amz-meta-verm-tree"
DEFAULT_MARKER = "manifest.json"
GENERATED_MARKER = "_VERM_COMPLETE.json"
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 16 * 1024 * 1024
CHUNK = 1024 * 1024
#: file names never published (half-written files of the writers in this project)
DEFAULT_EXCLUDE = (".tmp", ".partial")

CREDENTIALS_HINT = ("check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or MINIO_ACCESS_KEY/MINIO_SECRET_KEY, "
                    "or the keys in the VERM_S3_CONFIG file)")


# ---------------------------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------------------------
class StorageError(Exception):
    """Base of every artifact-store error; ``endpoint``, ``bucket`` and ``key`` say where it happened."""

    def __init__(self, message: str, *, endpoint: str | None = None, bucket: str | None = None,
                 key: str | None = None):
        super().__init__(message)
        self.endpoint, self.bucket, self.key = endpoint, bucket, key


class StorageConfigError(StorageError):
    """The store is not configured (no endpoint, no keys, a bad URI or config file)."""


class StorageUnavailable(StorageError):
    """The endpoint cannot be reached or keeps failing (connection refused/reset, 5xx) after the retries."""


class StorageAuthError(StorageError):
    """The credentials were rejected."""


class BucketNotFound(StorageError):
    """The bucket of the URI does not exist."""


class ObjectNotFound(StorageError, FileNotFoundError):
    """The key does not exist."""


class ChecksumMismatch(StorageError):
    """A downloaded object's sha256 differs from the one recorded at upload."""


class IncompleteArtifact(StorageError):
    """A directory prefix has no completion marker: its publish was interrupted or never ran."""


# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------
def is_s3_uri(value: str | os.PathLike) -> bool:
    return isinstance(value, str) and value.startswith("s3://")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` → (``bucket``, ``a/b``)."""
    if not is_s3_uri(uri):
        raise StorageConfigError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not bucket:
        raise StorageConfigError(f"no bucket in {uri!r}: write s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, md5) of a file in one pass (md5 is compared with a single-part object's ETag)."""
    h, m = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
            m.update(block)
    return h.hexdigest(), m.hexdigest()


def tree_hash(hashes: Mapping[str, str]) -> str:
    """sha256 over the sorted ``key\\tsha256`` lines of a directory (the marker excluded)."""
    h = hashlib.sha256()
    for key in sorted(hashes):
        h.update(f"{key}\t{hashes[key]}\n".encode())
    return h.hexdigest()


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def _excluded(name: str, exclude: tuple[str, ...]) -> bool:
    return any(name.endswith(suffix) for suffix in exclude)


def local_files(local_dir: Path, exclude: tuple[str, ...] = DEFAULT_EXCLUDE) -> dict[str, Path]:
    """Relative POSIX key → path for every regular file under ``local_dir`` (symlinks followed), sorted."""
    local_dir = Path(local_dir)
    out = {}
    for path in sorted(local_dir.rglob("*")):
        if path.is_file() and not _excluded(path.name, exclude):
            out[path.relative_to(local_dir).as_posix()] = path
    return out


def _truthy(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    v = str(value).strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise StorageConfigError(f"not a boolean: {value!r} (use true/false)")


# ---------------------------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class S3Config:
    endpoint: str  # host:port
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    secure: bool = False
    verify: bool = True
    region: str = "us-east-1"
    retries: int = 5
    retry_base: float = 0.5
    part_size: int = DEFAULT_PART_SIZE
    timeout: float = 60.0

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "S3Config":
        env = os.environ if env is None else env

        def first(*names: str) -> str | None:
            for n in names:
                if env.get(n):
                    return env[n]
            return None

        file_cfg: dict[str, Any] = {}
        if env.get("VERM_S3_CONFIG"):
            file_cfg = _read_config_file(Path(env["VERM_S3_CONFIG"]))

        endpoint = first("VERM_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "S3_ENDPOINT",
                         "MINIO_ENDPOINT") or file_cfg.get("endpoint")
        if not endpoint and env.get("MINIO_SERVICE_SERVICE_HOST"):
            endpoint = f"{env['MINIO_SERVICE_SERVICE_HOST']}:{env.get('MINIO_SERVICE_SERVICE_PORT', '9000')}"
        if not endpoint:
            raise StorageConfigError(
                "no S3 endpoint configured for s3:// URIs: set VERM_S3_ENDPOINT (e.g. "
                "http://minio-service.kubeflow:9000)"
                " or point VERM_S3_CONFIG at a config file")
        endpoint = str(endpoint).strip()
        scheme_secure = None
        if "://" in endpoint:
            scheme, _, endpoint = endpoint.partition("://")
            if scheme not in ("http", "https"):
                raise StorageConfigError(f"S3 endpoint {endpoint!r}: scheme must be http or https, not {scheme!r}")
            scheme_secure = scheme == "https"
        endpoint = endpoint.rstrip("/")
        if "/" in endpoint:
            raise StorageConfigError(f"S3 endpoint must be host[:port] or a URL without a path, got {endpoint!r}")

        secure = _truthy(first("VERM_S3_SECURE", "AWS_S3_USE_TLS", "S3_USE_HTTPS"))
        if secure is None:
            secure = scheme_secure if scheme_secure is not None else _truthy(str(file_cfg.get("secure", ""))) or False
        verify = _truthy(first("VERM_S3_VERIFY", "S3_VERIFY_SSL"))
        if verify is None:
            verify = _truthy(str(file_cfg.get("verify", ""))) if file_cfg.get("verify") is not None else True
        access_key = first("AWS_ACCESS_KEY_ID", "MINIO_ACCESS_KEY", "MINIO_ROOT_USER") or file_cfg.get("access_key")
        secret_key = (first("AWS_SECRET_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_ROOT_PASSWORD")
                      or file_cfg.get("secret_key"))
        if bool(access_key) != bool(secret_key):
            raise StorageConfigError(f"S3 endpoint {endpoint}: an access key without a secret key (or the other way"
                                     f" round): {CREDENTIALS_HINT}")
        region = first("VERM_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION") or file_cfg.get("region") or "us-east-1"
        try:
            part_size = int(first("VERM_S3_PART_SIZE") or file_cfg.get("part_size") or DEFAULT_PART_SIZE)
            retries = int(first("VERM_S3_RETRIES") or file_cfg.get("retries") or 5)
            retry_base = float(first("VERM_S3_RETRY_BASE") or file_cfg.get("retry_base") or 0.5)
            timeout = float(first("VERM_S3_TIMEOUT") or file_cfg.get("timeout") or 60)
        except ValueError as exc:
            raise StorageConfigError(f"bad VERM_S3_* tuning value: {exc}") from None
        return cls(endpoint=endpoint, access_key=access_key, secret_key=secret_key,
                   session_token=first("AWS_SESSION_TOKEN") or file_cfg.get("session_token"),
                   secure=bool(secure), verify=bool(verify), region=region, retries=max(1, retries),
                   retry_base=max(0.0, retry_base), part_size=max(MIN_PART_SIZE, part_size), timeout=timeout)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise StorageConfigError(f"VERM_S3_CONFIG={path}: cannot read it ({exc})") from None
    try:
        data = json.loads(text)
    except ValueError:
        try:
            import yaml
        except ImportError:  # pragma: no cover
            raise StorageConfigError(f"VERM_S3_CONFIG={path}: not JSON and PyYAML is not installed") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise StorageConfigError(f"VERM_S3_CONFIG={path}: neither JSON nor YAML ({exc})") from None
    if not isinstance(data, dict):
        raise StorageConfigError(f"VERM_S3_CONFIG={path}: expected a mapping with endpoint, access_key, secret_key…")
    return {str(k).lower(): v for k, v in data.items()}


# ---------------------------------------------------------------------------------------------------------------
# the interface
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class ObjectInfo:
    key: str
    size: int
    sha256: str | None
    etag: str | None = None

    def same_as(self, size: int, sha256: str, md5: str) -> bool:
        """The stored object is this content: sha256 metadata and size match and, for a single-part upload whose
        ETag is the MD5 of the bytes, the ETag too (catches bytes changed behind unchanged metadata)."""
        if self.sha256 != sha256 or self.size != size:
            return False
        return not self.etag or "-" in self.etag or len(self.etag) != 32 or self.etag == md5


class ArtifactStore:
    """A root (a local directory or an ``s3://bucket/prefix``); keys are POSIX paths relative to it."""

    uri: str

    # primitives, per backend ---------------------------------------------------------------------------------
    def put_file(self, local_path: str | Path, key: str, *, sha256: str | None = None,
                 part_size: int | None = None) -> str:
        raise NotImplementedError

    def get_file(self, key: str, local_path: str | Path, *, verify: bool = True) -> Path:
        raise NotImplementedError

    def open_read(self, key: str, *, verify: bool = True) -> io.RawIOBase:
        """A readable binary file-like over the object (use it as a context manager); checks sha256 at EOF."""
        raise NotImplementedError

    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys under ``prefix`` (a directory prefix: ``a`` lists ``a/…``, not ``ab``), recursively."""
        raise NotImplementedError

    def stat(self, key: str) -> ObjectInfo | None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def _describe(self, key: str = "") -> str:
        raise NotImplementedError

    # shared -----------------------------------------------------------------------------------------------------
    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def iter_chunks(self, key: str, chunk_size: int = CHUNK, *, verify: bool = True) -> Iterator[bytes]:
        with self.open_read(key, verify=verify) as fh:
            while block := fh.read(chunk_size):
                yield block

    def put_bytes(self, data: bytes, key: str) -> str:
        with tempfile.TemporaryDirectory(prefix="verm-put-") as tmp:
            path = Path(tmp) / "blob"
            path.write_bytes(data)
            return self.put_file(path, key)

    def get_bytes(self, key: str, *, verify: bool = True) -> bytes:
        with self.open_read(key, verify=verify) as fh:
            return fh.read()

    def put_dir(self, local_dir: str | Path, prefix: str = "", *, skip_existing: bool = True,
                exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
                on_object: Callable[[str, int, int], None] | None = None) -> dict[str, str]:
        """Upload every file under ``local_dir`` to ``prefix``; returns relative key → sha256.

        ``skip_existing`` skips an object already stored with the same sha256 (a re-run uploads only what is
        missing). ``on_object(key, done, total)`` is called after each object (progress, tests).
        """
        files = local_files(Path(local_dir), exclude)
        return self._upload_files(files, prefix, skip_existing=skip_existing, on_object=on_object)

    def _upload_files(self, files: Mapping[str, Path], prefix: str, *, skip_existing: bool,
                      on_object: Callable[[str, int, int], None] | None) -> dict[str, str]:
        hashes = {}
        for i, (rel, path) in enumerate(files.items(), 1):
            sha, md5 = file_digests(path)
            key = _join(prefix, rel)
            info = self.stat(key) if skip_existing else None
            if not (info and info.same_as(path.stat().st_size, sha, md5)):
                self.put_file(path, key, sha256=sha)
            hashes[rel] = sha
            if on_object:
                on_object(rel, i, len(files))
        return hashes

    def get_dir(self, prefix: str, local_dir: str | Path, *, verify: bool = True,
                skip: tuple[str, ...] = ()) -> dict[str, str]:
        """Download every object under ``prefix`` into ``local_dir``; returns relative key → sha256.

        A local file that already has the stored sha256 is kept (a re-run downloads only what changed).
        """
        hashes = {}
        base = prefix.strip("/")
        local_dir = Path(local_dir)
        for key in self.list(base):
            rel = key[len(base) + 1:] if base else key
            if rel in skip:
                continue
            dest = local_dir / rel
            if dest.is_file() and verify:
                info = self.stat(key)
                if info and info.sha256 and info.size == dest.stat().st_size and sha256_file(dest) == info.sha256:
                    hashes[rel] = info.sha256
                    continue
            self.get_file(key, dest, verify=verify)
            hashes[rel] = sha256_file(dest)
        return hashes

    # atomic publish ---------------------------------------------------------------------------------------------
    def publish_dir(self, local_dir: str | Path, prefix: str = "", *, marker: str | None = DEFAULT_MARKER,
                    prune: bool = True, exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
                    on_object: Callable[[str, int, int], None] | None = None) -> dict[str, str]:
        """Upload ``local_dir`` to ``prefix`` with its marker last; returns relative key → sha256.

        Order: drop a stale marker at the destination (readers see "incomplete" from here on), upload every
        other file (skipping those already there with the same sha256), verify each object's stored sha256,
        delete objects under the prefix that the directory no longer has (``prune``), then write the marker.
        ``marker=None`` writes a generated ``_VERM_COMPLETE.json`` instead (for directories without a manifest).
        """
        local_dir = Path(local_dir)
        files = local_files(local_dir, exclude)
        marker_name = marker or GENERATED_MARKER
        if marker is not None and marker not in files:
            raise IncompleteArtifact(
                f"{local_dir} has no {marker}: the directory is incomplete (the step that writes it did not finish);"
                f" finish it before publishing, or pass marker=None for a directory without a manifest")
        marker_path = files.pop(marker_name, None) if marker is not None else None
        files.pop(GENERATED_MARKER, None)
        mkey = _join(prefix, marker_name)
        old = self.stat(mkey)
        if old is not None:
            self.delete(mkey)
        hashes = self._upload_files(files, prefix, skip_existing=True, on_object=on_object)
        for rel, sha in hashes.items():  # verify what the store now holds
            info = self.stat(_join(prefix, rel))
            if info is None or info.sha256 != sha:
                key = _join(prefix, rel)
                raise ChecksumMismatch(
                    f"{self._describe(key)}{self._at()}: stored sha256 {info.sha256 if info else None} != local "
                    f"{sha} after upload; re-run the publish step", **self._where(key))
        if prune:
            wanted = {_join(prefix, rel) for rel in hashes} | {mkey}
            for key in self.list(prefix):
                if key not in wanted:
                    self.delete(key)
        tree = tree_hash(hashes)
        with tempfile.TemporaryDirectory(prefix="verm-marker-") as tmp:
            if marker_path is None:
                marker_path = Path(tmp) / GENERATED_MARKER
                marker_path.write_text(json.dumps({"files": hashes, "tree_sha256": tree}, indent=2) + "\n")
            self._put_marker(marker_path, mkey, tree)
        if on_object:
            on_object(marker_name, len(files) + 1, len(files) + 1)
        return hashes

    def _put_marker(self, path: Path, key: str, tree: str) -> None:
        self.put_file(path, key)

    def _where(self, key: str = "") -> dict[str, str | None]:
        return {"endpoint": None, "bucket": None, "key": key}

    def _at(self) -> str:
        return ""

    def require_complete(self, prefix: str = "", *, marker: str | None = DEFAULT_MARKER) -> ObjectInfo:
        """Raise ``IncompleteArtifact`` unless ``prefix`` holds its completion marker; returns the marker's info."""
        marker_name = marker or GENERATED_MARKER
        info = self.stat(_join(prefix, marker_name))
        if info is None:
            where = self._describe(prefix)
            if not self.list(prefix):
                raise IncompleteArtifact(f"{where} is empty or does not exist{self._at()}: nothing was published "
                                         f"there; check the URI or run the step that writes it", **self._where(prefix))
            raise IncompleteArtifact(f"{where} is incomplete: {marker_name} missing — the upload was interrupted; "
                                     f"re-run the publish step{self._at()}", **self._where(_join(prefix, marker_name)))
        return info

    def fetch_dir(self, prefix: str, local_dir: str | Path, *, marker: str | None = DEFAULT_MARKER,
                  prune: bool = False) -> Path:
        """Download a complete directory (``require_complete`` first) into ``local_dir``, verifying every file.

        Files already in ``local_dir`` with the right sha256 are kept; the marker is written last locally too, so
        an interrupted fetch leaves no marker. ``prune`` deletes local files the prefix does not have.
        """
        local_dir = Path(local_dir)
        marker_name = marker or GENERATED_MARKER
        self.require_complete(prefix, marker=marker)
        (local_dir / marker_name).unlink(missing_ok=True)
        hashes = self.get_dir(prefix, local_dir, skip=(marker_name,))
        expected = self._expected_tree(_join(prefix, marker_name))
        if expected is not None and expected != tree_hash(hashes):
            raise ChecksumMismatch(
                f"{self._describe(prefix)}{self._at()}: the objects under the prefix do not match the list the publish "
                f"recorded (an object is missing or extra); re-run the publish step", **self._where(prefix))
        if prune:
            for rel in set(local_files(local_dir, ())) - set(hashes) - {marker_name}:
                (local_dir / rel).unlink()
        self.get_file(_join(prefix, marker_name), local_dir / marker_name)
        return local_dir

    def _expected_tree(self, marker_key: str) -> str | None:
        return None


# ---------------------------------------------------------------------------------------------------------------
# local directories
# ---------------------------------------------------------------------------------------------------------------
class _HashingReader(io.RawIOBase):
    """Wraps a binary stream; hashes what is read and checks the expected sha256 at EOF."""

    def __init__(self, raw, expected: str | None, describe: str, where: dict, on_close: Callable[[], None]):
        self._raw, self._expected, self._describe, self._where = raw, expected, describe, where
        self._h = hashlib.sha256()
        self._on_close = on_close
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        if n:
            self._h.update(data)
        elif not self._done:
            self._done = True
            if self._expected and self._h.hexdigest() != self._expected:
                raise ChecksumMismatch(f"{self._describe}: sha256 {self._h.hexdigest()} != {self._expected} "
                                       f"recorded at upload — the stored object is corrupt; re-run the publish step",
                                       **self._where)
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._on_close()
            finally:
                super().close()


class LocalStore(ArtifactStore):
    """A directory on a local (or mounted) file system."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().absolute()
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        key = key.strip("/")
        path = (self.root / key) if key else self.root
        if ".." in Path(key).parts:
            raise StorageConfigError(f"key {key!r} leaves the store root {self.root}")
        return path

    def _describe(self, key: str = "") -> str:
        return str(self._path(key))

    def _where(self, key: str = "") -> dict[str, str | None]:
        return {"endpoint": None, "bucket": None, "key": str(self._path(key))}

    def put_file(self, local_path, key, *, sha256=None, part_size=None) -> str:
        src, dest = Path(local_path), self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            h = hashlib.sha256()
            with open(src, "rb") as fi, open(tmp, "wb") as fo:
                for block in iter(lambda: fi.read(CHUNK), b""):
                    h.update(block)
                    fo.write(block)
            if sha256 and h.hexdigest() != sha256:
                raise ChecksumMismatch(f"{src} changed while it was copied to {dest}", **self._where(key))
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return h.hexdigest()

    def get_file(self, key, local_path, *, verify=True) -> Path:
        src = self._path(key)
        if not src.is_file():
            raise ObjectNotFound(f"{src} does not exist", **self._where(key))
        dest = Path(local_path).absolute()
        LocalStore(dest.parent).put_file(src, dest.name)
        return dest

    def open_read(self, key, *, verify=True):
        src = self._path(key)
        try:
            return open(src, "rb")
        except FileNotFoundError:
            raise ObjectNotFound(f"{src} does not exist", **self._where(key)) from None

    def list(self, prefix: str = "") -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(_join(prefix, rel) for rel in local_files(base, (".partial",)))

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return ObjectInfo(key, path.stat().st_size, sha256_file(path))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def publish_dir(self, local_dir, prefix="", *, marker=DEFAULT_MARKER, prune=True, exclude=DEFAULT_EXCLUDE,
                    on_object=None) -> dict[str, str]:
        """Copy into a temporary sibling (marker last), verify, then rename it into place."""
        local_dir = Path(local_dir).absolute()
        dest = self._path(prefix)
        if dest.resolve() == local_dir.resolve():
            files = local_files(local_dir, exclude)
            marker_name = marker or GENERATED_MARKER
            if marker is not None and marker not in files:
                raise IncompleteArtifact(f"{local_dir} has no {marker}: the directory is incomplete",
                                         **self._where(prefix))
            return {k: sha256_file(p) for k, p in files.items() if k != marker_name}
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.publish-{uuid.uuid4().hex[:8]}"
        try:
            hashes = ArtifactStore.publish_dir(LocalStore(tmp), local_dir, "", marker=marker, prune=True,
                                               exclude=exclude, on_object=on_object)
            if dest.exists():
                old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
                os.rename(dest, old)
                os.rename(tmp, dest)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return hashes

    def fetch_dir(self, prefix, local_dir, *, marker=DEFAULT_MARKER, prune=False) -> Path:
        local_dir = Path(local_dir).absolute()
        if self._path(prefix).resolve() == local_dir.resolve():
            self.require_complete(prefix, marker=marker)
            return local_dir
        return super().fetch_dir(prefix, local_dir, marker=marker, prune=prune)


# ---------------------------------------------------------------------------------------------------------------
# S3 / MinIO
# ---------------------------------------------------------------------------------------------------------------
_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken",
               "InvalidClientTokenId", "AuthorizationHeaderMalformed"}
_TRANSIENT_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "XMinioServerNotInitialized",
                    "OperationTimedOut"}


class S3Store(ArtifactStore):
    """``s3://bucket/prefix`` on MinIO (or any S3-compatible endpoint) through the ``minio`` client."""

    def __init__(self, uri: str, config: S3Config | None = None, client=None):
        self.bucket, self.prefix = split_s3_uri(uri)
        self.uri = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.config = config or S3Config.from_env()
        from minio.helpers import check_bucket_name

        try:
            check_bucket_name(self.bucket)
        except ValueError as exc:
            raise StorageConfigError(f"{uri}: {exc}", bucket=self.bucket) from None
        self.client = client or self._make_client()
        self._bucket_checked = False

    def _make_client(self):
        import urllib3
        from minio import Minio

        cfg = self.config
        kwargs: dict[str, Any] = {}
        if cfg.secure:
            kwargs["cert_reqs"] = "CERT_REQUIRED" if cfg.verify else "CERT_NONE"
            if cfg.verify:
                ca = os.environ.get("SSL_CERT_FILE")
                if not ca:
                    try:
                        import certifi
                        ca = certifi.where()
                    except ImportError:  # pragma: no cover
                        ca = None
                if ca:
                    kwargs["ca_certs"] = ca
        # no retries inside urllib3: this module retries whole operations with its own bounded back-off
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=min(cfg.timeout, 10.0), read=cfg.timeout),
                                   maxsize=10, retries=False, **kwargs)
        return Minio(cfg.endpoint, access_key=cfg.access_key, secret_key=cfg.secret_key,
                     session_token=cfg.session_token, secure=cfg.secure, region=cfg.region, http_client=http,
                     cert_check=cfg.verify)

    # naming -----------------------------------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return _join(self.prefix, key)

    def _describe(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self._key(key)}".rstrip("/")

    def _at(self) -> str:
        return f" (endpoint {self.config.url})"

    def _where(self, key: str = "") -> dict[str, str | None]:
        return {"endpoint": self.config.url, "bucket": self.bucket, "key": self._key(key)}

    # errors and retries -----------------------------------------------------------------------------------------
    def _translate(self, exc: BaseException, op: str, key: str | None) -> StorageError:
        from minio.error import InvalidResponseError, S3Error, ServerError

        where = self._where(key or "")
        obj = f"s3://{self.bucket}/{self._key(key or '')}".rstrip("/")
        url = self.config.url
        if isinstance(exc, S3Error):
            if exc.code in _AUTH_CODES:
                return StorageAuthError(
                    f"{op} {obj} at {url} was refused ({exc.code}: {exc.message}): {CREDENTIALS_HINT}; also check "
                    f"that the key may access bucket {self.bucket!r}", **where)
            if exc.code == "NoSuchBucket":
                return BucketNotFound(f"bucket {self.bucket!r} does not exist at {url} ({op} {obj}): create it "
                                      f"(e.g. `mc mb`) or fix the URI", **where)
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return ObjectNotFound(f"{obj} does not exist at {url}", **where)
            if exc.code in _TRANSIENT_CODES:
                return StorageUnavailable(f"{op} {obj}: the server at {url} keeps failing ({exc.code}: "
                                          f"{exc.message}); check its health and VERM_S3_ENDPOINT", **where)
            return StorageError(f"{op} {obj} at {url} failed: {exc.code}: {exc.message}", **where)
        if isinstance(exc, (ServerError, InvalidResponseError)):
            return StorageUnavailable(f"{op} {obj}: the server at {url} answered with an error ({exc}); is it an "
                                      f"S3 endpoint and healthy? check VERM_S3_ENDPOINT", **where)
        return StorageUnavailable(f"{op} {obj}: cannot reach {url} ({type(exc).__name__}: {exc}); is the server at "
                                  f"{url} up? check VERM_S3_ENDPOINT (and VERM_S3_SECURE for http/https)", **where)

    @staticmethod
    def _transient(exc: BaseException) -> bool:
        import urllib3.exceptions as ue
        from minio.error import InvalidResponseError, S3Error, ServerError

        if isinstance(exc, S3Error):
            return exc.code in _TRANSIENT_CODES
        if isinstance(exc, ServerError):
            return exc.status_code >= 500
        if isinstance(exc, InvalidResponseError):
            return exc._code >= 500 if isinstance(getattr(exc, "_code", None), int) else False
        return isinstance(exc, (ue.HTTPError, ConnectionError, TimeoutError))

    def _call(self, op: str, key: str | None, fn: Callable[[], Any]) -> Any:
        import urllib3.exceptions as ue
        from minio.error import MinioException

        cfg = self.config
        for attempt in range(cfg.retries):
            try:
                return fn()
            except StorageError:
                raise
            except ValueError as exc:  # the minio client's argument checks (bucket/object names)
                raise StorageConfigError(f"{op} s3://{self.bucket}/{self._key(key or '')}: {exc}",
                                         **self._where(key or "")) from exc
            except (MinioException, OSError, ue.HTTPError) as exc:
                if self._transient(exc) and attempt + 1 < cfg.retries:
                    delay = min(10.0, cfg.retry_base * (2 ** attempt)) * (0.75 + 0.5 * random.random())
                    time.sleep(delay)
                    continue
                err = self._translate(exc, op, key)
                if isinstance(err, ObjectNotFound) and key is not None:
                    self._check_bucket(op, key)  # a missing bucket also answers 404 to HEAD/GET object
                if isinstance(err, StorageUnavailable) and self._transient(exc):
                    err.args = (f"{err.args[0]} [gave up after {cfg.retries} attempts]",)
                raise err from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_bucket(self, op: str = "access", key: str | None = None) -> None:
        if self._bucket_checked:
            return
        if not self._call("check bucket", None, lambda: self.client.bucket_exists(self.bucket)):
            raise BucketNotFound(f"bucket {self.bucket!r} does not exist at {self.config.url} ({op} "
                                 f"s3://{self.bucket}/{self._key(key or '')}): create it (e.g. `mc mb`) or fix the "
                                 f"URI", **self._where(key or ""))
        self._bucket_checked = True

    # primitives -------------------------------------------------------------------------------------------------
    def put_file(self, local_path, key, *, sha256=None, part_size=None) -> str:
        path = Path(local_path)
        sha = sha256 or sha256_file(path)
        ps = max(MIN_PART_SIZE, part_size or self.config.part_size)

        def put():
            self.client.fput_object(self.bucket, self._key(key), str(path), metadata={SHA256_META: sha},
                                    part_size=ps)

        self._call("upload", key, put)
        return sha

    def _put_marker(self, path: Path, key: str, tree: str) -> None:
        sha = sha256_file(path)
        self._call("upload", key, lambda: self.client.fput_object(
            self.bucket, self._key(key), str(path), metadata={SHA256_META: sha, TREE_META: tree}))

    def _expected_tree(self, marker_key: str) -> str | None:
        stat = self._call("stat", marker_key, lambda: self.client.stat_object(self.bucket, self._key(marker_key)))
        return _meta(stat.metadata, TREE_META)

    def _open(self, key: str):
        return self._call("download", key, lambda: self.client.get_object(self.bucket, self._key(key)))

    def open_read(self, key, *, verify=True):
        resp = self._open(key)
        expected = _meta(resp.headers, SHA256_META) if verify else None

        def close():
            resp.close()
            resp.release_conn()

        return io.BufferedReader(_HashingReader(resp, expected, self._describe(key) + self._at(), self._where(key),
                                                close),
                                 buffer_size=CHUNK)

    def get_file(self, key, local_path, *, verify=True) -> Path:
        dest = Path(local_path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(self.config.retries):
            tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.partial")
            try:
                with self.open_read(key, verify=verify) as fh, open(tmp, "wb") as out:
                    shutil.copyfileobj(fh, out, CHUNK)
                os.replace(tmp, dest)
                return dest
            except StorageError:
                raise
            except Exception as exc:  # a connection dropped mid-body: retry the whole object
                import urllib3.exceptions as ue

                if not isinstance(exc, (ue.HTTPError, ConnectionError, TimeoutError)) or \
                        attempt + 1 >= self.config.retries:
                    raise self._translate(exc, "download", key) from exc
                time.sleep(min(10.0, self.config.retry_base * (2 ** attempt)))
            finally:
                tmp.unlink(missing_ok=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def list(self, prefix: str = "") -> list[str]:
        full = self._key(prefix)
        base = self.prefix

        def run():
            objs = self.client.list_objects(self.bucket, prefix=f"{full}/" if full else None, recursive=True)
            return [o.object_name for o in objs if not o.is_dir]

        names = self._call("list", prefix, run)
        self._bucket_checked = True
        return sorted(n[len(base) + 1:] if base else n for n in names)

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            st = self._call("stat", key, lambda: self.client.stat_object(self.bucket, self._key(key)))
        except ObjectNotFound:
            return None
        return ObjectInfo(key, st.size, _meta(st.metadata, SHA256_META), (st.etag or "").strip('"') or None)

    def delete(self, key: str) -> None:
        self._call("delete", key, lambda: self.client.remove_object(self.bucket, self._key(key)))

    def publish_dir(self, local_dir, prefix="", **kw) -> dict[str, str]:
        if not self._key(prefix):
            raise StorageConfigError(f"refusing to publish a directory onto the root of bucket {self.bucket!r} (it "
                                     f"would prune every other object): publish to s3://{self.bucket}/SOME/PREFIX",
                                     **self._where(prefix))
        return super().publish_dir(local_dir, prefix, **kw)

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (set-up scripts, tests); the stages never create buckets."""
        if not self._call("check bucket", None, lambda: self.client.bucket_exists(self.bucket)):
            self._call("create bucket", None, lambda: self.client.make_bucket(self.bucket))


def _meta(headers, name: str) -> str | None:
    if headers is None:
        return None
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


# ---------------------------------------------------------------------------------------------------------------
# URI-level API
# ---------------------------------------------------------------------------------------------------------------
def open_store(uri: str | os.PathLike, *, config: S3Config | None = None) -> ArtifactStore:
    """``s3://bucket/prefix`` → ``S3Store`` (configured from the environment), anything else → ``LocalStore``."""
    if is_s3_uri(uri):
        return S3Store(str(uri), config=config)
    if isinstance(uri, str) and "://" in uri and not uri.startswith("file://"):
        raise StorageConfigError(f"unsupported URI {uri!r}: use a local path or s3://bucket/prefix")
    if isinstance(uri, str) and uri.startswith("file://"):
        uri = uri[len("file://"):]
    return LocalStore(uri)


def publish_dir(local_dir: str | Path, uri: str | os.PathLike, *, marker: str | None = DEFAULT_MARKER,
                on_object: Callable[[str, int, int], None] | None = None, **kw) -> dict[str, str]:
    """Publish ``local_dir`` to ``uri`` (an ``s3://`` prefix or a local path), the marker last."""
    return open_store(uri).publish_dir(local_dir, "", marker=marker, on_object=on_object, **kw)


def fetch_dir(uri: str | os.PathLike, local_dir: str | Path, *, marker: str | None = DEFAULT_MARKER) -> Path:
    """Download the complete directory at ``uri`` into ``local_dir`` (refuses one without its marker)."""
    return open_store(uri).fetch_dir("", local_dir, marker=marker)


def require_complete(uri: str | os.PathLike, *, marker: str | None = DEFAULT_MARKER) -> None:
    """Raise ``IncompleteArtifact`` unless ``uri`` holds its completion marker."""
    open_store(uri).require_complete("", marker=marker)


def cache_dir_for(uri: str, workdir: str | Path) -> Path:
    bucket, prefix = split_s3_uri(uri)
    return Path(workdir) / "s3-cache" / bucket / (prefix or "_root")


def resolve_input(uri_or_path: str | os.PathLike, workdir: str | Path, *,
                  marker: str | None = DEFAULT_MARKER) -> Path:
    """A local path for an input: a local path is returned as is (it must exist); an ``s3://`` URI is downloaded
    into ``workdir/s3-cache/<bucket>/<prefix>`` — a single object as a file, a prefix as a directory after
    ``require_complete`` (``marker=None``: the store's generated marker) with every file verified. A cached copy
    whose marker matches is reused without downloading again."""
    if not is_s3_uri(uri_or_path):
        path = Path(uri_or_path).expanduser()
        if str(uri_or_path).startswith("file://"):
            path = Path(str(uri_or_path)[len("file://"):])
        if not path.exists():
            raise ObjectNotFound(f"input {path} does not exist", key=str(path))
        return path
    uri = str(uri_or_path)
    store = S3Store(uri)
    dest = cache_dir_for(uri, workdir)
    if store.prefix:
        parent = S3Store(f"s3://{store.bucket}/{store.prefix.rpartition('/')[0]}", store.config, store.client)
        name = store.prefix.rpartition("/")[2]
        info = parent.stat(name)
        if info is not None and not store.list(""):  # a single object
            if dest.is_file() and info.sha256 and sha256_file(dest) == info.sha256:
                return dest
            return parent.get_file(name, dest)
    marker_name = marker or GENERATED_MARKER
    info = store.require_complete("", marker=marker)
    local_marker = dest / marker_name
    if local_marker.is_file() and info.sha256 and sha256_file(local_marker) == info.sha256:
        return dest
    return store.fetch_dir("", dest, marker=marker, prune=True)


def local_output(uri_or_path: str | os.PathLike, workdir: str | Path) -> Path:
    """Where a stage writes an output locally: the path itself, or ``workdir/s3-out/<bucket>/<prefix>`` for s3://."""
    if is_s3_uri(uri_or_path):
        bucket, prefix = split_s3_uri(str(uri_or_path))
        return Path(workdir) / "s3-out" / bucket / (prefix or "_root")
    return Path(uri_or_path)


def publish_output(local_path: str | Path, uri_or_path: str | os.PathLike, *,
                   marker: str | None = DEFAULT_MARKER) -> str:
    """Publish a stage's output (a file or a directory) to ``uri_or_path``; returns the destination.

    A directory goes through ``publish_dir`` (marker last; ``marker=None`` for directories without a manifest);
    a file is one object (atomic by itself). Publishing a local path onto itself is a no-op (after checking the
    marker of a directory).
    """
    local_path = Path(local_path)
    if not local_path.exists():
        raise ObjectNotFound(f"output {local_path} does not exist: the step did not write it", key=str(local_path))
    if is_s3_uri(uri_or_path):
        dest = str(uri_or_path)
        if local_path.is_dir():
            S3Store(dest).publish_dir(local_path, "", marker=marker)
        else:
            store = S3Store(dest)
            key = _join(store.prefix, local_path.name) if dest.endswith("/") or not store.prefix else store.prefix
            S3Store(f"s3://{store.bucket}", store.config, store.client).put_file(local_path, key)
            return f"s3://{store.bucket}/{key}"
        return dest.rstrip("/")
    dest_path = Path(uri_or_path).expanduser().absolute()
    if local_path.is_dir():
        LocalStore(dest_path).publish_dir(local_path, "", marker=marker)
    else:
        if dest_path.is_dir():
            dest_path = dest_path / local_path.name
        if dest_path.resolve() != local_path.resolve():
            LocalStore(dest_path.parent).put_file(local_path, dest_path.name)
    return str(dest_path)
