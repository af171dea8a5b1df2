#!/usr/bin/env bash
# Re-fetch the vendored front-end files from the npm registry at their pinned versions and check
# them against the checksums recorded in static/vendor/SHA256SUMS. Run after changing a version.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# package@version  file-in-package  destination-dir
VENDORED=(
    "htmx.org@2.0.11 dist/htmx.min.js htmx-2.0.11"
    "uplot@1.6.32 dist/uPlot.iife.min.js uplot-1.6.32"
    "uplot@1.6.32 dist/uPlot.min.css uplot-1.6.32"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for entry in "${VENDORED[@]}"; do
    read -r spec file dest <<<"$entry"
    name=${spec%@*}
    if [ ! -d "$tmp/$name" ]; then
        (cd "$tmp" && npm pack --silent "$spec" >/dev/null) || fail "npm pack $spec failed"
        mkdir -p "$tmp/$name" && tar xzf "$tmp/${name}-${spec#*@}.tgz" -C "$tmp/$name"
    fi
    mkdir -p "$ROOT/static/vendor/$dest"
    cp "$tmp/$name/package/$file" "$ROOT/static/vendor/$dest/"
    cp "$tmp/$name/package/LICENSE" "$ROOT/static/vendor/$dest/LICENSE"
done
cd "$ROOT/static/vendor"
if [ "${1:-}" = "--update-sums" ]; then
    find . -type f ! -name SHA256SUMS ! -name README.md | sort | xargs sha256sum >SHA256SUMS
fi
sha256sum --quiet -c SHA256SUMS || fail "vendored files differ from SHA256SUMS"
step "vendored files match SHA256SUMS"
