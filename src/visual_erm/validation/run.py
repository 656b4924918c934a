"""Run the suites with Great Expectations, write Data Docs, and turn the results into a failure report."""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from visual_erm.validation.frames import LoadProblem, Thresholds, build_frames
from visual_erm.validation.suites import Check, build_suites, checks_for


@dataclass
class CheckResult:
    """The outcome of one expectation."""

    check: str
    frame: str
    expectation: str
    success: bool
    unexpected_count: int = 0
    element_count: int | None = None
    offending_ids: list[str] = field(default_factory=list)  # first ``max_listed_ids`` distinct ids
    n_offending: int = 0  # distinct offending ids in all
    examples: list[str] = field(default_factory=list)  # a few offending values, as text
    message: str = ""  # one line: what is wrong and what to fix (empty on success)


@dataclass
class ValidationReport:
    dataset: str
    kind: str
    success: bool
    results: list[CheckResult]
    problems: list[LoadProblem]
    rows: int
    seconds: float
    report_dir: Path
    data_docs: Path | None
    thresholds: dict[str, Any]

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success]

    def failure_messages(self) -> list[str]:
        """One line per problem: load problems first, then failed expectations."""
        return [f"[load] {p}" for p in self.problems] + [r.message for r in self.failed]

    def format(self) -> str:
        """Human-readable summary: verdict, then each failure with its offending ids."""
        ok = sum(r.success for r in self.results)
        head = (f"{'PASSED' if self.success else 'FAILED'}: {self.kind} dataset {self.dataset} — {self.rows} rows, "
                f"{ok}/{len(self.results)} expectations met, {len(self.problems)} load problems "
                f"({self.seconds:.1f} s)")
        lines = [head]
        for p in self.problems:
            lines.append(f"  ✗ [load] {p}")
        for r in self.failed:
            lines.append(f"  ✗ {r.message}")
            if r.offending_ids:
                more = f" (+{r.n_offending - len(r.offending_ids)} more)" if r.n_offending > len(r.offending_ids) else ""
                lines.append(f"      {r.frame}: {', '.join(r.offending_ids)}{more}")
        if self.data_docs:
            lines.append(f"Data Docs: {self.data_docs}")
        return "\n".join(lines)

    def to_json_dict(self) -> dict:
        return {
            "dataset": self.dataset, "kind": self.kind, "success": self.success, "rows": self.rows,
            "seconds": round(self.seconds, 3), "thresholds": self.thresholds,
            "data_docs": str(self.data_docs) if self.data_docs else None,
            "problems": [asdict(p) for p in self.problems],
            "results": [asdict(r) for r in self.results],
        }


def _text(v: Any) -> str:
    if isinstance(v, float) and not math.isnan(v) and v == int(v):
        return str(int(v))
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_text(x) for x in v) + ")"
    s = str(v.item() if hasattr(v, "item") else v)
    return repr(s) if isinstance(v, str) else s


def _plain(v: Any) -> str:
    return v if isinstance(v, str) else _text(v)


def _examples(result: dict, check: Check) -> list[str]:
    out: list[str] = []
    if "observed_value" in result and not result.get("unexpected_list"):
        return [_text(result["observed_value"])]
    entries = [e for e in result.get("unexpected_index_list") or [] if isinstance(e, dict)]
    if check.frame == "manifest":  # top-level keys (counts.pairs) say more than their breakdowns
        entries.sort(key=lambda e: (str(e.get("id")).count("."), str(e.get("id"))))
    for entry in entries:
        if "column_A" in check.kwargs:
            a, b = check.kwargs["column_A"], check.kwargs["column_B"]
            text = f"{a} {_plain(entry.get(a))} vs {b} {_plain(entry.get(b))}"
            if check.frame in ("manifest", "categories", "tasks"):
                text = f"{entry.get('id')}: {text}"
        else:
            col = check.kwargs.get("column")
            v = entry.get(col)
            text = f"{entry.get('id')}: {_text(v)}" if check.frame in ("tasks",) else _text(v)
        if text not in out:
            out.append(text[:160])
        if len(out) >= 3:
            break
    if not out:
        for v in result.get("unexpected_list") or []:
            t = _text(v)[:160]
            if t not in out:
                out.append(t)
            if len(out) >= 3:
                break
    return out


