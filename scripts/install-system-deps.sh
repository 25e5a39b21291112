#!/usr/bin/env bash
# Debian packages the tests use: oathtool (independent TOTP), chromium (Playwright), gnome-keyring + dbus (a real
# Secret Service for the agent's keychain), freeradius-utils + freeradius (real RADIUS peers), postgresql.
set -euo pipefail
PKGS=(oathtool chromium gnome-keyring dbus dbus-x11 libsecret-tools freeradius-utils freeradius postgresql)
need=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -eq 0 ]; then echo "system packages present"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "run as root: apt-get install -y ${need[*]}" >&2; exit 1; fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
