#!/usr/bin/env bash
# Runs inside `dbus-run-session`: unlock a throwaway gnome-keyring, then the suites.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_DATA_HOME XDG_RUNTIME_DIR
XDG_DATA_HOME=$(mktemp -d)   # the keyring files live here, thrown away after the run
XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
chmod 700 "$XDG_RUNTIME_DIR"
# The keyring's password is fed on stdin; it protects a keyring that lives only for this run.
eval "$(printf 'lifeline-test\n' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
# A throwaway PostgreSQL cluster on loopback for the engine-parameterised suites; where none can be started the
# PostgreSQL tests are skipped and print why.
if pg_env=$(bash scripts/pg-test-cluster.sh start); then
  eval "$pg_env"
  export LIFELINE_TEST_PG_URL LIFELINE_TEST_PG_DIR
  trap 'bash scripts/pg-test-cluster.sh stop "$LIFELINE_TEST_PG_DIR" >/dev/null 2>&1 || true' EXIT
else
  echo "PostgreSQL tests will be skipped: no test cluster could be started (see the message above)."
fi
echo "== unit and integration (vitest)"
npx vitest run
echo "== end to end (playwright, Debian chromium)"
npx playwright test --pass-with-no-tests
