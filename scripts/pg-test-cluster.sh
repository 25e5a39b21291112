#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for the tests and benchmarks, in a temporary folder.
#
#   eval "$(bash scripts/pg-test-cluster.sh start)"   # sets LIFELINE_TEST_PG_URL and LIFELINE_TEST_PG_DIR
#   bash scripts/pg-test-cluster.sh stop "$LIFELINE_TEST_PG_DIR"
#
# `start` prints the two assignments on stdout (everything else goes to stderr) and exits non-zero when no cluster
# can be started (no initdb, or not root and not able to run it); callers then skip the PostgreSQL tests with a reason.
# As root the cluster runs as the `postgres` user (PostgreSQL refuses to run as root). The superuser gets a random
# password (scram-sha-256) so other local users of the machine cannot reach it. PG_TEST_DURABLE=1 keeps fsync and
# synchronous commit on (benchmarks); by default they are off, since the cluster lives only for one test run.
set -euo pipefail

find_bin() {
  local name=$1 dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/$name" ] && { echo "$dir/$name"; return 0; }
  done
  command -v "$name" 2>/dev/null || return 1
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local initdb pg_ctl dir port password
  initdb=$(find_bin initdb) || { echo "pg-test-cluster: initdb not found (apt-get install postgresql)" >&2; return 1; }
  pg_ctl=$(find_bin pg_ctl) || { echo "pg-test-cluster: pg_ctl not found" >&2; return 1; }
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "pg-test-cluster: running as root but there is no postgres user to run the cluster as" >&2
    return 1
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/lifeline-pg-XXXXXX")
  chmod 700 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  password=$(od -An -tx1 -N18 /dev/urandom | tr -d ' \n')
  printf '%s\n' "$password" | as_owner tee "$dir/.pwfile" >/dev/null
  as_owner "$initdb" -D "$dir/data" -U lifeline --pwfile="$dir/.pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >&2
  rm -f "$dir/.pwfile"
  # A free port chosen by the kernel; the tiny race with another process is retried below.
  local attempt
  for attempt in 1 2 3; do
    port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    local fsync=off
    [ "${PG_TEST_DURABLE:-0}" = 1 ] && fsync=on
    if as_owner "$pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start -o "-c listen_addresses=127.0.0.1 -c port=$port \
        -c unix_socket_directories=$dir -c max_connections=300 -c fsync=$fsync -c synchronous_commit=$fsync \
        -c full_page_writes=$fsync -c shared_buffers=128MB" >&2; then
      echo "LIFELINE_TEST_PG_URL=postgres://lifeline:$password@127.0.0.1:$port/postgres"
      echo "LIFELINE_TEST_PG_DIR=$dir"
      return 0
    fi
    echo "pg-test-cluster: start on port $port failed (attempt $attempt):" >&2
    tail -n 5 "$dir/log" >&2 || true
  done
  rm -rf "$dir"
  return 1
}

stop() {
  local dir=${1:?usage: pg-test-cluster.sh stop DIR} pg_ctl
  case "$dir" in */lifeline-pg-*) ;; *) echo "pg-test-cluster: $dir is not a test cluster folder" >&2; return 1 ;; esac
  pg_ctl=$(find_bin pg_ctl)
  [ -f "$dir/data/postmaster.pid" ] && as_owner "$pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
