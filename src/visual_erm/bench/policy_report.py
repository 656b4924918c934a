"""The policy benchmark's HTML report: one self-contained file (images inlined, charts as inline SVG).

Sections: a summary line, a per-task table (items, execution rate, failures by status, task metrics, Visual-ERM
score), a bar chart of the headline metrics per task, a gallery of the worst items (reference | candidate render,
or the failure), and the excluded items. Styling and the bar chart come from :mod:`visual_erm.bench.report`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path

from visual_erm.bench.report import CSS, _e, bar_chart_svg, excluded_section, write_html

__all__ = ["render_policy_report", "worst_items", "write_policy_report"]

#: Metrics shown per task, with their column headers (values ×100 except MSE).
COLUMNS = {
    "chart": [("low_level", "low-level"), ("text_f1", "text F1"), ("layout_f1", "layout F1"),
              ("type_f1", "type F1"), ("color_f1", "colour F1")],
    "table": [("teds", "TEDS"), ("teds_s", "TEDS-S")],
    "svg": [("ssim", "SSIM"), ("mse", "MSE")],
}
PRIMARY = {"chart": "low_level", "table": "teds", "svg": "ssim"}


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}"


def _num(v, digits: int = 4) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def worst_items(rows: Sequence[dict], n: int, *, ref_pngs: dict[str, bytes], cand_pngs: dict[str, bytes]) -> list[dict]:
    """Gallery entries: the ``n`` scored items with the lowest headline metric (render failures first, then the
    lowest Visual-ERM reward, then id), with their images."""
    scored = [r for r in rows if not r.get("excluded")]

    def key(r: dict):
        primary = (r.get("metrics") or {}).get(PRIMARY.get(r["task"], ""))
        return (r["executed"], primary if primary is not None else 2.0,
                r["reward"] if r.get("reward") is not None else 3.0, r["id"])

    out = []
    for r in sorted(scored, key=key)[:n]:
        out.append({**r, "reference_png": ref_pngs.get(r["id"]), "candidate_png": cand_pngs.get(r["id"])})
    return out


def _img(png: bytes | None, caption: str, alt_text: str) -> str:
    if png:
        src = "data:image/png;base64," + base64.b64encode(png).decode()
        return f"<figure><img alt='{_e(caption)}' src='{src}'><figcaption>{_e(caption)}</figcaption></figure>"
    return f"<figure><p class='failure'>{_e(alt_text)}</p><figcaption>{_e(caption)}</figcaption></figure>"


def _card(item: dict) -> str:
    task = item["task"]
    m = item.get("metrics") or {}
    figures = " · ".join(f"{label} {_num(m[k], 4) if k == 'mse' else _pct(m[k])}" for k, label in COLUMNS.get(task, [])
                         if m.get(k) is not None)
    if item.get("reward") is not None:
        figures += f" · reward {item['reward']:.3f}"
    if item.get("severity_sum") is not None:
        figures += f" · S {item['severity_sum']:g}"
    detail = f"{task}; {item['status']}" + (f"; {figures}" if figures else "")
    head = f"<h3>{_e(item['id'])} <small>({_e(detail)})</small></h3>"
    failure = f"{item['status']}: {item.get('message') or ''}".strip()
    imgs = _img(item.get("reference_png"), "reference", "(no reference image)") + \
        _img(item.get("candidate_png"), "candidate", failure)
    errs = ""
    if item.get("errors"):
        errs = "<div class='lists'><div><h4>Critique</h4><ol>" + "".join(
            f"<li><b>{_e(e.get('category'))}</b> (sev {_e(e.get('severity'))}): {_e(e.get('description'))}</li>"
            for e in item["errors"]) + "</ol></div></div>"
    elif item.get("critique_failure"):
        errs = f"<p class='failure'>critic failed: {_e(item['critique_failure'])}</p>"
    return f"<div class='card'>{head}<div class='pair'>{imgs}</div>{errs}</div>"


def _task_table(result: dict) -> str:
    parts = []
    for task, g in result.get("by_task", {}).items():
        cols = COLUMNS.get(task, [])
        head = ("<tr><th class='l'>task</th><th>items</th><th>scored</th><th>exec rate</th>"
                + "".join(f"<th>{_e(label)}</th>" for _, label in cols)
                + "".join(f"<th>{_e(label)} (executed)</th>" for _, label in cols[:1])
                + "<th>Visual-ERM reward</th><th>mean S</th><th class='l'>status counts</th></tr>")
        m = g.get("metrics") or {}
        verm = g.get("verm") or {}

        def cell(k):
            v = m.get(k)
            return f"<td>{_num(v) if k.startswith('mse') else _pct(v)}</td>"

        row = (f"<tr><td class='l'>{_e(task)}</td><td>{g['n_items']}</td><td>{g['n_scored']}</td>"
               f"<td>{_pct(g['exec_rate'])}</td>" + "".join(cell(k) for k, _ in cols)
               + "".join(cell(f"{k}_on_executed") for k, _ in cols[:1])
               + f"<td>{_num(verm.get('reward_mean'), 3)}</td><td>{_num(verm.get('severity_sum_mean'), 2)}</td>"
               + f"<td class='l'>{_e(', '.join(f'{k} {v}' for k, v in g['status_counts'].items()))}</td></tr>")
        parts.append(f"<h3>{_e(task)}</h3><table>{head}{row}</table>")
    return "".join(parts)


def render_policy_report(result: dict, worst: Sequence[dict], *, title: str | None = None) -> str:
    """The report page for the ``metrics.json`` content of :func:`visual_erm.bench.policy.run_policy_bench`."""
    title = title or f"Policy benchmark: {result.get('policy', '')}"
    o = result["overall"]
    critic = result.get("critic")
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>{_e(title)}</title><style>{CSS}</style></head><body>", f"<h1>{_e(title)}</h1>",
             f"<p class='meta'>data: {_e(result.get('data', ''))} · split {_e(result.get('split', ''))} · "
             f"{o['n_items']} items, {o['n_scored']} scored, {o['n_excluded']} excluded · execution rate "
             f"{_pct(o['exec_rate'])}% · critic: {_e(critic or 'none')}"
             + (f" (reward {_e(result.get('reward_variant'))})" if critic else "")
             + " · metrics ×100 except MSE; failures count with their failure value (0, MSE 1)</p>"]
    parts.append("<h2>Per task</h2>" + _task_table(result))
    groups = []
    for task, g in result.get("by_task", {}).items():
        m = g.get("metrics") or {}
        vals = [("exec rate", 100 * g["exec_rate"] if g["exec_rate"] is not None else None)]
        vals.append((PRIMARY[task], 100 * m[PRIMARY[task]] if m.get(PRIMARY[task]) is not None else None))
        groups.append((task, vals))
    if groups:
        parts.append("<div class='charts'>" + bar_chart_svg("Execution rate and headline metric per task", groups)
                     + "</div>")
    if result.get("unmatched_responses"):
        parts.append(f"<p class='meta'>{len(result['unmatched_responses'])} responses had no matching item: "
                     f"{_e(', '.join(result['unmatched_responses'][:20]))}</p>")
    parts.append(f"<h2>Worst items</h2><p class='meta'>{len(worst)} items: render failures first, then the lowest "
                 "headline metric (chart low-level, table TEDS, SVG SSIM).</p>")
    parts.extend(_card(it) for it in worst)
    parts.append(excluded_section(result.get("excluded", []), ("id", "task", "reason")))
    parts.append("</body></html>")
    return "".join(parts)


def write_policy_report(path: str | Path, result: dict, worst: Sequence[dict], *, title: str | None = None) -> Path:
    return write_html(path, render_policy_report(result, worst, title=title))
