#!/usr/bin/env bash
# Install what the tests need (Debian packages, a venv with stacktui and its
# test extras) and run the whole suite, end-to-end tests included.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

debs=(tmux git procps iproute2 curl chromium chromium-driver media-types
      dnf rpm createrepo-c    # the dnf path is tested with a local RPM repository
      sudo openssl)           # ordinary users with sudo; a package mirror with its own CA
missing=()
for p in "${debs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

venv="${STACKTUI_TEST_VENV:-$here/.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip uv
"$venv/bin/python" -m uv pip install -q --python "$venv/bin/python" -e ".[test]"
export PATH="$venv/bin:$PATH"
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
