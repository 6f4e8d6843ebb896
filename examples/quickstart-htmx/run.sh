#!/usr/bin/env bash
# Builds and runs the htmx page of the quickstart, from any directory:
#
#   bash examples/quickstart-htmx/run.sh [SERVER FLAGS...]   build everything, then serve
#   bash examples/quickstart-htmx/run.sh --test              build everything, then run the browser test
#
# Steps: npm ci in frontends/ and here (skipped when node_modules is newer
# than package-lock.json), build @mizan/base and @mizan/htmx (its <script>
# build, dist/mizan-htmx.js), build the server (go -C examples build
# ./quickstart-htmx; the examples are a Go module of their own), then start
# it with -node-modules pointing here: the page at / loads htmx.org and
# @mizan/htmx from this node_modules through the server. Server flags
# (-addr) are passed on. Needs Go, Node.js 20.19+ and npm.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
app="examples/quickstart-htmx"

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
step "building @mizan/base and @mizan/htmx"
(cd frontends && npm run build --silent -w @mizan/base >/dev/null && npm run build --silent -w @mizan/htmx >/dev/null)

npm_ci_if_needed "$app"

build="$root/$app/.build"
mkdir -p "$build"
step "building the server (go -C examples build ./quickstart-htmx)"
go -C examples build -o "$build/quickstart-htmx" ./quickstart-htmx

if [[ $mode == test ]]; then
  step "browser test (node --test e2e/quickstart-htmx.test.mjs)"
  cd "$app"
  QUICKSTART_HTMX_BIN="$build/quickstart-htmx" exec npm run e2e --silent
fi

step "starting the server (open / in a browser)"
exec "$build/quickstart-htmx" -node-modules "$root/$app/node_modules" "$@"
