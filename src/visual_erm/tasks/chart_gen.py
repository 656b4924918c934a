"""Seed-program generator for the chart task: realistic, readable matplotlib scripts in ChartMimic's style.

Every program imports ``matplotlib.pyplot as plt`` and ``numpy as np``, keeps its data in list literals bound to
names (so corruption operators can edit single values), draws with ``ax.``/``plt.`` calls, and ends with
``plt.tight_layout()`` and ``plt.savefig(...)`` or ``plt.show()``. Generation is deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

KINDS: tuple[str, ...] = (
    "bar", "grouped_bar", "stacked_bar", "barh", "line", "scatter", "pie", "histogram", "box", "area",
    "stackplot", "errorbar", "heatmap", "subplots", "twin_axes",
)


@dataclass(frozen=True)
class Domain:
    name: str
    categories: tuple[tuple[str, ...], ...]  # alternative category axes (quarters, months, countries, ...)
    series: tuple[str, ...]
    metrics: tuple[tuple[str, str, float, float], ...]  # (metric label, unit, low, high)
    titles: tuple[str, ...]
    xlabels: tuple[str, ...]


DOMAINS: tuple[Domain, ...] = (
    Domain(
        "finance",
        (("Q1", "Q2", "Q3", "Q4"), ("Jan", "Feb", "Mar", "Apr", "May", "Jun"),
         ("2019", "2020", "2021", "2022", "2023"), ("North America", "Europe", "Asia Pacific", "Latin America")),
        ("Revenue", "Operating Costs", "Net Profit", "Marketing Spend", "R&D Budget"),
        (("Revenue", "$M", 20, 180), ("Profit Margin", "%", 4, 35), ("Share Price", "USD", 40, 260)),
        ("Quarterly Revenue by Segment", "Annual Financial Performance", "Regional Sales Overview",
         "Cost Structure Analysis", "Earnings Growth Comparison"),
        ("Fiscal Quarter", "Month", "Year", "Region"),
    ),
    Domain(
        "climate",
        (("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug"), ("1990", "2000", "2010", "2020"),
         ("Oslo", "Madrid", "Cairo", "Mumbai", "Sydney"), ("Winter", "Spring", "Summer", "Autumn")),
        ("Temperature", "Rainfall", "Humidity", "CO2 Emissions", "Sea Level"),
        (("Mean Temperature", "°C", -5, 32), ("Precipitation", "mm", 10, 220), ("Emissions", "Mt CO2", 50, 900)),
        ("Monthly Climate Normals", "Regional Temperature Trends", "Seasonal Rainfall Distribution",
         "Carbon Emissions by Decade", "Average Monthly Humidity"),
        ("Month", "Decade", "City", "Season"),
    ),
    Domain(
        "sports",
        (("Arsenal", "Chelsea", "Liverpool", "Everton", "Fulham"), ("Round 1", "Round 2", "Round 3", "Round 4"),
         ("2018", "2019", "2020", "2021", "2022", "2023"), ("Guard", "Forward", "Center")),
        ("Goals Scored", "Goals Conceded", "Assists", "Shots on Target", "Possession"),
        (("Points", "pts", 10, 95), ("Win Rate", "%", 20, 85), ("Attendance", "thousands", 15, 75)),
        ("Season Performance by Team", "League Points Progression", "Player Statistics Overview",
         "Home vs Away Results", "Scoring Trends per Season"),
        ("Team", "Round", "Season", "Position"),
    ),
    Domain(
        "biology",
        (("Control", "Dose A", "Dose B", "Dose C"), ("0h", "6h", "12h", "24h", "48h"),
         ("E. coli", "S. aureus", "B. subtilis", "P. putida"), ("Leaf", "Stem", "Root", "Flower", "Seed")),
        ("Wild Type", "Mutant", "Knockout", "Treated", "Untreated"),
        (("Cell Viability", "%", 30, 100), ("Expression Level", "a.u.", 0.5, 8.0), ("Growth Rate", "1/h", 0.1, 1.4)),
        ("Gene Expression Across Conditions", "Bacterial Growth Curves", "Tissue Metabolite Levels",
         "Drug Response Assay", "Cell Viability after Treatment"),
        ("Condition", "Time Point", "Strain", "Tissue"),
    ),
    Domain(
        "technology",
        (("ResNet-50", "ViT-B", "BERT", "GPT-2", "T5"), ("v1.0", "v1.1", "v2.0", "v2.1", "v3.0"),
         ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), ("CPU", "GPU", "TPU", "FPGA")),
        ("Accuracy", "Latency", "Throughput", "Memory Usage", "Energy"),
        (("Accuracy", "%", 55, 96), ("Latency", "ms", 5, 120), ("Throughput", "req/s", 100, 1800)),
        ("Model Benchmark Results", "Inference Latency by Release", "Weekly Server Load",
         "Hardware Throughput Comparison", "Training Efficiency"),
        ("Model", "Release", "Day", "Hardware"),
    ),
    Domain(
        "energy",
        (("Solar", "Wind", "Hydro", "Nuclear", "Coal", "Gas"), ("2015", "2017", "2019", "2021", "2023"),
         ("Germany", "France", "Spain", "Italy", "Poland"), ("Residential", "Commercial", "Industrial")),
        ("Renewables", "Fossil Fuels", "Nuclear Power", "Imports", "Storage"),
        (("Generation", "TWh", 5, 140), ("Share of Mix", "%", 2, 45), ("Capacity", "GW", 1, 60)),
        ("Electricity Generation by Source", "Energy Mix Evolution", "Installed Capacity by Country",
         "Consumption by Sector", "Renewable Share Growth"),
        ("Source", "Year", "Country", "Sector"),
    ),
    Domain(
        "health",
        (("18-29", "30-44", "45-59", "60-74", "75+"), ("2016", "2018", "2020", "2022"),
         ("Cardiology", "Oncology", "Neurology", "Pediatrics"), ("Week 1", "Week 2", "Week 3", "Week 4")),
        ("Hospital Admissions", "Vaccination Rate", "Recovery Rate", "Outpatient Visits", "Readmissions"),
        (("Admissions", "per 1k", 5, 90), ("Coverage", "%", 25, 98), ("Wait Time", "days", 2, 60)),
        ("Patient Outcomes by Age Group", "Vaccination Coverage Over Time", "Department Workload",
         "Weekly Admissions Trend", "Average Waiting Times"),
        ("Age Group", "Year", "Department", "Week"),
    ),
    Domain(
        "education",
        (("Math", "Physics", "Chemistry", "Biology", "History"), ("Grade 6", "Grade 7", "Grade 8", "Grade 9"),
         ("2019", "2020", "2021", "2022", "2023"), ("Urban", "Suburban", "Rural")),
        ("Average Score", "Pass Rate", "Enrollment", "Dropout Rate", "Attendance"),
        (("Score", "points", 45, 98), ("Pass Rate", "%", 50, 99), ("Students", "count", 120, 900)),
        ("Exam Results by Subject", "Enrollment Trends", "School Performance Comparison",
         "Pass Rates by Grade", "Attendance Across Districts"),
        ("Subject", "Grade", "Year", "District"),
    ),
)

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
          "steelblue", "darkorange", "seagreen", "crimson", "slateblue", "goldenrod", "teal", "tomato",
          "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
PALETTES = (
    ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"),
    ("steelblue", "darkorange", "seagreen", "crimson", "slateblue"),
    ("#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"),
    ("#003f5c", "#58508d", "#bc5090", "#ff6361", "#ffa600"),
    ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"),
    ("#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854"),
)
MARKERS = ("o", "s", "^", "D", "v", "*", "x", "p")
LINESTYLES = ("-", "--", "-.", ":")
CMAPS = ("viridis", "plasma", "coolwarm", "YlGnBu", "magma", "RdBu_r", "Blues", "inferno", "cividis", "Greens")
LEGEND_LOCS = ("upper left", "upper right", "lower right", "best", "upper center", "center left")
FACECOLORS = ("#f5f5f5", "#eaeaf2", "#fafafa", "ivory", "#f0f4f8")


def _q(value) -> str:
    return repr(value)


def _fmt(v: float, decimals: int) -> str:
    return f"{v:.{decimals}f}" if decimals else str(int(round(v)))


def _values(rng: random.Random, n: int, low: float, high: float, decimals: int, trend: float = 0.0) -> list[str]:
    out = []
    base = rng.uniform(low, high)
    for i in range(n):
        v = base + trend * i * (high - low) / max(n, 1) + rng.uniform(-0.25, 0.25) * (high - low)
        v = min(max(v, low), high)
        out.append(_fmt(v, decimals))
    return out


def _lit(values: list[str]) -> str:
    return "[" + ", ".join(values) + "]"


def _slug(name: str) -> str:
    s = "".join(ch.lower() if ch.isalnum() else "_" for ch in name).strip("_")
    while "__" in s:
        s = s.replace("__", "_")
    if not s or s[0].isdigit():
        s = "s_" + s
    return s


class _Ctx:
    """Everything one program draws from: the domain, the rng and the choices shared by all kinds."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.domain = rng.choice(DOMAINS)
        ci = rng.randrange(len(self.domain.categories))
        self.categories = list(self.domain.categories[ci])
        self.xlabel = self.domain.xlabels[ci]
        metric = rng.choice(self.domain.metrics)
        self.metric, self.unit, self.low, self.high = metric
        self.decimals = 1 if self.high <= 10 else rng.choice((0, 0, 1))
        self.ylabel = f"{self.metric} ({self.unit})"
        self.title = rng.choice(self.domain.titles)
        self.palette = list(rng.choice(PALETTES))
        rng.shuffle(self.palette)
        self.figsize = rng.choice(("(8, 5)", "(7, 5)", "(9, 5)", "(8, 6)", "(10, 6)", "(6, 5)"))

    def series_names(self, k: int) -> list[str]:
        return self.rng.sample(list(self.domain.series), k)

    def vals(self, n: int, trend: float = 0.0) -> list[str]:
        return _values(self.rng, n, self.low, self.high, self.decimals, trend)

    def finish(self, lines: list[str], ax: str = "ax", grid: bool | None = None, legend: bool = False) -> None:
        rng = self.rng
        if grid is None:
            grid = rng.random() < 0.6
        if grid:
            axis = rng.choice(("both", "y", "y", "x"))
            style = rng.choice(LINESTYLES[1:])
            lines.append(f"{ax}.grid(True, axis={_q(axis)}, linestyle={_q(style)}, alpha={rng.choice((0.3, 0.5, 0.6))})")
        if legend:
            loc = rng.choice(LEGEND_LOCS)
            extra = rng.choice(("", ", frameon=False", ", fontsize=9", ", ncol=2"))
            lines.append(f"{ax}.legend(loc={_q(loc)}{extra})")
        if rng.random() < 0.25:
            lines.append(f"{ax}.set_facecolor({_q(rng.choice(FACECOLORS))})")
        if rng.random() < 0.3:
            lines.append(f"{ax}.spines['top'].set_visible(False)")
            lines.append(f"{ax}.spines['right'].set_visible(False)")


