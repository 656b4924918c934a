"""Prompts that ask a policy model to turn a reference image into code, one per task.

Used by synthesis (natural candidates), RL rollouts and reflect-and-revise, so every stage asks the same question.
"""

from __future__ import annotations

POLICY_PROMPTS: dict[str, str] = {
    "chart": (
        "You are an expert in data visualization. Write Python code with matplotlib that reproduces the chart in "
        "the image as exactly as possible: chart type, data, texts, colours, layout and style. "
        "Return the complete program in a single ```python code block."
    ),
    "table": (
        "Convert the table in the image into HTML. Reproduce every cell's text exactly, including numbers, units "
        "and symbols, and the structure (header rows, rowspan and colspan). Return only the <table> element."
    ),
    "svg": (
        "Write an SVG document that reproduces the icon in the image as exactly as possible: shapes, strokes, "
        "fills, colours and any text. Return it in a single ```svg code block."
    ),
}


def policy_prompt(task: str) -> str:
    """The instruction a policy gets with the reference image for ``task``."""
    try:
        return POLICY_PROMPTS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(POLICY_PROMPTS)}") from None
