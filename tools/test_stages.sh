#!/usr/bin/env bash
# Runs make targets one stage after another and ends with a table of their wall times, also when a
# stage fails (then it exits with that stage's status, after the table). A stage "a+b" runs both
# targets at the same time (for one-core stages); their outputs are printed one after the other.
#   tools/test_stages.sh test-unit+test-colab test-notebooks …      (what `make test` runs)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
rows=(); status=0; began_all=$SECONDS

table() {
  echo
  echo "stage                              wall time   result"
  echo "---------------------------------  ----------  ------"
  for row in "${rows[@]}"; do echo "$row"; done
  local total=$((SECONDS - began_all))
  printf '%-33s  %4d m %02d s  %s\n' "total" $((total / 60)) $((total % 60)) \
    "$([ $status -eq 0 ] && echo passed || echo FAILED)"
}

row() {  # name, seconds, exit status
  printf '%-33s  %4d m %02d s  %s' "$1" $(($2 / 60)) $(($2 % 60)) "$([ "$3" -eq 0 ] && echo ok || echo "FAILED ($3)")"
}

for stage in "$@"; do
  IFS=+ read -r -a targets <<< "$stage"
  pids=(); starts=()
  for target in "${targets[@]}"; do
    if [ ${#targets[@]} -eq 1 ]; then
      start=$SECONDS; ${MAKE:-make} --no-print-directory "$target"; code=$?
      rows+=("$(row "$target" $((SECONDS - start)) $code)")
    else
      ( start=$SECONDS; ${MAKE:-make} --no-print-directory "$target" > "$logs/$target.log" 2>&1; code=$?
        echo "$((SECONDS - start)) $code" > "$logs/$target.done" ) &
      pids+=($!)
    fi
    [ ${#targets[@]} -eq 1 ] && [ "$code" -ne 0 ] && status=$code
  done
  if [ ${#pids[@]} -gt 0 ]; then
    wait "${pids[@]}"
    for target in "${targets[@]}"; do
      echo "===== $target (ran beside: ${stage})"; cat "$logs/$target.log"
      read -r seconds code < "$logs/$target.done"
      rows+=("$(row "$target (beside)" "$seconds" "$code")")
      [ "$code" -ne 0 ] && status=$code
    done
  fi
  [ $status -ne 0 ] && break
done
table
exit $status