def _header(ctx: _Ctx, comment: str) -> list[str]:
    return ["import matplotlib.pyplot as plt", "import numpy as np", "", f"# {comment}"]


def _footer(ctx: _Ctx) -> list[str]:
    end = ctx.rng.choice(("show", "show", "savefig"))
    lines = ["", "plt.tight_layout()"]
    lines.append("plt.show()" if end == "show" else f"plt.savefig({_q(_slug(ctx.title) + '.png')}, dpi=100)")
    return lines


# --- single-axes drawing blocks: each appends data and drawing code for one axes variable -------------------------

def _block_bar(ctx: _Ctx, L: list[str], ax: str, prefix: str = "") -> None:
    rng = ctx.rng
    cats = ctx.categories
    name = ctx.series_names(1)[0]
    cv, vv = f"{prefix}categories", f"{prefix}{_slug(name)}"
    L += [f"{cv} = {cats!r}", f"{vv} = {_lit(ctx.vals(len(cats)))}"]
    if rng.random() < 0.4:
        colors = [rng.choice(ctx.palette) for _ in cats] if rng.random() < 0.5 else ctx.palette[: len(cats)]
        colors = (colors * 3)[: len(cats)]
        L.append(f"colors = {colors!r}")
        color = "colors"
    else:
        color = _q(ctx.palette[0])
    edge = rng.choice(("", ", edgecolor='black'", ", edgecolor='white', linewidth=1.2"))
    L.append(f"bars = {ax}.bar({cv}, {vv}, color={color}, width={rng.choice((0.5, 0.6, 0.7, 0.8))}{edge}, label={_q(name)})")
    if rng.random() < 0.5:
        fmt = "{:.1f}" if ctx.decimals else "{:.0f}"
        L += ["for bar in bars:",
              f"    {ax}.annotate({_q(fmt)}.format(bar.get_height()), (bar.get_x() + bar.get_width() / 2, bar.get_height()),",
              "                ha='center', va='bottom', fontsize=9, xytext=(0, 3), textcoords='offset points')"]
    L += [f"{ax}.set_xlabel({_q(ctx.xlabel)})", f"{ax}.set_ylabel({_q(ctx.ylabel)})"]


