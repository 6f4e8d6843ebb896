#!/bin/sh
# tsc-check.sh type-checks the TypeScript of the ts, react, vue and svelte
# targets for every golden case (codegen/testdata/<case>/<target>) with
# tsc --noEmit --strict, against the real @mizan/base, @mizan/react,
# @mizan/vue and @mizan/svelte of frontends/, under both NodeNext and
# Bundler module resolution. The output of a case is checked together with
# its usage files when there are some, which call it the way an app would:
# tsc/<case>_usage.ts for react (fixture, forms), tsc/<case>_usage_vue.ts
# and tsc/<case>_usage_svelte.ts for vue and svelte (fixture). A
# tsc/<case>_usage_vue.vue is checked with vue-tsc, a
# tsc/<case>_usage_svelte.svelte with svelte-check (Bundler resolution).
#
#   sh codegen/testdata/tsc-check.sh
#
# It installs frontends' dependencies when they are missing and builds the
# packages (their exports point to dist/).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fe="$root/frontends"
cd "$fe"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm run build --silent >/dev/null
failed=0
for pkg in vue svelte; do
	if [ -f "$pkg/src/index.ts" ] && [ -f "$pkg/tsconfig.build.json" ]; then
		npx --no-install tsc -p "$pkg/tsconfig.build.json"
	else
		echo "tsc-check: @mizan/$pkg has no source: its target cannot be checked"
		failed=1
	fi
done
work="$fe/.codegen-tsc-check"
rm -rf "$work"
trap 'rm -rf "$work"' EXIT INT TERM

# tsconfig writes the tsconfig.json of directory $1 for module $2 and
# resolution $3.
tsconfig() {
	cat >"$1/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": {
    "noEmit": true,
    "strict": true,
    "module": "$2",
    "moduleResolution": "$3",
    "types": []
  },
  "include": ["*.ts", "*.vue", "*.svelte"]
}
JSON
}

for dir in "$here"/*/; do
	name=$(basename "$dir")
	for target in ts react vue svelte; do
		[ -d "$dir$target" ] || continue
		out="$work/$name-$target"
		mkdir -p "$out"
		cp "$dir$target"/*.ts "$out/"
		case $target in
		react) usage="$here/tsc/${name}_usage.ts" ;;
		vue | svelte) usage="$here/tsc/${name}_usage_$target.ts" ;;
		*) usage= ;;
		esac
		if [ -n "$usage" ] && [ -f "$usage" ]; then
			cp "$usage" "$out/"
		fi
		for mode in NodeNext:NodeNext ESNext:Bundler; do
			module=${mode%%:*}
			resolution=${mode##*:}
			tsconfig "$out" "$module" "$resolution"
			if npx --no-install tsc --noEmit --strict -p "$out"; then
				echo "tsc-check: $name/$target ($resolution): ok"
			else
				echo "tsc-check: $name/$target ($resolution): FAILED"
				failed=1
			fi
		done
		# Single-file components: vue-tsc and svelte-check, which read
		# them the way the frameworks' Vite plugins do.
		sfc=
		case $target in
		vue) sfc="$here/tsc/${name}_usage_vue.vue" ;;
		svelte) sfc="$here/tsc/${name}_usage_svelte.svelte" ;;
		esac
		if [ -n "$sfc" ] && [ -f "$sfc" ]; then
			cp "$sfc" "$out/"
			tsconfig "$out" ESNext Bundler
			if [ "$target" = vue ]; then
				npx --no-install vue-tsc --noEmit -p "$out" && ok=1 || ok=0
			else
				npx --no-install svelte-check --workspace "$out" --tsconfig "$out/tsconfig.json" --fail-on-warnings --output human && ok=1 || ok=0
			fi
			if [ $ok = 1 ]; then
				echo "tsc-check: $name/$target ($(basename "$sfc")): ok"
			else
				echo "tsc-check: $name/$target ($(basename "$sfc")): FAILED"
				failed=1
			fi
		fi
	done
done
exit $failed
