#!/bin/sh
# Start PostgreSQL for mas-relay; on an empty data folder, create the cluster first with
# the role and database "mas" and the password from the pgpass secret (never echoed).
set -eu
secret=/run/secrets/pgpass
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    trap 'rm -f "$pwfile"' EXIT
    cut -d: -f5- "$secret" | head -n1 >"$pwfile"
    initdb -D "$PGDATA" -U mas --pwfile="$pwfile" -E UTF8 --no-locale >/dev/null
    rm -f "$pwfile"
    # Over the network: the password. On the container's own socket: this container's
    # postgres user acts as "mas", so `compose exec db pg_dump -U mas mas` needs none.
    printf 'local all all peer map=admin\nhost all all all scram-sha-256\n' >"$PGDATA/pg_hba.conf"
    printf 'admin postgres mas\n' >"$PGDATA/pg_ident.conf"
    echo "CREATE DATABASE mas OWNER mas;" | postgres --single -D "$PGDATA" postgres >/dev/null
fi
# Extra arguments are PostgreSQL settings, e.g. postgres-start -c port=5433.
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/run/postgresql "$@"