def _outcome(er: Any, checks: dict[tuple[str, str], Check], frame: str, th: Thresholds) -> CheckResult:
    cfg = er.expectation_config
    name = (cfg.meta or {}).get("check", cfg.type)
    check = checks[(frame, name)]
    result = er.result or {}
    exc = er.exception_info or {}
    if isinstance(exc, dict) and exc.get("raised_exception"):
        msg = f"{name}: could not be evaluated ({exc.get('exception_message')})"
        return CheckResult(name, frame, cfg.type, False, message=msg)
    ids: list[str] = []
    for entry in result.get("unexpected_index_list") or []:
        rid = entry.get("id") if isinstance(entry, dict) else None
        if rid is not None and str(rid) not in ids:
            ids.append(str(rid))
    n_unexpected = int(result.get("unexpected_count") or 0)
    out = CheckResult(name, frame, cfg.type, bool(er.success), n_unexpected, result.get("element_count"),
                      ids[: th.max_listed_ids], len(ids))
    if not er.success:
        out.examples = _examples(result, check)
        fix = check.fix.replace("{values}", ", ".join(out.examples) or "see Data Docs")
        n = n_unexpected or len(ids)
        count = f"{n} {check.unit}" if n else check.unit.rstrip("s")
        out.message = f"{name} ({count}): {fix}"
    return out


