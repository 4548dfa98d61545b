#!/usr/bin/env bash
# Installs Debian's `chromium` for the browser tests (tests/browser) when it is missing.
#
# Playwright drives this system browser (launched with executable_path); its own browser download
# (`playwright install`) is never used. Idempotent: when the browser is already there this only
# checks that it starts. Set KIPINA_CHROMIUM to use another browser binary instead.
set -euo pipefail

browser="${KIPINA_CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$browser" ]; then
  if [ "$browser" != /usr/bin/chromium ]; then
    echo "KIPINA_CHROMIUM=$browser is not an executable; unset it to install Debian's chromium" >&2
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "The browser tests need Debian's chromium; as root run: apt-get update && apt-get install -y chromium" >&2
    exit 1
  fi
  echo "installing Debian's chromium for the browser tests (once)..."
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

"$browser" --version 2>/dev/null || { echo "$browser does not start: check its installation" >&2; exit 1; }
