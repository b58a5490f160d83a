#!/usr/bin/env bash
# Sums the per-suite results in build/results/SUITE.txt ("PASSED FAILED") and
# prints one line per suite, then the total as the last line. A suite that
# wrote no result counts as one failure. Exits 1 if anything failed.
set -u
tp=0; tf=0
for s in "$@"; do
  f="build/results/$s.txt"
  if [ -s "$f" ]; then
    read -r p fl < "$f"
  else
    p=0; fl=1; echo "$s: no results (the suite did not run to the end)"
  fi
  echo "suite $s: $p passed, $fl failed"
  tp=$((tp + p)); tf=$((tf + fl))
done
echo "$tp passed, $tf failed"
[ "$tf" -eq 0 ]
