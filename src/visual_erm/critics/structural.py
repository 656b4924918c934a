"""The structural critic: compares a reference program with a candidate program and writes a paper-format critique.

Tables align logical cell grids, SVG matches elements between XML trees, charts compare what the two rendered
figures contain (read inside the render sandbox with ``RenderOptions(inspect=True)``). No teacher model is involved,
so it also labels natural candidates that no operator made.
"""

from __future__ import annotations

from visual_erm.schema import Critique


def structural_critique(
    task: str,
    reference: str,
    candidate: str,
    *,
    ref_figure: dict | None = None,
    cand_figure: dict | None = None,
) -> Critique:
    """Critique ``candidate`` against ``reference``. Charts need both figure descriptions from the render pool."""
    if task == "chart":
        if ref_figure is None or cand_figure is None:
            raise ValueError("the chart critic compares figures: render both programs with RenderOptions(inspect=True)")
        from visual_erm.critics.chart_structural import critique

        return critique(ref_figure, cand_figure)
    if task == "table":
        from visual_erm.critics.table_structural import critique

        return critique(reference, candidate)
    if task == "svg":
        from visual_erm.critics.svg_structural import critique

        return critique(reference, candidate)
    raise ValueError(f"unknown task {task!r}")
