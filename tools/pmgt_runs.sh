#!/usr/bin/env bash
# Chapter 6 runs: NCF-MLP on MovieLens-100k's later period from random / raw-feature / PMGT item
# embeddings, 3 seeds each (PMGT pre-trained on the early period with the same seed).
# Usage: LESSONS_DATA_DIR=... bash tools/pmgt_runs.sh   (from the project root)
set -euo pipefail
PY=${PY:-.venv/bin/python}
for seed in 0 1 2; do
  for init in random raw pmgt; do
    out=results/pmgt/ml-100k_mlp_${init}_seed${seed}.json
    [ -f "$out" ] || $PY -m lessons_src.pmgt.downstream --init "$init" --model mlp --seed "$seed" \
      --no-progress --output "$out"
  done
done
# ablations of pre-training (NCF-MLP from PMGT): no diversity term, no structure loss, no feature
# reconstruction, the official code's sampling that keeps the centre in its own context
for seed in 0 1 2; do
  for variant in "alpha0 --alpha 0" "no-structure --no-structure" "no-feature --no-feature" "keep-centre --keep-centre"; do
    set -- $variant
    name=$1; shift
    out=results/pmgt/ml-100k_mlp_pmgt-${name}_seed${seed}.json
    [ -f "$out" ] || $PY -m lessons_src.pmgt.downstream --init pmgt --model mlp --seed "$seed" "$@" \
      --no-progress --output "$out"
  done
done
