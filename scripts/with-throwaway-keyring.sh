#!/usr/bin/env bash
# Runs a command with a real Secret Service that lives only as long as the command: a private D-Bus session and a
# gnome-keyring whose files sit in a temporary folder, unlocked with a throwaway password fed on stdin.
# Used by `npm test` and for trying the agent on a machine without a desktop keyring:
#   bash scripts/with-throwaway-keyring.sh npm start -- --demo
set -euo pipefail
if [ -z "${LIFELINE_IN_KEYRING_SESSION:-}" ]; then
  export LIFELINE_IN_KEYRING_SESSION=1
  exec dbus-run-session -- bash "$0" "$@"
fi
export XDG_DATA_HOME XDG_RUNTIME_DIR
XDG_DATA_HOME=$(mktemp -d)
XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
chmod 700 "$XDG_RUNTIME_DIR"
trap 'rm -rf "$XDG_DATA_HOME"' EXIT
eval "$(printf 'lifeline-throwaway\n' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
"$@"