def _block_grouped(ctx: _Ctx, L: list[str], ax: str, stacked: bool = False, prefix: str = "") -> None:
    rng = ctx.rng
    cats = ctx.categories
    k = rng.randint(2, 4)
    names = ctx.series_names(k)
    L.append(f"{prefix}labels = {cats!r}")
    for nm in names:
        L.append(f"{prefix}{_slug(nm)} = {_lit(ctx.vals(len(cats)))}")
    L.append(f"x = np.arange(len({prefix}labels))")
    if stacked:
        L.append(f"bottom = np.zeros(len({prefix}labels))")
        for i, nm in enumerate(names):
            L.append(f"{ax}.bar(x, {prefix}{_slug(nm)}, 0.6, bottom=bottom, label={_q(nm)}, color={_q(ctx.palette[i])})")
            L.append(f"bottom += np.array({prefix}{_slug(nm)})")
    else:
        width = {2: 0.35, 3: 0.25, 4: 0.2}[k]
        L.append(f"width = {width}")
        for i, nm in enumerate(names):
            off = (i - (k - 1) / 2)
            off_s = "" if off == 0 else (f" + {off:g} * width" if off > 0 else f" - {-off:g} * width")
            hatch = f", hatch={_q(rng.choice(('//', '..', 'xx')))}" if rng.random() < 0.15 else ""
            L.append(f"{ax}.bar(x{off_s}, {prefix}{_slug(nm)}, width, label={_q(nm)}, color={_q(ctx.palette[i])}{hatch})")
    L += [f"{ax}.set_xticks(x)", f"{ax}.set_xticklabels({prefix}labels)",
          f"{ax}.set_xlabel({_q(ctx.xlabel)})", f"{ax}.set_ylabel({_q(ctx.ylabel)})"]


