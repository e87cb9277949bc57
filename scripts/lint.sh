#!/usr/bin/env bash
# The static checks CI runs after the tests (and pre-commit runs on a commit): lint, formatting, the import
# layers (cli -> runner -> student/teacher/report -> ... -> core; pyproject.toml [tool.importlinter]), the
# types of core/, budget/ and report/, and docs/config.md against the config models.
#   bash scripts/lint.sh        (after `bash scripts/setup.sh test`)
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports
.venv/bin/mypy
.venv/bin/python scripts/config_docs.py --check
echo "static checks passed"
