# PostgreSQL for mas-relay --workers, from Debian 12's own packages (no image registry
# needed): docker/compose.yaml builds it.
#
# On first start (an empty /var/lib/postgresql/data volume) it creates the cluster with
# one role and database, both "mas", whose password is the last field of the pgpass
# secret (the same file the relays read: host:port:database:user:password). Connections
# over the network need that password (scram-sha-256), and compose publishes the port
# nowhere; inside this container root and postgres may act as "mas" on the unix socket
# (for pg_dump and psql through `compose exec`).
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*

COPY docker/postgres-start.sh /usr/local/bin/postgres-start
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
# No USER: postgres-start reads the secret as root, then runs PostgreSQL as postgres.
RUN mkdir -p "$PGDATA" /run/postgresql \
    && chown postgres:postgres "$PGDATA" /run/postgresql && chmod 700 "$PGDATA"
VOLUME /var/lib/postgresql/data
EXPOSE 5432
# SIGINT: PostgreSQL's "fast" shutdown (roll back open transactions, checkpoint, exit).
STOPSIGNAL SIGINT
CMD ["postgres-start"]
