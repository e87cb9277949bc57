"""Start-up time of the light commands: the median wall time of N fresh subprocesses of `baldistill stats`,
`baldistill estimate` and `baldistill --help` on the bundled demo data.

    .venv/bin/python benchmarks/startup_time.py                 # the installed package
    .venv/bin/python benchmarks/startup_time.py --src OTHER/src  # another checkout, e.g. an older commit
    .venv/bin/python benchmarks/startup_time.py --smoke          # one run of each command
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _common import median, parse, parser, timed


def main() -> None:
    ap = parser(__doc__, repeats=10, repeat_flags=("--runs", "--repeats"))
    ap.add_argument("--src", type=Path, default=None, help="a checkout's src/ folder to import baldistill from")
    a = parse(ap)
    env = {**os.environ, "BALDISTILL_PROGRESS": "0"}
    if a.src:
        env["PYTHONPATH"] = str(a.src.resolve())
    where = subprocess.run(
        [sys.executable, "-c", "import baldistill; print(baldistill.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    pkg = Path(where).parent
    cmds = {
        "stats": ["stats", str(pkg / "bundled/demo/train.jsonl"), "--budget", "96", "--stages", "3"],
        "estimate": ["estimate", str(pkg / "configs/demo.yaml")],
        "--help": ["--help"],
    }
    print(f"baldistill from {pkg}")
    for name, args in cmds.items():
        times = []
        for _ in range(a.repeats):
            cmd = [sys.executable, "-m", "baldistill.cli", *args]
            r, dt = timed(subprocess.run, cmd, env=env, capture_output=True, text=True)
            times.append(dt)
            if r.returncode:
                raise SystemExit(f"{name} failed: {r.stderr[-500:]}")
        print(
            f"{name}: median {median(times):.2f} s over {a.repeats} runs (min {min(times):.2f}, max {max(times):.2f})"
        )


if __name__ == "__main__":
    main()
