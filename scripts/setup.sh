#!/usr/bin/env bash
# Quick start, step 1: install everything memview needs, build it, and run the demo on the sample machine.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
# libfuse2 + fusermount: fuse-native, the fallback backend. libfuse3-dev + a C compiler: npm ci builds the
# native libfuse 3 backend. Debian's fuse3 package is not needed (it would replace fuse; either one's
# fusermount serves unprivileged mounts of both backends).
if ! ldconfig -p | grep -q 'libfuse.so.2' || ! command -v fusermount >/dev/null || ! pkg-config --exists fuse3 2>/dev/null || ! command -v cc >/dev/null || ! command -v make >/dev/null; then
  echo "== installing libfuse2, fuse, libfuse3-dev and build tools (Debian packages)"
  $SUDO apt-get update -qq
  fusermount_pkg=fuse
  dpkg -s fuse3 >/dev/null 2>&1 && fusermount_pkg=fuse3 # fuse3 already there: its fusermount serves both
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libfuse2 "$fusermount_pkg" libfuse3-dev build-essential pkg-config python3 >/dev/null
fi
echo "== installing npm dependencies and building"
npm ci --no-audit --no-fund --loglevel=error   # its install script builds native/ (native/build.log)
npx tsc -p tsconfig.json
bash scripts/demo.sh
