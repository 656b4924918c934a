"""Artifact store against a real S3-compatible server on 127.0.0.1 (localbucket + SigV4 + user metadata,
see tests/s3server.py) and on local paths."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path

import pytest

from tests.s3server import S3Server, free_port, s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from visual_erm import storage
from visual_erm.storage import (
    BucketNotFound,
    ChecksumMismatch,
    IncompleteArtifact,
    ObjectNotFound,
    S3Config,
    StorageAuthError,
    StorageConfigError,
    StorageError,
    StorageUnavailable,
)

MiB = 1024 * 1024


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha(p) for p in sorted(Path(root).rglob("*")) if p.is_file()}


def make_dataset(root: Path, *, n_shards: int = 3, marker: bool = True) -> Path:
    """A small dataset directory in the synth layout: binary shards (one a real parquet), chunk markers, config."""
    rng = __import__("random").Random(7)
    (root / "data" / "train").mkdir(parents=True)
    (root / "data" / "test").mkdir(parents=True)
    (root / "chunks").mkdir()
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["a", "b"], "img": [b"\x89PNG\x00\x01", bytes(range(256))]}),
                   root / "data" / "train" / "chart-00000.parquet")
    for i in range(1, n_shards):
        # a fake parquet: magic, random bytes (incl. NULs and high bytes), magic
        body = bytes(rng.randrange(256) for _ in range(2000 + 500 * i))
        split = "test" if i % 2 else "train"
        (root / "data" / split / f"table-{i:05d}.parquet").write_bytes(b"PAR1" + body + b"PAR1")
        (root / "chunks" / f"{i:05d}.json").write_text(json.dumps({"chunk": i}))
    (root / "data" / "empty.bin").write_bytes(b"")
    (root / "config.json").write_text(json.dumps({"seed": 1}))
    if marker:
        (root / "manifest.json").write_text(json.dumps({"counts": {"pairs": 2}}))
    return root


def uri(bucket: str, prefix: str = "") -> str:
    return f"s3://{bucket}/{prefix}".rstrip("/")


# ---------------------------------------------------------------------------------------------------------------
# configuration (no server)
# ---------------------------------------------------------------------------------------------------------------
def test_config_from_env_variants(tmp_path):
    c = S3Config.from_env({"VERM_S3_ENDPOINT": "https://minio.example:9443/", "AWS_ACCESS_KEY_ID": "k",
                           "AWS_SECRET_ACCESS_KEY": "s"})
    assert (c.endpoint, c.secure, c.region, c.access_key, c.url) == ("minio.example:9443", True, "us-east-1", "k",
                                                                     "https://minio.example:9443")
    c = S3Config.from_env({"S3_ENDPOINT": "minio-service.kubeflow:9000", "MINIO_ACCESS_KEY": "mk",
                           "MINIO_SECRET_KEY": "ms", "AWS_S3_USE_TLS": "false", "AWS_REGION": "eu-west-1"})
    assert (c.endpoint, c.secure, c.access_key, c.secret_key, c.region) == ("minio-service.kubeflow:9000", False,
                                                                             "mk", "ms", "eu-west-1")
    c = S3Config.from_env({"MINIO_SERVICE_SERVICE_HOST": "10.0.0.5", "MINIO_SERVICE_SERVICE_PORT": "9000",
                           "VERM_S3_SECURE": "1"})
    assert (c.endpoint, c.secure) == ("10.0.0.5:9000", True)
    # a config file (JSON or YAML); the environment wins over it
    cfg = tmp_path / "s3.yaml"
    cfg.write_text("endpoint: http://127.0.0.1:9000\naccess_key: fk\nsecret_key: fs\nregion: r1\n")
    c = S3Config.from_env({"VERM_S3_CONFIG": str(cfg)})
    assert (c.endpoint, c.secure, c.access_key, c.region) == ("127.0.0.1:9000", False, "fk", "r1")
    (tmp_path / "s3.json").write_text(json.dumps({"endpoint": "h:1", "access_key": "a", "secret_key": "b"}))
    c = S3Config.from_env({"VERM_S3_CONFIG": str(tmp_path / "s3.json"), "AWS_ACCESS_KEY_ID": "env",
                           "AWS_SECRET_ACCESS_KEY": "envs"})
    assert (c.endpoint, c.access_key) == ("h:1", "env")
    with pytest.raises(StorageConfigError, match="VERM_S3_ENDPOINT"):
        S3Config.from_env({})
    with pytest.raises(StorageConfigError, match="AWS_ACCESS_KEY_ID"):
        S3Config.from_env({"VERM_S3_ENDPOINT": "h:1", "AWS_ACCESS_KEY_ID": "only-key"})
    with pytest.raises(StorageConfigError, match="cannot read"):
        S3Config.from_env({"VERM_S3_CONFIG": str(tmp_path / "missing.yaml")})


def test_open_store_and_uris(tmp_path, monkeypatch):
    assert isinstance(storage.open_store(tmp_path), storage.LocalStore)
    assert isinstance(storage.open_store(f"file://{tmp_path}"), storage.LocalStore)
    with pytest.raises(StorageConfigError, match="unsupported URI"):
        storage.open_store("gs://b/p")
    assert storage.split_s3_uri("s3://bkt/a/b/") == ("bkt", "a/b")
    monkeypatch.setenv("VERM_S3_ENDPOINT", "127.0.0.1:1")
    with pytest.raises(StorageConfigError, match="bucket"):
        storage.open_store("s3://B_/x")


# ---------------------------------------------------------------------------------------------------------------
# basic operations on S3
# ---------------------------------------------------------------------------------------------------------------
def test_server_fixture_starts_fast(s3_server):
    assert s3_server.start_seconds < 2.0


def test_put_get_list_exists_delete(s3_server, s3_bucket, tmp_path):
    store = storage.open_store(uri(s3_bucket, "run1"))
    src = tmp_path / "a.bin"
    src.write_bytes(os.urandom(1000))
    digest = store.put_file(src, "x/a.bin")
    assert digest == sha(src)
    store.put_bytes(b"hello", "x/b.txt")
    store.put_bytes(b"sibling", "xy/c.txt")
    assert store.exists("x/a.bin") and not store.exists("x/nope")
    info = store.stat("x/a.bin")
    assert (info.size, info.sha256) == (1000, digest)
    # the checksum really is in the object's user metadata on the server
    from minio import Minio

    raw = Minio(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, secure=False, region="us-east-1")
    assert raw.stat_object(s3_bucket, "run1/x/a.bin").metadata["x-amz-meta-sha256"] == digest
    assert store.list() == ["x/a.bin", "x/b.txt", "xy/c.txt"]
    assert store.list("x") == ["x/a.bin", "x/b.txt"]  # a directory prefix: not xy/
    out = store.get_file("x/a.bin", tmp_path / "out" / "a.bin")
    assert sha(out) == digest
    assert store.get_bytes("x/b.txt") == b"hello"
    store.delete("x/b.txt")
    assert store.list("x") == ["x/a.bin"]
    with pytest.raises(ObjectNotFound, match=f"s3://{s3_bucket}/run1/x/b.txt"):
        store.get_bytes("x/b.txt")


def test_streaming_reads(s3_bucket):
    store = storage.open_store(uri(s3_bucket))
    data = os.urandom(3 * 1024 * 1024 + 17)
    store.put_bytes(data, "blob")
    with store.open_read("blob") as fh:
        first = fh.read(10)
        rest = fh.read()
    assert first + rest == data
    chunks = list(store.iter_chunks("blob", chunk_size=1024 * 1024))
    assert len(chunks) == 4 and b"".join(chunks) == data


def test_multipart_upload_over_part_size(s3_server, s3_bucket, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * MiB))
    store = storage.open_store(uri(s3_bucket, "m"))
    store.put_file(big, "big.bin", part_size=5 * MiB)
    log = s3_server.log_path.read_text()
    assert f"POST /{s3_bucket}/m/big.bin?uploads" in log  # CreateMultipartUpload
    assert log.count(f"PUT /{s3_bucket}/m/big.bin?") >= 3  # three parts (5 + 5 + 1 MiB)
    assert store.stat("big.bin").sha256 == sha(big)  # metadata survives the multipart path
    out = store.get_file("big.bin", tmp_path / "big.out")
    assert sha(out) == sha(big)


# ---------------------------------------------------------------------------------------------------------------
# directories, atomic publish
# ---------------------------------------------------------------------------------------------------------------
def test_directory_round_trip_keeps_every_hash(s3_bucket, tmp_path):
    src = make_dataset(tmp_path / "ds")
    (src / "data" / "train" / "half.parquet.tmp").write_bytes(b"half-written")  # never published
    dest_uri = uri(s3_bucket, "datasets/v1")
    hashes = storage.publish_dir(src, dest_uri)
    expected = tree(src)
    expected.pop("data/train/half.parquet.tmp")
    assert hashes == {k: v for k, v in expected.items() if k != "manifest.json"}
    storage.require_complete(dest_uri)
    out = storage.fetch_dir(dest_uri, tmp_path / "fetched")
    assert tree(out) == expected
    # put_dir/get_dir (no marker semantics) keep the hashes too
    store = storage.open_store(uri(s3_bucket, "raw"))
    store.put_dir(src)
    store.get_dir("", tmp_path / "raw")
    assert tree(tmp_path / "raw") == expected


def test_publish_writes_marker_last_and_republish_prunes(s3_bucket, tmp_path):
    src = make_dataset(tmp_path / "ds")
    store = storage.open_store(uri(s3_bucket, "p"))
    order = []
    store.publish_dir(src, on_object=lambda key, i, n: order.append(key))
    assert order[-1] == "manifest.json" and len(order) == len(tree(src))
    # a changed dataset: one shard gone, one new; the published prefix follows it exactly
    (src / "data" / "test" / "table-00001.parquet").unlink()
    (src / "data" / "train" / "new.parquet").write_bytes(b"PAR1new")
    (src / "manifest.json").write_text('{"v": 2}')
    store.publish_dir(src)
    assert store.list() == sorted(tree(src))
    out = storage.fetch_dir(store.uri, tmp_path / "out")
    assert tree(out) == tree(src)


def test_incomplete_prefix_is_refused(s3_bucket, tmp_path):
    src = make_dataset(tmp_path / "ds")
    store = storage.open_store(uri(s3_bucket, "p"))
    store.put_dir(src, exclude=(".tmp", "manifest.json"))  # everything but the marker: an interrupted publish
    msg = (f"s3://{s3_bucket}/p is incomplete: manifest.json missing — the upload was interrupted; "
           "re-run the publish step")
    with pytest.raises(IncompleteArtifact) as e:
        storage.require_complete(store.uri)
    assert msg in str(e.value)
    with pytest.raises(IncompleteArtifact, match="manifest.json missing"):
        storage.fetch_dir(store.uri, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(IncompleteArtifact, match="empty or does not exist"):
        storage.require_complete(uri(s3_bucket, "never"))
    # a local directory without its manifest is not published at all
    with pytest.raises(IncompleteArtifact, match="has no manifest.json"):
        storage.publish_dir(make_dataset(tmp_path / "ds2", marker=False), uri(s3_bucket, "q"))


def test_missing_or_extra_object_detected_on_fetch(s3_server, s3_bucket, tmp_path):
    src = make_dataset(tmp_path / "ds")
    store = storage.open_store(uri(s3_bucket, "p"))
    store.publish_dir(src)
    store.delete("config.json")
    with pytest.raises(ChecksumMismatch, match="missing or extra"):
        store.fetch_dir("", tmp_path / "out")
    # the missing file is not reported complete locally: no marker was written
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_marker_none_writes_generated_marker(s3_bucket, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(os.urandom(4096))
    dest = uri(s3_bucket, "models/rm")
    storage.publish_output(model, dest, marker=None)
    store = storage.open_store(dest)
    assert store.exists(storage.GENERATED_MARKER)
    with pytest.raises(IncompleteArtifact):
        storage.require_complete(dest)  # no manifest.json: that marker is for datasets
    local = storage.resolve_input(dest, tmp_path / "work", marker=None)
    assert sha(local / "model.safetensors") == sha(model / "model.safetensors")


# ---------------------------------------------------------------------------------------------------------------
# faults
# ---------------------------------------------------------------------------------------------------------------
def test_server_stopped_mid_publish_then_rerun_completes(tmp_path, monkeypatch):
    with S3Server(tmp_path / "s3data") as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("VERM_S3_RETRIES", "3")
        monkeypatch.setenv("VERM_S3_RETRY_BASE", "0.05")
        server.make_bucket("fault")
        src = make_dataset(tmp_path / "ds", n_shards=6)
        dest = "s3://fault/ds"
        n_files = len(tree(src))

        def stop_after_three(key, i, n):
            if i == 3:
                server.stop()

        t0 = time.monotonic()
        with pytest.raises(StorageUnavailable) as e:
            storage.publish_dir(src, dest, on_object=stop_after_three)
        assert time.monotonic() - t0 < 5  # bounded retries
        assert f"is the server at {server.url} up? check VERM_S3_ENDPOINT" in str(e.value)
        assert e.value.endpoint == server.url and e.value.bucket == "fault"
        assert not server.object_path("fault", "ds/manifest.json").exists()
        assert len(list((server.data_dir / "fault" / "ds").rglob("*.*"))) == 3

        server.start()  # same data dir, same port
        with pytest.raises(IncompleteArtifact, match="manifest.json missing"):
            storage.require_complete(dest)
        uploads = []
        real_put = storage.S3Store.put_file
        monkeypatch.setattr(storage.S3Store, "put_file",
                            lambda self, p, k, **kw: uploads.append(k) or real_put(self, p, k, **kw))
        storage.publish_dir(src, dest)
        assert len(uploads) == n_files - 1 - 3  # the three stored objects were skipped; the marker is separate
        storage.require_complete(dest)
        out = storage.fetch_dir(dest, tmp_path / "out")
        assert tree(out) == tree(src)


def test_endpoint_down_is_reported_quickly(monkeypatch, tmp_path):
    port = free_port()
    monkeypatch.setenv("VERM_S3_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("VERM_S3_RETRIES", "3")
    monkeypatch.setenv("VERM_S3_RETRY_BASE", "0.05")
    store = storage.open_store("s3://bkt/p")
    t0 = time.monotonic()
    with pytest.raises(StorageUnavailable) as e:
        store.exists("manifest.json")
    assert time.monotonic() - t0 < 3
    msg = str(e.value)
    assert f"is the server at http://127.0.0.1:{port} up? check VERM_S3_ENDPOINT" in msg
    assert "s3://bkt/p/manifest.json" in msg and "gave up after 3 attempts" in msg


def test_retries_are_bounded_with_backoff(s3_env, monkeypatch):
    from minio.error import ServerError

    store = storage.open_store("s3://bkt/p")
    store.config.retries, store.config.retry_base = 4, 0.01
    sleeps = []
    monkeypatch.setattr(storage.time, "sleep", sleeps.append)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ServerError("server failed with HTTP status code 503", 503)
        return "ok"

    assert store._call("stat", "k", flaky) == "ok" and len(calls) == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]  # exponential

    calls.clear()
    sleeps.clear()

    def down():
        calls.append(1)
        raise ServerError("server failed with HTTP status code 500", 500)

    with pytest.raises(StorageUnavailable, match="gave up after 4 attempts"):
        store._call("stat", "k", down)
    assert len(calls) == 4 and len(sleeps) == 3
    # a non-transient error is not retried
    calls.clear()
    from minio.error import S3Error

    def denied():
        calls.append(1)
        raise S3Error(None, "AccessDenied", "Access denied", "/bkt/p/k", None, None, "bkt", "p/k")

    with pytest.raises(StorageAuthError):
        store._call("stat", "k", denied)
    assert len(calls) == 1


@pytest.mark.parametrize("bad", ["secret", "key"])
def test_wrong_credentials(s3_server, s3_bucket, monkeypatch, tmp_path, bad):
    good = storage.open_store(uri(s3_bucket, "p"))
    good.put_bytes(b"x", "a.txt")
    if bad == "secret":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    store = storage.open_store(uri(s3_bucket, "p"))
    for op in (lambda: store.get_bytes("a.txt"), lambda: store.list(), lambda: store.put_bytes(b"y", "b.txt"),
               lambda: store.exists("a.txt")):
        with pytest.raises(StorageAuthError) as e:
            op()
        msg = str(e.value)
        assert "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" in msg and s3_server.url in msg
        assert f"s3://{s3_bucket}/p" in msg
    assert not (s3_server.data_dir / s3_bucket / "p" / "b.txt").exists()


def test_missing_bucket(s3_server, s3_env, tmp_path):
    store = storage.open_store("s3://no-such-bucket-xyz/p")
    for op in (lambda: store.exists("manifest.json"), lambda: store.list(), lambda: store.put_bytes(b"1", "a"),
               lambda: store.get_bytes("a"), lambda: storage.require_complete("s3://no-such-bucket-xyz/p")):
        with pytest.raises(BucketNotFound) as e:
            op()
        msg = str(e.value)
        assert "'no-such-bucket-xyz' does not exist" in msg and "create it" in msg and "fix the URI" in msg
        assert s3_server.url in msg and e.value.bucket == "no-such-bucket-xyz"
    assert issubclass(BucketNotFound, StorageError)


def test_corrupted_object_raises_checksum_mismatch(s3_server, s3_bucket, tmp_path):
    src = make_dataset(tmp_path / "ds")
    dest = uri(s3_bucket, "ds")
    storage.publish_dir(src, dest)
    store = storage.open_store(dest)
    key = "data/train/chart-00000.parquet"
    # flip bytes directly in the server's data dir; the object's sha256 metadata stays the old one
    path = s3_server.object_path(s3_bucket, f"ds/{key}")
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch) as e:
        store.get_file(key, tmp_path / "x.parquet")
    assert f"s3://{s3_bucket}/ds/{key}" in str(e.value) and e.value.key == f"ds/{key}"
    assert not (tmp_path / "x.parquet").exists()  # nothing half-verified left behind
    with pytest.raises(ChecksumMismatch):
        storage.fetch_dir(dest, tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.json").exists()
    with pytest.raises(ChecksumMismatch):
        list(store.iter_chunks(key))
    # a raw put that keeps an old sha256 in the metadata is caught too
    from minio import Minio

    raw = Minio(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, secure=False, region="us-east-1")
    raw.put_object(s3_bucket, "ds/config.json", io.BytesIO(b"{}"), 2,
                   metadata={"x-amz-meta-sha256": sha(src / "config.json")})
    with pytest.raises(ChecksumMismatch, match="config.json"):
        store.get_bytes("config.json")
    # a re-publish repairs the prefix (sha256 differs from the local file: uploaded again)
    storage.publish_dir(src, dest)
    assert tree(storage.fetch_dir(dest, tmp_path / "out2")) == tree(src)


# ---------------------------------------------------------------------------------------------------------------
# local paths follow the same contract
# ---------------------------------------------------------------------------------------------------------------
def test_local_publish_is_atomic_and_marker_gated(tmp_path):
    src = make_dataset(tmp_path / "ds")
    dest = tmp_path / "store" / "ds"
    storage.publish_dir(src, dest)
    assert tree(dest) == tree(src)
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left
    storage.require_complete(dest)
    out = storage.fetch_dir(dest, tmp_path / "out")
    assert tree(out) == tree(src)
    # re-publish a changed directory replaces the old one as a whole
    (src / "config.json").write_text('{"seed": 2}')
    storage.publish_dir(src, dest)
    assert tree(dest) == tree(src)
    # an interrupted local publish never shows up at the destination
    boom = tmp_path / "store" / "ds2"

    def fail(key, i, n):
        if i == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        storage.publish_dir(src, boom, on_object=fail)
    assert not boom.exists() and not [p for p in boom.parent.iterdir() if p.name.startswith(".ds2")]
    partial = tmp_path / "partial"
    make_dataset(partial, marker=False)
    with pytest.raises(IncompleteArtifact, match=f"{partial} is incomplete: manifest.json missing"):
        storage.require_complete(partial)
    with pytest.raises(IncompleteArtifact):
        storage.publish_dir(partial, tmp_path / "store" / "p")


def test_local_store_primitives(tmp_path):
    store = storage.open_store(tmp_path / "root")
    store.put_bytes(b"abc", "a/b.txt")
    assert store.exists("a/b.txt") and store.list() == ["a/b.txt"] and store.list("a") == ["a/b.txt"]
    assert store.stat("a/b.txt").sha256 == hashlib.sha256(b"abc").hexdigest()
    assert b"".join(store.iter_chunks("a/b.txt", 1)) == b"abc"
    with pytest.raises(ObjectNotFound):
        store.get_file("zzz", tmp_path / "z")
    with pytest.raises(StorageConfigError):
        store.put_bytes(b"x", "../escape")


# ---------------------------------------------------------------------------------------------------------------
# resolve_input / publish_output (the CLI's call pattern)
# ---------------------------------------------------------------------------------------------------------------
def test_resolve_input_and_publish_output(s3_bucket, tmp_path, monkeypatch):
    src = make_dataset(tmp_path / "ds")
    work = tmp_path / "work"
    # local paths pass through untouched
    assert storage.resolve_input(src, work) == src
    with pytest.raises(ObjectNotFound):
        storage.resolve_input(tmp_path / "missing", work)
    # a stage writes locally, then publishes to s3://
    dest = uri(s3_bucket, "runs/1/dataset")
    out_dir = storage.local_output(dest, work)
    assert out_dir == work / "s3-out" / s3_bucket / "runs/1/dataset"
    assert storage.publish_output(src, dest) == dest
    local = storage.resolve_input(dest, work)
    assert local == work / "s3-cache" / s3_bucket / "runs/1/dataset" and tree(local) == tree(src)
    # a second resolve reuses the verified cache (no download)
    calls = []
    real = storage.S3Store.get_file
    monkeypatch.setattr(storage.S3Store, "get_file", lambda self, *a, **k: calls.append(a) or real(self, *a, **k))
    assert storage.resolve_input(dest, work) == local and calls == []
    monkeypatch.setattr(storage.S3Store, "get_file", real)
    # a single file
    f = tmp_path / "report.html"
    f.write_text("<html/>")
    assert storage.publish_output(f, uri(s3_bucket, "runs/1/report.html")) == uri(s3_bucket, "runs/1/report.html")
    assert storage.publish_output(f, uri(s3_bucket, "runs/1/") + "/") == uri(s3_bucket, "runs/1/report.html")
    got = storage.resolve_input(uri(s3_bucket, "runs/1/report.html"), work)
    assert got.is_file() and got.read_text() == "<html/>"
    # an incomplete prefix is refused with the clear message
    storage.open_store(uri(s3_bucket, "runs/2")).put_bytes(b"x", "data/a.parquet")
    with pytest.raises(IncompleteArtifact, match="is incomplete: manifest.json missing"):
        storage.resolve_input(uri(s3_bucket, "runs/2"), work)
    # local → local publish_output
    assert Path(storage.publish_output(src, tmp_path / "pub")) == tmp_path / "pub"
    assert tree(tmp_path / "pub") == tree(src)
    assert storage.publish_output(src, src) == str(src)
    (tmp_path / "reports").mkdir()
    assert storage.publish_output(f, tmp_path / "reports") == str(tmp_path / "reports" / "report.html")
    # publishing a directory onto a bucket root would prune the bucket: refused
    with pytest.raises(StorageConfigError, match="root of bucket"):
        storage.publish_output(src, f"s3://{s3_bucket}")
