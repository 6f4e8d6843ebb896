#!/usr/bin/env bash
# Builds and runs a front end of the quickstart (examples/quickstart-vue or
# examples/quickstart-svelte), from any directory; their run.sh call it:
#
#   bash examples/quickstart/web.sh vue|svelte [SERVER FLAGS...]   build everything, then serve
#   bash examples/quickstart/web.sh vue|svelte --test              build everything, then run the browser test
#
# Steps: npm ci in frontends/ and in examples/quickstart-<framework>/
# (skipped when node_modules is newer than package-lock.json), build
# @mizan/base and @mizan/<framework>, build the quickstart (go -C examples
# build ./quickstart; the examples are a Go module of their own), write its
# IR and generate the client from it (mizan generate --target <framework>:
# types.ts, client.ts, and composables.ts for Vue or stores.ts for Svelte)
# into src/gen/, type-check (vue-tsc or svelte-check) and build the UI with
# Vite into dist/, then start the quickstart with -ui dist: the UI is at
# /ui/ of the URL it prints. Server flags (-addr, -cache=false) are passed
# on. Needs Go, Node.js 20.19+ and npm.
set -euo pipefail
fw=${1-}
case $fw in
  vue | svelte) shift ;;
  *) echo "web.sh: the first argument is vue or svelte" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
app="examples/quickstart-$fw"

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
step "building @mizan/base and @mizan/$fw"
(cd frontends && npm run build --silent -w @mizan/base >/dev/null && npx tsc -p "$fw/tsconfig.build.json")

npm_ci_if_needed "$app"

build="$root/$app/.build"
mkdir -p "$build"
step "building the quickstart (go -C examples build ./quickstart)"
go -C examples build -o "$build/quickstart" ./quickstart

step "generating the client (mizan generate --target $fw)"
go run ./cmd/mizan generate --cmd "$(printf '%q' "$build/quickstart")" --target "$fw=$app/src/gen" >&2

step "building the UI (type check && vite build)"
(cd "$app" && npm run build --silent -- --logLevel warn >&2)

if [[ $mode == test ]]; then
  step "browser test (node --test e2e/quickstart-$fw.test.mjs)"
  cd "$app"
  QUICKSTART_BIN="$build/quickstart" exec npm run e2e --silent
fi

step "starting the quickstart (the UI is under /ui/)"
exec "$build/quickstart" -ui "$app/dist" "$@"
