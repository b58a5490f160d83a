#!/usr/bin/env bash
# Installs the Debian packages fleetdesk needs to build, test and benchmark.
# Called by the Makefile when pkg-config cannot find a library, and by .ci/run.
# Idempotent: packages already present are skipped by apt itself.
set -euo pipefail

BUILD_PKGS="build-essential pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev libcurl4-openssl-dev libcmocka-dev"
TEST_PKGS="clang libclang-rt-14-dev curl python3 sqlite3"
BENCH_PKGS="wrk nginx-light"

want="$BUILD_PKGS $TEST_PKGS"
case "${1:-}" in
  --bench) want="$want $BENCH_PKGS" ;;
  --all)   want="$want $BENCH_PKGS" ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
