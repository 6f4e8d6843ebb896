#!/bin/sh
# tsc-check.sh type-checks the TypeScript of the ts and react targets for
# every golden case (codegen/testdata/<case>/{ts,react}) with
# tsc --noEmit --strict, against the real @mizan/base and @mizan/react of
# frontends/, under both NodeNext and Bundler module resolution. The react
# output of a case is checked together with tsc/<case>_usage.ts when there
# is one (fixture, forms), which calls it the way an app would.
#
#   sh codegen/testdata/tsc-check.sh
#
# It installs frontends' dependencies when they are missing and builds the
# two packages (their exports point to dist/).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fe="$root/frontends"
cd "$fe"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm run build --silent >/dev/null
work="$fe/.codegen-tsc-check"
rm -rf "$work"
trap 'rm -rf "$work"' EXIT INT TERM
failed=0
for dir in "$here"/*/; do
	name=$(basename "$dir")
	for target in ts react; do
		[ -d "$dir$target" ] || continue
		out="$work/$name-$target"
		mkdir -p "$out"
		cp "$dir$target"/*.ts "$out/"
		if [ "$target" = react ] && [ -f "$here/tsc/${name}_usage.ts" ]; then
			cp "$here/tsc/${name}_usage.ts" "$out/"
		fi
		for mode in NodeNext:NodeNext ESNext:Bundler; do
			module=${mode%%:*}
			resolution=${mode##*:}
			cat >"$out/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": {
    "noEmit": true,
    "strict": true,
    "module": "$module",
    "moduleResolution": "$resolution",
    "types": []
  },
  "include": ["*.ts"]
}
JSON
			if npx --no-install tsc --noEmit --strict -p "$out"; then
				echo "tsc-check: $name/$target ($resolution): ok"
			else
				echo "tsc-check: $name/$target ($resolution): FAILED"
				failed=1
			fi
		done
	done
done
exit $failed
