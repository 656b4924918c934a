"""Preflight: check everything a pipeline run needs *before* any GPU is scheduled, and fail in seconds.

One call checks four things and collects every problem (it never stops at the first one), so a run that cannot
succeed fails with one message that lists all of them:

* **storage** — when a URI is ``s3://`` (or ``VERM_S3_ENDPOINT`` is set): the store is configured, reachable, the
  keys are accepted and each bucket exists; an input URI must hold something (an ``s3://`` prefix with objects,
  a local path that exists); an output URI's bucket must exist (a local output's nearest existing parent must be
  writable);
* **secrets** — named environment variables are set and non-empty (values are never printed);
* **endpoints** — each OpenAI-compatible endpoint answers ``GET /health`` or ``GET /v1/models`` with a 2xx within
  a short timeout;
* **parameters** — values are in range: counts > 0, shares in [0, 1], choices from their vocabulary, critics
  that resolve, JSON that parses (rules keyed by the pipeline parameter names in ``RULES``).

    report = run_preflight(params={"synth_n": 300, ...}, input_uris={"synth_dataset_uri": ""},
                           output_uris={"publish_rm_uri": "s3://visual-erm/models/visual-erm/latest"},
                           secrets=["AWS_ACCESS_KEY_ID"], endpoints={"bench_judge_endpoint": ""})
    report.raise_for_problems()   # PreflightError listing every problem

Empty URIs and endpoints are skipped (an empty value means "not used"). KFP passes numbers inside a dict
parameter as strings or floats (``"2.0"``), so values are coerced before their rule is applied.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

DEFAULT_TIMEOUT_S = 3.0


class PreflightError(RuntimeError):
    """A preflight found problems; the message lists every one of them."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"preflight found {len(self.problems)} problem(s); nothing was scheduled:\n{lines}")


@dataclass
class PreflightReport:
    """What was checked (``checked``: one line per check that passed) and what failed (``problems``)."""

    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        if self.problems:
            raise PreflightError(self.problems)

    def to_json_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "checked": self.checked, "seconds": round(self.seconds, 3)}

    def format(self) -> str:
        head = "preflight: OK" if self.ok else f"preflight: {len(self.problems)} problem(s)"
        return "\n".join([head] + [f"  ok  {c}" for c in self.checked] + [f"  !!  {p}" for p in self.problems])


