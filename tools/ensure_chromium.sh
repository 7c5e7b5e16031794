#!/usr/bin/env bash
# The browser check drives Debian's Chromium through Playwright (it never downloads a browser).
# Installs it with apt where it is missing (as root, or through sudo); says what to do otherwise.
set -euo pipefail
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
if ! command -v apt-get > /dev/null; then
  echo "the browser check needs Chromium at $CHROMIUM (set CHROMIUM=/path/to/chromium): no apt-get here to install it" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing Debian's chromium for the browser check ($SUDO apt-get install chromium)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium > /dev/null
