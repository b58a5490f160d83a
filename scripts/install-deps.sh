#!/usr/bin/env bash
# Installs the Debian packages fleetdesk needs to build, test and benchmark.
# Called by the Makefile when pkg-config cannot find a library, and by .ci/run.
# Idempotent: packages already present are skipped by apt itself.
set -euo pipefail

BUILD_PKGS="build-essential pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev libcurl4-openssl-dev libcmocka-dev"
TEST_PKGS="clang libclang-rt-14-dev curl python3 sqlite3"
# End-to-end browser tests (tests/e2e): Debian's Chromium, driven by playwright-core
# from npm (never a browser download), and fixed fonts so screenshots render alike.
E2E_PKGS="chromium fonts-dejavu-core"
BENCH_PKGS="wrk nginx-light"

want="$BUILD_PKGS $TEST_PKGS $E2E_PKGS"
case "${1:-}" in
  --bench) want="$want $BENCH_PKGS" ;;
  --all)   want="$want $BENCH_PKGS" ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js and npm run the e2e tests (tests/e2e/package.json pins playwright-core to a
# release that runs on Node.js 18, Debian 12's nodejs). A machine may already have a
# Node.js from elsewhere (nodesource's nodejs ships npm itself, and Debian's npm package
# would conflict with it), so apt installs them only when the commands are missing.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -z "$missing" ]; then
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -lt 18 ]; then
    echo "install-deps: node $(node --version 2>/dev/null) is too old for the e2e tests (18 or later needed)" >&2
  fi
  exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
