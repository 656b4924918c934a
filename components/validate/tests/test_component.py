"""The validate component: called directly, and run by the KFP local runner on an imported dataset."""

import json
import os

import pytest

from components.validate.component import validate
from components.testing import Artifact, local_runner
from visual_erm.validation.synthetic import build_pair_dataset, pair_rows, write_pair_dataset

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
pytestmark = pytest.mark.slow


def test_python_func_writes_data_docs_and_metrics(tmp_path):
    build_pair_dataset(tmp_path / "ds", 30)
    docs, met = Artifact(tmp_path / "docs"), Artifact(tmp_path / "metrics")
    validate.python_func(dataset=Artifact(tmp_path / "ds"), data_docs=docs, metrics=met)
    assert met.metadata["success"] == 1 and met.metadata["rows"] == 30 and met.metadata["expectations_failed"] == 0
    assert (tmp_path / "docs" / "data_docs" / "index.html").exists()
    assert json.loads((tmp_path / "docs" / "report.json").read_text())["success"]


def test_python_func_raises_with_what_to_fix(tmp_path):
    rows = pair_rows(30)
    g = json.loads(rows[1]["gold"])
    g["errors"][0]["severity"] = 7
    rows[1]["gold"] = json.dumps(g)
    write_pair_dataset(tmp_path / "ds", rows)
    docs, met = Artifact(tmp_path / "docs"), Artifact(tmp_path / "metrics")
    with pytest.raises(RuntimeError, match=r"severity_in_range.*found 7") as err:
        validate.python_func(dataset=Artifact(tmp_path / "ds"), data_docs=docs, metrics=met)
    assert rows[1]["id"] in str(err.value)
    assert met.metadata["success"] == 0 and (tmp_path / "docs" / "data_docs" / "index.html").exists()


def test_local_runner_validates_an_imported_dataset(tmp_path, capfd):
    from kfp import dsl

    good, bad = tmp_path / "good", tmp_path / "bad"
    build_pair_dataset(good, 24)
    build_pair_dataset(bad, 24)
    (bad / "manifest.json").write_text((bad / "manifest.json").read_text()[:100])
    local_runner(tmp_path)

    @dsl.pipeline(name="validate-only")
    def validate_only(uri: str):
        imported = dsl.importer(artifact_uri=uri, artifact_class=dsl.Dataset, reimport=False)
        validate(dataset=imported.output)

    validate_only(uri=str(good))
    indexes = list((tmp_path / "root").rglob("data_docs/index.html"))
    assert len(indexes) == 1
    capfd.readouterr()
    with pytest.raises(RuntimeError):
        validate_only(uri=str(bad))
    logs = "".join(capfd.readouterr())
    assert "manifest.json: not valid JSON" in logs
