"""Shared fixtures: one real sandboxed render pool per test session (it starts in about two seconds)."""

import os
import secrets

import pytest

#: A fake credential put into the caller's environment *before* the pool starts; no job may ever read it.
FAKE_SECRET_ENV = "VERM_FAKE_SECRET_TOKEN"


@pytest.fixture(scope="session")
def fake_secret() -> str:
    value = "fake-" + secrets.token_hex(16)
    os.environ[FAKE_SECRET_ENV] = value
    yield value
    os.environ.pop(FAKE_SECRET_ENV, None)


@pytest.fixture(scope="session")
def render_pool(fake_secret):
    from visual_erm.render.pool import RenderPool

    with RenderPool(workers=2) as pool:
        yield pool


# S3-compatible test server (tests/s3server.py): s3_server (session), s3_env, s3_bucket (a fresh bucket per test)
try:
    from tests.s3server import s3_bucket, s3_env, s3_server  # noqa: E402,F401
except ImportError:  # localbucket (dev extra) missing: only the storage tests need these
    pass
