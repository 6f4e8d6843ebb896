#!/usr/bin/env bash
# The OpenAPI checks of docs/openapi.md, run by CI as
#
#   bash conformance/openapi/run.sh
#
# 1. builds the fixture (docs/spec.md §7) and writes its OpenAPI document
#    with "mizan openapi --cmd";
# 2. validates it with @seriousme/openapi-schema-validator and
#    "redocly lint" (redocly.yaml);
# 3. generates a client with openapi-typescript and type-checks usage.ts
#    against it (tsc --strict);
# 4. starts the fixture and fuzzes it from the document (fuzz.mjs:
#    MIZAN_FUZZ_RUNS requests, default 3000, seeded by MIZAN_FUZZ_SEED,
#    default 19).
# Node packages come from this directory's package-lock.json (npm ci).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== openapi: %s\n' "$*"; }

step "npm ci"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
bin="$here/node_modules/.bin"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

step "build the fixture and write its document"
(cd "$root" && go build -o "$work/fixture" ./conformance/fixture)
doc="$work/openapi.json"
(cd "$root" && go run ./cmd/mizan openapi --cmd "$work/fixture" --title "Mizan fixture" --auth -o "$doc")
# The fixture's document is the generator's golden file (openapi/testdata).
if ! cmp -s "$doc" "$root/openapi/testdata/fixture.json"; then
	echo "the fixture's document differs from openapi/testdata/fixture.json: run go test ./openapi -update" >&2
	exit 1
fi

step "@seriousme/openapi-schema-validator"
out=$("$bin/validate-api" "$doc")
echo "$out"
echo "$out" | grep -q '"valid": true'

step "redocly lint"
"$bin/redocly" lint --config "$here/redocly.yaml" "$doc"

step "openapi-typescript and tsc"
mkdir -p "$work/ts"
"$bin/openapi-typescript" "$doc" -o "$work/ts/api.ts"
cp "$here/usage.ts" "$work/ts/usage.ts"
cat >"$work/ts/tsconfig.json" <<'EOF'
{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "lib": ["ES2022", "DOM"],
    "noUncheckedIndexedAccess": true,
    "exactOptionalPropertyTypes": true,
    "skipLibCheck": false,
    "types": []
  },
  "files": ["usage.ts"]
}
EOF
"$bin/tsc" -p "$work/ts/tsconfig.json"
echo "usage.ts type-checks against the generated client"

step "fuzz the fixture"
mkfifo "$work/out"
"$work/fixture" -addr 127.0.0.1:0 >"$work/out" 2>"$work/fixture.log" &
pid=$!
exec 3<"$work/out"
read -r -t 30 line <&3
url=${line##* }
case "$url" in
http://*) ;;
*)
	echo "the fixture did not start: $line" >&2
	cat "$work/fixture.log" >&2
	exit 1
	;;
esac
cat <&3 >/dev/null &
if ! node "$here/fuzz.mjs" "$doc" "$url"; then
	echo "--- fixture log (last 40 lines)" >&2
	tail -n 40 "$work/fixture.log" >&2
	exit 1
fi
