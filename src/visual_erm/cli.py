"""`verm`: every stage of Visual-ERM as a command. KFP components call the same library functions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    help="Visual-ERM: render vision-to-code output safely, synthesize reward data, train and benchmark critics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks that print ratios against a baseline measured in the same run.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")

EXTENSIONS = {".py": "chart", ".svg": "svg", ".svgz": "svg", ".html": "table", ".htm": "table", ".md": "table"}


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _task_of(path: Path, task: str) -> str:
    if task != "auto":
        return task
    try:
        return EXTENSIONS[path.suffix.lower()]
    except KeyError:
        _fail(f"cannot tell the task of {path} from its extension; pass --task chart|table|svg")
        raise


@app.command()
def render(
    files: list[Path] = typer.Argument(..., help="Programs to render: .py = chart, .svg/.svgz = svg, .html/.md = table."),
    task: str = typer.Option("auto", help="auto (by extension) | chart | table | svg."),
    out: Path = typer.Option(Path("renders"), help="Directory for <stem>.png of every input that rendered."),
    timeout: float = typer.Option(15.0, help="Wall-clock seconds per program (the paper's released code uses 15)."),
    workers: int = typer.Option(0, help="Sandboxed workers (0 = one per core)."),
    extract: bool = typer.Option(False, help="Inputs are model responses: extract the program first."),
    unsafe_no_sandbox: bool = typer.Option(False, help="Run without the sandbox (trusted inputs only!)."),
) -> None:
    """Render programs in the sandbox; print one JSON line per input. Exit 0 when the run completed."""
    from visual_erm.render.api import RenderJob, RenderOptions
    from visual_erm.render.pool import RenderPool

    if task not in ("auto", "chart", "table", "svg"):
        _fail(f"--task must be auto, chart, table or svg (got {task!r})")
    jobs = []
    for f in files:
        if not f.is_file():
            _fail(f"{f} is not a file")
        t = _task_of(f, task)
        data = f.read_bytes()
        source = data.decode("latin-1") if f.suffix.lower() == ".svgz" else data.decode("utf-8", errors="replace")
        jobs.append(RenderJob(f.stem, t, source, RenderOptions(timeout_s=timeout), extract=extract))
    out.mkdir(parents=True, exist_ok=True)
    with RenderPool(workers=workers or None, unsafe_no_sandbox=unsafe_no_sandbox) as pool:
        results = pool.render(jobs)
    for res in results:
        png_path = None
        if res.ok and res.png:
            png_path = out / f"{res.id}.png"
            png_path.write_bytes(res.png)
        print(json.dumps({"id": res.id, "status": res.status.value, "png": str(png_path) if png_path else None,
                          "ms": round(res.total_ms, 1), "message": res.message}))


@app.command()
def synth(
    out: Path = typer.Option(..., help="Dataset directory (local path). A rerun finishes what is missing."),
    tasks: str = typer.Option("chart,table,svg", help="Comma-separated tasks."),
    n: int = typer.Option(300, help="Target number of pairs over all tasks (natural samples come on top)."),
    seed: int = typer.Option(0, help="Seed: the same seed and options give byte-identical shards."),
    candidates_per_seed: int = typer.Option(3, help="Candidates made from each seed program."),
    max_edits: int = typer.Option(4, help="At most this many composed edits per candidate (1-4)."),
    identity_share: float = typer.Option(0.1, help="Share of identity (error-free) pairs."),
    corpus: Optional[Path] = typer.Option(None, help="JSONL of user programs ({task, code, id}) used as seeds first."),
    natural_endpoint: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint of a policy model."),
    natural_model: str = typer.Option("policy", help="Model name to ask at --natural-endpoint."),
    natural_per_seed: int = typer.Option(1, help="Natural candidates per seed when an endpoint is given."),
    timeout: float = typer.Option(15.0, help="Render timeout per program, seconds."),
    workers: int = typer.Option(0, help="Sandboxed render workers (0 = one per core)."),
) -> None:
    """Synthesize a verified pair dataset: seeds → edited / natural / identity candidates → render check → Parquet."""
    from pydantic import ValidationError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from visual_erm.render.pool import RenderPool
    from visual_erm.synth.corpus import CorpusError
    from visual_erm.synth.engine import ConfigMismatch, SynthConfig, synthesize

    try:
        cfg = SynthConfig(
            tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()), n=n, seed=seed,
            candidates_per_seed=candidates_per_seed, max_edits=max_edits, identity_share=identity_share,
            corpus=str(corpus) if corpus else None, natural_endpoint=natural_endpoint, natural_model=natural_model,
            natural_per_seed=natural_per_seed, timeout_s=timeout,
        )
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    with RenderPool(workers=workers or None) as pool, Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        transient=False,
    ) as bar:
        job = bar.add_task("synthesizing chunks", total=None)
        try:
            report = synthesize(cfg, out, render=pool.render,
                                progress=lambda done, total: bar.update(job, completed=done, total=total))
        except (ConfigMismatch, CorpusError) as exc:
            _fail(str(exc))
    counts = report.manifest["counts"]
    typer.echo(json.dumps({"out": str(out), "pairs": report.pairs, "seconds": round(report.seconds, 1),
                           "pairs_per_s": round(report.pairs_per_s, 3), "chunks_built": report.chunks_done,
                           "chunks_reused": report.chunks_skipped, "by_task": counts["by_task"],
                           "by_category": counts["by_category"],
                           "structural_critic_agreement":
                               report.manifest["verification"]["structural_critic_agreement"]}, indent=1))


@app.command("eval-structural")
def eval_structural(
    n: int = typer.Option(100, help="Held-out candidates per task."),
    seed: int = typer.Option(12345, help="Seed of the held-out set (far from the seeds used in development)."),
    tasks: str = typer.Option("chart,table,svg", help="Comma-separated tasks."),
    workers: int = typer.Option(0, help="Render workers for charts (0 = one per core)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the figures to this file."),
) -> None:
    """Measure the structural critic against operators' gold labels: one-to-one P/R by category per task."""
    from visual_erm.critics.evaluate import evaluate_structural

    results = evaluate_structural([t.strip() for t in tasks.split(",") if t.strip()], n=n, seed=seed,
                                  workers=workers or None)
    text = json.dumps(results, indent=1)
    typer.echo(text)
    if json_out:
        json_out.write_text(text + "\n")


@bench_app.command("render")
def bench_render(
    workers: int = typer.Option(2, help="Workers for the pool, the naive baseline and the ceiling alike."),
    n_charts: int = typer.Option(60, help="ChartMimic programs per measurement."),
    n_svg: int = typer.Option(120, help="SVG icons through the pool."),
    n_tables: int = typer.Option(16, help="Tables per browser mode."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the figures to this file."),
) -> None:
    """Renders/s, CPU-s per render, p50/p95 latency: naive vs pool vs in-process ceiling; SVG; tables."""
    from visual_erm.render.bench import format_report, run_render_bench

    results = run_render_bench(workers=workers, n_charts=n_charts, n_svg=n_svg, n_tables=n_tables)
    typer.echo(format_report(results))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(results, indent=1) + "\n")


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), help="Run folder for the gallery and the demo dataset."),
    n: int = typer.Option(30, help="Pairs in the demo dataset."),
) -> None:
    """The embedded default: render a gallery of sample programs, then synthesize a small verified dataset."""
    from visual_erm.demo import run_demo

    paths = run_demo(out, n=n)
    for name, p in paths.items():
        typer.echo(f"{name}: {p}")


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