def _block_barh(ctx: _Ctx, L: list[str], ax: str, prefix: str = "") -> None:
    rng = ctx.rng
    cats = ctx.categories
    name = ctx.series_names(1)[0]
    L += [f"{prefix}names = {cats!r}", f"{prefix}values = {_lit(ctx.vals(len(cats)))}"]
    L.append(f"{ax}.barh({prefix}names, {prefix}values, color={_q(ctx.palette[0])}, height=0.6, label={_q(name)})")
    if rng.random() < 0.5:
        L += [f"for i, v in enumerate({prefix}values):",
              f"    {ax}.text(v, i, ' ' + str(v), va='center', fontsize=9)"]
    if rng.random() < 0.4:
        L.append(f"{ax}.invert_yaxis()")
    L += [f"{ax}.set_xlabel({_q(ctx.ylabel)})", f"{ax}.set_ylabel({_q(ctx.xlabel)})"]


def _block_line(ctx: _Ctx, L: list[str], ax: str, prefix: str = "") -> None:
    rng = ctx.rng
    cats = ctx.categories
    k = rng.randint(1, 4)
    names = ctx.series_names(k)
    L.append(f"{prefix}x_labels = {cats!r}")
    styles = rng.sample(LINESTYLES, min(k, 4)) if rng.random() < 0.5 else ["-"] * k
    markers = rng.sample(MARKERS, k)
    for i, nm in enumerate(names):
        L.append(f"{prefix}{_slug(nm)} = {_lit(ctx.vals(len(cats), trend=rng.uniform(-0.6, 0.8)))}")
    for i, nm in enumerate(names):
        lw = rng.choice((1.5, 2, 2, 2.5))
        L.append(f"{ax}.plot({prefix}x_labels, {prefix}{_slug(nm)}, marker={_q(markers[i])}, linestyle={_q(styles[i])}, "
                 f"linewidth={lw}, color={_q(ctx.palette[i])}, label={_q(nm)})")
    if rng.random() < 0.35:
        nm = names[0]
        L.append(f"peak = int(np.argmax({prefix}{_slug(nm)}))")
        L.append(f"{ax}.annotate('Peak', xy=(peak, {prefix}{_slug(nm)}[peak]), xytext=(peak, {prefix}{_slug(nm)}[peak] * 1.08),"
                 " ha='center', arrowprops=dict(arrowstyle='->', color='gray'))")
    L += [f"{ax}.set_xlabel({_q(ctx.xlabel)})", f"{ax}.set_ylabel({_q(ctx.ylabel)})"]
    if rng.random() < 0.3:
        L.append(f"{ax}.set_ylim({_fmt(ctx.low * 0.8, ctx.decimals)}, {_fmt(ctx.high * 1.15, ctx.decimals)})")


