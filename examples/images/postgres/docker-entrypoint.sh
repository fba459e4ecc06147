#!/usr/bin/env bash
# Entrypoint of localsvc-examples/postgres:15, written for this image and behaving as the official
# postgres image's does for the same settings, so manifests written for `postgres:15` work with
# only the image swapped:
# - `postgres ...` (the default CMD, or arguments starting with `-`) runs the server; any other
#   command (`psql ...`, `sh`) runs as it is, so the image doubles as a PostgreSQL client.
# - Started as root, it makes PGDATA owned by postgres (a fresh volume is root's) and runs
#   the rest as postgres (uid 999).
# - With an empty PGDATA: initdb with POSTGRES_USER (superuser, default postgres) and
#   POSTGRES_PASSWORD, password authentication (POSTGRES_HOST_AUTH_METHOD, default
#   scram-sha-256) for connections from other hosts, then POSTGRES_DB (default: the user's
#   name) and /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz on a server that listens only on
#   its Unix socket. Every POSTGRES_* setting may come from a file: POSTGRES_PASSWORD_FILE, ...
# - SIGTERM or SIGINT: fast shutdown (SIGTERM alone would be PostgreSQL's "smart" shutdown,
#   which waits for every client to disconnect, past any grace period).
set -Eeuo pipefail

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA

say() { echo "postgres-entrypoint: $*" >&2; }

# file_env VAR [DEFAULT]: VAR from the environment, or from the file named by VAR_FILE (a
# mounted Secret), or DEFAULT; both set is an error, as in the official image.
file_env() {
    local var=$1 default=${2:-} file_var="${1}_FILE"
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        say "error: both $var and $file_var are set; set only one"
        exit 1
    fi
    local value=$default
    if [ -n "${!var:-}" ]; then
        value=${!var}
    elif [ -n "${!file_var:-}" ]; then
        value=$(<"${!file_var}")
    fi
    export "$var"="$value"
    unset "$file_var"
}

setup_env() {
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    POSTGRES_HOST_AUTH_METHOD=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
}

# As root: the data directory and the socket directory belong to postgres, then start over as
# postgres (setpriv is util-linux's, in every Debian; no gosu needed).
become_postgres() {
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    chown postgres:postgres /var/run/postgresql
    chmod 3777 /var/run/postgresql
    exec env HOME=/var/lib/postgresql USER=postgres \
        setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
}

check_password() {
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        say "error: the database is uninitialized and POSTGRES_PASSWORD is not set."
        say "  Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE, e.g. from a Secret) to the"
        say "  superuser's password, or POSTGRES_HOST_AUTH_METHOD=trust to allow every"
        say "  connection without a password (not recommended)."
        exit 1
    fi
}

run_init_files() {
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then say "running $f"; "$f"
                else say "sourcing $f"; . "$f"; fi ;;
            *.sql) say "running $f"; psql_init -f "$f" ;;
            *.sql.gz) say "running $f"; gunzip -c "$f" | psql_init ;;
            "/docker-entrypoint-initdb.d/*") ;;  # the directory is empty
            *) say "ignoring $f" ;;
        esac
    done
}

psql_init() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" \
        --dbname "$POSTGRES_DB" "$@"
}

init_database() {
    check_password
    say "initializing $PGDATA for user $POSTGRES_USER"
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of arguments, as upstream
    if [ -n "$POSTGRES_PASSWORD" ]; then
        initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
            $POSTGRES_INITDB_ARGS
    else  # only with POSTGRES_HOST_AUTH_METHOD=trust (check_password)
        initdb --username="$POSTGRES_USER" $POSTGRES_INITDB_ARGS
    fi
    # initdb trusts local connections (socket and loopback: probes, exec); every other host
    # must authenticate.
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

    # A server only on its socket, so no client connects before the database exists.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        say "creating database $POSTGRES_DB"
        psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" \
            --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    run_init_files
    pg_ctl -D "$PGDATA" -m fast -w stop
    say "initialization complete"
}

# The server as a child, so SIGTERM can become SIGINT (fast shutdown); exits with its status.
run_server() {
    local pid="" stop="" status=0
    # Set before the start: a signal that comes in between is remembered, not lost.
    trap 'stop=1; [ -z "$pid" ] || kill -INT "$pid" 2>/dev/null || true' TERM INT
    "$@" &
    pid=$!
    [ -z "$stop" ] || kill -INT "$pid" 2>/dev/null || true
    while :; do
        status=0
        wait "$pid" || status=$?
        kill -0 "$pid" 2>/dev/null || break  # gone: status is its exit status
    done
    exit "$status"
}

main() {
    if [ $# -eq 0 ] || [ "${1:0:1}" = - ]; then
        set -- postgres "$@"
    fi
    if [ "$1" != postgres ]; then
        exec "$@"
    fi
    setup_env
    if [ "$(id -u)" = 0 ]; then
        become_postgres "$@"
    fi
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA" 2>/dev/null || true
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        init_database
    else
        say "$PGDATA holds a database: initialization skipped"
    fi
    unset POSTGRES_PASSWORD
    run_server "$@"
}

main "$@"
