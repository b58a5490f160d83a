#!/usr/bin/env bash
# The banned-function check (STYLE.md): no sprintf, strcpy, strncpy, strcat,
# strtok, atoi or gets in our C. Writes build/results/lint.txt.
set -u
mkdir -p build/results
hits=$(grep -nE '\b(sprintf|strcpy|strncpy|strcat|strtok|atoi|gets)[[:space:]]*\(' \
  $(find src tests/unit fuzz -name '*.c' -o -name '*.h' 2>/dev/null) | grep -v 'snprintf' || true)
if [ -n "$hits" ]; then
  echo "lint: banned functions used:"; echo "$hits"
  echo "0 1" > build/results/lint.txt; exit 1
fi
echo "lint: no banned functions"
echo "1 0" > build/results/lint.txt
