#!/usr/bin/env bash
# Runs a command with a real Secret Service that lives only as long as the command: a private D-Bus session and a
# gnome-keyring whose files sit in a temporary folder, unlocked with a throwaway password.
# Used by `npm test` and for trying the agent on a machine without a desktop keyring:
#   bash scripts/with-throwaway-keyring.sh npm start -- --demo
#
# Why the private bus has its own configuration: with the stock session configuration, a keyring daemon that exits
# mid-run (seen once in a loaded CI run) is replaced by D-Bus activation with a daemon that has no unlocked
# collection, and every keychain call after that fails with "no result found". Here the only activatable service is
# our own launcher, which starts gnome-keyring unlocked on the same files, so a restarted daemon still holds every
# secret written before; each start is logged and reported when the command ends.
set -euo pipefail
if [ -z "${LIFELINE_IN_KEYRING_SESSION:-}" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/data" "$work/services"
  export LIFELINE_IN_KEYRING_SESSION=1 LIFELINE_KEYRING_LOG="$work/starts.log" XDG_DATA_HOME="$work/data"
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work/runtime}
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
  cat >"$work/start-keyring.sh" <<'EOF'
#!/usr/bin/env bash
echo "$(date -u +%FT%TZ) gnome-keyring started (pid $$)" >>"$LIFELINE_KEYRING_LOG"
printf 'lifeline-throwaway\n' | exec gnome-keyring-daemon --foreground --unlock --components=secrets
EOF
  chmod 700 "$work/start-keyring.sh"
  for name in org.freedesktop.secrets org.gnome.keyring; do
    printf '[D-BUS Service]\nName=%s\nExec=%s\n' "$name" "$work/start-keyring.sh" >"$work/services/$name.service"
  done
  cat >"$work/session.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$work</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$work/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
  status=0
  dbus-run-session --config-file="$work/session.conf" -- bash "$0" "$@" || status=$?
  starts=$(wc -l <"$LIFELINE_KEYRING_LOG" 2>/dev/null || echo 0)
  if [ "$starts" -gt 1 ]; then
    echo "note: the throwaway gnome-keyring exited and was restarted $((starts - 1)) time(s) during the run:" >&2
    cat "$LIFELINE_KEYRING_LOG" >&2
  fi
  exit "$status"
fi
# Inside the private bus: start the keyring now, so a machine where it cannot start stops here with a clear message.
if ! dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.StartServiceByName string:org.freedesktop.secrets uint32:0 >/dev/null; then
  echo "could not start gnome-keyring-daemon on the private session bus (install: bash scripts/install-system-deps.sh)" >&2
  exit 1
fi
"$@"
