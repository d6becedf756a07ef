#!/usr/bin/env bash
# The console's browser tests drive Debian's chromium (Playwright's own browser download does
# not work offline). Installed here when missing; sudo only when not root.
set -euo pipefail
command -v chromium >/dev/null && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian's chromium for the console tests" >&2
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