def _block_scatter(ctx: _Ctx, L: list[str], ax: str, prefix: str = "") -> None:
    rng = ctx.rng
    k = rng.randint(1, 3)
    names = ctx.series_names(k)
    n = rng.randint(8, 14)
    for i, nm in enumerate(names):
        xs = sorted(round(rng.uniform(0, 100), 1) for _ in range(n))
        slope = rng.uniform(-0.5, 1.2)
        ys = [round(ctx.low + (ctx.high - ctx.low) * (0.2 + 0.6 * (x / 100) * slope % 1) + rng.uniform(-5, 5), 1)
              for x in xs]
        L.append(f"{prefix}{_slug(nm)}_x = {xs!r}")
        L.append(f"{prefix}{_slug(nm)}_y = {ys!r}")
    for i, nm in enumerate(names):
        s = rng.choice((30, 50, 60, 80))
        L.append(f"{ax}.scatter({prefix}{_slug(nm)}_x, {prefix}{_slug(nm)}_y, s={s}, c={_q(ctx.palette[i])}, "
                 f"marker={_q(MARKERS[i % len(MARKERS)])}, alpha={rng.choice((0.7, 0.8, 1.0))}, "
                 f"edgecolors='black', label={_q(nm)})")
    L += [f"{ax}.set_xlabel({_q('Index (' + ctx.xlabel + ')')})", f"{ax}.set_ylabel({_q(ctx.ylabel)})"]


def _block_hist(ctx: _Ctx, L: list[str], ax: str, prefix: str = "") -> None:
    rng = ctx.rng
    n = rng.randint(20, 30)
    vals = [round(rng.gauss((ctx.low + ctx.high) / 2, (ctx.high - ctx.low) / 6), 1) for _ in range(n)]
    L.append(f"{prefix}samples = {vals!r}")
    bins = rng.choice((6, 8, 10))
    L.append(f"{ax}.hist({prefix}samples, bins={bins}, color={_q(ctx.palette[0])}, edgecolor='black', alpha=0.8, "
             f"label={_q(ctx.metric)})")
    L += [f"{ax}.set_xlabel({_q(ctx.ylabel)})", f"{ax}.set_ylabel('Frequency')"]


def _block_box(ctx: _Ctx, L: list[str], ax: str, prefix: str = "") -> None:
    rng = ctx.rng
    cats = ctx.categories[: rng.randint(3, min(5, len(ctx.categories)))]
    L.append(f"{prefix}groups = {cats!r}")
    for i, c in enumerate(cats):
        m = rng.uniform(ctx.low, ctx.high)
        spread = (ctx.high - ctx.low) / 8
        vals = [round(rng.gauss(m, spread), 1) for _ in range(9)]
        L.append(f"{prefix}group_{i} = {vals!r}")
    data = ", ".join(f"{prefix}group_{i}" for i in range(len(cats)))
    L.append(f"{prefix}data = [{data}]")
    L.append(f"box = {ax}.boxplot({prefix}data, patch_artist=True, widths=0.5)")
    L.append(f"{ax}.set_xticks(range(1, len({prefix}groups) + 1))")
    L.append(f"{ax}.set_xticklabels({prefix}groups)")
    L += [f"colors = {ctx.palette[: len(cats)]!r}",
          "for patch, color in zip(box['boxes'], colors):",
          "    patch.set_facecolor(color)"]
    L += [f"{ax}.set_xlabel({_q(ctx.xlabel)})", f"{ax}.set_ylabel({_q(ctx.ylabel)})"]


def _block_area(ctx: _Ctx, L: list[str], ax: str, prefix: str = "") -> None:
    rng = ctx.rng
    n = len(ctx.categories)
    names = ctx.series_names(2)
    L.append(f"{prefix}x = np.arange({n})")
    L.append(f"{prefix}periods = {ctx.categories!r}")
    L.append(f"{prefix}{_slug(names[0])} = {_lit(ctx.vals(n, 0.5))}")
    L.append(f"{prefix}{_slug(names[1])} = {_lit(ctx.vals(n, -0.3))}")
    for i, nm in enumerate(names):
        L.append(f"{ax}.fill_between({prefix}x, {prefix}{_slug(nm)}, color={_q(ctx.palette[i])}, alpha=0.4, label={_q(nm)})")
        L.append(f"{ax}.plot({prefix}x, {prefix}{_slug(nm)}, color={_q(ctx.palette[i])}, linewidth=2)")
    L += [f"{ax}.set_xticks({prefix}x)", f"{ax}.set_xticklabels({prefix}periods)",
          f"{ax}.set_xlabel({_q(ctx.xlabel)})", f"{ax}.set_ylabel({_q(ctx.ylabel)})"]


