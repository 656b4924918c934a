#!/usr/bin/env python3
"""Fetch a published model directory from MinIO/S3 into a local directory (the rm-server's init step).

    verm-fetch-model s3://visual-erm/models/visual-erm/latest /models/visual-erm [--marker NAME]

Uses the project's storage layer (src/visual_erm/storage.py), configured from the environment
(``VERM_S3_ENDPOINT``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``VERM_S3_SECURE``, ``AWS_REGION``): it
refuses a directory whose completion marker is missing (an interrupted publish), verifies every file's sha256
and the directory's tree hash, keeps local files that are already there and unchanged (a PVC across restarts)
and removes local files the published directory no longer has. Model checkpoints are published without a
manifest, so the default marker is the store's generated ``_VERM_COMPLETE.json``.

Exit codes: 0 fetched, 2 bad arguments or configuration, 3 the directory is incomplete or missing,
4 the store failed (unreachable, credentials, checksum).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence


def fetch(uri: str, dest: str | Path, marker: str | None = None) -> dict:
    from visual_erm import storage

    if not storage.is_s3_uri(uri):
        raise storage.StorageConfigError(f"not an s3:// URI: {uri!r}")
    started = time.monotonic()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    storage.open_store(uri).fetch_dir("", dest, marker=marker or None, prune=True)
    files = [p for p in dest.rglob("*") if p.is_file()]
    return {"uri": uri, "dest": str(dest), "files": len(files), "bytes": sum(p.stat().st_size for p in files),
            "seconds": round(time.monotonic() - started, 3)}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="verm-fetch-model", description=__doc__.split("\n\n")[0])
    p.add_argument("uri", help="s3://bucket/prefix of the published model directory")
    p.add_argument("dest", help="local directory to fetch into")
    p.add_argument("--marker", default=None,
                   help="completion marker of the directory (default: the store's generated _VERM_COMPLETE.json)")
    args = p.parse_args(argv)
    from visual_erm import storage

    try:
        summary = fetch(args.uri, args.dest, args.marker)
    except storage.StorageConfigError as exc:
        print(f"verm-fetch-model: {exc}", file=sys.stderr)
        return 2
    except storage.IncompleteArtifact as exc:
        print(f"verm-fetch-model: {exc}", file=sys.stderr)
        return 3
    except storage.StorageError as exc:
        print(f"verm-fetch-model: {exc}", file=sys.stderr)
        return 4
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
