"""Realistic HTML tables for the table task's seed generator.

Each kind builds a small table the way papers, reports and dashboards lay them out: header rows (often two, with
group headers spanning columns), row groups spanning rows, numbers with units, signs, ``±``, percentages, currency
and thousands separators, text cells, empty cells, right-aligned numeric columns and bold emphasis. Everything is
drawn from the ``random.Random`` passed in, so a seed always gives the same table.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass, field

MINUS = "\u2212"


@dataclass
class C:
    """A cell spec: text (plain, escaped on output), tag, spans, emphasis, alignment."""

    text: str = ""
    th: bool = False
    rowspan: int = 1
    colspan: int = 1
    bold: bool = False
    align: str | None = None
    italic_suffix: str = ""  # e.g. a footnote marker rendered in <sup>


@dataclass
class Style:
    align_attr: bool = False  # align="right" instead of style="text-align: right"
    header_th: bool = True  # <th> header cells instead of <td><b>
    minus: str = MINUS
    decimal: str = "."


@dataclass
class Spec:
    head: list[list[C]]
    body: list[list[C]]
    style: Style = field(default_factory=Style)
    caption: str | None = None


def _cell_html(cell: C, style: Style, header: bool) -> str:
    tag = "th" if (cell.th or (header and style.header_th)) else "td"
    attrs = []
    if cell.rowspan > 1:
        attrs.append(f'rowspan="{cell.rowspan}"')
    if cell.colspan > 1:
        attrs.append(f'colspan="{cell.colspan}"')
    if cell.align:
        attrs.append(f'align="{cell.align}"' if style.align_attr else f'style="text-align: {cell.align}"')
    text = html.escape(cell.text, quote=False)
    if cell.italic_suffix:
        text += f"<sup>{html.escape(cell.italic_suffix, quote=False)}</sup>"
    bold = cell.bold or (header and not style.header_th and tag == "td")
    if bold and cell.text:
        text = f"<b>{text}</b>"
    open_tag = f"<{tag} {' '.join(attrs)}>" if attrs else f"<{tag}>"
    return f"{open_tag}{text}</{tag}>"


def to_html(spec: Spec) -> str:
    parts = ["<table>"]
    if spec.caption:
        parts.append(f"<caption>{html.escape(spec.caption, quote=False)}</caption>")
    parts.append("<thead>")
    for row in spec.head:
        parts.append("<tr>" + "".join(_cell_html(c, spec.style, True) for c in row) + "</tr>")
    parts.append("</thead><tbody>")
    for row in spec.body:
        parts.append("<tr>" + "".join(_cell_html(c, spec.style, False) for c in row) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


# ------------------------------------------------------------------------------------------------ formatting


def fmt(x: float, places: int, style: Style, *, thousands: bool = False, plus: bool = False) -> str:
    s = f"{abs(x):,.{places}f}" if thousands else f"{abs(x):.{places}f}"
    if style.decimal == ",":
        s = s.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    if x < 0 and round(abs(x), places) != 0:
        s = style.minus + s
    elif plus and x > 0:
        s = "+" + s
    return s


def _style(rng: random.Random, *, allow_comma: bool = False) -> Style:
    return Style(
        align_attr=rng.random() < 0.35,
        header_th=rng.random() < 0.5,
        minus=MINUS if rng.random() < 0.6 else "-",
        decimal="," if allow_comma and rng.random() < 0.25 else ".",
    )


def _num_align(rng: random.Random) -> str | None:
    return rng.choice(["right", "right", "center", None])


# ------------------------------------------------------------------------------------------------------ kinds


def clinical_baseline(rng: random.Random) -> Spec:
    st = _style(rng)
    drug = rng.choice(["Metformin", "Atorvastatin", "Dapagliflozin", "Semaglutide", "Tocilizumab", "Apixaban"])
    n1, n2 = rng.randint(40, 400), rng.randint(40, 400)
    al = _num_align(rng)
    head = [
        [C("Characteristic", rowspan=2), C("Treatment group", colspan=2), C("P value", rowspan=2)],
        [C(f"{drug} (n = {n1})"), C(f"Placebo (n = {n2})")],
    ]
    sections = {
        "Demographics": [("Age, years", "msd", 40, 75), ("Female, n (%)", "np", 0.3, 0.7),
                         ("BMI, kg/m\u00b2", "msd", 22, 34), ("Current smoker, n (%)", "np", 0.1, 0.35)],
        "Clinical": [("Systolic BP, mmHg", "msd", 115, 150), ("HbA1c, %", "msd", 5.5, 9.5),
                     ("eGFR, mL/min", "msd", 55, 100), ("Prior MI, n (%)", "np", 0.05, 0.3),
                     ("LDL-C, mmol/L", "msd", 2.0, 4.5)],
        "Outcomes": [("Change in weight, kg", "chg", -6, 2), ("Adverse events, n (%)", "np", 0.1, 0.6),
                     ("Hospitalisation, n (%)", "np", 0.02, 0.2)],
    }
    body: list[list[C]] = []
    for name in rng.sample(list(sections), k=rng.randint(2, 3)):
        if rng.random() < 0.7:
            body.append([C(name, colspan=4, bold=True)])
        for label, kind, lo, hi in rng.sample(sections[name], k=rng.randint(2, len(sections[name]))):
            cells = [C(label)]
            for n in (n1, n2):
                if kind == "msd":
                    m = rng.uniform(lo, hi)
                    cells.append(C(f"{fmt(m, 1, st)} \u00b1 {fmt(abs(m) * rng.uniform(0.05, 0.25), 1, st)}", align=al))
                elif kind == "np":
                    k = round(n * rng.uniform(lo, hi))
                    cells.append(C(f"{k} ({fmt(100 * k / n, 1, st)})", align=al))
                else:
                    cells.append(C(fmt(rng.uniform(lo, hi), 2, st, plus=True), align=al))
            p = rng.choice([rng.uniform(0.001, 0.9), 0.0004])
            ptxt = "<0.001" if p < 0.001 else fmt(p, 3, st)
            cells.append(C(ptxt if rng.random() > 0.1 else "", align=al, bold=p < 0.05 and rng.random() < 0.5))
            body.append(cells)
    return Spec(head, body, st)


def finance_quarterly(rng: random.Random) -> Spec:
    st = _style(rng)
    y = rng.randint(2019, 2025)
    cur = rng.choice(["$", "\u20ac", "\u00a3"])
    al = rng.choice(["right", "right", None])
    head = [
        [C(f"({cur} millions)", rowspan=2), C(f"FY{y - 1}", colspan=2), C(f"FY{y}", colspan=2),
         C("YoY change", rowspan=2)],
        [C("H1"), C("H2"), C("H1"), C("H2")],
    ]
    items = ["Revenue", "Cost of sales", "Gross profit", "R&D expenses", "SG&A", "Operating income",
             "Interest expense", "Net income", "Free cash flow", "Capital expenditure"]
    body = []
    for item in rng.sample(items, k=rng.randint(4, 8)):
        base = rng.uniform(-300, 5000) if item in ("Net income", "Operating income", "Free cash flow") \
            else rng.uniform(50, 9000)
        vals = [base * rng.uniform(0.8, 1.25) for _ in range(4)]
        row = [C(item)]
        for v in vals:
            if v < 0 and rng.random() < 0.5:
                row.append(C(f"({fmt(-v, 1, st, thousands=True)})", align=al))
            else:
                row.append(C(f"{cur}{fmt(v, 1, st, thousands=True)}" if rng.random() < 0.3 else
                             fmt(v, 1, st, thousands=True), align=al))
        prev, now = sum(vals[:2]), sum(vals[2:])
        chg = 100 * (now - prev) / abs(prev) if prev else 0.0
        row.append(C(f"{fmt(chg, 1, st, plus=True)}%", align=al))
        body.append(row)
    if rng.random() < 0.6:
        body.append([C("Total", bold=True)] + [C(fmt(rng.uniform(5000, 30000), 1, st, thousands=True), bold=True,
                                                  align=al) for _ in range(4)] + [C("")])
    return Spec(head, body, st)


def benchmark_results(rng: random.Random) -> Spec:
    st = _style(rng)
    datasets = rng.sample(["ImageNet", "CIFAR-100", "COCO", "SQuAD", "GLUE", "MMLU", "GSM8K", "HumanEval",
                           "ChartQA", "DocVQA"], k=rng.randint(2, 3))
    metrics = rng.choice([("Acc", "F1"), ("P", "R"), ("EM", "F1"), ("Top-1", "Top-5")])
    models = rng.sample(["ResNet-50", "ViT-B/16", "BERT-base", "RoBERTa-large", "T5-XL", "LLaMA-7B",
                         "Mistral-7B", "Qwen2-7B", "GPT-2", "DeBERTa-v3", "Ours"], k=rng.randint(4, 8))
    with_std = rng.random() < 0.5
    al = _num_align(rng)
    head = [[C("Model", rowspan=2)] + [C(d, colspan=2) for d in datasets] + [C("Params", rowspan=2)],
            [C(m) for _ in datasets for m in metrics]]
    scores = [[rng.uniform(35, 95) for _ in range(2 * len(datasets))] for _ in models]
    best = [max(range(len(models)), key=lambda i: scores[i][j]) for j in range(2 * len(datasets))]
    body = []
    for i, m in enumerate(models):
        row = [C(m, bold=(m == "Ours"))]
        for j, s in enumerate(scores[i]):
            t = fmt(s, 1, st) + (f" \u00b1 {fmt(rng.uniform(0.1, 1.5), 1, st)}" if with_std else "")
            row.append(C(t, bold=best[j] == i, align=al))
        row.append(C(rng.choice(["25M", "86M", "110M", "355M", "3B", "7B", "13B", "\u2013"]), align=al))
        body.append(row)
    return Spec(head, body, st)


def sports_standings(rng: random.Random) -> Spec:
    st = _style(rng)
    teams = rng.sample(["Arsenal", "Barcelona", "Celtic", "Dortmund", "Everton", "Fiorentina", "Galatasaray",
                        "Hajduk Split", "Inter", "Juventus", "Lyon", "Marseille", "Napoli", "Porto", "Roma",
                        "Sevilla", "Valencia", "Benfica"], k=rng.randint(5, 10))
    al = _num_align(rng)
    head = [[C("Pos"), C("Team"), C("P"), C("W"), C("D"), C("L"), C("GD"), C("Pts"), C("Win %")]]
    rows = []
    for t in teams:
        p = rng.randint(20, 38)
        w = rng.randint(2, p - 2)
        d = rng.randint(0, p - w)
        gd = rng.randint(-30, 45)
        rows.append((3 * w + d, t, p, w, d, p - w - d, gd))
    rows.sort(reverse=True)
    body = []
    for i, (pts, t, p, w, d, l, gd) in enumerate(rows):
        gdt = ("+" if gd > 0 else (st.minus if gd < 0 else "")) + str(abs(gd))
        body.append([C(str(i + 1)), C(t, bold=i == 0)] + [C(str(v), align=al) for v in (p, w, d, l)]
                    + [C(gdt, align=al), C(str(pts), align=al, bold=i == 0),
                       C(f"{fmt(100 * w / p, 1, st)}%", align=al)])
    return Spec(head, body, st)


def inventory(rng: random.Random) -> Spec:
    st = _style(rng)
    cur = rng.choice(["$", "\u20ac"])
    items = [("Steel bracket", "Hardware"), ("Hex bolt M8", "Fasteners"), ("Copper wire 2.5 mm", "Electrical"),
             ("LED panel", "Lighting"), ("Safety gloves", "PPE"), ("Circuit breaker", "Electrical"),
             ("PVC pipe", "Plumbing"), ("Ball valve", "Plumbing"), ("Cable ties", "Fasteners"),
             ("Work boots", "PPE"), ("Drill bit set", "Tools"), ("Torque wrench", "Tools")]
    al = _num_align(rng)
    head = [[C("SKU"), C("Item"), C("Category"), C("Qty"), C(f"Unit price ({cur})"), C("Weight (kg)"),
             C("Status")]]
    body = []
    for name, cat in rng.sample(items, k=rng.randint(4, 9)):
        qty = rng.choice([0, rng.randint(1, 50), rng.randint(100, 25000)])
        status = "Out of stock" if qty == 0 else rng.choice(["In stock", "In stock", "Low stock", "Backordered", ""])
        body.append([
            C(f"{rng.choice('ABCHKMPT')}{rng.randint(100, 999)}-{rng.randint(10, 99)}"), C(name), C(cat),
            C(f"{qty:,}" if st.decimal == "." else str(qty), align=al),
            C(fmt(rng.uniform(0.2, 450), 2, st, thousands=True), align=al),
            C(fmt(rng.uniform(0.01, 25), rng.choice([2, 3]), st) if rng.random() > 0.15 else "", align=al),
            C(status, bold=status == "Out of stock"),
        ])
    return Spec(head, body, st)


def regional_sales(rng: random.Random) -> Spec:
    st = _style(rng)
    regions = rng.sample(["North America", "Europe", "Asia-Pacific", "Latin America", "Middle East", "Africa"],
                         k=rng.randint(2, 3))
    products = ["Laptops", "Tablets", "Phones", "Monitors", "Printers", "Headsets"]
    al = _num_align(rng)
    head = [[C("Region"), C("Product"), C("Units"), C("Revenue ($K)"), C("Margin (%)"), C("Growth")]]
    body = []
    for reg in regions:
        prods = rng.sample(products, k=rng.randint(2, 3))
        for k, p in enumerate(prods):
            row = [C(reg, rowspan=len(prods), bold=rng.random() < 0.3)] if k == 0 else []
            row += [C(p), C(f"{rng.randint(200, 90000):,}", align=al),
                    C(fmt(rng.uniform(50, 12000), 1, st, thousands=True), align=al),
                    C(fmt(rng.uniform(5, 45), 1, st), align=al),
                    C(f"{fmt(rng.uniform(-25, 40), 1, st, plus=True)}%", align=al)]
            body.append(row)
    if rng.random() < 0.5:
        body.append([C("All regions", colspan=2, bold=True), C(f"{rng.randint(5000, 300000):,}", bold=True, align=al),
                     C(fmt(rng.uniform(20000, 90000), 1, st, thousands=True), bold=True, align=al), C(""), C("")])
    return Spec(head, body, st)


def lab_results(rng: random.Random) -> Spec:
    st = _style(rng, allow_comma=True)
    analytes = [("Haemoglobin", "g/dL", 12.0, 17.5, 1), ("White cell count", "\u00d710\u2079/L", 4.0, 11.0, 1),
                ("Platelets", "\u00d710\u2079/L", 150, 400, 0), ("Sodium", "mmol/L", 135, 145, 0),
                ("Potassium", "mmol/L", 3.5, 5.1, 1), ("Creatinine", "\u00b5mol/L", 60, 110, 0),
                ("Glucose", "mmol/L", 3.9, 7.8, 1), ("CRP", "mg/L", 0.0, 5.0, 1), ("ALT", "U/L", 7, 56, 0),
                ("TSH", "mIU/L", 0.4, 4.0, 2), ("Ferritin", "\u00b5g/L", 30, 400, 0)]
    al = _num_align(rng)
    head = [[C("Analyte", rowspan=2), C("Visit", colspan=2), C("Unit", rowspan=2), C("Reference range", rowspan=2),
             C("Flag", rowspan=2)], [C("Baseline"), C("Week 12")]]
    body = []
    for name, unit, lo, hi, places in rng.sample(analytes, k=rng.randint(4, 8)):
        vals = [rng.uniform(lo * 0.7, hi * 1.3) for _ in range(2)]
        flag = "H" if vals[1] > hi else ("L" if vals[1] < lo else "")
        txt = [fmt(v, places, st) for v in vals]
        if name == "CRP" and vals[0] < 0.5:
            txt[0] = "<0" + st.decimal + "5"
        body.append([C(name), C(txt[0], align=al), C(txt[1], align=al, bold=bool(flag)), C(unit),
                     C(f"{fmt(lo, places, st)}\u2013{fmt(hi, places, st)}"), C(flag, bold=bool(flag), align="center")])
    return Spec(head, body, st)


def climate_monthly(rng: random.Random) -> Spec:
    st = _style(rng, allow_comma=True)
    city, base, amp = rng.choice([("Oslo", 6.0, 11.0), ("Winnipeg", 3.0, 19.0), ("Reykjavik", 4.5, 6.0),
                                  ("Ulaanbaatar", -1.0, 20.0), ("Montreal", 7.0, 15.0), ("Helsinki", 5.5, 12.0)])
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    start = rng.randint(0, 11)
    k = rng.randint(4, 8)
    al = _num_align(rng)
    head = [[C("Month", rowspan=2), C("Temperature (\u00b0C)", colspan=3), C("Precipitation", rowspan=2),
             C("Sunshine (h)", rowspan=2)], [C("Mean"), C("Min"), C("Max")]]
    import math

    body = []
    for i in range(k):
        m = (start + i) % 12
        mean = base + amp * -math.cos(2 * math.pi * (m + 0.5) / 12) + rng.uniform(-1, 1)
        body.append([C(months[m]), C(fmt(mean, 1, st), align=al), C(fmt(mean - rng.uniform(3, 8), 1, st), align=al),
                     C(fmt(mean + rng.uniform(3, 8), 1, st), align=al),
                     C(f"{fmt(rng.uniform(5, 120), 1, st)} mm", align=al),
                     C(str(rng.randint(10, 300)) if rng.random() > 0.1 else "", align=al)])
    return Spec(head, body, st, caption=f"Monthly climate normals, {city}" if rng.random() < 0.3 else None)


KIND_BUILDERS = {
    "clinical_baseline": clinical_baseline,
    "finance_quarterly": finance_quarterly,
    "benchmark_results": benchmark_results,
    "sports_standings": sports_standings,
    "inventory": inventory,
    "regional_sales": regional_sales,
    "lab_results": lab_results,
    "climate_monthly": climate_monthly,
}
