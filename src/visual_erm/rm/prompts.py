"""Reward-model prompts in the paper's form: the reference image first, then the image rendered from the candidate.

One prompt per task. Each states what the two images are, the task's error categories with their definitions, the
severity rubric (:data:`visual_erm.schema.SEVERITY_RUBRIC`), and the exact JSON shape to answer with (one
``<category>_count`` per category, then ``errors``). The user turn is ``[image, image, text]`` in that order.
"""

from __future__ import annotations

import json

from visual_erm.schema import CATEGORIES, SEVERITY_RUBRIC, count_key

#: Category definitions per task (paper-notes: "Critique format").
CATEGORY_DEFINITIONS: dict[str, dict[str, str]] = {
    "chart": {
        "structure_error": "chart type, number or arrangement of subplots, shared axes",
        "data_error": "data values, trends, series present or missing, axis limits or scale",
        "text_error": "titles, axis labels, tick labels, legend entries, annotations: wrong, missing, misplaced or "
                      "overlapping",
        "style_error": "colours, line styles, markers, widths, grid, background, frame",
    },
    "table": {
        "layout_error": "row/column spans, merged cells, alignment, swapped or missing rows and columns",
        "text_error": "cell text that is wrong, missing or extra",
        "numeric_error": "numbers, symbols, units, decimal marks",
    },
    "svg": {
        "structure_error": "overall composition and grouping of the parts",
        "shape_error": "geometry of shapes, missing or extra parts",
        "style_error": "stroke, fill, colour, opacity",
        "text_symbol_error": "glyphs, letters, labels and symbols",
    },
}

_SUBJECT = {"chart": "a chart", "table": "a table", "svg": "an SVG icon"}
_RENDERED_FROM = {"chart": "matplotlib code", "table": "HTML", "svg": "SVG code"}


def json_schema_example(task: str) -> str:
    """The answer shape for ``task``: every count key, then an ``errors`` list with one illustrative entry."""
    shape: dict = {count_key(c): "<int>" for c in CATEGORIES[task]}
    shape["errors"] = [{"category": "<one of: " + ", ".join(CATEGORIES[task]) + ">", "severity": "<1|2|3>",
                        "location": "<where in the image>", "description": "<what differs>"}]
    return json.dumps(shape, ensure_ascii=False)


def rm_prompt(task: str) -> str:
    """The reward-model instruction for ``task`` (the text that follows the two images in the user turn)."""
    if task not in CATEGORIES:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(CATEGORIES)}")
    cats = "\n".join(f"- {c}: {CATEGORY_DEFINITIONS[task][c]}" for c in CATEGORIES[task])
    rubric = "\n".join(f"- {level}: {text}" for level, text in sorted(SEVERITY_RUBRIC.items()))
    return (
        f"The first image is the reference: {_SUBJECT[task]}. The second image was rendered from "
        f"{_RENDERED_FROM[task]} that tries to reproduce it. Compare the second image with the reference and list "
        f"every visible discrepancy. Judge only what is visible; ignore anti-aliasing-level noise.\n"
        f"Error categories:\n{cats}\n"
        f"Severity:\n{rubric}\n"
        f"Answer with JSON only, in this shape: {json_schema_example(task)}\n"
        f"Each count equals the number of listed errors of that category. If the images are visually equivalent, "
        f"all counts are 0 and errors is []."
    )


def rm_user_content(task: str) -> list[dict]:
    """The user turn's content blocks: reference image, candidate image, then the instruction."""
    return [{"type": "image"}, {"type": "image"}, {"type": "text", "text": rm_prompt(task)}]


def rm_messages(task: str, critique_json: str | None = None) -> list[dict]:
    """Chat messages for one pair; with ``critique_json`` the assistant answer is appended (SFT rows)."""
    messages = [{"role": "user", "content": rm_user_content(task)}]
    if critique_json is not None:
        messages.append({"role": "assistant", "content": [{"type": "text", "text": critique_json}]})
    return messages
