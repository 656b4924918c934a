"""The critic benchmark's HTML report: one self-contained file (images inlined as data URLs, charts as inline SVG).

Sections: a summary line, a per-task table with a bar chart (F1-hard, F1-soft, Sc), per-category tables and bar
charts for each task, a gallery of the worst items (reference | candidate, predicted vs gold errors, the matcher's
verdicts) and the list of excluded items. The charts are drawn by this module (plain SVG rectangles) — no model
code and no plotting library run here.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

__all__ = ["bar_chart_svg", "render_report", "write_report"]

SERIES_COLOURS = {"F1-hard": "#1d4ed8", "F1-soft": "#60a5fa", "Sc": "#f59e0b"}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#111827;max-width:1400px}
h1{font-size:24px;margin-bottom:4px} h2{margin-top:32px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.meta{color:#4b5563;font-size:14px}
table{border-collapse:collapse;margin:8px 0 16px 0;font-size:14px}
th,td{border:1px solid #d1d5db;padding:4px 8px;text-align:right} th{background:#f3f4f6}
td.l,th.l{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.card{border:1px solid #d1d5db;border-radius:6px;padding:10px;margin:12px 0}
.card h3{margin:0 0 6px 0;font-size:15px}
.pair{display:flex;gap:12px;flex-wrap:wrap}
.pair figure{margin:0} .pair img{max-width:420px;max-height:340px;border:1px solid #e5e7eb}
figcaption{font-size:12px;color:#4b5563}
.lists{display:flex;gap:16px;flex-wrap:wrap;font-size:13px}
.lists div{flex:1;min-width:320px} .lists ol{padding-left:20px;margin:4px 0}
.yes{color:#15803d} .partial{color:#b45309} .miss{color:#b91c1c}
.failure{color:#b91c1c;font-weight:bold}
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def bar_chart_svg(title: str, groups: Sequence[tuple[str, Sequence[tuple[str, float | None]]]], *,
                  lo: float = 0.0, hi: float = 100.0, width: int | None = None, height: int = 240) -> str:
    """A grouped vertical bar chart as an inline ``<svg>``: ``groups`` = [(group label, [(series, value)])].

    Values are clipped to [lo, hi]; a None value draws no bar and an "n/a" mark. A zero line is drawn when lo < 0.
    """
    series = list(dict.fromkeys(s for _, vals in groups for s, _ in vals))
    n_series = max(1, len(series))
    bar_w, gap = 18, 22
    group_w = n_series * bar_w + gap
    left, top, bottom = 40, 28, 44
    width = width or max(260, left + 10 + len(groups) * group_w)
    plot_h = height - top - bottom

    def y(v: float) -> float:
        v = min(max(v, lo), hi)
        return top + plot_h * (hi - v) / (hi - lo)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<title>{_e(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{_e(title)}</text>']
    for tick in range(int(lo), int(hi) + 1, 25 if hi - lo <= 100 else 50):
        ty = y(tick)
        parts.append(f'<line x1="{left}" x2="{width - 4}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#e5e7eb"/>'
                     f'<text x="{left - 4}" y="{ty + 4:.1f}" text-anchor="end" fill="#6b7280">{tick}</text>')
    if lo < 0 < hi:
        parts.append(f'<line x1="{left}" x2="{width - 4}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#6b7280"/>')
    base = y(max(lo, 0.0))
    for gi, (label, vals) in enumerate(groups):
        gx = left + 8 + gi * group_w
        for s, v in vals:
            bx = gx + series.index(s) * bar_w
            colour = SERIES_COLOURS.get(s, "#6b7280")
            if v is None:
                parts.append(f'<text x="{bx + bar_w / 2:.1f}" y="{base - 3:.1f}" text-anchor="middle" '
                             f'fill="#9ca3af" font-size="9">n/a</text>')
                continue
            top_y, bot_y = sorted((y(v), base))
            parts.append(f'<rect x="{bx}" y="{top_y:.1f}" width="{bar_w - 2}" height="{max(bot_y - top_y, 0.5):.1f}" '
                         f'fill="{colour}"><title>{_e(label)} {_e(s)}: {v:.1f}</title></rect>')
        parts.append(f'<text x="{gx + n_series * bar_w / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle">'
                     f'{_e(label.replace("_error", ""))}</text>')
    lx = left
    for s in series:
        parts.append(f'<rect x="{lx}" y="{height - 16}" width="10" height="10" fill="{SERIES_COLOURS.get(s, "#6b7280")}"/>'
                     f'<text x="{lx + 14}" y="{height - 7}">{_e(s)}</text>')
        lx += 14 + 7 * len(s) + 14
    parts.append("</svg>")
    return "".join(parts)


def _data_url(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()
    except OSError:
        return None


def _group_row(name: str, g: dict) -> str:
    sev = g.get("severity") or {}
    return (f"<tr><td class='l'>{_e(name)}</td><td>{g['n_items']}</td><td>{g['counts']['n_pred']}</td>"
            f"<td>{g['counts']['n_gold']}</td><td>{g['counts']['n_yes']}</td><td>{g['counts']['n_partial']}</td>"
            f"<td>{_fmt(100 * g['hard']['f1'])}</td><td>{_fmt(100 * g['soft']['f1'])}</td>"
            f"<td>{_fmt(100 * g['hard']['precision'])}</td><td>{_fmt(100 * g['hard']['recall'])}</td>"
            f"<td>{_fmt(100 * g['soft']['precision'])}</td><td>{_fmt(100 * g['soft']['recall'])}</td>"
            f"<td title='{_e(sev.get('reason') or '')}'>{_fmt(sev.get('value'))}</td></tr>")


_GROUP_HEAD = ("<tr><th class='l'>{first}</th><th>items</th><th>predicted</th><th>gold</th><th>yes</th><th>partial</th>"
               "<th>F1-hard</th><th>F1-soft</th><th>P-hard</th><th>R-hard</th><th>P-soft</th><th>R-soft</th>"
               "<th>Sc</th></tr>")


def _bars(g: dict) -> list[tuple[str, float | None]]:
    sev = g.get("severity") or {}
    return [("F1-hard", 100 * g["hard"]["f1"]), ("F1-soft", 100 * g["soft"]["f1"]), ("Sc", sev.get("value"))]


def _error_list(errors: Sequence[dict], verdicts: dict[int, str] | None) -> str:
    if not errors:
        return "<p><i>no errors</i></p>"
    out = ["<ol start='0'>"]
    for i, e in enumerate(errors):
        v = (verdicts or {}).get(i)
        mark = f"<span class='{v}'>[{v}]</span> " if v else "<span class='miss'>[unmatched]</span> "
        loc = f" @ {_e(e['location'])}" if e.get("location") else ""
        out.append(f"<li>{mark}<b>{_e(e['category'])}</b> (sev {_e(e['severity'])}){loc}: {_e(e['description'])}</li>")
    out.append("</ol>")
    return "".join(out)


def _card(item: dict) -> str:
    ref, cand = _data_url(item.get("reference_image")), _data_url(item.get("candidate_image"))
    pv = {m["pred_index"]: m["verdict"] for m in item.get("matches", [])}
    gv = {m["gold_index"]: m["verdict"] for m in item.get("matches", [])}
    head = (f"<h3>{_e(item['id'])} <small>({_e(item['task'])}; {_e(item.get('origin') or 'unknown origin')}; "
            f"unmatched predicted {item.get('fp', 0):g}, unmatched gold {item.get('fn', 0):g}; severity "
            f"predicted {item.get('pred_severity', '—')} vs gold {item.get('gold_severity', '—')})</small></h3>")
    imgs = ""
    for cap, src in (("reference", ref), ("candidate", cand)):
        img = f"<img alt='{cap}' src='{src}'>" if src else "<p>(image missing)</p>"
        imgs += f"<figure>{img}<figcaption>{cap}</figcaption></figure>"
    if item.get("failure"):
        pred = f"<p class='failure'>critic failed: {_e(item['failure'])}</p>"
    else:
        pred = _error_list(item.get("predicted") or [], pv)
    return (f"<div class='card'>{head}<div class='pair'>{imgs}</div><div class='lists'>"
            f"<div><h4>Predicted</h4>{pred}</div><div><h4>Gold</h4>{_error_list(item.get('gold') or [], gv)}</div>"
            f"</div></div>")


def excluded_section(excluded: Sequence[dict], columns: Sequence[str]) -> str:
    """The "Excluded items" heading and, when there are any, a table of their ``columns``."""
    parts = [f"<h2>Excluded items</h2><p class='meta'>{len(excluded)} items left out of every metric.</p>"]
    if excluded:
        parts.append("<table><tr>" + "".join(f"<th class='l'>{c}</th>" for c in columns) + "</tr>")
        parts.extend("<tr>" + "".join(f"<td class='l'>{_e(x[c])}</td>" for c in columns) + "</tr>" for x in excluded)
        parts.append("</table>")
    return "".join(parts)


def write_html(path: str | Path, text: str) -> Path:
    """Writes ``text`` to ``path`` atomically (a ``.tmp`` sibling, then a rename); returns the path."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def render_report(result: dict, worst: Sequence[dict], *, title: str | None = None) -> str:
    """The report page. ``result`` is the ``metrics.json`` content written by
    :func:`visual_erm.bench.run_critic.run_critic_bench`; ``worst`` the gallery items (dicts with id, task,
    origin, reference_image/candidate_image paths, predicted/gold error lists, matches, fp, fn, severities, or
    failure)."""
    critic = result.get("critic", "critic")
    title = title or f"Critic benchmark: {critic}"
    s = result["summary"]
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{_e(title)}</h1>",
             f"<p class='meta'>bench: {_e(result.get('bench', ''))} · matcher: {_e(result.get('matcher', ''))} · "
             f"{s['n_items']} items, {s['n_scored']} scored, {s['n_excluded']} excluded · "
             f"F1 and Sc ×100, counts micro-pooled over items</p>"]

    o = s["overall"]
    parts.append("<h2>Summary</h2><table><tr><th class='l'></th><th>items</th><th>F1-hard</th><th>F1-soft</th>"
                 "<th>Sc</th></tr>")
    for name, row in [("overall", o)] + list(s["by_task"].items()):
        parts.append(f"<tr><td class='l'>{_e(name)}</td><td>{row['n']}</td><td>{_fmt(row['f1_hard'])}</td>"
                     f"<td>{_fmt(row['f1_soft'])}</td><td title='{_e(row.get('sc_reason') or '')}'>"
                     f"{_fmt(row['sc'])}</td></tr>")
    parts.append("</table>")

    by_task = result.get("by_task", {})
    parts.append("<h2>Per task</h2>")
    parts.append("<table>" + _GROUP_HEAD.format(first="task"))
    for task, g in by_task.items():
        parts.append(_group_row(task, g))
    if "overall" in result:
        parts.append(_group_row("overall", result["overall"]))
    parts.append("</table>")
    if by_task:
        parts.append("<div class='charts'>" + bar_chart_svg(
            "F1 and Sc per task", [(t, _bars(g)) for t, g in by_task.items()],
            lo=min([0.0] + [v for g in by_task.values() for _, v in _bars(g) if v is not None])) + "</div>")

    parts.append("<h2>Per category</h2>")
    charts = []
    for task, cats in result.get("by_task_category", {}).items():
        parts.append(f"<h3>{_e(task)}</h3><table>" + _GROUP_HEAD.format(first="category"))
        for cat, g in cats.items():
            parts.append(_group_row(cat, g))
        parts.append("</table>")
        lo = min([0.0] + [v for g in cats.values() for _, v in _bars(g) if v is not None])
        charts.append(bar_chart_svg(f"{task}: per category", [(c, _bars(g)) for c, g in cats.items()], lo=lo))
    if charts:
        parts.append("<div class='charts'>" + "".join(charts) + "</div>")

    parts.append(f"<h2>Worst items</h2><p class='meta'>{len(worst)} items with the most unmatched errors "
                 "(predicted + gold), then critic failures.</p>")
    parts.extend(_card(it) for it in worst)

    parts.append(excluded_section(result.get("excluded", []), ("id", "task", "stage", "reason")))
    parts.append("</body></html>")
    return "".join(parts)


def write_report(path: str | Path, result: dict, worst: Sequence[dict], *, title: str | None = None) -> Path:
    return write_html(path, render_report(result, worst, title=title))
