#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer driver fuzz/fuzz_request.c with clang
# (libFuzzer + ASan + UBSan) against all of src/ except main.c, then runs it
# for a bounded time (FUZZ_SECONDS, default 20) on a copy of its seed corpus
# with the dictionary. The repository corpus is never written to.
#
# Writes build/results/fuzz.txt as "PASSED FAILED": "1 0" when the build and
# the run succeed, "0 1" on a build failure, a crash, a sanitizer report or a
# contract violation (the crashing input is kept in build/fuzz/artifacts/).
# Prints "fuzz: N passed, N failed" last and exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

PKGS=(libmicrohttpd jansson sqlite3 libsodium libcurl)
CC=${FUZZ_CC:-clang}
SECONDS_TO_RUN=${FUZZ_SECONDS:-20}
OUT=build/fuzz
OBJ=$OUT/obj
BIN=$OUT/fuzz_request
LOG=$OUT/fuzz.log

mkdir -p build/results "$OUT"

finish() { # finish PASSED FAILED
	echo "$1 $2" > build/results/fuzz.txt
	echo "fuzz: $1 passed, $2 failed"
	[ "$2" -eq 0 ]
	exit $?
}

if ! command -v "$CC" > /dev/null; then
	echo "fuzz: $CC not found (scripts/install-deps.sh installs it)" >&2
	finish 0 1
fi
if ! PKG_CFLAGS=$(pkg-config --cflags "${PKGS[@]}") || ! PKG_LIBS=$(pkg-config --libs "${PKGS[@]}"); then
	echo "fuzz: pkg-config cannot find ${PKGS[*]}" >&2
	finish 0 1
fi

# the commas belong to -fsanitize=; the pkg-config output is split into words on purpose
# shellcheck disable=SC2054,SC2206
CFLAGS=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
	-std=c17 -D_GNU_SOURCE -Isrc $PKG_CFLAGS)

# Objects built with other flags (or another compiler) are thrown away.
stamp="$CC ${CFLAGS[*]}"
if [ ! -f "$OUT/flags" ] || [ "$(cat "$OUT/flags")" != "$stamp" ]; then
	rm -rf "$OBJ"
	printf '%s\n' "$stamp" > "$OUT/flags"
fi

# 1 if $2 (an object) must be rebuilt from $1: missing, or older than its
# source or than any header under src/.
stale() {
	[ ! -f "$2" ] || [ "$1" -nt "$2" ] || [ -n "$(find src -name '*.h' -newer "$2" -print -quit)" ]
}

echo "fuzz: building $BIN with $CC"
objs=()
pids=()
srcs=()
while IFS= read -r src; do
	o=$OBJ/${src#src/}
	o=${o%.c}.o
	objs+=("$o")
	if stale "$src" "$o"; then
		mkdir -p "$(dirname "$o")"
		"$CC" "${CFLAGS[@]}" -c "$src" -o "$o" 2> "$o.log" &
		pids+=($!)
		srcs+=("$src")
	fi
done < <(find src -name '*.c' ! -path src/main.c | sort)

blob=$OBJ/api/openapi_blob.o
objs+=("$blob")
if stale src/api/openapi_blob.S "$blob" || [ openapi.json -nt "$blob" ]; then
	mkdir -p "$(dirname "$blob")"
	"$CC" -c src/api/openapi_blob.S -o "$blob" 2> "$blob.log" &
	pids+=($!)
	srcs+=(src/api/openapi_blob.S)
fi

# the web app's files, embedded as the binary embeds them
web=$OBJ/web_assets.o
objs+=("$web")
mkdir -p "$OBJ"
scripts/gen-web-assets.sh > "$OBJ/web_assets.S.tmp" || finish 0 1
if ! cmp -s "$OBJ/web_assets.S.tmp" "$OBJ/web_assets.S" || [ ! -f "$web" ] ||
	[ -n "$(find web -type f -newer "$web" -print -quit)" ]; then
	mv "$OBJ/web_assets.S.tmp" "$OBJ/web_assets.S"
	"$CC" -c "$OBJ/web_assets.S" -o "$web" 2> "$web.log" &
	pids+=($!)
	srcs+=(web_assets.S)
else
	rm -f "$OBJ/web_assets.S.tmp"
fi

failed=0
for i in "${!pids[@]}"; do
	if ! wait "${pids[$i]}"; then
		failed=1
		echo "fuzz: compiling ${srcs[$i]} failed:" >&2
		o=$OBJ/${srcs[$i]#src/}
		cat "${o%.*}.o.log" >&2
		rm -f "${o%.*}.o"
	fi
done
[ "$failed" -eq 0 ] || finish 0 1

# the driver itself is ours: it builds without a warning
if ! "$CC" "${CFLAGS[@]}" -Wall -Wextra -Wno-unused-parameter -Werror -c fuzz/fuzz_request.c \
	-o "$OUT/fuzz_request.o"; then
	echo "fuzz: compiling fuzz/fuzz_request.c failed" >&2
	finish 0 1
fi
# shellcheck disable=SC2086
if ! "$CC" "${CFLAGS[@]}" -o "$BIN" "$OUT/fuzz_request.o" "${objs[@]}" $PKG_LIBS -lpthread; then
	echo "fuzz: linking $BIN failed" >&2
	finish 0 1
fi

# Run on a copy of the corpus: what the fuzzer finds stays in build/.
rm -rf "$OUT/corpus" "$OUT/artifacts"
mkdir -p "$OUT/corpus" "$OUT/artifacts"
cp fuzz/corpus/request/* "$OUT/corpus/"

echo "fuzz: running $BIN for ${SECONDS_TO_RUN}s on $(find "$OUT/corpus" -type f | wc -l) seeds (log: $LOG)"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
	"$BIN" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
	-dict=fuzz/fleetdesk.dict -artifact_prefix="$OUT/artifacts/" -print_final_stats=1 \
	"$OUT/corpus" > "$LOG" 2>&1
rc=$?

if [ "$rc" -ne 0 ] || ls "$OUT"/artifacts/* > /dev/null 2>&1; then
	echo "fuzz: the fuzzer failed (exit $rc); the end of $LOG:" >&2
	tail -n 60 "$LOG" >&2
	for a in "$OUT"/artifacts/*; do
		[ -f "$a" ] && echo "fuzz: reproduce with: $BIN $a" >&2
	done
	finish 0 1
fi
grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|Done [0-9]+ runs)' "$LOG" | tail -n 2
finish 1 0
