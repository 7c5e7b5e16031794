#!/usr/bin/env bash
# Re-executes the book's notebooks under nbval with forced CPU kernels and thread counts, to show
# that the committed outputs do not depend on the CPU (issue: "make test green on any CPU").
#   tools/nbval_matrix.sh [capability…]      capabilities: native, avx2, default (all by default)
# Writes one log per (capability, threads) to ${MATRIX_DIR:-/tmp/nbval-matrix} and prints a table.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${MATRIX_DIR:-/tmp/nbval-matrix}; mkdir -p "$out"
caps=("${@:-native avx2 default}"); caps=(${caps[*]})
threads=(${MATRIX_THREADS:-1 2})
# stopping the script (Ctrl-C, kill) also stops pytest and the kernels it started
trap 'kill -- -$$ 2>/dev/null; exit 130' INT TERM
for cap in "${caps[@]}"; do
  for t in "${threads[@]}"; do
    env_args=(OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t)
    case $cap in
      native) ;;
      avx2) env_args+=(ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2) ;;
      default) env_args+=(ATEN_CPU_CAPABILITY=default) ;;
      *) echo "unknown capability $cap" >&2; exit 2 ;;
    esac
    log="$out/$cap-$t.log"; began=$SECONDS
    env "${env_args[@]}" .venv/bin/python -m pytest -p no:cacheprovider --nbval --nbval-current-env \
      --nbval-sanitize-with tests/nbval_sanitize.cfg book/notebooks -q > "$log" 2>&1
    echo "$cap threads=$t: $(tail -n 1 "$log") ($((SECONDS - began)) s)" | tee -a "$out/summary.txt"
  done
done
