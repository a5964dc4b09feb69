#!/usr/bin/env bash
# Make sure headless Chromium and its driver are installed (Debian packages), for the
# real-browser test of the built site. Installs them when missing and we may (root or sudo).
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "ensure_chromium: chromium/chromedriver missing and not root: install the Debian packages 'chromium chromium-driver'" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
