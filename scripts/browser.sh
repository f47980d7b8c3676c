#!/usr/bin/env bash
# Installs the browser the console's tests drive (tests/ui): Debian's chromium
# package, at /usr/bin/chromium, which playwright-core launches by its path (no
# browser download from a CDN). Idempotent: an installed chromium is kept.
#
#   scripts/browser.sh    install chromium if it is missing, print its version
#
# PFLOW_CHROMIUM names another binary; the suite reads the same variable.
set -euo pipefail

CHROMIUM=${PFLOW_CHROMIUM:-/usr/bin/chromium}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x "$CHROMIUM" ]; then
  echo "browser: installing chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -q --no-install-recommends chromium >/dev/null ||
    { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q --no-install-recommends chromium >/dev/null; }
fi
"$CHROMIUM" --version
