#!/bin/bash
# Regenerate expected-devstack.json: DevStack's own reading of each corpus
# file's service list. Needs a DevStack checkout and devstack-tools (dsconf):
#   tests/data/localconf/devstack-oracle.sh /path/to/devstack > tests/data/localconf/expected-devstack.json
# The localrc part is taken out by dsconf (DevStack's Python reader), then
# sourced by bash with DevStack's functions-common and its is_*_enabled
# helpers, starting from stackrc's default ENABLED_SERVICES, and finished
# with disable_negated_services as stack.sh does.
set -u
DS=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "{"
first=1
for f in "$here"/*; do
    case "$f" in *.sh|*.json) continue;; esac
    name=$(basename "$f"); rm -f "$tmp/rc"
    if grep -q '^\[\[' "$f"; then
        dsconf extract-localrc "$f" "$tmp/rc" 2>/dev/null || : > "$tmp/rc"
    else
        cp "$f" "$tmp/rc"
    fi
    out=$(cd "$tmp" && env -i PATH=/usr/bin:/bin HOME="$tmp" bash -c '
        DS=$1; TOP_DIR=$DS
        source $DS/functions-common >/dev/null 2>&1
        for p in cinder glance keystone nova swift placement neutron; do
            eval "$(sed -n "/^function is_${p}_enabled/,/^}/p" $DS/lib/$p)"
        done
        function enable_plugin { :; }
        function warn { :; }
        ENABLED_SERVICES=$(sed -n "/^if ! isset ENABLED_SERVICES/,/^fi/p" $DS/stackrc |
            bash -c "function isset { return 1; }; source /dev/stdin; echo \$ENABLED_SERVICES")
        source ./rc >/dev/null 2>&1
        disable_negated_services
        echo "$ENABLED_SERVICES"' _ "$DS")
    [ $first = 1 ] || echo ","
    first=0
    printf '  "%s": "%s"' "$name" "$out"
done
echo
echo "}"
