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


def _set_overrides(items: list[str]) -> dict:
    """Parse repeated ``--set KEY=VALUE`` options (VALUE read as YAML) into a profile-override dict."""
    import yaml

    overrides: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _fail(f"--set takes KEY=VALUE, got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


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


def _workdir() -> Path:
    """Local working directory for s3:// inputs and outputs (``VERM_WORKDIR``, default ~/.cache/visual-erm/work)."""
    import os

    return Path(os.environ.get("VERM_WORKDIR", "~/.cache/visual-erm/work")).expanduser()


def _ratios(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        _fail(f"--split-ratios takes three numbers like 0.8,0.1,0.1 (got {text!r})")
    return parts  # type: ignore[return-value]


@app.command()
def synth(
    out: str = typer.Option(..., help="Dataset directory or s3://bucket/prefix. A rerun finishes what is missing."),
    tasks: str = typer.Option("chart,table,svg", help="Comma-separated tasks."),
    n: int = typer.Option(300, help="Target number of pairs over all tasks (natural samples come on top)."),
    seed: int = typer.Option(0, help="Seed: the same seed and options give byte-identical shards."),
    candidates_per_seed: int = typer.Option(3, help="Candidates made from each seed program."),
    max_edits: int = typer.Option(4, help="At most this many composed edits per candidate (1-4)."),
    identity_share: float = typer.Option(0.1, help="Share of identity (error-free) pairs."),
    split_ratios: str = typer.Option("0.8,0.1,0.1", help="train,val,test shares by seed program (sum 1)."),
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

    from visual_erm import storage
    from visual_erm.render.pool import RenderPool
    from visual_erm.synth.corpus import CorpusError
    from visual_erm.synth.engine import ConfigMismatch, SynthConfig, synthesize

    try:
        cfg = SynthConfig(
            tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()), n=n, seed=seed,
            candidates_per_seed=candidates_per_seed, max_edits=max_edits, identity_share=identity_share,
            split_ratios=_ratios(split_ratios),
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
        local_out = storage.local_output(out, _workdir())
        try:
            report = synthesize(cfg, local_out, render=pool.render,
                                progress=lambda done, total: bar.update(job, completed=done, total=total))
            storage.publish_output(local_out, out)
        except (ConfigMismatch, CorpusError, storage.StorageError) as exc:
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


@bench_app.command("critic")
def bench_critic(
    bench: str = typer.Option(..., help="Bench set directory (bench.jsonl), a VC-RewardBench JSONL, a pair dataset "
                                        "(its test split is used) or an s3:// URI of one."),
    critic: str = typer.Option(..., help="Critic: pixel, structural, another registered name or 'module:Factory'."),
    out: Optional[str] = typer.Option(None, help="Output directory or s3:// URI (default: runs/bench-critic/<critic>)."),
    matcher: str = typer.Option("deterministic", help="deterministic (offline) | llm (the paper's LLM judge)."),
    judge_endpoint: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint of the judge (--matcher llm)."),
    judge_model: Optional[str] = typer.Option(None, help="Judge model name at --judge-endpoint."),
    workers: int = typer.Option(0, help="Render workers of the critic / concurrent judge calls (0 = default)."),
    max_items: int = typer.Option(0, help="Score only N items, taken in turn from each task (0 = all)."),
    critique_failure: str = typer.Option(
        "unparseable_as_empty", help="How an item the critic failed on counts: unparseable_as_empty (an unreadable "
        "critique found nothing; infrastructure failures are excluded) | as_empty (every failure found nothing) | "
        "exclude (every failure is left out and listed)."),
) -> None:
    """Benchmark a critic: F1-hard, F1-soft and Sc per task and category; metrics.json and report.html."""
    import shutil
    import tempfile

    from visual_erm import storage
    from visual_erm.bench.benchset import BenchSetError
    from visual_erm.bench.run_critic import run_critic_bench

    from visual_erm.bench.critic_metrics import CRITIQUE_FAILURE_MODES

    if matcher not in ("deterministic", "llm"):
        _fail(f"--matcher must be deterministic or llm (got {matcher!r})")
    if critique_failure not in CRITIQUE_FAILURE_MODES:
        _fail(f"--critique-failure must be one of {', '.join(CRITIQUE_FAILURE_MODES)} (got {critique_failure!r})")
    if matcher == "llm" and not (judge_endpoint and judge_model):
        _fail("--matcher llm needs --judge-endpoint and --judge-model")
    out = out or f"runs/bench-critic/{critic.replace(':', '_')}"
    workdir = Path(tempfile.mkdtemp(prefix="verm-bench-critic-"))
    try:
        try:
            bench_dir = storage.resolve_input(bench, workdir)
        except storage.StorageError as exc:
            _fail(f"cannot read --bench {bench}: {exc}")
        out_dir = storage.local_output(out, workdir)
        try:
            result = run_critic_bench(bench_dir, critic, out_dir, matcher=matcher, judge_endpoint=judge_endpoint,
                                      judge_model=judge_model, workers=workers or None, max_items=max_items or None,
                                      critique_failure=critique_failure)
        except (BenchSetError, ValueError) as exc:
            _fail(str(exc))
        dest = storage.publish_output(out_dir, out)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    s = result["summary"]
    typer.echo(f"critic {critic}: {s['n_scored']}/{s['n_items']} items scored, {s['n_excluded']} excluded "
               f"(matcher {result['matcher']})")
    typer.echo(f"{'':8s} {'n':>5s} {'F1-hard':>8s} {'F1-soft':>8s} {'Sc':>7s}")
    for name, row in [("overall", s["overall"])] + list(s["by_task"].items()):
        sc = "n/a" if row["sc"] is None else f"{row['sc']:.1f}"
        f1h, f1s = ("n/a" if row[k] is None else f"{row[k]:.1f}" for k in ("f1_hard", "f1_soft"))
        typer.echo(f"{name:8s} {row['n']:5d} {f1h:>8s} {f1s:>8s} {sc:>7s}")
    typer.echo(f"metrics: {dest}/metrics.json\nreport:  {dest}/report.html")


@bench_app.command("rm")
def bench_rm(
    model: Path = typer.Option(..., help="A trained reward model (verm train-rm output)."),
    bench: Path = typer.Option(..., help="Bench set directory, VC-RewardBench JSONL or pair dataset (test split)."),
    out: Path = typer.Option(Path("runs/bench-rm"), help="Output directory: rm-check.json and both benchmark runs."),
    max_items: int = typer.Option(60, help="Items to critique, taken in turn from each task (0 = all)."),
    max_tokens: int = typer.Option(384, help="Generation limit per critique."),
    served: bool = typer.Option(True, help="Also check that `verm serve` (on 127.0.0.1) gives identical critiques."),
) -> None:
    """Did the reward model learn? Benchmark it against its untrained twin (same architecture, fresh weights) under
    greedy decoding, and check that the served model critiques exactly as the in-process one."""
    from visual_erm.bench.benchset import BenchSetError
    from visual_erm.bench.rm_check import compare_with_untrained, served_agreement

    try:
        result = compare_with_untrained(model, bench, out, max_items=max_items or None, max_tokens=max_tokens)
        if served:
            result["served"] = served_agreement(model, bench, max_items=max_items or None, max_tokens=max_tokens)
    except (BenchSetError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    (out / "rm-check.json").write_text(json.dumps(result, indent=1) + "\n")

    def f(v) -> str:
        return "n/a" if v is None else f"{v:.1f}"

    typer.echo(f"{'':10s} {'scored':>7s} {'F1-hard':>8s} {'F1-soft':>8s} {'Sc':>7s}")
    for name in ("untrained", "trained"):
        r = result[name]
        typer.echo(f"{name:10s} {r['n_scored']:3d}/{r['n_items']:<3d} {f(r['f1_hard']):>8s} {f(r['f1_soft']):>8s} "
                   f"{f(r['sc']):>7s}")
    d = result["delta"]
    typer.echo(f"{'delta':10s} {'':7s} {f(d['f1_hard']):>8s} {f(d['f1_soft']):>8s} {f(d['sc']):>7s}")
    if served:
        s = result["served"]
        typer.echo(f"served vs in-process (greedy): identical text {s['identical_text']}/{s['n']}, identical "
                   f"critique {s['identical_result']}/{s['n']}, parseable {s['parseable']}/{s['n']}")
    typer.echo(f"details: {out / 'rm-check.json'}")


@bench_app.command("policy")
def bench_policy(
    data: str = typer.Option(..., help="Items: a pair dataset or an RL prompt set (its --split), a bench set, a "
                                       "prompt-list JSONL, or an s3:// URI of one."),
    responses: Optional[str] = typer.Option(None, help="The policy's responses: JSONL of {id, response} (or s3://)."),
    endpoint: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint of the policy (instead of "
                                                      "--responses)."),
    model: Optional[str] = typer.Option(None, help="Policy model name at --endpoint."),
    critic: Optional[str] = typer.Option(None, help="Critic for the Visual-ERM score (pixel, structural, vlm, ...)."),
    reward_variant: str = typer.Option("released", help="Reward formula for the critic's severities."),
    out: Optional[str] = typer.Option(None, help="Output directory or s3:// URI (default: runs/bench-policy)."),
    split: str = typer.Option("test", help="Split of a pair dataset."),
    workers: int = typer.Option(0, help="Render workers and concurrent endpoint calls (0 = default)."),
    timeout: float = typer.Option(15.0, help="Render timeout per response, seconds."),
    max_items: int = typer.Option(0, help="Benchmark only the first N items (0 = all)."),
) -> None:
    """Benchmark a policy: execution rate, chart/table/SVG metrics, Visual-ERM score; metrics.json and report.html."""
    import shutil
    import tempfile

    from visual_erm import storage
    from visual_erm.bench.policy import PolicyBenchError, run_policy_bench

    if (responses is None) == (endpoint is None):
        _fail("give exactly one of --responses FILE and --endpoint URL (with --model)")
    if endpoint and not model:
        _fail("--endpoint needs --model")
    out = out or "runs/bench-policy"
    workdir = Path(tempfile.mkdtemp(prefix="verm-bench-policy-"))
    try:
        try:
            data_dir = storage.resolve_input(data, workdir)
            resp_path = storage.resolve_input(responses, workdir) if responses else None
        except storage.StorageError as exc:
            _fail(f"cannot read an input: {exc}")
        out_dir = storage.local_output(out, workdir)
        try:
            result = run_policy_bench(data_dir, out_dir, responses=resp_path, endpoint=endpoint, model=model,
                                      critic=critic, reward_variant=reward_variant, split=split,
                                      workers=workers or None, timeout_s=timeout, max_items=max_items or None,
                                      policy_name=model if endpoint else responses)
        except (PolicyBenchError, ValueError) as exc:
            _fail(str(exc))
        dest = storage.publish_output(out_dir, out)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    o = result["overall"]
    typer.echo(f"policy {result['policy']}: {o['n_scored']}/{o['n_items']} items scored, execution rate "
               f"{100 * (o['exec_rate'] or 0):.1f}%")
    for task, g in result["by_task"].items():
        shown = ", ".join(f"{k} {v:.4f}" for k, v in g["metrics"].items()
                          if v is not None and not k.endswith(("_n", "_on_executed")))
        verm = g.get("verm")
        extra = f", reward {verm['reward_mean']:.3f}" if verm and verm.get("reward_mean") is not None else ""
        typer.echo(f"  {task:6s} n={g['n_scored']:4d} exec {100 * (g['exec_rate'] or 0):5.1f}%  {shown}{extra}")
    typer.echo(f"metrics: {dest}/metrics.json\nreport:  {dest}/report.html")


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


@app.command("validate")
def validate_cmd(
    dataset: str = typer.Argument(..., help="Dataset directory or s3:// prefix (pairs, RL prompts or bench set)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Folder for Data Docs HTML, report.html and "
                                                                 "report.json (default: a temporary folder)."),
    kind: Optional[str] = typer.Option(None, help="pairs, rl-prompts or bench (default: manifest.json's format)."),
    min_per_category: int = typer.Option(1, help="Labelled errors each category of a task needs at least ..."),
    min_pairs_for_balance: int = typer.Option(200, help="... once the task has this many pairs."),
    identity_share_max: float = typer.Option(0.5, help="Highest allowed share of identity pairs."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON instead of text."),
) -> None:
    """Validate a dataset with Great Expectations; exit 1 listing each failed expectation and offending ids."""
    from visual_erm import storage
    from visual_erm.validation import validate_dataset

    try:
        local = storage.resolve_input(dataset, _workdir())
    except storage.StorageError as exc:
        _fail(str(exc))
        raise
    if not local.is_dir():
        _fail(f"{dataset} is not a dataset directory")
    try:
        result = validate_dataset(local, kind=kind, report_dir=report, min_per_category=min_per_category,
                                  min_pairs_for_balance=min_pairs_for_balance, identity_share_max=identity_share_max)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(str(exc))
        raise
    typer.echo(json.dumps(result.to_json_dict(), indent=1, default=str) if json_out else result.format())
    typer.echo(f"report: {result.report_dir / 'report.html'}", err=True)
    if not result.success:
        raise typer.Exit(1)


@app.command("train-rm")
def train_rm(
    data: str = typer.Option(..., help="Pair dataset (verm synth output): a local directory or s3://bucket/prefix."),
    out: str = typer.Option(..., help="Where the trained reward model goes: a local directory or s3:// prefix."),
    profile: str = typer.Option("tiny", help="Training profile: tiny | qwen3-vl-8b | a YAML path."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps (overrides epochs)."),
    epochs: Optional[float] = typer.Option(None, help="Training epochs (the paper: 3)."),
    base: Optional[str] = typer.Option(None, help="Base weights to fine-tune (local path or s3://), for base profiles."),
    set_: list[str] = typer.Option([], "--set", help="Profile override KEY=VALUE (YAML value), e.g. training.learning_rate=1e-4."),
    resume: bool = typer.Option(True, help="Resume from the last checkpoint of an earlier run with the same --out."),
    workdir: Optional[Path] = typer.Option(None, help="Local work directory (checkpoints); default <out>.work."),
) -> None:
    """Fine-tune the Visual-ERM reward model (TRL SFT) on a pair dataset; print the metrics as JSON."""
    from visual_erm.rm.profile import ProfileError
    from visual_erm.rm.train import train_reward_model

    overrides = _set_overrides(set_)
    if max_steps is not None:
        overrides["training.max_steps"] = max_steps
    if epochs is not None:
        overrides["training.epochs"] = epochs
    if base is not None:
        overrides["model.base"] = base
        overrides["model.tiny"] = None
    try:
        metrics = train_reward_model(data, out, profile, overrides, resume=resume, workdir=workdir)
    except ProfileError as exc:
        _fail(str(exc))
    summary = {k: v for k, v in metrics.items() if k not in ("loss_curve",)}
    summary["eval"] = {k: v for k, v in (metrics.get("eval") or {}).items() if k != "samples"}
    typer.echo(json.dumps(summary, indent=1))


@app.command("serve")
def serve_cmd(
    model: str = typer.Argument(..., help="Reward-model directory (train-rm output or any Qwen-VL checkpoint)."),
    port: int = typer.Option(8000, help="TCP port."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (0.0.0.0 to expose it)."),
    served_model_name: Optional[str] = typer.Option(None, help="Model id in /v1/models (default: visual-erm)."),
    device: Optional[str] = typer.Option(None, help="cpu | cuda (default: CUDA when present)."),
) -> None:
    """Serve a reward model over an OpenAI-compatible API: /v1/chat/completions, /v1/models, /health."""
    from visual_erm.serve.server import RewardModelServer

    if not Path(model).is_dir():
        _fail(f"{model} is not a model directory")
    server = RewardModelServer(model, host=host, port=port, served_name=served_model_name, device=device)
    typer.echo(f"serving {server.served_name!r} at {server.url}/v1 (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # pragma: no cover
        pass
    finally:
        server.httpd.server_close()


@app.command("critique")
def critique_cmd(
    ref: Path = typer.Option(..., help="Reference image (PNG/JPEG)."),
    cand: Path = typer.Option(..., help="Candidate image rendered from the candidate program."),
    task: str = typer.Option(..., help="chart | table | svg."),
    critic: str = typer.Option("vlm", help="Critic: vlm, structural, pixel or a 'module:Factory' spec."),
    endpoint: Optional[list[str]] = typer.Option(None, help="OpenAI-compatible endpoint(s) of the reward model "
                                                            "(vlm critic, HTTP backend; repeat for several)."),
    model: Optional[str] = typer.Option(None, help="Reward-model directory (vlm, in-process) or served model name "
                                                   "(with --endpoint)."),
    ref_code: Optional[Path] = typer.Option(None, help="Reference program (structural critic)."),
    cand_code: Optional[Path] = typer.Option(None, help="Candidate program (structural critic)."),
    variant: str = typer.Option("released", help="Reward variant: paper, released, released-strict, table-released, "
                                                  "table-released-strict, auto. (paper normalises S by the batch "
                                                  "maximum: alone, any S > 0 gets fidelity ~0.)"),
    sampling: str = typer.Option("paper", help="vlm critic decoding: paper | greedy."),
    max_tokens: Optional[int] = typer.Option(None, help="vlm critic generation budget."),
) -> None:
    """Critique one (reference, candidate) pair; print the critique JSON and the reward under --variant."""
    from visual_erm.critics.base import CritiqueFailure, CritiqueInput
    from visual_erm.critics.registry import get_critic
    from visual_erm.reward.formulas import VARIANTS, Outcome, compute_rewards

    if task not in ("chart", "table", "svg"):
        _fail(f"--task must be chart, table or svg (got {task!r})")
    if variant not in VARIANTS:
        _fail(f"--variant must be one of {', '.join(VARIANTS)} (got {variant!r})")
    for p in (ref, cand):
        if not p.is_file():
            _fail(f"{p} does not exist")
    options: dict = {}
    if critic == "vlm":
        if not endpoint and not model:
            _fail("the vlm critic needs --model DIR (in-process) or --endpoint URL")
        options = {"endpoint": list(endpoint) if endpoint else None, "model": model, "sampling": sampling,
                   "max_tokens": max_tokens}
    try:
        crit = get_critic(critic, **options)
    except (ValueError, TypeError) as exc:
        _fail(str(exc))
    item = CritiqueInput("cli", task, ref.read_bytes(), cand.read_bytes(),
                         reference_code=ref_code.read_text() if ref_code else None,
                         candidate_code=cand_code.read_text() if cand_code else None)
    with crit:
        res = crit.critique_many([item])[0]
    if isinstance(res, CritiqueFailure):
        kind = "unparseable" if res.reason == "unparseable" else "critic_error"
        outcome = Outcome(kind, task=task, detail=res.message)
        out = {"critique": None, "failure": {"reason": res.reason, "message": res.message}}
    else:
        outcome = Outcome.critiqued(res.severity_sum, task)
        out = {"critique": res.to_json_dict(), "severity_sum": res.severity_sum}
    out["variant"] = variant
    out["reward"] = compute_rewards(variant, [outcome])[0]
    typer.echo(json.dumps(out, indent=1, ensure_ascii=False))


# `verm pipeline ...`: compile, run locally, submit and schedule the Kubeflow pipelines (visual_erm.pipeline_cli)
from visual_erm.pipeline_cli import pipeline_app  # noqa: E402

app.add_typer(pipeline_app, name="pipeline")


@app.command("build-prompts")
def build_prompts_cmd(
    source: str = typer.Argument(..., help="Pair dataset directory (verm synth output; local or s3://) or a JSONL "
                                           "corpus of reference programs."),
    out: Path = typer.Option(..., help="Output directory of the RL prompt set (manifest.json is written last)."),
    tasks: str = typer.Option("all", help="all, or a comma list of chart, table, svg."),
    n: Optional[int] = typer.Option(None, help="At most this many prompts per task (default: all)."),
    split: str = typer.Option("train", help="all, or a comma list of train, validation, test."),
    workers: int = typer.Option(0, help="Render workers for a corpus source (0 = one per core)."),
    unsafe_no_sandbox: bool = typer.Option(False, help="Render corpus programs without the sandbox (trusted only!)."),
) -> None:
    """Build an RL prompt set (reference images + policy prompts; reference programs kept for evaluation)."""
    from visual_erm.rl.prompts_set import PromptSetError, build_prompt_set

    try:
        manifest = build_prompt_set(source, out, tasks, n, split, workers=workers or None,
                                    unsafe_no_sandbox=unsafe_no_sandbox)
    except PromptSetError as exc:
        _fail(str(exc))
    typer.echo(json.dumps({k: manifest[k] for k in ("format", "counts", "dropped")}, indent=1))


@app.command("train-policy")
def train_policy_cmd(
    prompts: str = typer.Argument(..., help="RL prompt set (verm build-prompts output; local or s3://)."),
    out: str = typer.Option(..., help="Output: a directory or an s3:// prefix."),
    profile: str = typer.Option("tiny", help="Profile: tiny (CPU) | qwen3-vl-8b (GPU, paper settings) | YAML path."),
    reward_endpoint: Optional[list[str]] = typer.Option(None, help="Served reward model (OpenAI-compatible URL; "
                                                                   "vLLM or verm serve). Repeat for several."),
    reward_model: Optional[str] = typer.Option(None, help="Reward-model directory, run in process instead."),
    variant: Optional[str] = typer.Option(None, help="Reward variant: paper, released, released-strict, "
                                                     "table-released, table-released-strict, auto."),
    baseline: Optional[list[str]] = typer.Option(None, help="Baseline rewards logged alongside: ssim, teds, "
                                                            "structural. Repeat for several."),
    max_steps: Optional[int] = typer.Option(None, help="Optimizer steps (default: the profile's)."),
    set_: list[str] = typer.Option([], "--set", help="Profile override KEY=VALUE (dotted), e.g. grpo.beta=0.02."),
    resume: bool = typer.Option(True, help="Resume from the last checkpoint of an earlier run."),
    workdir: Optional[Path] = typer.Option(None, help="Local work directory (default: <out>.work)."),
) -> None:
    """GRPO-train a policy against the Visual-ERM reward (TRL); print the run summary."""
    from visual_erm.rl.grpo import ProfileError, train_policy

    overrides = _set_overrides(set_)
    try:
        metrics = train_policy(prompts, out, profile, overrides, reward_model=reward_model,
                               reward_endpoint=list(reward_endpoint) if reward_endpoint else None, variant=variant,
                               baseline_rewards=list(baseline) if baseline else None, max_steps=max_steps,
                               resume=resume, workdir=workdir)
    except (ProfileError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(json.dumps({k: v for k, v in metrics.items() if k not in ("log_history",)}, indent=1, default=str))


@app.command("reflect")
def reflect_cmd(
    prompts: str = typer.Argument(..., help="RL prompt set (verm build-prompts output)."),
    policy: str = typer.Option(..., help="Policy: a model directory (in process) or an OpenAI-compatible URL."),
    policy_model: Optional[str] = typer.Option(None, help="Served policy model name (with a URL policy)."),
    reward_endpoint: Optional[list[str]] = typer.Option(None, help="Served reward model URL (repeat for several)."),
    reward_model: Optional[str] = typer.Option(None, help="Reward-model directory, run in process instead."),
    critic: str = typer.Option("reward_model", help="reward_model | structural | pixel."),
    variant: str = typer.Option("released", help="Reward variant that scores each round."),
    rounds: int = typer.Option(3, help="Revision rounds after the first answer (the paper's best: 3)."),
    threshold: Optional[float] = typer.Option(None, help="Stop revising at this reward (default: an empty critique)."),
    n: Optional[int] = typer.Option(None, help="At most this many prompts per task."),
    split: str = typer.Option("test", help="Prompt-set split(s)."),
    tasks: str = typer.Option("all", help="all, or a comma list of chart, table, svg."),
    max_new_tokens: int = typer.Option(1024, help="Policy tokens per answer."),
    temperature: float = typer.Option(0.0, help="Policy sampling temperature (0 = greedy)."),
    rm_sampling: str = typer.Option("greedy", help="Reward-model decoding: greedy | paper."),
    rm_max_tokens: Optional[int] = typer.Option(None, help="Reward-model tokens per critique (default: critic's)."),
    out: Optional[Path] = typer.Option(None, help="Write the JSON report here."),
) -> None:
    """Reflect and revise: render, critique, revise with the critique as feedback; print per-round scores."""
    from visual_erm.rl.reflect import run_reflect

    if critic == "reward_model" and not reward_endpoint and not reward_model:
        _fail("the reward_model critic needs --reward-endpoint URL or --reward-model DIR")
    try:
        report = run_reflect(prompts, out, policy=policy, policy_model=policy_model, reward_model=reward_model,
                             reward_endpoint=list(reward_endpoint) if reward_endpoint else None, critic=critic,
                             variant=variant, rounds=rounds, threshold=threshold, n=n, split=split, tasks=tasks,
                             max_new_tokens=max_new_tokens, temperature=temperature, rm_sampling=rm_sampling,
                             rm_max_tokens=rm_max_tokens, log=lambda m: typer.echo(m, err=True))
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(json.dumps({"rounds": report["rounds"], "config": report["config"]}, indent=1, default=str))


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
