#!/bin/sh
# python-check.sh checks the python target (docs/codegen.md): it generates
# the client of the fixture's IR (codegen/testdata/fixture/ir.kdl), checks it
# and the usage script python-live/check_fixture.py with mypy --strict
# (Debian's python3-mypy, run by /usr/bin/python3; py_compile when mypy is
# missing and MIZAN_PY_NO_MYPY=1), checks that every golden client.py
# compiles, then builds and starts the fixture and runs check_fixture.py
# against it: every fixture function and context, every Task case, errors
# with fields, bearer tokens and idempotency keys.
#
#   sh codegen/testdata/python-check.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
cd "$root"
go run ./cmd/mizan generate --ir codegen/testdata/fixture/ir.kdl --target "python=$tmp/fixtureclient"
mv "$tmp/fixtureclient/client.py" "$tmp/fixtureclient/__init__.py"
cp "$here/python-live/check_fixture.py" "$tmp/"
# Every golden module compiles (compile() writes no __pycache__).
"$py" -c 'import sys
for f in sys.argv[1:]:
    compile(open(f, encoding="utf-8").read(), f, "exec")' "$here"/*/python/client.py
if "$py" -m mypy --version >/dev/null 2>&1; then
	(cd "$tmp" && "$py" -m mypy --strict --no-incremental --cache-dir=/dev/null fixtureclient check_fixture.py)
	for c in "$here"/*/python/client.py; do
		mkdir -p "$tmp/golden" && cp "$c" "$tmp/golden/client.py"
		(cd "$tmp/golden" && "$py" -m mypy --strict --no-incremental --cache-dir=/dev/null client.py)
	done
elif [ "${MIZAN_PY_NO_MYPY:-}" = 1 ]; then
	echo "python-check: mypy is missing; py_compile only"
	PYTHONPYCACHEPREFIX="$tmp/pycache" "$py" -m py_compile "$tmp/fixtureclient/__init__.py" "$tmp/check_fixture.py"
else
	echo "python-check: $py has no mypy (apt-get install python3-mypy, or set MIZAN_PY_NO_MYPY=1)" >&2
	exit 1
fi
go build -o "$tmp/fixture" ./conformance/fixture
JWT_PRIVATE_KEY=${JWT_PRIVATE_KEY:-python-check-jwt-secret-of-32-bytes-or-more} \
	MIZAN_IDEMPOTENCY=memory "$tmp/fixture" -addr 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" &
pid=$!
url=
for _ in $(seq 1 100); do
	url=$(sed -n 's/^mizan fixture listening on //p' "$tmp/out" | head -n 1)
	[ -n "$url" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/err" >&2; exit 1; }
	sleep 0.1
done
[ -n "$url" ] || { echo "python-check: the fixture did not start" >&2; cat "$tmp/err" >&2; exit 1; }
cd "$tmp" && PYTHONDONTWRITEBYTECODE=1 "$py" check_fixture.py "$url"
