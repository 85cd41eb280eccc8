#!/usr/bin/env bash
# Quick start, step 1: install everything memview needs, build it, and run the demo on the sample machine.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if ! ldconfig -p | grep -q 'libfuse.so.2' || ! command -v fusermount >/dev/null; then
  echo "== installing libfuse2 and fuse (Debian packages)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libfuse2 fuse >/dev/null
fi
echo "== installing npm dependencies and building"
npm ci --no-audit --no-fund --loglevel=error
npx tsc -p tsconfig.json
bash scripts/demo.sh
