"""In-process rendering primitives: turn one chart program or one SVG document into PNG bytes.

These functions run *untrusted* code when given a model's program. They are only ever called inside a sandboxed
render worker (see :mod:`visual_erm.render.sandbox`) — or, for trusted inputs, by the benchmark's in-process
"ceiling" measurement. Do not call them on model output anywhere else.
"""

from __future__ import annotations

import gzip
import io
import random
from dataclasses import dataclass

#: Filename the normalised chart program saves to, relative to the job's scratch directory.
CHART_OUTPUT = "out.png"


@dataclass
class ChartOutput:
    png: bytes
    figure: dict | None = None


def seed_everything(seed: int = 0) -> None:
    """Make matplotlib/numpy/random deterministic for one job (programs and seaborn draw random numbers)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
        _orig_default_rng = np.random.default_rng.__wrapped__ if hasattr(np.random.default_rng, "__wrapped__") else np.random.default_rng

        def default_rng(seed_arg=None, *args, **kwargs):
            return _orig_default_rng(seed if seed_arg is None else seed_arg, *args, **kwargs)

        default_rng.__wrapped__ = _orig_default_rng  # type: ignore[attr-defined]
        np.random.default_rng = default_rng
    except ImportError:  # numpy is a dependency; this only guards odd environments
        pass


def reset_matplotlib() -> None:
    """Return pyplot to a pristine state between jobs (figures closed, rcParams default, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.close("all")
    matplotlib.rcdefaults()
    matplotlib.rcParams["svg.hashsalt"] = "visual-erm"


def exec_chart(program: str, *, dpi: int = 100, inspect: bool = False, output_path: str = CHART_OUTPUT) -> ChartOutput:
    """Execute a normalised chart program (it ends by saving to ``output_path``) and return the PNG bytes.

    The program is expected to come from :func:`visual_erm.render.extract.normalize_chart_program`, which appends
    exactly one ``savefig``; if it did not save, the current figure is saved here. With ``inspect`` the figure's
    contents are described by :func:`visual_erm.render.inspect.describe_figure` before it is closed.
    """
    import os

    import matplotlib.pyplot as plt

    namespace = {"__name__": "__main__", "__file__": "chart.py", "__builtins__": __builtins__}
    figure_desc = None
    if inspect:
        # Capture the figure at save time: the program may close it right after.
        from visual_erm.render.inspect import describe_figure

        original_savefig = plt.Figure.savefig

        def savefig_and_describe(fig, *args, **kwargs):
            nonlocal figure_desc
            figure_desc = describe_figure(fig)
            return original_savefig(fig, *args, **kwargs)

        plt.Figure.savefig = savefig_and_describe
    try:
        exec(compile(program, "chart.py", "exec"), namespace)
        if not os.path.exists(output_path) and plt.get_fignums():
            plt.gcf().savefig(output_path, dpi=dpi)
    finally:
        if inspect:
            plt.Figure.savefig = original_savefig
    # The program may have replaced its output with a symlink or a FIFO: never follow or block on it.
    fd = os.open(output_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("chart output is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            png = fh.read()
    finally:
        os.close(fd)
    return ChartOutput(png=png, figure=figure_desc)


class SvgTooLarge(ValueError):
    """The SVG (or its decompressed .svgz form) or its canvas exceeds the configured caps."""


def decompress_svgz(data: bytes, max_bytes: int) -> bytes:
    """Gunzip ``.svgz`` content with a hard cap on the decompressed size (a 3 MB bomb expands to GiBs)."""
    if data[:2] != b"\x1f\x8b":
        return data
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
        while chunk := gz.read(1 << 16):
            out.write(chunk)
            if out.tell() > max_bytes:
                raise SvgTooLarge(f"decompressed SVG exceeds {max_bytes} bytes")
    return out.getvalue()


def render_svg(svg: bytes | str, *, width: int = 336, height: int = 336, max_bytes: int = 8 << 20) -> bytes:
    """Rasterise an SVG document to a ``width``×``height`` PNG on white with cairosvg (no external resources)."""
    import cairosvg

    data = svg.encode() if isinstance(svg, str) else svg
    data = decompress_svgz(data, max_bytes)
    if len(data) > max_bytes:
        raise SvgTooLarge(f"SVG exceeds {max_bytes} bytes")
    return cairosvg.svg2png(
        bytestring=data,
        output_width=width,
        output_height=height,
        background_color="white",
        unsafe=False,
    )
