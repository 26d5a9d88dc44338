#!/bin/sh
# Start PostgreSQL for mas-relay. On an empty data folder, create the cluster first: the
# role and database "mas", with the password from the pgpass secret (never echoed).
set -eu
if [ "$(id -u)" = 0 ]; then
    # A compose file secret keeps its host file's owner and mode (0600, root), so only
    # root reads it here: hand a copy to the postgres user, then carry on as that user.
    install -m 600 -o postgres -g postgres /run/secrets/pgpass /run/postgresql/pgpass
    chown postgres:postgres "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
secret=/run/postgresql/pgpass
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    trap 'rm -f "$pwfile"' EXIT
    cut -d: -f5- "$secret" | head -n1 >"$pwfile"
    initdb -D "$PGDATA" -U mas --pwfile="$pwfile" -E UTF8 --no-locale >/dev/null
    rm -f "$pwfile"
    # Over the network: the password. On the container's own socket: root and postgres
    # in this container act as "mas", so `compose exec db pg_dump -U mas mas` needs none.
    printf 'local all all peer map=admin\nhost all all all scram-sha-256\n' >"$PGDATA/pg_hba.conf"
    printf 'admin postgres mas\nadmin root mas\n' >"$PGDATA/pg_ident.conf"
    echo "CREATE DATABASE mas OWNER mas;" | postgres --single -D "$PGDATA" postgres >/dev/null
fi
rm -f "$secret"  # the cluster keeps the password; nothing else needs the copy
# Extra arguments are PostgreSQL settings, e.g. postgres-start -c port=5433.
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/run/postgresql "$@"
