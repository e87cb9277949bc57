"""Export refuses what it cannot export, before loading anything."""

import pytest

from baldistill.runner.export import export_student
from baldistill.runner.runfolder import RunFolderError


def test_export_needs_a_finished_run_and_an_empty_destination(tmp_path):
    with pytest.raises(RunFolderError, match="no trained adapter"):
        export_student(tmp_path / "run", tmp_path / "out")
    (tmp_path / "run/adapter").mkdir(parents=True)
    (tmp_path / "run/adapter/adapter_config.json").write_text("{}")
    (tmp_path / "out").mkdir()
    (tmp_path / "out/x").write_text("taken")
    with pytest.raises(RunFolderError, match="not empty"):
        export_student(tmp_path / "run", tmp_path / "out")
