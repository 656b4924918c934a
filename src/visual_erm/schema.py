"""The critique contract: discrepancies and critiques in the paper's exact JSON shape.

A critique is what the reward model (and every other critic) writes about a (reference, candidate) pair::

    {"structure_error_count": 0, "data_error_count": 1, "text_error_count": 0, "style_error_count": 0,
     "errors": [{"category": "data_error", "severity": 2, "location": "second bar of series 'Revenue'",
                 "description": "The bar is 40 in the reference but 55 in the candidate."}]}

Counts come first, one per category of the task, equal to the number of listed errors of that category.
Table errors in the released data carry the key ``type`` instead of ``category`` and no ``location``; both are read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Task = Literal["chart", "table", "svg"]
TASKS: tuple[Task, ...] = ("chart", "table", "svg")

#: Error categories per task, in the order the paper lists them (and the order of the count keys).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "chart": ("structure_error", "data_error", "text_error", "style_error"),
    "table": ("layout_error", "text_error", "numeric_error"),
    "svg": ("structure_error", "shape_error", "style_error", "text_symbol_error"),
}

#: Severity rubric from the paper, used in prompts and documentation.
SEVERITY_RUBRIC: dict[int, str] = {
    1: "minor: barely affects reading",
    2: "medium: partly affects understanding, needs a fix",
    3: "severe: structural or key-content error; misleading",
}


def count_key(category: str) -> str:
    """The counter key of a category, e.g. ``data_error`` → ``data_error_count``."""
    return f"{category}_count"


def normalize_category(name: str) -> str:
    """Map loose spellings (``Data``, ``data error``, ``data_error``) to the canonical ``data_error`` form."""
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return key if key.endswith("_error") else f"{key}_error"


class Discrepancy(BaseModel):
    """One visible difference between the reference image and the candidate's render."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    category: str = Field(validation_alias="category")
    severity: int
    location: str | None = None
    description: str

    @model_validator(mode="before")
    @classmethod
    def _accept_type_alias(cls, data: object) -> object:
        if isinstance(data, dict) and "category" not in data and "type" in data:
            data = {**data, "category": data["type"]}
        return data

    @field_validator("category")
    @classmethod
    def _canonical_category(cls, value: str) -> str:
        return normalize_category(value)

    @field_validator("severity", mode="before")
    @classmethod
    def _severity_in_range(cls, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"severity must be 1, 2 or 3, got {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"severity must be 1, 2 or 3, got {value!r}") from None
        if number != int(number) or int(number) not in (1, 2, 3):
            raise ValueError(f"severity must be 1, 2 or 3, got {value!r}")
        return int(number)

    @field_validator("description")
    @classmethod
    def _description_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("description must not be empty")
        return value

    def to_json_dict(self) -> dict:
        """The paper's per-error object: category, severity, location (omitted when unknown), description."""
        out: dict = {"category": self.category, "severity": self.severity}
        if self.location is not None:
            out["location"] = self.location
        out["description"] = self.description
        return out


class Critique(BaseModel):
    """A list of discrepancies for one task; empty means visually equivalent."""

    model_config = ConfigDict(frozen=True)

    task: Task
    errors: tuple[Discrepancy, ...] = ()

    @model_validator(mode="after")
    def _categories_belong_to_task(self) -> "Critique":
        allowed = CATEGORIES[self.task]
        for error in self.errors:
            if error.category not in allowed:
                raise ValueError(
                    f"category {error.category!r} is not a {self.task} category; use one of {', '.join(allowed)}"
                )
        return self

    @property
    def counts(self) -> dict[str, int]:
        """Number of errors per category of the task, every category present (zeros included)."""
        found = Counter(e.category for e in self.errors)
        return {c: found.get(c, 0) for c in CATEGORIES[self.task]}

    @property
    def severity_sum(self) -> int:
        """S in the paper: the sum of the severities of all listed errors."""
        return sum(e.severity for e in self.errors)

    @property
    def is_equivalent(self) -> bool:
        return not self.errors

    def to_json_dict(self) -> dict:
        """The paper's object: one ``<category>_count`` per category first, then ``errors``."""
        out: dict = {count_key(c): n for c, n in self.counts.items()}
        out["errors"] = [e.to_json_dict() for e in self.errors]
        return out

    def to_json(self, indent: int | None = None) -> str:
        """Serialize exactly as the paper's annotations are written (UTF-8, key order fixed)."""
        return json.dumps(self.to_json_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_json_dict(cls, task: Task, data: dict, *, drop_foreign: bool = False) -> "Critique":
        """Build from a parsed paper-format object. Counts in ``data`` are checked against the list.

        ``drop_foreign`` drops errors whose category is outside the task (as the benchmark does) instead of failing.
        """
        raw = data.get("errors")
        if raw is None:
            raise CritiqueParseError("missing_errors", "the object has no 'errors' list")
        if not isinstance(raw, list):
            raise CritiqueParseError("bad_errors", f"'errors' must be a list, got {type(raw).__name__}")
        errors = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise CritiqueParseError("bad_error", f"errors[{i}] must be an object, got {type(item).__name__}")
            try:
                d = Discrepancy.model_validate(item)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "item"
                raise CritiqueParseError("bad_error", f"errors[{i}].{where}: {first['msg']}") from None
            if drop_foreign and d.category not in CATEGORIES[task]:
                continue
            errors.append(d)
        try:
            return cls(task=task, errors=tuple(errors))
        except ValidationError as exc:
            raise CritiqueParseError("unknown_category", exc.errors()[0]["msg"].removeprefix("Value error, ")) from None


class CritiqueParseError(ValueError):
    """A model output that is not a usable critique. ``reason`` is a stable code for metrics."""

    REASONS = ("empty", "no_json", "bad_json", "not_object", "missing_errors", "bad_errors", "bad_error",
               "unknown_category", "count_mismatch")

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def _first_balanced_object(text: str) -> str | None:
    """The first ``{...}`` span with balanced braces (strings and escapes respected), or None."""
    start = text.find("{")
    while start != -1:
        depth, in_str, escaped = 0, False, False
        for i in range(start, len(text)):
            ch = text[i]
            if in_str:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return text[start : i + 1]
        start = text.find("{", start + 1)
    return None


@dataclass(frozen=True)
class ParsedCritique:
    critique: Critique
    warnings: tuple[str, ...] = ()


def parse_critique(text: str, task: Task, *, strict_counts: bool = False, drop_foreign: bool = False) -> ParsedCritique:
    """Parse a model's output into a Critique, tolerating reasoning blocks, code fences and chatter.

    Order: strip ``<think>…</think>``; try a fenced block; try the whole text; fall back to the first balanced
    JSON object. Raises :class:`CritiqueParseError` with a reason code when nothing usable is found.
    Count keys that disagree with the list are a warning (or an error with ``strict_counts``); the list wins.
    """
    if text is None or not text.strip():
        raise CritiqueParseError("empty", "the output is empty")
    body = _THINK.sub("", text).strip()
    if not body:
        raise CritiqueParseError("empty", "the output holds only a <think> block")
    candidates: list[str] = [m.group(1).strip() for m in _FENCE.finditer(body)] + [body]
    balanced = _first_balanced_object(body)
    if balanced:
        candidates.append(balanced)
    data, last_error = None, None
    for cand in candidates:
        try:
            data = json.loads(cand)
            break
        except json.JSONDecodeError as exc:
            last_error = exc
    if data is None:
        if balanced is None and "{" not in body:
            raise CritiqueParseError("no_json", "no JSON object found in the output")
        raise CritiqueParseError("bad_json", f"JSON does not parse: {last_error}")
    if isinstance(data, list):  # a bare error list is accepted as the 'errors' field
        data = {"errors": data}
    if not isinstance(data, dict):
        raise CritiqueParseError("not_object", f"expected a JSON object, got {type(data).__name__}")
    critique = Critique.from_json_dict(task, data, drop_foreign=drop_foreign)
    warnings = []
    for cat, n in critique.counts.items():
        stated = data.get(count_key(cat))
        if stated is not None and stated != n:
            msg = f"{count_key(cat)} says {stated} but {n} errors of that category are listed"
            if strict_counts:
                raise CritiqueParseError("count_mismatch", msg)
            warnings.append(msg)
    return ParsedCritique(critique, tuple(warnings))
