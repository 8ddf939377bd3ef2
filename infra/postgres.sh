#!/usr/bin/env bash
# Run the machine's PostgreSQL (Debian cluster, e.g. "15 main") for local
# development and tests, with the project's role and database in it.
#
#   infra/postgres.sh start    install (apt, as root) if missing, start the cluster,
#                                wait for it, create role + database (idempotent)
#   infra/postgres.sh stop     stop the cluster
#   infra/postgres.sh status   exit 0 if accepting connections, 1 if not
#
# Env: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB (all default "kalema"),
#      POSTGRES_PORT (5432), POSTGRES_START_TIMEOUT_S (30).
# The cluster used is the one whose port is POSTGRES_PORT (see pg_lsclusters).
set -euo pipefail

PG_USER="${POSTGRES_USER:-kalema}"
PG_PASSWORD="${POSTGRES_PASSWORD:-kalema}"
PG_DB="${POSTGRES_DB:-kalema}"
PORT="${POSTGRES_PORT:-5432}"
START_TIMEOUT_S="${POSTGRES_START_TIMEOUT_S:-30}"
HOST=127.0.0.1

die() { echo "postgres: $*" >&2; exit 1; }

as_postgres() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && sudo -n -u postgres -- "$@")
  fi
}

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo -n -- "$@"; fi
}

install_if_missing() {
  command -v pg_lsclusters >/dev/null && return 0
  [[ $EUID -eq 0 ]] || die "PostgreSQL is not installed; run: sudo apt-get install -y postgresql"
  echo "postgres: not installed, installing with apt-get ..."
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
}

# Prints "<version> <name> <status>" of the cluster on $PORT.
find_cluster() {
  pg_lsclusters -h | awk -v port="$PORT" '$3 == port { print $1, $2, $4; exit }'
}

ready() { pg_isready -q -h "$HOST" -p "$PORT"; }

ensure_role_and_db() {
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres \
    -v user="$PG_USER" -v pw="$PG_PASSWORD" -v db="$PG_DB" <<'SQL'
SELECT format('CREATE ROLE %I', :'user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'user', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'user') \gexec
SQL
}

start() {
  local cluster version name state deadline
  install_if_missing
  cluster="$(find_cluster)"
  [[ -n "$cluster" ]] || die "no PostgreSQL cluster on port $PORT; clusters: $(pg_lsclusters -h | awk '{print $1 "/" $2 ":" $3}' | xargs)"
  read -r version name state <<<"$cluster"
  if [[ "$state" != online* ]]; then
    echo "postgres: starting cluster $version/$name"
    as_root pg_ctlcluster "$version" "$name" start
  fi
  deadline=$((SECONDS + START_TIMEOUT_S))
  until ready; do
    ((SECONDS < deadline)) || {
      echo "postgres: not accepting connections on $HOST:$PORT after ${START_TIMEOUT_S}s" >&2
      tail -n 40 "/var/log/postgresql/postgresql-$version-$name.log" >&2 2>/dev/null || true
      exit 1
    }
    sleep 0.5
  done
  ensure_role_and_db
  PGPASSWORD="$PG_PASSWORD" psql -X -q -At -h "$HOST" -p "$PORT" -U "$PG_USER" -d "$PG_DB" \
    -c 'select 1' >/dev/null || die "password login as $PG_USER over TCP failed (check pg_hba.conf)"
  echo "postgres: accepting connections on $HOST:$PORT (database $PG_DB, user $PG_USER)"
}

stop() {
  local cluster version name state
  command -v pg_lsclusters >/dev/null || { echo "postgres: not installed"; return 0; }
  cluster="$(find_cluster)"
  read -r version name state <<<"${cluster:-- - down}"
  if [[ "$state" != online* ]]; then
    echo "postgres: not running"
    return 0
  fi
  as_root pg_ctlcluster "$version" "$name" stop
  echo "postgres: stopped cluster $version/$name"
}

status() {
  if command -v pg_isready >/dev/null && ready; then
    echo "postgres: accepting connections on $HOST:$PORT"
  else
    echo "postgres: not running on $HOST:$PORT"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
