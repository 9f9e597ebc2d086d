# Sourced by scripts and benchmarks: a throwaway PostgreSQL server in a temporary directory.
#   pg_start [extra postgres -c settings...]   sets PG_DIR, PG_PORT, PG_DSN_BASE
#   pg_dsn DB                                   prints a DSN for database DB
#   pg_createdb DB
#   pg_stop                                     stops the server and removes its directory
# The server runs as user postgres when the caller is root (PostgreSQL refuses root).

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  echo "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin" >&2
  return 1
}

pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local bindir
  bindir=$(pg_bindir)
  PG_DIR=$(mktemp -d /tmp/ctd-pg-XXXXXX)
  chmod 755 "$PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
  PG_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pg_as_owner "$bindir/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1
  local opts="-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1"
  local setting
  for setting in "$@"; do opts="$opts -c $setting"; done
  pg_as_owner "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 -o "$opts" start >/dev/null
  PG_BINDIR=$bindir
}

pg_dsn() { echo "host=127.0.0.1 port=$PG_PORT user=postgres dbname=${1:-postgres}"; }

pg_createdb() { psql "$(pg_dsn postgres)" -qc "CREATE DATABASE \"$1\"" >/dev/null; }

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=
}