def _block_stackplot(ctx: _Ctx, L: list[str], ax: str, prefix: str = "") -> None:
    rng = ctx.rng
    n = len(ctx.categories)
    k = rng.randint(2, 4)
    names = ctx.series_names(k)
    L.append(f"{prefix}periods = {ctx.categories!r}")
    for nm in names:
        L.append(f"{prefix}{_slug(nm)} = {_lit(ctx.vals(n, rng.uniform(-0.3, 0.6)))}")
    L.append(f"{prefix}series_labels = {names!r}")
    stack = ", ".join(f"{prefix}{_slug(nm)}" for nm in names)
    L.append(f"{ax}.stackplot(range(len({prefix}periods)), {stack}, labels={prefix}series_labels, "
             f"colors={ctx.palette[:k]!r}, alpha=0.85)")
    L += [f"{ax}.set_xticks(range(len({prefix}periods)))", f"{ax}.set_xticklabels({prefix}periods)",
          f"{ax}.set_xlabel({_q(ctx.xlabel)})", f"{ax}.set_ylabel({_q(ctx.ylabel)})"]


def _block_errorbar(ctx: _Ctx, L: list[str], ax: str, prefix: str = "") -> None:
    rng = ctx.rng
    cats = ctx.categories
    k = rng.randint(1, 3)
    names = ctx.series_names(k)
    L.append(f"{prefix}conditions = {cats!r}")
    span = ctx.high - ctx.low
    for nm in names:
        L.append(f"{prefix}{_slug(nm)}_mean = {_lit(ctx.vals(len(cats)))}")
        errs = [_fmt(rng.uniform(0.03, 0.1) * span, max(ctx.decimals, 1)) for _ in cats]
        L.append(f"{prefix}{_slug(nm)}_err = {_lit(errs)}")
    for i, nm in enumerate(names):
        L.append(f"{ax}.errorbar({prefix}conditions, {prefix}{_slug(nm)}_mean, yerr={prefix}{_slug(nm)}_err, "
                 f"fmt={_q(rng.choice(MARKERS[:4]) + rng.choice(LINESTYLES))}, capsize={rng.choice((3, 4, 5))}, "
                 f"color={_q(ctx.palette[i])}, label={_q(nm)})")
    L += [f"{ax}.set_xlabel({_q(ctx.xlabel)})", f"{ax}.set_ylabel({_q(ctx.ylabel)})"]


def _block_pie(ctx: _Ctx, L: list[str], ax: str, prefix: str = "") -> None:
    rng = ctx.rng
    cats = ctx.categories
    shares = [rng.randint(5, 40) for _ in cats]
    L += [f"{prefix}labels = {cats!r}", f"{prefix}shares = {shares!r}", f"{prefix}colors = {(ctx.palette * 2)[: len(cats)]!r}"]
    explode = ""
    if rng.random() < 0.4:
        ex = [0.0] * len(cats)
        ex[rng.randrange(len(cats))] = 0.08
        L.append(f"{prefix}explode = {ex!r}")
        explode = f", explode={prefix}explode"
    donut = ", wedgeprops=dict(width=0.45, edgecolor='white')" if rng.random() < 0.3 else ""
    L.append(f"{ax}.pie({prefix}shares, labels={prefix}labels, colors={prefix}colors, autopct='%1.1f%%', "
             f"startangle={rng.choice((90, 140, 0))}{explode}{donut})")
    L.append(f"{ax}.axis('equal')")


def _block_heatmap(ctx: _Ctx, L: list[str], ax: str, prefix: str = "", fig: str = "fig") -> None:
    rng = ctx.rng
    rows = ctx.categories[: rng.randint(3, min(5, len(ctx.categories)))]
    cols = list(ctx.domain.categories[(ctx.domain.categories.index(tuple(ctx.categories)) + 1) % 4])[:6]
    dec = max(ctx.decimals, 1)
    matrix = [[float(_fmt(rng.uniform(ctx.low, ctx.high), dec)) for _ in cols] for _ in rows]
    L += [f"{prefix}row_labels = {rows!r}", f"{prefix}col_labels = {cols!r}", f"{prefix}data = np.array(["]
    L += [f"    {r!r}," for r in matrix]
    L.append("])")
    cmap = rng.choice(CMAPS)
    L.append(f"im = {ax}.imshow({prefix}data, cmap={_q(cmap)}, aspect='auto')")
    L.append(f"cbar = {fig}.colorbar(im, ax={ax})")
    L.append(f"cbar.set_label({_q(ctx.ylabel)})")
    L += [f"{ax}.set_xticks(np.arange(len({prefix}col_labels)))", f"{ax}.set_yticks(np.arange(len({prefix}row_labels)))",
          f"{ax}.set_xticklabels({prefix}col_labels)", f"{ax}.set_yticklabels({prefix}row_labels)"]
    if rng.random() < 0.6:
        fmt = "{:.1f}"
        L += [f"for i in range(len({prefix}row_labels)):",
              f"    for j in range(len({prefix}col_labels)):",
              f"        {ax}.text(j, i, {_q(fmt)}.format({prefix}data[i, j]), ha='center', va='center', color='black', fontsize=8)"]


