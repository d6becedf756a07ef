#!/usr/bin/env bash
# Debian packages the tests drive for real, installed when missing (sudo only when not root):
# chromium for the console's browser tests (Playwright's own browser download does not work
# offline), pgbouncer for the postgres profile's transaction-pooling test.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null || missing+=(pgbouncer)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian's ${missing[*]} for the tests" >&2
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
command -v chromium >/dev/null
