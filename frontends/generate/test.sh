#!/usr/bin/env bash
# The test of @mizan/generate, the npm launcher of `mizan generate`:
#
#   bash frontends/generate/test.sh
#
# Packs the launcher and every platform package (scripts/pack.mjs: a
# cross-compile of cmd/mizan per platform), installs the launcher and this
# machine's platform package from those tarballs into a new project outside
# the repository (no registry: npm runs --offline with an empty cache, so the
# other platforms' optional packages are skipped as npm skips them for a
# user), and there:
#   - generates the React client of codegen/testdata/fixture/ir.kdl with
#     `npx mizan-generate --ir ... --target react=src/api` and compares it
#     with the golden files codegen/testdata/fixture/react/;
#   - does it again reading the IR from standard input (--ir -);
#   - checks that exit codes are forwarded: 1 for a bad IR file (with the
#     generator's message), 2 for a bad command line;
#   - checks the error for a platform whose package is not installed and for
#     one that has none (MIZAN_GENERATE_PLATFORM overrides the platform).
# MIZAN_GENERATE_TEST_PLATFORMS=linux-x64,... packs only those platforms
# (default: all; the host's is always packed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }

host="$(node -p 'process.platform + "-" + process.arch')"
version="$(node -p "require('$here/package.json').version")"
platforms="${MIZAN_GENERATE_TEST_PLATFORMS:-all}"
if [[ $platforms == all ]]; then
  platforms="$(node --input-type=module -e "import { PLATFORMS } from '$here/platforms.js'; console.log(Object.keys(PLATFORMS).join(','))")"
fi
[[ ",$platforms," == *",$host,"* ]] || platforms="$platforms,$host"

tsc="$here/../node_modules/.bin/tsc"
if [[ -x $tsc ]]; then
  echo "== tsc -p frontends/generate (strict, checkJs)"
  "$tsc" -p "$here" || fail "tsc -p $here"
else
  echo "== skipping the type check: no $tsc (npm ci in frontends/ installs it)"
fi