BLOCKS = {
    "bar": _block_bar, "grouped_bar": _block_grouped, "barh": _block_barh, "line": _block_line,
    "scatter": _block_scatter, "histogram": _block_hist, "box": _block_box, "area": _block_area,
    "stackplot": _block_stackplot, "errorbar": _block_errorbar, "pie": _block_pie,
}


def _single(kind: str, ctx: _Ctx) -> str:
    rng = ctx.rng
    L = _header(ctx, f"{ctx.domain.name.capitalize()} data: {ctx.title}")
    use_plt = kind in ("bar", "line", "scatter", "histogram") and rng.random() < 0.3
    if kind == "heatmap":
        L.append(f"fig, ax = plt.subplots(figsize={ctx.figsize})")
        _block_heatmap(ctx, L, "ax")
        L.append(f"ax.set_title({_q(ctx.title)}, fontsize={rng.choice((12, 13, 14))})")
        return "\n".join(L + _footer(ctx)) + "\n"
    if use_plt:
        L.append(f"plt.figure(figsize={ctx.figsize})")
        block_lines: list[str] = []
        ax = "ax"
        if kind == "stacked_bar":
            _block_grouped(ctx, block_lines, ax, stacked=True)
        else:
            BLOCKS[kind](ctx, block_lines, ax)
        # Turn ax.set_xlabel → plt.xlabel and friends so pyplot-style scripts appear too.
        repl = {"ax.set_xlabel(": "plt.xlabel(", "ax.set_ylabel(": "plt.ylabel(", "ax.set_xticks(": "plt.xticks(",
                "ax.set_ylim(": "plt.ylim(", "ax.set_title(": "plt.title(", "ax.": "plt."}
        out = []
        for line in block_lines:
            for a, b in repl.items():
                line = line.replace(a, b)
            out.append(line)
        L += out
        L.append(f"plt.title({_q(ctx.title)})")
        finish: list[str] = []
        ctx.finish(finish, "plt.gca()", legend=kind != "histogram" or rng.random() < 0.5)
        L += [x.replace("plt.gca().grid(", "plt.grid(").replace("plt.gca().legend(", "plt.legend(") for x in finish]
        return "\n".join(L + _footer(ctx)) + "\n"
    L.append(f"fig, ax = plt.subplots(figsize={ctx.figsize})")
    if kind == "stacked_bar":
        _block_grouped(ctx, L, "ax", stacked=True)
    else:
        BLOCKS[kind](ctx, L, "ax")
    if kind == "pie":
        L.append(f"ax.set_title({_q(ctx.title)}, fontsize={rng.choice((12, 13, 14))})")
        if rng.random() < 0.5:
            L.append(f"ax.legend(title={_q(ctx.xlabel)}, loc='center left', bbox_to_anchor=(1.0, 0.5))")
        return "\n".join(L + _footer(ctx)) + "\n"
    weight = rng.choice(("", ", fontweight='bold'"))
    L.append(f"ax.set_title({_q(ctx.title)}, fontsize={rng.choice((12, 13, 14))}{weight})")
    legend = kind in ("grouped_bar", "stacked_bar", "line", "scatter", "area", "stackplot", "errorbar") or rng.random() < 0.4
    ctx.finish(L, "ax", legend=legend)
    if kind == "bar" and rng.random() < 0.3:
        L.append("plt.xticks(rotation=30, ha='right')")
    return "\n".join(L + _footer(ctx)) + "\n"


