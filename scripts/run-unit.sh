#!/usr/bin/env bash
# Runs cmocka test binaries; writes build/results/NAME.txt as "PASSED FAILED".
set -u
name=$1; shift
mkdir -p build/results
passed=0; failed=0
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  p=${p:-0}; f=${f:-0}
  # a crash or a sanitizer report after the tests ran is a failure too
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed $failed" > "build/results/$name.txt"
echo "$name: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
