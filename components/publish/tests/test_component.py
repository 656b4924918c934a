"""The publish component and library: model + card + metrics at a stable prefix, the marker last (local and S3)."""

import json
from pathlib import Path

import pytest

from components.publish.component import publish
from tests.s3server import s3_bucket, s3_env, s3_server  # noqa: F401 - fixtures
from visual_erm import storage
from visual_erm.publish import publish_model, stage_publication


class _Artifact:
    def __init__(self, path: Path, metadata: dict | None = None):
        self.path = str(path)
        self.uri = str(path)
        self.metadata: dict = dict(metadata or {})


@pytest.fixture
def model_dir(tmp_path) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text('{"model_type": "qwen3_vl"}')
    (d / "model.safetensors").write_bytes(b"\0" * 64)
    (d / "profile.yaml").write_text("name: tiny\n")
    (d / "metrics.json").write_text(json.dumps({"steps": 2, "train_loss": 3.5, "loss_curve": [4, 3],
                                                "eval": {"parse_rate": 0.5, "samples": []}}))
    (d / "README.md").write_text("original readme")
    (d / "manifest.json").write_text("{}")
    return d


def test_stage_publication_layout_and_card(model_dir, tmp_path):
    report = tmp_path / "report.html"
    report.write_text("<html>r</html>")
    files, card = stage_publication(model_dir, tmp_path / "pub", name="verm-test",
                                    metrics={"benchmark": {"f1_hard": 41.234, "f1_soft": 50.0}},
                                    reports={"benchmark": report}, sources={"dataset": "s3://b/ds"})
    pub = tmp_path / "pub"
    for rel in ("config.json", "model.safetensors", "README.md", "MODEL_README.md", "metrics.json",
                "training_metrics.json", "reports/benchmark.html", "publish.json"):
        assert (pub / rel).is_file(), rel
    assert set(files) == {p.relative_to(pub).as_posix() for p in pub.rglob("*") if p.is_file()}
    assert "# verm-test" in card and "| f1_hard | 41.23 |" in card and "| train_loss | 3.5 |" in card
    assert "| eval_parse_rate | 0.5 |" in card and "`s3://b/ds`" in card and "name: tiny" in card
    metrics = json.loads((pub / "metrics.json").read_text())
    assert metrics["benchmark"]["f1_hard"] == 41.234 and metrics["training"]["steps"] == 2
    published = json.loads((pub / "publish.json").read_text())
    assert published["files"]["model.safetensors"] == storage.sha256_file(pub / "model.safetensors")


def test_publish_local_writes_marker_and_republishes(model_dir, tmp_path):
    dest = tmp_path / "stable" / "latest"
    result = publish_model(model_dir, str(dest), metrics={"benchmark": {"f1_hard": 1.0}})
    assert (dest / storage.GENERATED_MARKER).is_file() and (dest / "README.md").is_file()
    storage.require_complete(str(dest), marker=None)
    assert result.files.keys() <= {p.relative_to(dest).as_posix() for p in dest.rglob("*")}
    (model_dir / "model.safetensors").write_bytes(b"\1" * 64)  # a new model replaces the old one
    publish_model(model_dir, str(dest))
    assert (dest / "model.safetensors").read_bytes() == b"\1" * 64


def test_publish_to_s3_marker_last(model_dir, tmp_path, s3_bucket):
    uri = f"s3://{s3_bucket}/models/visual-erm/latest"
    publish_model(model_dir, uri, metrics={"benchmark": {"f1_hard": 2.0}})
    got = storage.fetch_dir(uri, tmp_path / "fetched", marker=None)
    assert json.loads((got / "metrics.json").read_text())["benchmark"]["f1_hard"] == 2.0
    assert (got / "README.md").read_text().startswith("---")


def test_python_func(model_dir, tmp_path):
    pub, card = _Artifact(tmp_path / "publication"), _Artifact(tmp_path / "card.md")
    bench = _Artifact(tmp_path / "m", {"f1_hard": 12.5, "items_scored": 4})
    dest = publish.python_func(model=_Artifact(model_dir), publication=pub, card=card, bench_metrics=bench,
                               dest_uri=str(tmp_path / "dest"), name="verm-x", sources={"dataset": "d"})
    assert dest == str(tmp_path / "dest") and pub.metadata["dest"] == dest
    assert "| f1_hard | 12.5 |" in Path(card.path).read_text()
    # no destination: only the publication artifact
    pub2 = _Artifact(tmp_path / "publication2")
    assert publish.python_func(model=_Artifact(model_dir), publication=pub2, card=card) == pub2.uri
    assert (tmp_path / "publication2" / "README.md").is_file()
