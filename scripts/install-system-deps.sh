#!/usr/bin/env bash
# Debian packages the tests use: oathtool (independent TOTP), chromium (Playwright), gnome-keyring + dbus (a real
# Secret Service for the agent's keychain), freeradius-utils + freeradius (real RADIUS peers), postgresql, slapd +
# ldap-utils and samba (real OpenLDAP and Active Directory servers), gcc + libpam0g-dev + pamtester + valgrind (the PAM
# module, built and driven by real PAM clients), rsyslog + rsyslog-gnutls + gnutls-bin (a real SIEM collector over TCP
# and TLS), prometheus (promtool checks what /metrics serves).
set -euo pipefail
PKGS=(oathtool chromium gnome-keyring dbus dbus-x11 libsecret-tools freeradius-utils freeradius postgresql
  slapd ldap-utils samba smbclient krb5-user gcc libc6-dev libpam0g-dev pamtester valgrind sudo rsyslog rsyslog-gnutls
  gnutls-bin prometheus)
need=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -eq 0 ]; then echo "system packages present"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "run as root: apt-get install -y ${need[*]}" >&2; exit 1; fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
