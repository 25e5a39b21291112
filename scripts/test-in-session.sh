#!/usr/bin/env bash
# Runs under scripts/with-throwaway-keyring.sh (a private D-Bus session and an unlocked throwaway gnome-keyring):
# a PostgreSQL test cluster, then the suites.
set -euo pipefail
cd "$(dirname "$0")/.."
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
if [ -n "${LIFELINE_TEST_PG_URL:-}" ]; then
  # The server's integration suites are one suite for both engines (test/helpers/engines.ts): run them again on
  # PostgreSQL. The CLI suite is SQLite-specific (first start, backup, restore).
  echo "== server suites again, on PostgreSQL"
  LIFELINE_TEST_ENGINE=postgres npx vitest run test/integration/codes test/integration/devices test/integration/radius test/integration/server-core --exclude 'test/integration/server-core/cli.test.ts'
fi
echo "== end to end (playwright, Debian chromium)"
npx playwright test --pass-with-no-tests
