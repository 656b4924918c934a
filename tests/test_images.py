"""The container images (images/*/Dockerfile) agree with the project: pins, Debian packages, image names.

No Docker engine is needed: the Dockerfiles are parsed. What is checked:

* every package pinned in an image (``name==version`` in a ``pip install`` line or in a constraints file the
  Dockerfile copies in) that pyproject.toml also pins has pyproject's version — except the GPU stack of the
  train/rm-server images, which vLLM pins (``GPU_STACK``, each documented in images/train/constraints.txt);
  a pin pyproject does not have must be one of those image-only packages;
* the cpu image installs exactly the Makefile's ``APT_PACKAGES`` (the train image at least those: the RL reward
  renders rollouts);
* every image components/images.py names has a Dockerfile, and every Dockerfile is named there or deployed by
  the Helm chart;
* the rm-server's ``verm-fetch-model`` really fetches a published model directory from an S3 server
  (tests/s3server.py) and its entrypoint passes the model directory and arguments to ``vllm serve``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.s3server import S3Server, free_port, s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "images"
IMAGE_NAMES = ("cpu", "train", "rm-server")

#: Pins of the CUDA images that differ from (or are absent in) pyproject.toml on purpose: vllm 0.33.0 requires
#: torch==2.14.0, torchvision==0.29.0, torchaudio==2.11.0 and transformers<5.21; the training libraries are not
#: dependencies of the CPU package. Each must be explained in images/train/constraints.txt.
GPU_STACK = {"torch", "torchvision", "torchaudio", "vllm", "transformers", "trl", "accelerate", "peft", "wandb",
             "protobuf"}
#: Packages that may differ from pyproject.toml in the GPU images (vLLM's exact pins).
GPU_OVERRIDES = {"torch", "torchvision", "torchaudio", "vllm", "transformers"}


# ---- Dockerfile parsing ----------------------------------------------------------------------------------------
def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, buf = [], ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def run_commands(dockerfile: Path) -> list[list[str]]:
    """Every shell command of every RUN, split on && / ; and tokenized."""
    cmds = []
    for word, rest in instructions(dockerfile):
        if word == "RUN":
            for part in re.split(r"&&|;", rest):
                tokens = shlex.split(part)
                if tokens:
                    cmds.append(tokens)
    return cmds


def copied_files(dockerfile: Path) -> dict[str, Path]:
    """Destination file name inside the image → source path in the repository, for plain COPY lines."""
    mapping = {}
    for word, rest in instructions(dockerfile):
        if word != "COPY" or "--from" in rest:
            continue
        *sources, dest = shlex.split(rest)
        for src in sources:
            name = Path(src).name if dest.endswith("/") or dest in (".", "./") else Path(dest).name
            mapping[name] = ROOT / src
    return mapping


GENERATED_REQUIREMENTS = "project-requirements.txt"


def pip_installs(dockerfile: Path) -> list[list[str]]:
    return [c[c.index("install") + 1:] for c in run_commands(dockerfile)
            if "pip" in Path(c[0]).name or (len(c) > 2 and c[1:3] == ["-m", "pip"])
            if "install" in c]


def image_pins(name: str) -> dict[str, tuple[str, str]]:
    """Canonical package name → (version, where) for every pin the image's build uses."""
    dockerfile = IMAGES / name / "Dockerfile"
    copies = copied_files(dockerfile)
    pins: dict[str, tuple[str, str]] = {}

    def add(spec: str, where: str) -> None:
        req = Requirement(spec)
        (op_spec,) = list(req.specifier) if len(req.specifier) == 1 else (None,)
        if op_spec is not None and op_spec.operator == "==":
            key = canonicalize_name(req.name)
            assert key not in pins or pins[key][0] == op_spec.version, f"{name}: {key} pinned twice differently"
            pins[key] = (op_spec.version, where)

    for args in pip_installs(dockerfile):
        it = iter(range(len(args)))
        for i in it:
            tok = args[i]
            if tok in ("-r", "--requirement") and args[i + 1] == GENERATED_REQUIREMENTS:
                next(it, None)  # written in the image from pyproject.toml by images/train/project_requirements.py
                continue
            if tok in ("-c", "--constraint", "-r", "--requirement"):
                src = copies.get(Path(args[i + 1]).name)
                assert src is not None and src.is_file(), f"{name}: {args[i + 1]} is not copied from the repository"
                for line in src.read_text().splitlines():
                    line = line.split("#", 1)[0].strip()
                    if line:
                        add(line, str(src.relative_to(ROOT)))
                next(it, None)
            elif "==" in tok and not tok.startswith("-"):
                add(tok, f"images/{name}/Dockerfile")
    return pins


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs.extend(extra)
    pins = {}
    for spec in specs:
        req = Requirement(spec)
        for s in req.specifier:
            if s.operator == "==":
                pins[canonicalize_name(req.name)] = s.version
    return pins


def apt_packages(dockerfile: Path) -> list[str]:
    pkgs = []
    for cmd in run_commands(dockerfile):
        if "apt-get" in cmd and "install" in cmd:
            pkgs += [t for t in cmd[cmd.index("install") + 1:] if not t.startswith("-")]
    return pkgs


