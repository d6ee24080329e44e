#!/bin/sh
# Rebuilds web/static/vendor/xterm from Debian's xterm.js (the dashboard's
# Terminal panel). libjs-xterm's own browser file is a stub in bookworm
# (it requires ./public/Terminal), so the bundle is made from the same
# version's CommonJS modules in node-xterm, with Debian's esbuild; the
# stylesheet and the license come with it. Run from the repository root:
#   apt-get install -y libjs-xterm node-xterm esbuild && sh web/xterm-bundle.sh
set -eu
out=web/static/vendor/xterm
lib=/usr/share/nodejs/xterm/lib
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/entry.js" <<JS
var xterm = require('$lib/public/Terminal.js');
var fit = require('$lib/addons/fit/fit.js');
xterm.Terminal.applyAddon(fit);
window.Terminal = xterm.Terminal;
JS
mkdir -p "$out"
esbuild "$tmp/entry.js" --bundle --format=iife --minify --legal-comments=none --outfile="$out/xterm.js"
cp /usr/share/javascript/xterm/xterm.css "$out/xterm.css"
cp /usr/share/doc/libjs-xterm/copyright "$out/LICENSE"
dpkg-query -W -f='xterm.js ${Version} (Debian libjs-xterm and node-xterm), bundled by web/xterm-bundle.sh\n' libjs-xterm >"$out/VERSION"
