"""Every comparison in scripts/demo_experiments.sh is a valid `compare` command: its methods, sweeps, --set
values, budgets and reference methods pass the same checks as on the command line (`compare --estimate`:
nothing runs, nothing is sent), so an hours-long experiment does not stop at its third command."""

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baldistill.cli import app

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "demo_experiments.sh"


def compare_commands(text: str, out: Path) -> list[list[str]]:
    """The `$BD compare ...` commands of the script, continuation lines joined, its local arrays, its local
    scalars and $OUT expanded: the arguments after `compare`."""
    text = text.replace("\\\n", " ")
    arrays = re.findall(r"local (\w+)=\((.*)\)", text)  # e.g. local common=(--set a=1); the first of a name
    scalars = re.findall(r"local (\w+)=([^\s(]+)\n", text)  # e.g. local methods=a,b,c
    cmds = []
    for line in text.splitlines():
        if "$BD compare" not in line:
            continue
        line = line[line.index("$BD compare") + len("$BD compare") :]
        for name, value in arrays:
            line = line.replace(f'"${{{name}[@]}}"', value)
        for name, value in scalars:
            line = line.replace(f"${name} ", f"{value} ")
        cmds.append(shlex.split(line.replace("$OUT", str(out))))
    return cmds


def test_every_comparison_in_the_experiment_script_passes_the_checks(tmp_path):
    cmds = compare_commands(SCRIPT.read_text(), tmp_path)
    assert len(cmds) == 15  # main, two sweeps, verification, the five evidence and the six decide comparisons
    for args in cmds:
        for i, a in enumerate(args[:-1]):  # --reuse needs a comparison folder; an empty one stands in
            if a == "--reuse":
                (Path(args[i + 1]) / "compare.json").parent.mkdir(parents=True, exist_ok=True)
                (Path(args[i + 1]) / "compare.json").write_text("{}")
        r = CliRunner().invoke(app, ["compare", *args, "--estimate"])
        assert r.exit_code == 0, f"{shlex.join(args)}\n{r.output}"
        assert "runs to do" in r.output


@pytest.mark.parametrize("bad", ["--reference baldistill-x", "--sweep teacher.verify.samples=-1"])
def test_a_broken_command_in_the_script_would_be_caught(tmp_path, bad):
    """The check above can fail: the same command with a mistake in it exits 2."""
    args = compare_commands(SCRIPT.read_text(), tmp_path)[0] + shlex.split(bad)
    r = CliRunner().invoke(app, ["compare", *args, "--estimate"])
    assert r.exit_code == 2