# ---------------------------------------------------------------------------------------------------------------
# parameter rules
# ---------------------------------------------------------------------------------------------------------------
def _num(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    return float(str(value).strip())


def _is_int(x: float) -> bool:
    return math.isfinite(x) and float(x).is_integer()


Rule = Callable[[Any], "str | None"]  # returns a problem description, or None when the value is fine


def positive_int(v: Any) -> str | None:
    x = _num(v)
    return None if _is_int(x) and x > 0 else "must be an integer > 0"


def non_negative_int(v: Any) -> str | None:
    x = _num(v)
    return None if _is_int(x) and x >= 0 else "must be an integer >= 0"


def steps_or_minus_one(v: Any) -> str | None:
    x = _num(v)
    return None if _is_int(x) and (x == -1 or x > 0) else "must be -1 (profile default) or an integer > 0"


def non_negative(v: Any) -> str | None:
    x = _num(v)
    return None if math.isfinite(x) and x >= 0 else "must be a number >= 0"


def share(v: Any) -> str | None:
    x = _num(v)
    return None if 0.0 <= x <= 1.0 else "must be a share in [0, 1]"


def int_between(lo: int, hi: int) -> Rule:
    def rule(v: Any) -> str | None:
        x = _num(v)
        return None if _is_int(x) and lo <= x <= hi else f"must be an integer in [{lo}, {hi}]"
    return rule


def one_of(*choices: str) -> Rule:
    def rule(v: Any) -> str | None:
        return None if str(v) in choices else f"must be one of {', '.join(choices)}"
    return rule


def tasks_list(v: Any) -> str | None:
    tasks = [t.strip() for t in str(v).split(",") if t.strip()]
    bad = [t for t in tasks if t not in ("chart", "table", "svg")]
    if not tasks:
        return "must name at least one task (chart, table, svg)"
    return f"unknown task(s) {bad}: use chart, table, svg" if bad else None


def json_object(v: Any) -> str | None:
    if isinstance(v, dict):
        return None
    try:
        parsed = json.loads(str(v) or "{}")
    except ValueError as exc:
        return f"is not valid JSON ({exc})"
    return None if isinstance(parsed, dict) else "must be a JSON object"


def critic_name(v: Any) -> str | None:
    from visual_erm.critics.registry import critic_factory

    try:
        critic_factory(str(v))
    except ValueError as exc:
        return str(exc)
    return None


#: Rules by pipeline parameter name. Parameters without a rule are not checked.
RULES: dict[str, Rule] = {
    "synth_tasks": tasks_list,
    "synth_n": positive_int,
    "synth_seed": non_negative_int,
    "synth_candidates_per_seed": positive_int,
    "synth_max_edits": int_between(1, 4),
    "synth_identity_share": share,
    "synth_workers": non_negative_int,
    "synth_min_per_category": non_negative_int,
    "synth_min_pairs_for_balance": non_negative_int,
    "synth_identity_share_max": share,
    "rm_max_steps": steps_or_minus_one,
    "rm_epochs": non_negative,
    "rm_learning_rate": non_negative,
    "rm_overrides_json": json_object,
    "bench_critic": critic_name,
    "bench_baseline_critic": critic_name,
    "bench_rm_max_new_tokens": non_negative_int,
    "bench_matcher": one_of("deterministic", "llm"),
    "bench_policy_split": one_of("train", "validation", "test"),
    "bench_max_items": non_negative_int,
    "bench_workers": non_negative_int,
    "bench_reflect_rounds": non_negative_int,
    "rl_gate": one_of("on", "off"),
    "rl_gate_metric": one_of("f1_hard", "f1_soft", "sc"),
    "rl_max_steps": steps_or_minus_one,
    "rl_learning_rate": non_negative,
    "rl_prompts_per_task": non_negative_int,
    "rl_overrides_json": json_object,
    "rl_variant": one_of("", "paper", "released", "released-strict", "table-released", "table-released-strict",
                         "auto"),  # '' = the profile's
    "bench_reflect_critic": one_of("reward_model", "structural", "pixel"),
    "bench_policy_max_new_tokens": positive_int,
    "k8s_gpu_count": non_negative_int,
}


def check_params(params: Mapping[str, Any], rules: Mapping[str, Rule] | None = None) -> tuple[list[str], list[str]]:
    """(problems, checked) for every parameter that has a rule; a value that cannot be read is a problem too."""
    rules = RULES if rules is None else rules
    problems, checked = [], []
    for name in sorted(params):
        rule = rules.get(name)
        if rule is None:
            continue
        value = params[name]
        try:
            problem = rule(value)
        except (TypeError, ValueError) as exc:
            problem = f"cannot be read as a number ({exc})"
        if problem:
            problems.append(f"parameter {name}={value!r} {problem}")
        else:
            checked.append(f"parameter {name}")
    # cross-parameter rules
    if str(params.get("bench_matcher", "")) == "llm" and not (params.get("bench_judge_endpoint")
                                                                and params.get("bench_judge_model")):
        problems.append("parameter bench_matcher='llm' needs bench_judge_endpoint and bench_judge_model")
    return problems, checked


# ---------------------------------------------------------------------------------------------------------------
# secrets, endpoints
# ---------------------------------------------------------------------------------------------------------------
def check_secrets(names: Iterable[str], env: Mapping[str, str] | None = None) -> tuple[list[str], list[str]]:
    env = os.environ if env is None else env
    problems, checked = [], []
    for name in names:
        if not name:
            continue
        if env.get(name, "").strip():
            checked.append(f"secret {name} is set")
        else:
            problems.append(f"secret {name} is not set (or empty): mount the Kubernetes Secret that holds it "
                            f"(k8s_* secret parameters) or export it")
    return problems, checked


def health_urls(endpoint: str) -> list[str]:
    """The URLs probed for an OpenAI-compatible endpoint: ``<root>/health`` then ``<root>/v1/models``."""
    base = endpoint.rstrip("/")
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    return [f"{root}/health", f"{root}/v1/models"]


def check_endpoint(name: str, endpoint: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> str | None:
    """None when ``GET /health`` or ``GET /v1/models`` answers 2xx within ``timeout_s``, else the problem."""
    if not endpoint.startswith(("http://", "https://")):
        return f"endpoint {name}={endpoint!r} is not an http(s) URL"
    errors = []
    for url in health_urls(endpoint):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout_s) as resp:
                if 200 <= resp.status < 300:
                    return None
                errors.append(f"{url}: HTTP {resp.status}")
        except urllib.error.HTTPError as exc:
            errors.append(f"{url}: HTTP {exc.code}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            errors.append(f"{url}: {reason}")
            if isinstance(reason, (ConnectionRefusedError, socket.gaierror, TimeoutError, socket.timeout)):
                break  # the host is down or unknown: the second URL would fail the same way
    return f"endpoint {name}={endpoint} is not healthy ({'; '.join(errors)})"


def check_endpoints(endpoints: Mapping[str, str], timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[list[str], list[str]]:
    problems, checked = [], []
    for name, url in sorted(endpoints.items()):
        if not url:
            continue
        problem = check_endpoint(name, url, timeout_s)
        if problem:
            problems.append(problem)
        else:
            checked.append(f"endpoint {name} healthy")
    return problems, checked


# ---------------------------------------------------------------------------------------------------------------
# storage
# ---------------------------------------------------------------------------------------------------------------
def _quick_s3_config(timeout_s: float):
    """The environment's S3 config with one attempt and a short timeout (a preflight must not wait minutes)."""
    from visual_erm import storage

    cfg = storage.S3Config.from_env()
    cfg.retries = 1
    cfg.timeout = timeout_s
    return cfg


def _tcp_reachable(endpoint: str, timeout_s: float, secure: bool = False) -> str | None:
    host, _, port = endpoint.rpartition(":") if ":" in endpoint else (endpoint, "", "")
    try:
        with socket.create_connection((host, int(port or (443 if secure else 80))), timeout=timeout_s):
            return None
    except (OSError, ValueError) as exc:
        return str(exc)


def check_storage(input_uris: Mapping[str, str], output_uris: Mapping[str, str], *,
                  timeout_s: float = DEFAULT_TIMEOUT_S, env: Mapping[str, str] | None = None
                  ) -> tuple[list[str], list[str]]:
    """Check the object store (when used) and every non-empty input/output URI."""
    from visual_erm import storage

    env = os.environ if env is None else env
    problems: list[str] = []
    checked: list[str] = []
    uris = {**{k: v for k, v in input_uris.items() if v}, **{k: v for k, v in output_uris.items() if v}}
    s3_used = any(storage.is_s3_uri(v) for v in uris.values()) or bool(env.get("VERM_S3_ENDPOINT"))

    cfg = None
    if s3_used:
        try:
            cfg = _quick_s3_config(timeout_s)
        except storage.StorageError as exc:
            problems.append(f"object store: {exc}")
        if cfg is not None:
            down = _tcp_reachable(cfg.endpoint, timeout_s, cfg.secure)
            if down:
                problems.append(f"object store {cfg.url} is not reachable ({down}): check VERM_S3_ENDPOINT and "
                                f"that the service is up")
                cfg = None
            else:
                checked.append(f"object store {cfg.url} reachable")

    buckets_ok: dict[str, bool] = {}
    for name, uri in sorted(uris.items()):
        is_input = name in input_uris
        if storage.is_s3_uri(uri):
            if cfg is None:
                continue  # the store problem is reported once above
            try:
                bucket, prefix = storage.split_s3_uri(uri)
                store = storage.S3Store(f"s3://{bucket}", cfg)
                if bucket not in buckets_ok:
                    exists = store._call("check bucket", None, lambda: store.client.bucket_exists(bucket))
                    buckets_ok[bucket] = bool(exists)
                    if exists:
                        checked.append(f"bucket {bucket} exists")
                if not buckets_ok[bucket]:
                    problems.append(f"{name}={uri}: bucket {bucket!r} does not exist at {cfg.url}: create it "
                                    f"(infra/README.md §2) or fix the URI")
                    continue
                if is_input:
                    if not prefix or not storage.S3Store(uri, cfg, store.client).list(""):
                        problems.append(f"{name}={uri}: nothing there (an input must point at an earlier run's "
                                        f"artifact)")
                    else:
                        checked.append(f"input {name} present")
            except storage.StorageError as exc:
                problems.append(f"{name}={uri}: {exc}")
        else:
            path = Path(uri[len("file://"):] if uri.startswith("file://") else uri).expanduser()
            if "://" in uri and not uri.startswith("file://"):
                problems.append(f"{name}={uri}: unsupported URI scheme (use a local path or s3://bucket/prefix)")
            elif is_input:
                if path.exists():
                    checked.append(f"input {name} present")
                else:
                    problems.append(f"{name}={uri}: does not exist (an input must point at an earlier run's artifact)")
            else:
                parent = path
                while not parent.exists() and parent != parent.parent:
                    parent = parent.parent
                if os.access(parent, os.W_OK):
                    checked.append(f"output {name} writable")
                else:
                    problems.append(f"{name}={uri}: {parent} is not writable")
    return problems, checked


# ---------------------------------------------------------------------------------------------------------------
# all together
# ---------------------------------------------------------------------------------------------------------------
def run_preflight(*, params: Mapping[str, Any] | None = None, input_uris: Mapping[str, str] | None = None,
                  output_uris: Mapping[str, str] | None = None, secrets: Iterable[str] = (),
                  endpoints: Mapping[str, str] | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                  rules: Mapping[str, Rule] | None = None, env: Mapping[str, str] | None = None,
                  required: Iterable[str] = ()) -> PreflightReport:
    """Run every check and collect the problems (see the module docstring); never raises for a failed check.

    When any URI is ``s3://``, the store's keys (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or their MinIO
    names) are added to the secrets to check unless a config file (``VERM_S3_CONFIG``) provides them.
    ``required`` names parameters or URIs that must not be empty (a stage pipeline's input URI).
    """
    t0 = time.perf_counter()
    env = os.environ if env is None else env
    report = PreflightReport()
    input_uris = {k: str(v or "") for k, v in (input_uris or {}).items()}
    output_uris = {k: str(v or "") for k, v in (output_uris or {}).items()}
    secrets = [s for s in secrets if s]
    if any(v.startswith("s3://") for v in [*input_uris.values(), *output_uris.values()]) \
            and not env.get("VERM_S3_CONFIG"):
        if not (env.get("MINIO_ACCESS_KEY") and env.get("MINIO_SECRET_KEY")):
            secrets += [s for s in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if s not in secrets]
    given = {**{k: v for k, v in (params or {}).items()}, **input_uris, **output_uris, **(endpoints or {})}
    for name in required:
        if not str(given.get(name) or "").strip():
            report.problems.append(f"parameter {name} is required here (an earlier run's artifact: a local path or "
                                   f"s3:// URI)")
    for problems, checked in (
        check_params(params or {}, rules),
        check_secrets(secrets, env),
        check_storage(input_uris, output_uris, timeout_s=timeout_s, env=env),
        check_endpoints({k: str(v or "") for k, v in (endpoints or {}).items()}, timeout_s),
    ):
        report.problems += problems
        report.checked += checked
    report.seconds = time.perf_counter() - t0
    return report
