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
bin="${XDG_BIN_HOME:-$HOME/.local/bin}"
mkdir -p "$bin"
ln -sf "$tool/bin/stacktui" "$bin/stacktui"
echo "stacktui installed: $bin/stacktui"

# A new login shell must find stacktui and the `openstack` link the install
# puts beside it. Debian's ~/.profile adds ~/.local/bin for ordinary users
# (when it exists at login); root's does not, nor do custom folders.
if ! env -i HOME="$HOME" TERM=dumb bash -lc 'command -v stacktui' >/dev/null 2>&1; then
    line="case \":\$PATH:\" in *\":$bin:\"*) ;; *) export PATH=\"$bin:\$PATH\" ;; esac  # stacktui"
    login="$HOME/.profile"
    for f in "$HOME/.bash_profile" "$HOME/.bash_login"; do [ -f "$f" ] && { login="$f"; break; }; done
    for rc in "$login" "$HOME/.bashrc"; do
        [ "$rc" = "$HOME/.bashrc" ] && [ ! -f "$rc" ] && continue
        grep -qF "# stacktui" "$rc" 2>/dev/null && continue
        printf '\n%s\n' "$line" >> "$rc"
        echo "added $bin to PATH in $rc (for this shell: export PATH=\"$bin:\$PATH\")"
    done
fi
exec "$tool/bin/stacktui" install --yes "$@"
