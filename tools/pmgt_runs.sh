#!/usr/bin/env bash
# Chapter 6 runs on MovieLens-100k: NCF (MLP and NeuMF) and SASRec on the later period from random /
# raw-feature / PMGT item embeddings, 3 seeds each (PMGT pre-trained on the early period, same seed).
# Usage (from the project root): LESSONS_DATA_DIR=... bash tools/pmgt_runs.sh [quick|main|long|ablations|all]
set -euo pipefail
PY=${PY:-.venv/bin/python}
what=${1:-main}
run() {  # run OUTPUT ARGS…: skip a run whose results file exists
  local out=$1; shift
  [ -f "$out" ] || $PY -m lessons_src.pmgt.downstream "$@" --no-progress --output "$out"
}
# the notebook's quick run (5 epochs of NCF-MLP from PMGT), whose numbers the notebook checks
if [ "$what" = quick ] || [ "$what" = all ]; then
  run results/pmgt/quick_ml-100k_mlp_pmgt_seed0.json --init pmgt --model mlp --seed 0 --epochs 5
fi
if [ "$what" = main ] || [ "$what" = all ]; then
  for model in mlp neumf sasrec; do
    for seed in 0 1 2; do
      for init in random raw pmgt; do
        run "results/pmgt/ml-100k_${model}_${init}_seed${seed}.json" --init "$init" --model "$model" --seed "$seed"
      done
    done
  done
fi
# SASRec is still improving at 30 epochs and a patience of 5 stops some seeds on their early
# plateau: the same runs with 100 epochs and a patience of 20
if [ "$what" = long ] || [ "$what" = all ]; then
  for seed in 0 1 2; do
    for init in random raw pmgt; do
      run "results/pmgt/ml-100k_sasrec_${init}-100ep_seed${seed}.json" --init "$init" --model sasrec --seed "$seed" \
        --epochs 100 --patience 20
    done
  done
fi
# ablations of pre-training (NCF-MLP from PMGT): no diversity term, no structure loss, no feature
# reconstruction, the official code's sampling that keeps the centre in its own context
if [ "$what" = ablations ] || [ "$what" = all ]; then
  for seed in 0 1 2; do
    run "results/pmgt/ml-100k_mlp_pmgt-alpha0_seed${seed}.json" --init pmgt --seed "$seed" --alpha 0
    run "results/pmgt/ml-100k_mlp_pmgt-no-structure_seed${seed}.json" --init pmgt --seed "$seed" --no-structure
    run "results/pmgt/ml-100k_mlp_pmgt-no-feature_seed${seed}.json" --init pmgt --seed "$seed" --no-feature
    run "results/pmgt/ml-100k_mlp_pmgt-keep-centre_seed${seed}.json" --init pmgt --seed "$seed" --keep-centre
  done
fi
