#!/usr/bin/env bash
# The one test command (`npm test`): type check, lint (which enforces the layer rules), no import circles, then every test suite
# inside a private D-Bus session with an unlocked gnome-keyring, so the agent's tests use a real OS keychain.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in oathtool dbus-run-session gnome-keyring-daemon chromium radclient; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "npm test needs system tools that are missing: ${missing[*]}" >&2
  echo "Install them with: bash scripts/install-system-deps.sh   (Debian/Ubuntu, as root)" >&2
  exit 1
fi

echo "== typecheck"; npx tsc --noEmit -p tsconfig.json
echo "== lint"; npx eslint .
echo "== format (prettier --check; fix with npm run format)"; npx prettier --check --log-level warn .
echo "== import circles"; npx madge --circular --no-spinner --extensions ts --ts-config tsconfig.json src-server src-main src-shared src-renderer
echo "== build web assets"; npx tsx scripts/build-web.ts

# Everything below runs with a real Secret Service (gnome-keyring) on a private session bus.
exec bash scripts/with-throwaway-keyring.sh bash scripts/test-in-session.sh "$@"
