#!/usr/bin/env bash
# Re-create book/_static/vendor/ from the npm registry (no CDN needed at run time).
#
# Usage:  tools/vendor_js.sh            (needs `npm` and access to registry.npmjs.org)
#
# Only the files that a built page actually loads are kept (see
# book/_static/vendor/README.md); the browser check in tests/browser/check_book.py
# fails if anything else is requested or if a vendored file is missing (HTTP 404).
set -euo pipefail

REQUIREJS_VERSION=2.3.8
MATHJAX_VERSION=3.2.2
HTML_MANAGER_VERSION=1.0.15   # @jupyter-widgets/html-manager for ipywidgets 8 (controls 2.0.0 state)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/book/_static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fetch() {  # fetch <npm spec> <dir>: download the tarball with `npm pack` and unpack it
    local spec="$1" dir="$WORK/$2"
    mkdir -p "$dir"
    (cd "$WORK" && npm pack --silent "$spec" >"$dir.name")
    tar -xzf "$WORK/$(cat "$dir.name")" -C "$dir"
    echo "$dir/package"
}

req="$(fetch "requirejs@$REQUIREJS_VERSION" requirejs)"
mj="$(fetch "mathjax@$MATHJAX_VERSION" mathjax)"
hm="$(fetch "@jupyter-widgets/html-manager@$HTML_MANAGER_VERSION" html-manager)"

rm -rf "$DEST/requirejs" "$DEST/mathjax" "$DEST/html-manager"

# --- require.js (AMD loader needed by embed-amd.js); MIT licence is in its header
mkdir -p "$DEST/requirejs"
cp "$req/require.js" "$DEST/requirejs/require.js"

# --- MathJax 3: the combined component, the CHTML web fonts it loads through CSS,
#     and the TeX extensions that `autoload` may fetch on demand (\color, \cancel, ...)
mkdir -p "$DEST/mathjax/output/chtml/fonts" "$DEST/mathjax/input/tex"
cp "$mj/LICENSE" "$DEST/mathjax/LICENSE"
cp "$mj/es5/tex-mml-chtml.js" "$DEST/mathjax/tex-mml-chtml.js"
cp -r "$mj/es5/output/chtml/fonts/woff-v2" "$DEST/mathjax/output/chtml/fonts/woff-v2"
cp -r "$mj/es5/input/tex/extensions" "$DEST/mathjax/input/tex/extensions"
rm -f "$DEST/mathjax/input/tex/extensions/all-packages.js"   # never autoloaded

# --- ipywidgets html-manager: embed-amd.js bundles @jupyter-widgets/base, controls
#     (ipywidgets 7 and 8 flavours) and output, so no further modules come from a CDN
#     for the standard widgets. Font Awesome fonts are resolved relative to the script;
#     Chromium/Firefox only ever pick the woff2 variant.
mkdir -p "$DEST/html-manager"
cp "$hm/dist/embed-amd.js" "$DEST/html-manager/embed-amd.js"
cp "$hm/dist/"*.woff2 "$DEST/html-manager/"
cp "$hm/LICENSE" "$DEST/html-manager/LICENSE" 2>/dev/null || true
[ -f "$hm/dist/embed.js.LICENSE.txt" ] && cp "$hm/dist/embed.js.LICENSE.txt" "$DEST/html-manager/THIRD-PARTY-LICENSES.txt"

# Guard: keep the repository small.
big="$(find "$DEST" -type f -size +5M)"
if [ -n "$big" ]; then echo "vendored file larger than 5 MB: $big" >&2; exit 1; fi
du -sh "$DEST"/*
