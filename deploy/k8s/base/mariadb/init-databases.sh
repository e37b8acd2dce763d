# shellcheck shell=bash
# Sourced (not executed: the file is not executable) by the MariaDB image's entrypoint on the first
# start, with an empty data directory, so its docker_process_sql helper is at hand. Creates one
# database and one user per service, each user limited to its own database. A password comes from
# <SERVICE>_DB_PASSWORD in the environment (compose) or from the file of that name in the mounted
# Secret (Kubernetes), never from this file. Every statement is idempotent, and ALTER USER re-applies
# a rotated password, so running it again by hand is safe.

thegallery_sql_string() {
    local value="$1"
    value="${value//\\/\\\\}"
    printf "'%s'" "${value//\'/\'\'}"
}

thegallery_create_databases() {
    local service variable password
    for service in member gallery post; do
        variable="${service^^}_DB_PASSWORD"
        password="${!variable:-}"
        if [[ -z "$password" && -s "/run/secrets/mysql/$variable" ]]; then
            password="$(cat "/run/secrets/mysql/$variable")"
        fi
        if [[ -z "$password" ]]; then
            echo "init-databases: no password for $service ($variable)" >&2
            return 1
        fi
        password="$(thegallery_sql_string "$password")"
        docker_process_sql <<SQL || return 1
CREATE DATABASE IF NOT EXISTS \`$service\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$service'@'%' IDENTIFIED BY $password;
ALTER USER '$service'@'%' IDENTIFIED BY $password;
GRANT ALL PRIVILEGES ON \`$service\`.* TO '$service'@'%';
SQL
        echo "init-databases: database and user $service ready"
    done
}

thegallery_create_databases || exit 1