def _site_config(docs_dir: Path) -> dict:
    return {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def _drop_default_site(context: Any) -> None:
    """An ephemeral context makes a temporary docs site of its own on every start; drop it and its empty folder."""
    sites = context.variables.data_docs_sites or {}
    for name in [n for n in sites if n != "verm"]:
        base = (sites[name].get("store_backend") or {}).get("base_directory")
        sites.pop(name, None)
        if base and Path(base).is_dir() and Path(base).parent == Path(tempfile.gettempdir()):
            try:
                Path(base).rmdir()  # only if still empty
            except OSError:
                pass
    context.variables.data_docs_sites = sites


def run_suites(frames: Any, checks: list[Check], docs_dir: Path, th: Thresholds) -> list[CheckResult]:
    """Validate each frame with its suite through a checkpoint that updates the filesystem Data Docs site."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    _drop_default_site(context)
    context.add_data_docs_site(site_name="verm", site_config=_site_config(docs_dir))
    source = context.data_sources.add_pandas("visual-erm")
    suites = build_suites(context, frames, checks)
    by_name = {(c.frame, c.name): c for c in checks}
    results: list[CheckResult] = []
    order = {c.name: i for i, c in enumerate(checks)}
    names = list(suites)
    rendered_later: list[Any] = []
    for frame_name, suite in suites.items():
        batch = source.add_dataframe_asset(frame_name).add_batch_definition_whole_dataframe("all")
        vd = context.validation_definitions.add(gx.ValidationDefinition(name=f"{frame_name}", data=batch, suite=suite))
        # A checkpoint run takes one dataframe, so each frame gets its own checkpoint. Rendering Data Docs costs
        # about a second per build (template compilation), so the earlier frames' pages are rendered together in
        # one build just before the last checkpoint, whose UpdateDataDocsAction adds its pages and the index.
        last = frame_name == names[-1]
        if last and rendered_later:
            context.build_data_docs(site_names=["verm"], resource_identifiers=rendered_later, build_index=False)
        actions = [gx.checkpoint.UpdateDataDocsAction(name="data-docs", site_names=["verm"])] if last else []
        cp = context.checkpoints.add(gx.Checkpoint(
            name=f"validate-{frame_name}", validation_definitions=[vd], actions=actions,
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["id"]},
        ))
        run = cp.run(batch_parameters={"dataframe": frames.frames[frame_name]})
        rendered_later += [*run.run_results, ExpectationSuiteIdentifier(name=suite.name)]
        frame_results = [
            _outcome(er, by_name, frame_name, th) for suite_result in run.run_results.values() for er in suite_result.results
        ]
        results.extend(sorted(frame_results, key=lambda r: order.get(r.check, 0)))
    return results


def _write_html(report: ValidationReport, path: Path) -> None:
    esc = html.escape
    parts = ["<!doctype html><meta charset='utf-8'><title>Validation: ", esc(report.dataset), "</title>",
             "<style>body{font-family:sans-serif;margin:20px}.ok{color:#080}.bad{color:#b00}"
             "td{border-bottom:1px solid #ddd;padding:4px;vertical-align:top}</style>",
             f"<h1 class='{'ok' if report.success else 'bad'}'>{'PASSED' if report.success else 'FAILED'}</h1>",
             f"<p>{esc(report.kind)} dataset <code>{esc(report.dataset)}</code>: {report.rows} rows, "
             f"{report.seconds:.1f} s. <a href='data_docs/index.html'>Great Expectations Data Docs</a></p>"]
    if report.problems:
        parts.append("<h2>Could not be loaded</h2><ul>")
        parts += [f"<li class='bad'><b>{esc(p.path)}</b>: {esc(p.message)}</li>" for p in report.problems]
        parts.append("</ul>")
    parts.append("<h2>Expectations</h2><table><tr><th></th><th>check</th><th>frame</th><th>message</th>"
                 "<th>offending ids</th></tr>")
    for r in sorted(report.results, key=lambda r: r.success):
        ids = ", ".join(r.offending_ids) + (f" (+{r.n_offending - len(r.offending_ids)} more)"
                                            if r.n_offending > len(r.offending_ids) else "")
        parts.append(f"<tr><td class='{'ok' if r.success else 'bad'}'>{'✓' if r.success else '✗'}</td>"
                     f"<td>{esc(r.check)}</td><td>{esc(r.frame)}</td><td>{esc(r.message)}</td><td>{esc(ids)}</td></tr>")
    parts.append("</table>")
    path.write_text("".join(parts), encoding="utf-8")


def validate_dataset(path: str | Path, kind: str | None = None, report_dir: str | Path | None = None,
                     **thresholds: Any) -> ValidationReport:
    """Validate a dataset directory (pairs, RL prompts or benchmark) with Great Expectations.

    ``kind`` is ``pairs``, ``rl-prompts`` or ``bench``; by default it is read from manifest.json's ``format``.
    Writes Data Docs to ``report_dir/data_docs/index.html`` plus ``report.json`` and ``report.html`` (a temporary
    directory when ``report_dir`` is None). ``thresholds`` are the fields of :class:`Thresholds`.
    """
    t0 = time.perf_counter()
    th = Thresholds.from_kwargs(**thresholds)
    dataset = Path(path)
    out = Path(report_dir) if report_dir is not None else Path(tempfile.mkdtemp(prefix="verm-validate-"))
    out.mkdir(parents=True, exist_ok=True)
    frames = build_frames(dataset, kind, th)
    checks = checks_for(frames, th)
    docs_dir = out / "data_docs"
    results = run_suites(frames, checks, docs_dir, th)
    index = docs_dir / "index.html"
    report = ValidationReport(
        dataset=str(dataset), kind=frames.kind,
        success=not frames.problems and all(r.success for r in results),
        results=results, problems=frames.problems, rows=frames.rows, seconds=0.0, report_dir=out,
        data_docs=index if index.exists() else None, thresholds=asdict(th),
    )
    report.seconds = time.perf_counter() - t0
    (out / "report.json").write_text(json.dumps(report.to_json_dict(), indent=1, default=str) + "\n")
    _write_html(report, out / "report.html")
    return report
