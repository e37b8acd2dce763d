#!/bin/bash
# The first start initialises the data directory, sets the root password and runs the scripts in
# /docker-entrypoint-initdb.d (*.sh sourced with docker_process_sql at hand, *.sql fed to the
# server) against a server that listens on no port; then the real server starts.
set -euo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

note() { printf '%s [Entrypoint]: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

if [[ "${1:-}" == -* ]]; then
    set -- mariadbd "$@"
fi
[[ "${1:-}" == mariadbd || "${1:-}" == mysqld ]] || exec "$@"

root_password() {
    if [[ -n "${MARIADB_ROOT_PASSWORD_FILE:-}" ]]; then
        cat "$MARIADB_ROOT_PASSWORD_FILE"
    else
        printf '%s' "${MARIADB_ROOT_PASSWORD:-}"
    fi
}

# Used by the initdb.d scripts, as in the public image (which may pass mariadb options; this file
# never does, hence SC2119/SC2120 off).
# shellcheck disable=SC2119,SC2120
docker_process_sql() {
    MYSQL_PWD="${ROOT_PASSWORD:-}" mariadb --no-defaults --protocol=socket --socket="$SOCKET" \
        -uroot --comments "$@"
}

temp_server_start() {
    "$@" --skip-networking --socket="$SOCKET" --wsrep-on=OFF &
    TEMP_PID=$!
    local _
    for _ in $(seq 1 60); do
        if mariadb-admin --no-defaults --socket="$SOCKET" -uroot ${ROOT_PASSWORD:+--password="$ROOT_PASSWORD"} \
            ping >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$TEMP_PID" 2>/dev/null || { note "temporary server exited"; exit 1; }
        sleep 1
    done
    note "temporary server did not start in 60 s"
    exit 1
}

temp_server_stop() {
    kill "$TEMP_PID"
    wait "$TEMP_PID" || true
}

if [[ ! -d "$DATADIR/mysql" ]]; then
    ROOT_PASSWORD="$(root_password)"
    if [[ -z "$ROOT_PASSWORD" && -z "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}" ]]; then
        note "no root password: set MARIADB_ROOT_PASSWORD or MARIADB_ROOT_PASSWORD_FILE"
        exit 1
    fi
    note "initialising $DATADIR"
    mariadb-install-db --datadir="$DATADIR" --skip-test-db --auth-root-authentication-method=normal >/dev/null
    saved_password="$ROOT_PASSWORD"
    ROOT_PASSWORD=""
    temp_server_start "$@"
    escaped="${saved_password//\\/\\\\}"
    escaped="${escaped//\'/\'\'}"
   
    docker_process_sql <<SQL
DELETE FROM mysql.user WHERE user = '';
ALTER USER 'root'@'localhost' IDENTIFIED BY '$escaped';
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$escaped';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
    ROOT_PASSWORD="$saved_password"
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) note "running $f"; # shellcheck disable=SC1090
                  . "$f" ;;
            *.sql) note "running $f"; docker_process_sql <"$f" ;;
            *) ;;
        esac
    done
    temp_server_stop
    note "initialised"
elif [[ -n "${MARIADB_AUTO_UPGRADE:-}" ]]; then
    ROOT_PASSWORD="$(root_password)"
    server_version="$(mariadbd --version | sed -n 's/.*Ver \([0-9.]*\)-MariaDB.*/\1/p')"
    if ! grep -qs "^$server_version" "$DATADIR/mysql_upgrade_info"; then
        note "upgrading the system tables to $server_version"
        temp_server_start "$@"
        MYSQL_PWD="$ROOT_PASSWORD" mariadb-upgrade --no-defaults --socket="$SOCKET" -uroot >/dev/null
        temp_server_stop
    fi
fi

exec "$@"
