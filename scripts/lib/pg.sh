# PostgreSQL helpers shared by scripts/dev and scripts/test. Source it; do not run it.
#
# A cluster is a data folder plus a port, always on 127.0.0.1 with trust authentication for
# local TCP connections: it is a developer's or a test run's private server, never a shared one.
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` system user
# (created by Debian's postgresql package).

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# pg_free_port: prints a TCP port on 127.0.0.1 that is free right now.
pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pg_tuned_options: deploy/postgresql.conf (the production settings) as `-c name=value` server
# options, without listen_addresses (a private cluster listens on 127.0.0.1 only).
pg_tuned_options() {
  local conf
  conf="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/deploy/postgresql.conf"
  sed -e 's/#.*//' -e "s/[[:space:]]*=[[:space:]]*/=/" -e "s/'//g" -e 's/[[:space:]]*$//' "$conf" \
    | grep -v -e '^$' -e '^listen_addresses=' | sed 's/^/-c /' | tr '\n' ' '
}

# pg_start DATA_DIR PORT [--tuned [-c NAME=VALUE]...]: creates the cluster on first use, then
# starts it and waits until it accepts connections (at most 30 s). --tuned applies
# deploy/postgresql.conf, as in production (benchmarks), then the -c options after it (they win);
# without it the server runs with PostgreSQL's defaults (tests, dev).
pg_start() {
  local data_dir=$1 port=$2 options=""
  if [ "${3:-}" = --tuned ]; then options="$(pg_tuned_options) ${*:4}"; fi
  [ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL server binaries not found (run scripts/install-deps)" >&2; return 1; }
  mkdir -p "$data_dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$data_dir"; chmod 700 "$data_dir"; fi
  if [ ! -f "$data_dir/PG_VERSION" ]; then
    pg_as_owner "$PG_BIN/initdb" -D "$data_dir" -U postgres --auth=trust --encoding=UTF8 \
      --locale=C.UTF-8 >"$data_dir.initdb.log" 2>&1 \
      || { cat "$data_dir.initdb.log" >&2; return 1; }
  fi
  pg_as_owner "$PG_BIN/pg_ctl" -D "$data_dir" -l "$data_dir/server.log" -w -t 30 start \
    -o "-p $port -k $data_dir -c listen_addresses=127.0.0.1 -c max_connections=200 $options" >/dev/null \
    || { tail -n 20 "$data_dir/server.log" >&2; return 1; }
}

# pg_recycle_wal URL [MEGABYTES]: writes about MEGABYTES (default 1200) of WAL, then checkpoints.
# A new cluster has no WAL segments to reuse, so the backend that fills one creates the next,
# writing 16 MB of zeros and syncing them while it holds up every commit: 50-100 ms stalls, once
# per 16 MB of WAL, that made the ingress's p99 81-87 ms against 10-11 ms without them
# (wal_init_zero off, same run). A cluster that has been through a checkpoint renames old segments
# for reuse instead, as many as its checkpoints are apart; benchmarks call this to start in that
# state, with at least as much WAL to reuse as they will write (about 1.6 kB per webhook).
pg_recycle_wal() {
  local rows=$(( ${2:-1200} * 500 ))  # 2 kB each
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$1" \
    -c "CREATE TABLE payorch_wal_warmup AS SELECT repeat('x', 2000) AS pad FROM generate_series(1, $rows)" \
    -c "DROP TABLE payorch_wal_warmup" -c "CHECKPOINT" >/dev/null
}

# pg_stop DATA_DIR: fast shutdown (rolls back open transactions, keeps committed data).
pg_stop() {
  local data_dir=$1
  [ -f "$data_dir/postmaster.pid" ] || return 0
  pg_as_owner "$PG_BIN/pg_ctl" -D "$data_dir" -m fast -w -t 30 stop >/dev/null
}

# pg_url PORT [DATABASE]: the libpq URL of a database on the local cluster.
pg_url() {
  echo "postgresql://postgres@127.0.0.1:$1/${2:-postgres}"
}