echo "== pack ($platforms)"
start=$SECONDS
node "$here/scripts/pack.mjs" --out "$tmp/packs" --platforms "$platforms"
echo "pack: $((SECONDS - start))s"
for key in ${platforms//,/ }; do
  tgz="$tmp/packs/mizan-generate-$key-$version.tgz"
  [[ -f $tgz ]] || fail "no tarball $tgz"
done
launcher="$tmp/packs/mizan-generate-$version.tgz"
[[ -f $launcher ]] || { fail "no launcher tarball $launcher"; exit 1; }
if tar -tzf "$launcher" | grep -qE 'scripts/|test\.sh|tsconfig'; then
  fail "the launcher tarball ships its build files: $(tar -tzf "$launcher" | tr '\n' ' ')"
fi

echo "== install into $tmp/app"
app="$tmp/app"
mkdir -p "$app"
cd "$app"
printf '{ "name": "app", "private": true, "version": "1.0.0" }\n' >package.json
npm install --no-audit --no-fund --offline --cache "$tmp/npm-cache" \
  "$launcher" "$tmp/packs/mizan-generate-$host-$version.tgz"
[[ -x node_modules/.bin/mizan-generate ]] || fail "node_modules/.bin/mizan-generate is missing"
if grep -q '"\(pre\|post\)\?install"' node_modules/@mizan/generate/package.json; then
  fail "the launcher has an install script"
fi
got_version="$(node_modules/@mizan/generate-"$host"/bin/mizan* version)"
[[ $got_version == "mizan v$version" ]] || fail "the platform binary says \"$got_version\", want \"mizan v$version\""

cp "$repo/codegen/testdata/fixture/ir.kdl" app.ir.kdl
golden="$repo/codegen/testdata/fixture/react"

echo "== generate"
if npx --no -- mizan-generate --ir app.ir.kdl --target react=src/api >"$tmp/out" 2>"$tmp/err"; then
  grep -q 'react: 3 files in src/api' "$tmp/out" || fail "generate printed: $(cat "$tmp/out")"
  if diff -r "$golden" src/api; then pass "npx mizan-generate --ir app.ir.kdl --target react=src/api matches $golden"; else fail "src/api differs from $golden"; fi
else
  fail "npx mizan-generate --ir app.ir.kdl --target react=src/api exited $?: $(cat "$tmp/err")"
fi

if npx --no -- mizan-generate --ir - --target react=src/stdin <app.ir.kdl >/dev/null 2>"$tmp/err"; then
  if diff -r "$golden" src/stdin; then pass "--ir - (standard input) matches $golden"; else fail "src/stdin differs from $golden"; fi
else
  fail "mizan-generate --ir - exited $?: $(cat "$tmp/err")"
fi

echo "== exit codes"
# expect_exit CODE PATTERN [ENV=VALUE...] -- ARGS...: mizan-generate ARGS
# exits with CODE and its standard error matches PATTERN.
expect_exit() {
  local want="$1" pattern="$2"
  shift 2
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  local code=0
  env "${envs[@]}" npx --no -- mizan-generate "$@" >"$tmp/out" 2>"$tmp/err" || code=$?
  if [[ $code != "$want" ]]; then
    fail "mizan-generate $* (${envs[*]}) exited $code, want $want; stderr: $(cat "$tmp/err")"
  elif ! grep -qE "$pattern" "$tmp/err"; then
    fail "mizan-generate $* (${envs[*]}): stderr does not match /$pattern/: $(cat "$tmp/err")"
  else
    pass "mizan-generate $* ${envs[*]}: exit $code, $(head -n1 "$tmp/err")"
  fi
}
printf 'this is not { an IR\n' >bad.ir.kdl
expect_exit 1 '^mizan generate: bad\.ir\.kdl: ' -- --ir bad.ir.kdl --target react=src/bad
[[ ! -e src/bad ]] || fail "a bad IR wrote src/bad"
expect_exit 2 '^mizan generate: --target is required' -- --ir app.ir.kdl
expect_exit 2 'flag provided but not defined: -no-such-flag' -- --no-such-flag

echo "== signals"
# SIGTERM to the launcher reaches the binary (here waiting for a --cmd
# program), and the launcher dies of the same signal.
node_modules/.bin/mizan-generate --cmd 'sleep 20' --target react=src/sig >/dev/null 2>&1 &
launcher_pid=$!
child_pid=""
for _ in $(seq 100); do
  child_pid="$(pgrep -P "$launcher_pid" -x mizan || true)"
  [[ -n $child_pid ]] && break
  sleep 0.1
done
if [[ -z $child_pid ]]; then
  fail "the launcher started no mizan process"
  kill "$launcher_pid" 2>/dev/null || true
else
  kill -TERM "$launcher_pid"
  code=0
  wait "$launcher_pid" || code=$?
  [[ $code == 143 ]] || fail "the launcher killed with SIGTERM exited $code, want 143 (died of SIGTERM)"
  gone=no
  for _ in $(seq 100); do
    if ! kill -0 "$child_pid" 2>/dev/null; then gone=yes; break; fi
    sleep 0.1
  done
  if [[ $gone == yes ]]; then pass "SIGTERM is forwarded to mizan (exit $code)"; else fail "mizan ($child_pid) outlived the launcher killed with SIGTERM"; kill "$child_pid" 2>/dev/null || true; fi
fi

echo "== platform errors"
other=darwin-arm64
[[ $host != "$other" ]] || other=linux-x64
expect_exit 1 "^mizan-generate: the package @mizan/generate-$other is not installed" \
  MIZAN_GENERATE_PLATFORM="$other" -- --ir app.ir.kdl --target react=src/other
expect_exit 1 '^mizan-generate: no prebuilt binary for platform plan9-mips: there is no package @mizan/generate-plan9-mips \(platforms with one: linux-x64, ' \
  MIZAN_GENERATE_PLATFORM=plan9-mips -- --ir app.ir.kdl --target react=src/other
[[ ! -e src/other ]] || fail "a missing platform package wrote src/other"

if ((fails > 0)); then
  echo "frontends/generate/test.sh: $fails failure(s)" >&2
  exit 1
fi
echo "frontends/generate/test.sh: all passed"
