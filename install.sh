#!/usr/bin/env bash
# Install stacktui for this user and run it on its default: the minimal
# cloud (keystone, glance, placement on SQLite). Extra arguments go to
# `stacktui install` (e.g. --answers stacktui.yaml, --dest DIR).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tool="${XDG_DATA_HOME:-$HOME/.local/share}/stacktui/tool"

need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi

[ -x "$tool/bin/python" ] || python3 -m venv "$tool"
"$tool/bin/python" -m pip install -q --upgrade pip
"$tool/bin/python" -m pip install -q "$here"
mkdir -p "$HOME/.local/bin"
ln -sf "$tool/bin/stacktui" "$HOME/.local/bin/stacktui"
echo "stacktui installed: $HOME/.local/bin/stacktui"
exec "$tool/bin/stacktui" install --yes "$@"
