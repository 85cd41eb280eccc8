#!/usr/bin/env node
/*
 * Builds the native libfuse 3 backend (native/) with node-gyp; `npm ci` runs
 * this as the package's install script. It never fails the install: without
 * libfuse3-dev or a compiler, memview mounts with fuse-native and says so.
 * Offline: node-gyp builds against the installed Node headers (--nodedir),
 * nothing is downloaded. The build's output goes to native/build.log.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const native = path.join(__dirname, '..', 'native');
const log = path.join(native, 'build.log');

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp, // set by npm for scripts: its bundled node-gyp
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && fs.existsSync(c));
}

function build() {
  if (spawnSync('pkg-config', ['--exists', 'fuse3']).status !== 0)
    return 'libfuse 3 headers not found (pkg-config fuse3; Debian: apt-get install libfuse3-dev)';
  const gyp = nodeGyp();
  if (!gyp) return 'node-gyp not found (it comes with npm)';
  const args = [gyp, 'rebuild', `--directory=${native}`];
  // The headers of the running Node, when it has them (Debian's nodejs, nodesource): no download.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  const out = fs.openSync(log, 'w');
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  return r.status === 0 ? null : `node-gyp failed (${log})`;
}

let reason;
try {
  reason = build();
} catch (e) {
  reason = e.message;
}
if (reason) process.stdout.write(`memview: native libfuse 3 backend not built: ${reason}; mounts are served by fuse-native\n`);
else process.stdout.write('memview: native libfuse 3 backend built (native/build/Release/memview_fuse.node)\n');
