"""Real SVG icons from npm packages, fetched once by ``make icons`` (part of ``make test``) and cached, never committed.

The tests only read the cache: they never reach the network. ``python -m tests.icons fetch`` (what ``make icons``
runs) downloads the pinned tarballs with ``npm pack``, an install step like ``pip install``. Without them the tests
that need icons skip with a message saying to run ``make icons``.

Cache: ``$VERM_CACHE/npm`` if ``VERM_CACHE`` is set, else ``~/.cache/visual-erm/npm``.

Sets (all MIT-licensed): ``feather`` (stroke-only, 24×24), ``bootstrap`` (fill-only paths, 16×16), ``tabler``
(outline, stroke paths), ``tabler-filled``, ``heroicons`` (24/outline) and ``heroicons-solid`` (24/solid).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tarfile
from functools import lru_cache
from pathlib import Path

#: npm package → the pinned version the tests were measured on
VERSIONS = {"feather-icons": "4.29.2", "bootstrap-icons": "1.13.2", "@tabler/icons": "3.52.0", "heroicons": "2.2.0"}

#: set name → (npm package, path prefix inside the tarball)
SETS = {
    "feather": ("feather-icons", "package/dist/icons/"),
    "bootstrap": ("bootstrap-icons", "package/icons/"),
    "tabler": ("@tabler/icons", "package/icons/outline/"),
    "tabler-filled": ("@tabler/icons", "package/icons/filled/"),
    "heroicons": ("heroicons", "package/24/outline/"),
    "heroicons-solid": ("heroicons", "package/24/solid/"),
}


class IconsUnavailable(RuntimeError):
    pass


def cache_dir() -> Path:
    base = os.environ.get("VERM_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "visual-erm"
    d = root / "npm"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _tarball_path(package: str) -> Path:
    return cache_dir() / f"{package.lstrip('@').replace('/', '-')}-{VERSIONS[package]}.tgz"


def tarball(package: str) -> Path:
    """Path of the cached ``npm pack`` tarball of ``package`` at its pinned version (the tests never fetch it)."""
    path = _tarball_path(package)
    if not path.is_file():
        raise IconsUnavailable(f"{path.name} is not in {path.parent}: run `make icons` (npm pack) once")
    return path


def fetch(package: str) -> Path:
    """Download the pinned tarball of ``package`` into the cache with ``npm pack`` (an install step)."""
    path = _tarball_path(package)
    if path.is_file():
        return path
    npm = shutil.which("npm")
    if npm is None:
        raise IconsUnavailable("npm is not installed; the real-icon tests need `npm pack` to fetch icon packages")
    spec = f"{package}@{VERSIONS[package]}"
    try:
        out = subprocess.run([npm, "pack", spec, "--silent"], cwd=path.parent, capture_output=True, text=True,
                             timeout=300)
    except subprocess.TimeoutExpired:
        raise IconsUnavailable(f"`npm pack {spec}` timed out (is the npm registry reachable?)") from None
    if out.returncode != 0 or not path.is_file():
        raise IconsUnavailable(f"`npm pack {spec}` failed: {(out.stderr or out.stdout).strip()[-300:]}")
    return path


@lru_cache(maxsize=None)
def _all_icons(name: str) -> tuple[tuple[str, str], ...]:
    package, prefix = SETS[name]
    out = []
    with tarfile.open(tarball(package)) as tf:
        for m in tf.getmembers():
            if m.isfile() and m.name.startswith(prefix) and m.name.endswith(".svg") and "/" not in m.name[len(prefix):]:
                out.append((m.name[len(prefix):-4], tf.extractfile(m).read().decode("utf-8")))
    out.sort()
    return tuple(out)


def icons(name: str, n: int | None = None, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (name, svg) pairs of the set, a deterministic sample (all of them with ``n=None``)."""
    allicons = list(_all_icons(name))
    if n is None or n >= len(allicons):
        return allicons
    return random.Random(seed).sample(allicons, n)


def icons_or_skip(name: str, n: int | None = None, seed: int = 0) -> list[tuple[str, str]]:
    import pytest

    try:
        return icons(name, n, seed)
    except IconsUnavailable as exc:
        pytest.skip(str(exc))


if __name__ == "__main__":  # python -m tests.icons fetch
    import sys

    if sys.argv[1:] != ["fetch"]:
        sys.exit("usage: python -m tests.icons fetch")
    for pkg in VERSIONS:
        try:
            print(f"icons: {fetch(pkg)}")
        except IconsUnavailable as exc:  # the icon tests then skip and say why; the rest of the suite still runs
            print(f"icons: {exc}", file=sys.stderr)
