#!/usr/bin/env bash
# The runs behind chapter 5's results (results/mgnm/*.json), two at a time, one thread each:
#   bash tools/mgnm_runs.sh [ablations|sensitivity|leave-one-out|all]
# Every run records its command, seed, hardware and wall time in its JSON file.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
what=${1:-all}
TOYS="--dataset toys --protocol time-ordered --maxlen 20 --hidden 64 --epochs 4 --eval-every 2 --no-progress"
LOO="--dataset ml-100k --protocol leave-one-out --maxlen 50 --hidden 64 --epochs 10 --eval-every 5 --cuts-per-user 8 --no-progress"
jobs=()
if [[ $what == ablations || $what == all ]]; then
  for seed in 0 1 2; do
    jobs+=("-m lessons_src.mgnm.train $TOYS --seed $seed --output results/mgnm/toys_mgnm_seed$seed.json")
    jobs+=("-m lessons_src.mgnm.train $TOYS --levels 0 --seed $seed --output results/mgnm/toys_one_level_seed$seed.json")
    jobs+=("-m lessons_src.mgnm.train $TOYS --edge-form plain --seed $seed --output results/mgnm/toys_plain_graph_seed$seed.json")
    jobs+=("-m lessons_src.mgnm.train $TOYS --non-iterative --seed $seed --output results/mgnm/toys_non_iterative_seed$seed.json")
    jobs+=("-m lessons_src.mgnm.train $TOYS --no-time-order --seed $seed --output results/mgnm/toys_no_bilstm_seed$seed.json")
    jobs+=("-m lessons_src.mgnm.train $TOYS --edge-form plain --non-iterative --public-code-reshape --seed $seed --output results/mgnm/toys_public_code_seed$seed.json")
  done
fi
if [[ $what == leave-one-out || $what == all ]]; then
  for seed in 0 1 2; do
    jobs+=("-m lessons_src.mgnm.train $LOO --seed $seed --output results/mgnm/ml-100k_mgnm_seed$seed.json")
    jobs+=("-m lessons_src.capsules.interest_train --dataset ml-100k --epochs 10 --eval-every 5 --hidden 64 --cuts-per-user 8 --bilinear per_position --logits-init zero --seed $seed --no-progress --output results/mgnm/ml-100k_comirec_seed$seed.json")
    jobs+=("-m lessons_src.capsules.interest_train --dataset ml-100k --epochs 10 --eval-every 5 --hidden 64 --cuts-per-user 8 --bilinear shared --logits-init random --seed $seed --no-progress --output results/mgnm/ml-100k_mind_seed$seed.json")
  done
fi
if [[ $what == sensitivity || $what == all ]]; then
  for levels in 1 2; do
    jobs+=("-m lessons_src.mgnm.train $TOYS --levels $levels --seed 0 --output results/mgnm/toys_levels${levels}_seed0.json")
  done
  for k in 1 2 8; do
    jobs+=("-m lessons_src.mgnm.train $TOYS --interests $k --seed 0 --output results/mgnm/toys_interests${k}_seed0.json")
  done
fi
printf '%s\n' "${jobs[@]}" | xargs -P 2 -I{} sh -c "$PY {} > /dev/null 2>&1 || echo 'FAILED: {}'"