def makefile_apt_packages() -> list[str]:
    m = re.search(r"^APT_PACKAGES\s*:?=\s*(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert m, "Makefile has no APT_PACKAGES"
    return m.group(1).split()


# ---- pins ------------------------------------------------------------------------------------------------------
def test_every_image_has_a_dockerfile_on_the_project_base():
    for name in IMAGE_NAMES:
        froms = [rest for word, rest in instructions(IMAGES / name / "Dockerfile") if word == "FROM"]
        assert froms == ["python:3.11-slim-bookworm"], name  # requires-python = ">=3.11,<3.12", Debian bookworm


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_image_pins_agree_with_pyproject(name):
    project = pyproject_pins()
    pins = image_pins(name)
    assert pins, f"{name}: no pins found: is the Dockerfile still parsed right?"
    for pkg, (version, where) in sorted(pins.items()):
        if pkg in project:
            if name != "cpu" and pkg in GPU_OVERRIDES:
                continue
            assert version == project[pkg], f"{name}: {pkg}=={version} in {where}, pyproject.toml pins {project[pkg]}"
        elif where == "constraints.txt":
            continue  # the repository's own constraints (torch CPU wheel), shared with the dev environment
        else:
            assert name != "cpu" and pkg in GPU_STACK, \
                f"{name}: {pkg}=={version} ({where}) is pinned nowhere in pyproject.toml"


def test_gpu_pins_are_documented_and_shared_by_train_and_rm_server():
    constraints = (IMAGES / "train" / "constraints.txt").read_text()
    comments = " ".join(line for line in constraints.splitlines() if line.lstrip().startswith("#"))
    train = image_pins("train")
    for pkg in GPU_OVERRIDES:
        assert pkg in train, f"train image does not pin {pkg}"
        assert pkg in comments, f"images/train/constraints.txt does not explain the {pkg} pin"
    rm = image_pins("rm-server")
    for pkg in ("vllm", "torch", "transformers"):
        assert rm[pkg][0] == train[pkg][0], pkg
    assert canonicalize_name("minio") in rm and rm["minio"][0] == pyproject_pins()["minio"]
    assert "torch" not in image_pins("cpu") or image_pins("cpu")["torch"][1] == "constraints.txt"


@pytest.mark.parametrize("name", ["cpu", "train"])
def test_project_wheel_is_installed_with_constraints(name):
    installs = pip_installs(IMAGES / name / "Dockerfile")
    project = [args for args in installs if "." in args]
    assert len(project) == 1, f"{name}: the project (.) must be installed once"
    if name == "cpu":
        assert "-c" in project[0], f"{name}: the project must be installed with a constraints file"
        assert "torch" not in project[0] and "vllm" not in project[0]
    else:
        # GPU stack under its own constraints, then pyproject's other pins under the same constraints, then the
        # project without dependencies (its CPU pins of torch/transformers would conflict with vllm's).
        assert project[0] == ["--no-deps", "."]
        gpu = [a for a in installs if {"torch", "vllm", "trl"} <= set(a)]
        reqs = [a for a in installs if GENERATED_REQUIREMENTS in a]
        assert len(gpu) == 1 and "-c" in gpu[0] and len(reqs) == 1 and "-c" in reqs[0]
        script = (IMAGES / name / "project_requirements.py").read_text()
        assert "pyproject.toml" in script and "GPU_STACK" in script


def test_rm_server_fetcher_has_its_own_environment():
    installs = pip_installs(IMAGES / "rm-server" / "Dockerfile")
    fetch = [a for a in installs if "." in a]
    assert fetch == [["--no-deps", "."]]
    cmds = run_commands(IMAGES / "rm-server" / "Dockerfile")
    assert any(c[:3] == ["python", "-m", "venv"] for c in cmds)
    word_args = instructions(IMAGES / "rm-server" / "Dockerfile")
    assert ("ENTRYPOINT", '["/usr/local/bin/verm-rm-entrypoint"]') in word_args


# ---- Debian packages -------------------------------------------------------------------------------------------
def test_cpu_image_apt_packages_equal_the_makefile():
    cpu = apt_packages(IMAGES / "cpu" / "Dockerfile")
    assert sorted(cpu) == sorted(makefile_apt_packages())
    assert len(cpu) == len(set(cpu))


def test_train_image_has_the_renderers_too():
    assert set(makefile_apt_packages()) <= set(apt_packages(IMAGES / "train" / "Dockerfile"))


# ---- image names -----------------------------------------------------------------------------------------------
def _images_module(monkeypatch):
    for var in list(os.environ):
        if var.startswith("VERM_IMAGE"):
            monkeypatch.delenv(var)
    spec = importlib.util.spec_from_file_location("verm_images_defaults", ROOT / "components" / "images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_image_names_match_components_and_chart(monkeypatch):
    images = _images_module(monkeypatch)
    refs = {v for k, v in vars(images).items() if k.endswith("_IMAGE") and isinstance(v, str)}
    named = set()
    for ref in refs:
        m = re.fullmatch(rf"{re.escape(images.REGISTRY)}/visual-erm-([a-z0-9-]+):{re.escape(images.VERSION)}", ref)
        assert m, f"components/images.py: {ref} does not follow <registry>/visual-erm-<name>:<version>"
        named.add(m.group(1))
    dockerfiles = {p.parent.name for p in IMAGES.glob("*/Dockerfile")}
    assert named <= dockerfiles, f"components/images.py names images without a Dockerfile: {named - dockerfiles}"
    helpers = (ROOT / "charts" / "visual-erm" / "templates" / "_helpers.tpl").read_text()
    templates = " ".join(p.read_text() for p in (ROOT / "charts" / "visual-erm" / "templates").glob("*.yaml"))
    deployed = set(re.findall(r"visual-erm-([a-z0-9-]+):%s", helpers))
    deployed |= set(re.findall(r'"name" "([a-z0-9-]+)"', templates))
    assert deployed == {"rm-server", "cpu"}
    assert dockerfiles == named | deployed, "every Dockerfile is used by a component or by the chart"
    chart = yaml.safe_load((ROOT / "charts" / "visual-erm" / "Chart.yaml").read_text())
    values = yaml.safe_load((ROOT / "charts" / "visual-erm" / "values.yaml").read_text())
    assert chart["appVersion"] == images.VERSION
    assert values["images"]["registry"] == images.REGISTRY


# ---- rm-server: the fetcher and the entrypoint -----------------------------------------------------------------
def _fetch_model():
    spec = importlib.util.spec_from_file_location("verm_fetch_model", IMAGES / "rm-server" / "fetch_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fetch_model_downloads_a_published_checkpoint(s3_bucket, tmp_path, capsys):
    from visual_erm import storage

    model = tmp_path / "published"
    (model / "tokenizer").mkdir(parents=True)
    (model / "config.json").write_text('{"model_type": "qwen2_5_vl"}')
    (model / "model.safetensors").write_bytes(os.urandom(300_000))
    (model / "tokenizer" / "vocab.json").write_text("{}")
    uri = f"s3://{s3_bucket}/models/visual-erm/v1"
    storage.publish_dir(model, uri, marker=None)  # checkpoints carry the store's generated marker

    fetch = _fetch_model()
    dest = tmp_path / "models" / "visual-erm"
    assert fetch.main([uri, str(dest)]) == 0
    for rel in ("config.json", "model.safetensors", "tokenizer/vocab.json"):
        assert (dest / rel).read_bytes() == (model / rel).read_bytes()
    assert (dest / storage.GENERATED_MARKER).is_file()
    assert '"files": ' in capsys.readouterr().out

    # a stale local file is removed, a second fetch keeps the directory equal to the published one
    (dest / "stale.bin").write_bytes(b"old")
    assert fetch.main([uri, str(dest)]) == 0
    assert not (dest / "stale.bin").exists()


def test_fetch_model_refuses_incomplete_or_bad_uris(s3_bucket, tmp_path, capsys):
    from visual_erm import storage

    store = storage.open_store(f"s3://{s3_bucket}/models/half")
    (tmp_path / "w.bin").write_bytes(b"x" * 10)
    store.put_file(tmp_path / "w.bin", "w.bin")  # no marker: an interrupted publish
    fetch = _fetch_model()
    assert fetch.main([f"s3://{s3_bucket}/models/half", str(tmp_path / "d")]) == 3
    assert "incomplete" in capsys.readouterr().err
    assert fetch.main(["/not/s3", str(tmp_path / "d")]) == 2


def test_entrypoint_fetches_then_execs_vllm_serve(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.log"
    for tool in ("verm-fetch-model", "vllm"):
        script = bindir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "VERM_MODEL_URI": "s3://b/models/m",
           "VERM_MODEL_DIR": "/models/m", "VERM_MODEL_MARKER": "manifest.json"}
    subprocess.run(["sh", str(IMAGES / "rm-server" / "entrypoint.sh"), "--dtype", "bfloat16"], env=env,
                   check=True, timeout=30)
    assert log.read_text().splitlines() == [
        "verm-fetch-model s3://b/models/m /models/m --marker manifest.json",
        "vllm serve /models/m --host 0.0.0.0 --port 8000 --dtype bfloat16",
    ]
    log.unlink()
    env.pop("VERM_MODEL_URI")
    subprocess.run(["sh", str(IMAGES / "rm-server" / "entrypoint.sh")], env=env, check=True, timeout=30)
    assert log.read_text().splitlines() == ["vllm serve /models/m --host 0.0.0.0 --port 8000"]


def test_fetcher_needs_only_the_standard_library_and_minio():
    """The rm-server's fetch environment has the project without dependencies, plus minio: storage.py must not
    import anything else at module level."""
    code = ("import sys, visual_erm.storage; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('numpy','pandas','kfp','torch','yaml','pydantic','PIL','matplotlib')); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "[]"
