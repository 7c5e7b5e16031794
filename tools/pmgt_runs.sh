#!/usr/bin/env bash
# Chapter 6 runs: NCF (MLP and NeuMF) and SASRec from random / raw-feature / PMGT item embeddings,
# 3 seeds each (PMGT pre-trained with the same seed), on MovieLens-100k (graph from the early period)
# and on S3-Rec's Amazon Toys (graph from half of the users); ablations of pre-training on SASRec.
# Usage (from the project root):
#   LESSONS_DATA_DIR=... bash tools/pmgt_runs.sh [quick|main|long|ablations|toys|all]
# Runs whose results file exists are skipped; JOBS=2 runs two at a time (one thread each).
set -euo pipefail
PY=${PY:-.venv/bin/python}
JOBS=${JOBS:-1}
what=${1:-main}
out=results/pmgt
queue=()
run() {  # run OUTPUT ARGS…: queue a run whose results file does not exist yet
  local file=$1; shift
  [ -f "$file" ] || queue+=("$PY -m lessons_src.pmgt.downstream $* --no-progress --output $file")
}
# the notebook's quick run (5 epochs of NCF-MLP from PMGT), whose numbers the notebook checks
if [ "$what" = quick ] || [ "$what" = all ]; then
  run $out/quick_ml-100k_mlp_pmgt_seed0.json --init pmgt --model mlp --seed 0 --epochs 5
fi
if [ "$what" = main ] || [ "$what" = all ]; then
  for model in mlp neumf sasrec; do
    for seed in 0 1 2; do
      for init in random raw pmgt; do
        run $out/ml-100k_${model}_${init}_seed${seed}.json --init $init --model $model --seed $seed
      done
    done
  done
fi
# SASRec is still improving at 30 epochs and a patience of 5 stops some seeds on their early
# plateau: the same runs with 100 epochs and a patience of 20
if [ "$what" = long ] || [ "$what" = all ]; then
  for seed in 0 1 2; do
    for init in random raw pmgt; do
      run $out/ml-100k_sasrec_${init}-100ep_seed${seed}.json --init $init --model sasrec --seed $seed \
        --epochs 100 --patience 20
    done
  done
fi
# ablations of pre-training, on the recommender whose start matters (SASRec, 100 epochs): no
# diversity term, no structure loss, no feature reconstruction, the official sampling that keeps the
# centre in its own context, and the one-pass shortcut whose positive is a context position
if [ "$what" = ablations ] || [ "$what" = all ]; then
  for seed in 0 1 2; do
    for variant in "alpha0 --alpha 0" "no-structure --no-structure" "no-feature --no-feature" \
                   "keep-centre --keep-centre" "in-context --in-context-positive"; do
      set -- $variant
      name=$1; shift
      run $out/ml-100k_sasrec_pmgt-100ep-${name}_seed${seed}.json --init pmgt --model sasrec --seed $seed \
        --epochs 100 --patience 20 "$@"
    done
  done
fi
# Amazon Toys (S3-Rec's files: attributes as the side information); SASRec's epochs take ~20 s here
# (one thread), so 40 epochs with a patience of 10 instead of the 100 / 20 of MovieLens
if [ "$what" = toys ] || [ "$what" = all ]; then
  for model in mlp sasrec; do
    length=""
    [ $model = sasrec ] && length="--epochs 40 --patience 10"
    for seed in 0 1 2; do
      for init in random raw pmgt; do
        run $out/toys_${model}_${init}_seed${seed}.json --dataset toys --init $init --model $model --seed $seed $length
      done
    done
  done
fi
[ ${#queue[@]} -gt 0 ] || { echo "nothing to run"; exit 0; }
printf '%s\n' "${queue[@]}" | OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} \
  xargs -P "$JOBS" -I{} bash -c '{}'
