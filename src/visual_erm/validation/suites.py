"""Expectation suites per dataset kind, over the frames built by :mod:`visual_erm.validation.frames`.

Each check is one Great Expectations expectation on one frame, tagged (``meta``) with a short check name and a
one-line instruction of what to fix; ``{values}`` in the instruction is replaced by examples of the offending values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from visual_erm.schema import CATEGORIES, TASKS
from visual_erm.synth.splits import SPLITS
from visual_erm.validation.frames import ALL_CATEGORIES, Frames, Thresholds


@dataclass(frozen=True)
class Check:
    frame: str
    name: str
    expectation: str  # GX expectation class name, e.g. "ExpectColumnValuesToBeInSet"
    kwargs: dict[str, Any]
    fix: str
    unit: str = "rows"


def _c(frame: str, name: str, expectation: str, fix: str, unit: str = "rows", **kwargs: Any) -> Check:
    return Check(frame, name, expectation, kwargs, fix, unit)


def _where(column: str, value: Any) -> dict[str, Any]:
    """Apply the expectation only to rows where ``column == value`` (a GX row condition)."""
    from great_expectations.expectations.row_conditions import Column

    return {"row_condition": Column(column) == value}


def _image_checks(prefix: str, label: str, th: Thresholds, ok_condition: tuple[str, str]) -> list[Check]:
    lo, hi = th.min_image_side, th.max_image_side
    return [
        _c("rows", f"{label}_width_in_range", "ExpectColumnValuesToBeBetween",
           f"{label} images must be {lo}..{hi} px wide (found {{values}}); re-render them at a sane size",
           column=f"{prefix}_width", min_value=lo, max_value=hi, **_where(*ok_condition)),
        _c("rows", f"{label}_height_in_range", "ExpectColumnValuesToBeBetween",
           f"{label} images must be {lo}..{hi} px high (found {{values}}); re-render them at a sane size",
           column=f"{prefix}_height", min_value=lo, max_value=hi, **_where(*ok_condition)),
    ]


def _id_checks() -> list[Check]:
    return [
        _c("rows", "rows_present", "ExpectTableRowCountToBeBetween",
           "the dataset has no readable rows; rebuild it", unit="tables", min_value=1),
        _c("rows", "id_present", "ExpectColumnValuesToNotBeNull", "every row needs an id; fill the id column",
           column="id"),
        _c("rows", "id_unique", "ExpectColumnValuesToBeUnique",
           "ids must be unique (repeated: {values}); drop the duplicate rows or re-id them", column="id"),
    ]


def _task_split_checks(task_col: str = "task") -> list[Check]:
    return [
        _c("rows", "task_in_vocabulary", "ExpectColumnValuesToBeInSet",
           f"unknown task {{values}}; the task must be one of {', '.join(TASKS)}", column=task_col,
           value_set=list(TASKS)),
        _c("rows", "split_in_vocabulary", "ExpectColumnValuesToBeInSet",
           f"unknown split {{values}}; the split must be one of {', '.join(SPLITS)}", column="split",
           value_set=list(SPLITS)),
        _c("rows", "split_matches_directory", "ExpectColumnPairValuesToBeEqual",
           "the split column disagrees with the shard's data/<split>/ folder ({values}); move the rows to the "
           "right shard", column_A="split", column_B="dir_split"),
        _c("rows", "seed_id_present", "ExpectColumnValuesToNotBeNull",
           "every row needs a seed_id (split leakage cannot be checked without it)", column="seed_id"),
        _c("rows", "seed_in_one_split", "ExpectColumnValuesToBeInSet",
           "split leakage: {values}; assign splits by seed (visual_erm.synth.splits.split_of) and rebuild",
           column="seed_leak", value_set=[""]),
    ]


def _error_item_checks(per_task: bool) -> list[Check]:
    checks = [
        _c("errors", "error_item_is_object", "ExpectColumnValuesToBeInSet",
           "every listed error must be a JSON object with category, severity and description", unit="errors",
           column="item_ok", value_set=[True]),
        _c("errors", "category_present", "ExpectColumnValuesToNotBeNull",
           "every listed error needs a category (or 'type')", unit="errors", column="category"),
        _c("errors", "severity_present", "ExpectColumnValuesToNotBeNull",
           "every listed error needs a numeric severity 1, 2 or 3", unit="errors", column="severity"),
        _c("errors", "severity_in_range", "ExpectColumnValuesToBeInSet",
           "severity must be 1, 2 or 3 (found {values}); fix the labels", unit="errors",
           column="severity", value_set=[1.0, 2.0, 3.0]),
        _c("errors", "description_not_empty", "ExpectColumnValuesToBeBetween",
           "every listed error needs a non-empty description", unit="errors", column="description_len",
           min_value=1),
    ]
    if per_task:
        for t in TASKS:
            checks.append(_c(
                "errors", f"{t}_category_in_vocabulary", "ExpectColumnValuesToBeInSet",
                f"unknown {t} error category {{values}}; {t} categories are {', '.join(CATEGORIES[t])}",
                unit="errors", column="category", value_set=list(CATEGORIES[t]), **_where("task", t)))
    else:
        checks.append(_c(
            "errors", "category_in_vocabulary", "ExpectColumnValuesToBeInSet",
            f"unknown error category {{values}}; known categories are {', '.join(ALL_CATEGORIES)}",
            unit="errors", column="category", value_set=list(ALL_CATEGORIES)))
    return checks


def _shard_checks(frames: Frames, schema_name: str) -> list[Check]:
    checks = [_c("shards", "shard_schema", "ExpectColumnValuesToBeInSet",
                 f"shard columns or types differ from {schema_name} ({{values}}); rewrite the shard with the "
                 "project's writer", unit="shards", column="schema_problem", value_set=["", "unreadable"])]
    if frames.manifest is not None:
        checks += [
            _c("shards", "shard_listed_in_manifest", "ExpectColumnValuesToBeInSet",
               "shards on disk but not in manifest.json; delete stray shards or rebuild the manifest",
               unit="shards", column="in_manifest", value_set=[True]),
            _c("shards", "shard_present", "ExpectColumnValuesToBeInSet",
               "shards listed in manifest.json are missing on disk; restore them or rerun the build",
               unit="shards", column="on_disk", value_set=[True]),
            _c("shards", "shard_sha256_matches", "ExpectColumnValuesToBeInSet",
               "shard content differs from the sha256 in manifest.json; the shard was modified or corrupted — "
               "rerun the build into the same directory or restore the file", unit="shards", column="sha_ok",
               value_set=[True]),
        ]
    return checks


def _manifest_checks(frames: Frames) -> list[Check]:
    if "manifest" not in frames.frames:
        return []
    return [_c("manifest", "manifest_matches_data", "ExpectColumnPairValuesToBeEqual",
               "manifest.json disagrees with the data ({values}); rebuild the manifest from the shards "
               "(rerun the build) or restore the missing rows", unit="keys", column_A="manifest", column_B="data")]


def pair_checks(frames: Frames, th: Thresholds) -> list[Check]:
    ok_ref, ok_cand = ("reference_problem", ""), ("candidate_problem", "")
    checks = _id_checks() + _task_split_checks() + [
        _c("rows", "origin_format", "ExpectColumnValuesToMatchRegex",
           "origin must be identity, edit:<operators> or natural:<model> (found {values})", column="origin",
           regex=r"^(?:identity|edit:.+|natural:.+)$"),
        _c("rows", "gold_parses", "ExpectColumnValuesToBeInSet",
           "the gold critique is unusable ({values}); write it with Critique.to_json()", column="gold_problem",
           value_set=[""]),
        _c("rows", "n_errors_matches_gold", "ExpectColumnPairValuesToBeEqual",
           "n_errors differs from the number of errors listed in gold ({values}); recompute n_errors",
           column_A="n_errors", column_B="n_errors_listed"),
        _c("rows", "severity_sum_matches_gold", "ExpectColumnPairValuesToBeEqual",
           "severity_sum differs from the sum of the listed severities ({values}); recompute it",
           column_A="severity_sum", column_B="severity_sum_listed"),
    ]
    for cat in ALL_CATEGORIES:
        checks.append(_c(
            "rows", f"{cat}_count_matches_list", "ExpectColumnPairValuesToBeEqual",
            f"gold's {cat}_count must equal the number of listed {cat} errors (found {{values}}; -1 = no count "
            "stated); recompute the counts (Critique.to_json() does)",
            column_A=f"{cat}_count_stated", column_B=f"{cat}_count_listed"))
    checks += [
        _c("rows", "identity_pairs_have_no_errors", "ExpectColumnValuesToBeBetween",
           "identity pairs must have an empty error list (found {values} errors); relabel them as edits",
           column="n_errors_listed", min_value=0, max_value=0, **_where("origin", "identity")),
        _c("rows", "reference_image_decodes", "ExpectColumnValuesToBeInSet",
           "reference image unusable ({values}); re-render the reference PNG", column="reference_problem",
           value_set=[""]),
        _c("rows", "candidate_image_decodes", "ExpectColumnValuesToBeInSet",
           "candidate image unusable ({values}); re-render the candidate PNG", column="candidate_problem",
           value_set=[""]),
        *_image_checks("ref", "reference", th, ok_ref),
        *_image_checks("cand", "candidate", th, ok_cand),
        _c("rows", "width_matches_reference", "ExpectColumnPairValuesToBeEqual",
           "the width column differs from the reference PNG's width ({values}); recompute it",
           column_A="width", column_B="ref_width", **_where(*ok_ref)),
        _c("rows", "height_matches_reference", "ExpectColumnPairValuesToBeEqual",
           "the height column differs from the reference PNG's height ({values}); recompute it",
           column_A="height", column_B="ref_height", **_where(*ok_ref)),
        _c("rows", "reference_not_blank", "ExpectColumnValuesToBeInSet",
           "the reference image is blank (one flat colour); drop these seeds or fix their programs",
           column="reference_blank", value_set=[False], **_where(*ok_ref)),
        _c("rows", "pair_unique", "ExpectColumnValuesToBeUnique",
           "duplicate pairs (same reference and candidate images); deduplicate them", column="pair_hash"),
        *_error_item_checks(per_task=True),
        *_shard_checks(frames, "PAIR_SCHEMA (visual_erm.synth.dataset)"),
        _c("tasks", "identity_share_in_bounds", "ExpectColumnValuesToBeBetween",
           f"the share of identity pairs must be within {th.identity_share_min:g}..{th.identity_share_max:g} "
           "(found {values}); change identity_share in the synthesis config", unit="tasks",
           column="identity_share", min_value=th.identity_share_min, max_value=th.identity_share_max),
        _c("categories", "category_minimum_count", "ExpectColumnPairValuesAToBeGreaterThanB",
           f"too few labelled errors of a category ({{values}}; at least "
           f"{th.min_per_category} per category once a task has {th.min_pairs_for_balance} pairs); add seeds "
           "or operators for the missing categories", unit="categories", column_A="errors", column_B="required",
           or_equal=True),
        *_manifest_checks(frames),
    ]
    return checks


def rl_prompt_checks(frames: Frames, th: Thresholds) -> list[Check]:
    ok_ref = ("reference_problem", "")
    return _id_checks() + _task_split_checks() + [
        _c("rows", "prompt_not_empty", "ExpectColumnValuesToBeBetween", "every row needs a non-empty prompt",
           column="prompt_len", min_value=1),
        _c("rows", "reference_code_not_empty", "ExpectColumnValuesToBeBetween",
           "every row needs its reference code", column="code_len", min_value=1),
        _c("rows", "reference_image_decodes", "ExpectColumnValuesToBeInSet",
           "reference image unusable ({values}); re-render the reference PNG", column="reference_problem",
           value_set=[""]),
        *_image_checks("ref", "reference", th, ok_ref),
        _c("rows", "reference_not_blank", "ExpectColumnValuesToBeInSet",
           "the reference image is blank (one flat colour); drop these prompts", column="reference_blank",
           value_set=[False], **_where(*ok_ref)),
        _c("rows", "reference_unique", "ExpectColumnValuesToBeUnique",
           "several prompts share one reference image; deduplicate them", column="reference_hash",
           **_where(*ok_ref)),
        *_shard_checks(frames, "the RL prompt columns (id, task, split, seed_id, reference_image, reference_code, "
                               "prompt)"),
        *_manifest_checks(frames),
    ]


def bench_checks(frames: Frames, th: Thresholds) -> list[Check]:
    return _id_checks() + [
        _c("rows", "fields_present", "ExpectColumnValuesToBeInSet",
           "benchmark items lack fields ({values}); each needs id, category, gt_img_path, pred_img_path, "
           "human_errors", column="missing_fields", value_set=[""]),
        _c("rows", "category_is_task", "ExpectColumnValuesToBeInSet",
           f"unknown item category {{values}}; it must be one of {', '.join(TASKS)}", column="task",
           value_set=list(TASKS)),
        _c("rows", "human_errors_parse", "ExpectColumnValuesToBeInSet",
           "human_errors unusable ({values}); it must be a list of error objects", column="errors_problem",
           value_set=[""]),
        _c("rows", "gt_image_decodes", "ExpectColumnValuesToBeInSet",
           "gt_img_path unusable ({values}); fix the path or restore the image", column="gt_problem",
           value_set=[""]),
        _c("rows", "pred_image_decodes", "ExpectColumnValuesToBeInSet",
           "pred_img_path unusable ({values}); fix the path or restore the image", column="pred_problem",
           value_set=[""]),
        *_image_checks("gt", "gt", th, ("gt_problem", "")),
        *_image_checks("pred", "pred", th, ("pred_problem", "")),
        _c("rows", "gt_not_blank", "ExpectColumnValuesToBeInSet",
           "the ground-truth image is blank (one flat colour); drop these items", column="gt_blank",
           value_set=[False], **_where("gt_problem", "")),
        _c("rows", "item_unique", "ExpectColumnValuesToBeUnique",
           "duplicate items (same gt and pred images); deduplicate them", column="pair_hash"),
        # The benchmark drops errors outside an item's task before scoring, so only unknown categories fail.
        *_error_item_checks(per_task=False),
        *_manifest_checks(frames),
    ]


CHECKS = {"pairs": pair_checks, "rl-prompts": rl_prompt_checks, "bench": bench_checks}


def checks_for(frames: Frames, th: Thresholds) -> list[Check]:
    """Every check that applies to the loaded frames (frames that could not be built are skipped)."""
    return [c for c in CHECKS[frames.kind](frames, th) if c.frame in frames.frames]


def build_suites(context: Any, frames: Frames, checks: list[Check]) -> dict[str, Any]:
    """One GX expectation suite per frame, registered in ``context``; returns frame name → suite."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    grouped: dict[str, list] = {}
    for check in checks:
        cls = getattr(gxe, check.expectation)
        grouped.setdefault(check.frame, []).append(cls(**check.kwargs, meta={"check": check.name, "fix": check.fix}))
    # Build each suite whole, then register it once (adding expectations to a registered suite saves each time).
    return {frame: context.suites.add(gx.ExpectationSuite(name=f"{frames.kind}-{frame}", expectations=exps))
            for frame, exps in grouped.items()}
