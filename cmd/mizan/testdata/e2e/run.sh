#!/usr/bin/env bash
# The new-project test, from any directory:
#
#   bash cmd/mizan/testdata/e2e/run.sh
#
# Installs playwright-core here (npm ci, skipped when node_modules is newer
# than package-lock.json), then runs scaffold.test.mjs: mizan init into a
# temporary directory outside the repository, make build, make test, the
# built app in headless Chromium, then make dev (proxy, hot reload, a
# rebuild on a Go change, one Ctrl+C). Needs Go, Node.js 20.19+ with npm,
# make, the npm registry (the new app's npm install) and the Go module
# proxy (its go mod tidy), and Chromium at /usr/bin/chromium (CHROMIUM_PATH)
# or the test is skipped, except under CI=true.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

for tool in go node npm make; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 1; }
done

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "==> npm ci in cmd/mizan/testdata/e2e" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
exec npm test --silent
