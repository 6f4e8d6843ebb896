#!/bin/sh
# Builds the golden crates of the rust target (codegen/testdata/*/rust)
# offline with Debian's cargo and rustc and the Debian-packaged crates
# (cargo librust-serde-dev librust-serde-derive-dev librust-serde-json-dev
# librust-ureq-dev), warnings as errors, then runs codegen/testdata/rust-live
# (the fixture's generated client on every fixture function) against a fresh
# fixture app. Run it from anywhere: sh codegen/testdata/rust-check.sh
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
CARGO=${CARGO:-/usr/bin/cargo}
RUSTC=${RUSTC:-/usr/bin/rustc}
REGISTRY=${REGISTRY:-/usr/share/cargo/registry}
for f in "$CARGO" "$RUSTC" "$REGISTRY"/ureq-2.* "$REGISTRY"/serde_json-1.* "$REGISTRY"/serde_derive-1.*; do
	[ -e "$f" ] || { echo "rust-check: $f is missing (apt-get install cargo librust-serde-dev librust-serde-derive-dev librust-serde-json-dev librust-ureq-dev)" >&2; exit 1; }
done
work=$(mktemp -d)
fixture_pid=
cleanup() {
	[ -n "$fixture_pid" ] && kill "$fixture_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# A copy of the crates, so that Cargo.lock and target/ stay out of the tree.
for c in fixture forms names; do
	mkdir -p "$work/src/$c"
	cp -R "$root/codegen/testdata/$c/rust" "$work/src/$c/rust"
done
cp -R "$root/codegen/testdata/rust-live" "$work/src/rust-live"
mkdir -p "$work/src/.cargo" "$work/home"
cat > "$work/src/.cargo/config.toml" <<CONFIG
[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "$REGISTRY"
CONFIG
export CARGO_HOME="$work/home" RUSTC RUSTFLAGS="-D warnings"
(cd "$work/src/rust-live" && "$CARGO" build --offline --quiet)

# The fixture, on a free port.
go build -C "$root" -o "$work/fixture" ./conformance/fixture
JWT_PRIVATE_KEY=rust-check-jwt-key-0123456789abcdef MIZAN_MWT_SECRET=rust-check-mwt-secret-0123456789ab \
	"$work/fixture" -addr 127.0.0.1:0 > "$work/fixture.out" 2> "$work/fixture.err" &
fixture_pid=$!
url=
for _ in $(seq 1 100); do
	url=$(sed -n 's/^mizan fixture listening on //p' "$work/fixture.out")
	[ -n "$url" ] && break
	kill -0 "$fixture_pid" 2>/dev/null || { cat "$work/fixture.err" >&2; exit 1; }
	sleep 0.1
done
[ -n "$url" ] || { echo "rust-check: the fixture did not start" >&2; cat "$work/fixture.err" >&2; exit 1; }
"$work/src/rust-live/target/debug/rust-live" "$url" "$root/testdata/vectors/target-match.json"
