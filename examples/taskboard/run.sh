#!/usr/bin/env bash
# Builds and runs the taskboard example, from any directory:
#
#   bash examples/taskboard/run.sh [SERVER FLAGS...]   build everything, then serve
#   bash examples/taskboard/run.sh --test              build everything, then run the browser tests
#                                                      (the board, sign-in through a dev OpenID Provider, passkeys)
#
# Steps: npm ci in frontends/ and in examples/taskboard/web/ (skipped when
# node_modules is newer than package-lock.json), build @mizan/base and
# @mizan/react, build the Go server, write its IR and generate the React
# client from it (mizan generate) into web/src/gen/, type-check and build
# the UI with Vite into web/dist/, then start the server, which prints the
# URL to open. Server flags (-addr, -db, -reset, -cache=false) are passed
# on; see go -C examples doc ./taskboard. Needs Go, Node.js 20.19+ and npm.
# The example is in the Go module of examples/ (examples/go.mod), so the
# server is built there (go -C examples); mizan generate is built at the
# root, in the library's module.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

mode=serve
if [[ ${1-} == --test ]]; then
  mode=test
  shift
fi

step() { printf '==> %s\n' "$*" >&2; }

# npm_ci_if_needed DIR runs npm ci in DIR unless its node_modules was
# installed from the current package-lock.json.
npm_ci_if_needed() {
  local dir=$1
  if [[ ! -f $dir/node_modules/.package-lock.json || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    step "npm ci in ${dir}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

for tool in go node npm; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed (see README.md)" >&2; exit 1; }
done

npm_ci_if_needed frontends
step "building @mizan/base and @mizan/react"
(cd frontends && npm run build --silent >/dev/null)

npm_ci_if_needed examples/taskboard/web

build="$here/.build"
mkdir -p "$build"
step "building the server (go -C examples build ./taskboard)"
go -C examples build -o "$build/taskboard" ./taskboard

step "generating the client (mizan generate --target react)"
go run ./cmd/mizan generate --cmd "$(printf '%q' "$build/taskboard")" --target react=examples/taskboard/web/src/gen >&2

step "building the UI (tsc --noEmit && vite build)"
(cd examples/taskboard/web && npm run build --silent -- --logLevel warn >&2)

if [[ $mode == test ]]; then
  step "browser tests (node --test e2e/taskboard.test.mjs e2e/oidc.test.mjs e2e/passkey.test.mjs)"
  cd examples/taskboard/web
  TASKBOARD_BIN="$build/taskboard" exec npm run e2e --silent
fi

step "starting the server"
exec "$build/taskboard" -ui examples/taskboard/web/dist "$@"