def _subplots(ctx: _Ctx) -> str:
    rng = ctx.rng
    n = rng.randint(2, 4)
    layout = {2: rng.choice(((1, 2), (2, 1))), 3: rng.choice(((1, 3), (3, 1))), 4: (2, 2)}[n]
    kinds = [rng.choice(("bar", "line", "scatter", "histogram", "barh", "pie", "grouped_bar", "errorbar", "area", "box"))
             for _ in range(n)]
    L = _header(ctx, f"{ctx.domain.name.capitalize()} dashboard: {ctx.title}")
    w, h = {1: (5 * layout[1], 4.5), 2: (10, 8), 3: (6, 10)}[layout[0]] if layout != (2, 2) else (11, 8)
    share = rng.choice(("", "", ", sharey=True")) if layout[0] == 1 and "pie" not in kinds and "barh" not in kinds else ""
    if layout == (2, 2):
        L.append(f"fig, axes = plt.subplots(2, 2, figsize=({w}, {h}){share})")
        refs = ["axes[0, 0]", "axes[0, 1]", "axes[1, 0]", "axes[1, 1]"]
    elif rng.random() < 0.5:
        names = [f"ax{i + 1}" for i in range(n)]
        L.append(f"fig, ({', '.join(names)}) = plt.subplots({layout[0]}, {layout[1]}, figsize=({w}, {h}){share})")
        refs = names
    else:
        L.append(f"fig, axes = plt.subplots({layout[0]}, {layout[1]}, figsize=({w}, {h}){share})")
        refs = [f"axes[{i}]" for i in range(n)]
    titles = list(ctx.domain.titles)
    rng.shuffle(titles)
    for i, (kind, ref) in enumerate(zip(kinds, refs)):
        L.append("")
        L.append(f"# Panel {i + 1}: {kind.replace('_', ' ')}")
        ctx.palette = ctx.palette[1:] + ctx.palette[:1]
        BLOCKS[kind](ctx, L, ref, prefix=f"p{i + 1}_")
        L.append(f"{ref}.set_title({_q(titles[i % len(titles)])})")
        if kind in ("grouped_bar", "line", "errorbar", "area", "scatter") and rng.random() < 0.7:
            L.append(f"{ref}.legend(loc={_q(rng.choice(LEGEND_LOCS))}, fontsize=8)")
        if kind != "pie" and rng.random() < 0.5:
            L.append(f"{ref}.grid(True, linestyle={_q(rng.choice(LINESTYLES[1:]))}, alpha=0.5)")
    if rng.random() < 0.6:
        L.append(f"fig.suptitle({_q(ctx.title)}, fontsize=15)")
    return "\n".join(L + _footer(ctx)) + "\n"


def _twin(ctx: _Ctx) -> str:
    rng = ctx.rng
    cats = ctx.categories
    names = ctx.series_names(2)
    other = rng.choice([m for m in ctx.domain.metrics if m[0] != ctx.metric])
    L = _header(ctx, f"{ctx.domain.name.capitalize()} data on two scales")
    a, b = _slug(names[0]), _slug(names[1])
    L += [f"periods = {cats!r}", f"{a} = {_lit(ctx.vals(len(cats), 0.4))}",
          f"{b} = {_lit(_values(rng, len(cats), other[2], other[3], 1 if other[3] <= 10 else 0, -0.2))}"]
    L.append(f"fig, ax1 = plt.subplots(figsize={ctx.figsize})")
    c1, c2 = ctx.palette[0], ctx.palette[1]
    first = rng.choice(("bar", "plot"))
    if first == "bar":
        L.append(f"ax1.bar(periods, {a}, color={_q(c1)}, alpha=0.8, label={_q(names[0])})")
    else:
        L.append(f"ax1.plot(periods, {a}, color={_q(c1)}, marker='o', linewidth=2, label={_q(names[0])})")
    L += [f"ax1.set_xlabel({_q(ctx.xlabel)})", f"ax1.set_ylabel({_q(ctx.ylabel)}, color={_q(c1)})",
          f"ax1.tick_params(axis='y', labelcolor={_q(c1)})", "", "ax2 = ax1.twinx()",
          f"ax2.plot(periods, {b}, color={_q(c2)}, marker={_q(rng.choice(MARKERS))}, "
          f"linestyle={_q(rng.choice(LINESTYLES))}, linewidth=2, label={_q(names[1])})",
          f"ax2.set_ylabel({_q(other[0] + ' (' + other[1] + ')')}, color={_q(c2)})",
          f"ax2.tick_params(axis='y', labelcolor={_q(c2)})"]
    L.append(f"ax1.set_title({_q(ctx.title)})")
    if rng.random() < 0.7:
        L += ["lines_1, labels_1 = ax1.get_legend_handles_labels()", "lines_2, labels_2 = ax2.get_legend_handles_labels()",
              f"ax1.legend(lines_1 + lines_2, labels_1 + labels_2, loc={_q(rng.choice(LEGEND_LOCS))})"]
    if rng.random() < 0.5:
        L.append(f"ax1.grid(True, axis='y', linestyle='--', alpha=0.4)")
    return "\n".join(L + _footer(ctx)) + "\n"


def build(kind: str, rng: random.Random) -> str:
    """The program for one kind, drawn from ``rng``."""
    ctx = _Ctx(rng)
    if kind == "subplots":
        return _subplots(ctx)
    if kind == "twin_axes":
        return _twin(ctx)
    return _single(kind, ctx)
