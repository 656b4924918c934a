"""Real SVG icons from npm packages, fetched at test time with ``npm pack`` and cached (never committed).

Cache: ``$VERM_CACHE/npm`` if ``VERM_CACHE`` is set, else ``~/.cache/visual-erm/npm``. Tests that need icons call
:func:`icons` and skip with a clear message only when npm itself is unavailable (or cannot reach the registry).

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


def tarball(package: str) -> Path:
    """Path of the cached ``npm pack`` tarball of ``package`` (fetched once)."""
    d = cache_dir()
    stem = package.lstrip("@").replace("/", "-")
    found = sorted(d.glob(f"{stem}-[0-9]*.tgz"))
    if found:
        return found[-1]
    npm = shutil.which("npm")
    if npm is None:
        raise IconsUnavailable("npm is not installed; real-icon tests need `npm pack` to fetch icon packages")
    try:
        out = subprocess.run([npm, "pack", package, "--silent"], cwd=d, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        raise IconsUnavailable(f"`npm pack {package}` timed out (is the npm registry reachable?)") from None
    if out.returncode != 0:
        raise IconsUnavailable(f"`npm pack {package}` failed: {out.stderr.strip()[-300:]}")
    found = sorted(d.glob(f"{stem}-[0-9]*.tgz"))
    if not found:
        raise IconsUnavailable(f"`npm pack {package}` produced no tarball in {d}")
    return found[-1]


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
