#!/usr/bin/env bash
# Builds and runs the Svelte UI of the quickstart, from any directory:
#
#   bash examples/quickstart-svelte/run.sh [SERVER FLAGS...]   build everything, then serve
#   bash examples/quickstart-svelte/run.sh --test              build everything, then run the browser test
#
# Steps: npm ci in frontends/ and here (skipped when node_modules is newer
# than package-lock.json), build @mizan/base and @mizan/svelte, build the
# quickstart, write its IR and generate the Svelte stores from it (mizan
# generate --target svelte) into src/gen/, check (svelte-check) and build
# the UI with Vite into dist/, then start the quickstart with -ui dist: the
# UI is at /ui/. Server flags (-addr, -cache=false) are passed on. Needs Go,
# Node.js 20.19+ and npm. The quickstart is in the Go module of examples/
# (examples/go.mod), so it is built there (go -C examples); mizan generate
# is built at the root, in the library's module.
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
step "building @mizan/base and @mizan/svelte"
(cd frontends && npm run build --silent -w @mizan/base >/dev/null && npx tsc -p svelte/tsconfig.build.json)

npm_ci_if_needed examples/quickstart-svelte

build="$here/.build"
mkdir -p "$build"
step "building the quickstart (go -C examples build ./quickstart)"
go -C examples build -o "$build/quickstart" ./quickstart

step "generating the stores (mizan generate --target svelte)"
go run ./cmd/mizan generate --cmd "$(printf '%q' "$build/quickstart")" --target svelte=examples/quickstart-svelte/src/gen >&2

step "building the UI (svelte-check && vite build)"
(cd examples/quickstart-svelte && npm run build --silent -- --logLevel warn >&2)

if [[ $mode == test ]]; then
  step "browser test (node --test e2e/quickstart-svelte.test.mjs)"
  cd examples/quickstart-svelte
  QUICKSTART_BIN="$build/quickstart" exec npm run e2e --silent
fi

step "starting the quickstart (the Svelte UI is at /ui/)"
exec "$build/quickstart" -ui examples/quickstart-svelte/dist "$@"
