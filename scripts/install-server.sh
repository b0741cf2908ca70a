#!/usr/bin/env bash
# Installs aj for every user and for cron, from this checkout: a packed copy in
# $PREFIX/lib/aj/<version> with its runtime dependencies at the versions npm-shrinkwrap.json pins
# (those the tests ran with), and $PREFIX/bin/aj linked to it. Run it again to upgrade; the
# previous version's directory stays until removed by hand.
#
# Usage: scripts/install-server.sh [--prefix /usr/local] [--offline] [--no-build]
#   --prefix DIR   where bin/aj and lib/aj/ go (default /usr/local: on PATH for every user and cron)
#   --offline      take the dependencies from npm's cache only (no network)
#   --no-build     use dist/ as it is (already built by `npm run build`)
set -euo pipefail

prefix=/usr/local
npm_flags=()
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --offline) npm_flags+=(--offline); shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-server.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$repo"
[ "$build" = 1 ] && npm run --silent build
[ -f dist/src/main.js ] || { echo "install-server.sh: dist/ is not built (run npm ci && npm run build)" >&2; exit 3; }
# The package's own "files" decide what is installed: bin, dist, migrations, templates, scripts.
npm pack --ignore-scripts --silent --pack-destination "$work" >/dev/null
version=$(node -p "require('./package.json').version")
target="$prefix/lib/aj/$version"

mkdir -p "$target.new"
tar xzf "$work"/aj-"$version".tgz -C "$target.new" --strip-components=1
(cd "$target.new" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error "${npm_flags[@]}" >&2)
rm -rf "$target"
mv "$target.new" "$target"
mkdir -p "$prefix/bin"
ln -sfn "$target/bin/aj" "$prefix/bin/aj"
echo "installed aj $version: $prefix/bin/aj -> $target/bin/aj"
