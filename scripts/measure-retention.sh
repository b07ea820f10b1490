#!/usr/bin/env bash
# Measures the two storage designs for retention (README "Data lifecycle"):
#
#   1. batched DELETE (what flowd does): `flowd prune` over N finished
#      executions with 3 attempts each, on flowd's real schema;
#   2. range partitions of executions and step_attempts by day, the old
#      day dropped whole: the DROP, and what partitioning costs the lookup
#      of an execution by id (GET /v1/executions/{id}), which cannot name
#      the partition.
#
# Usage: DATABASE_URL=... scripts/measure-retention.sh [N]   (default 100000)
# It creates and drops a database flowd_measure_<pid> on that server.
set -euo pipefail
n=${1:-100000}
admin=${DATABASE_URL:?DATABASE_URL must name a PostgreSQL server}
db="flowd_measure_$$"
url=$(sed -E "s|/[^/?]*(\?.*)?$|/$db\1|" <<<"$admin")
psql -qX "$admin" -c "CREATE DATABASE $db" >/dev/null
trap 'psql -qX "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
go build -o /tmp/flowd-measure-$$ ./cmd/flowd
trap 'rm -f /tmp/flowd-measure-$$; psql -qX "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
/tmp/flowd-measure-$$ migrate --database-url "$url" >/dev/null 2>&1
q() { psql -qXAt "$url" -c "$1"; }
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null || { echo "failed: $*" >&2; exit 1; }; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }

# One flow, n executions finished 40 days ago, 3 attempts each with a
# 200-byte request and response body.
q "INSERT INTO flows (id, company_id, created_by, workspace_id, name, retry_delay, retry_delay_unit, max_retries,
     status, flow_direction, hook_secret) VALUES ('00000000-0000-0000-0000-000000000001', gen_random_uuid(),
     gen_random_uuid(), 'default', 'm', 1, 'seconds', 0, 'scheduled', 'outbound', 'x')"
fill() { # $1: table suffix ("" for flowd's tables, _p for the partitioned copies)
	q "INSERT INTO executions$1 (id, flow_id, company_id, flow_version, status, trigger, created_at, finished_at)
	   SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000001', gen_random_uuid(), 1, 'success', 'manual',
	          now() - interval '40 days' + i * interval '1 ms', now() - interval '40 days' + i * interval '1 ms'
	   FROM generate_series(1, $n) i"
	q "INSERT INTO step_attempts$1 (id, execution_id, $( [ -n "$1" ] && echo 'execution_created_at,' ) step_number, attempt,
	     execution_attempt, outcome, request_method, request_url, request_body, response_body, duration_ms, started_at)
	   SELECT gen_random_uuid(), e.id, $( [ -n "$1" ] && echo 'e.created_at,' ) s, 1, 1, 'success', 'POST',
	          'https://example.com/x', repeat('q', 200), repeat('r', 200), 5, e.created_at
	   FROM executions$1 e, generate_series(1, 3) s"
	q "VACUUM ANALYZE executions$1, step_attempts$1"
}
fill ""
rows=$((n * 4))
size=$(q "SELECT pg_size_pretty(pg_total_relation_size('executions') + pg_total_relation_size('step_attempts'))")
t_prune=$(ms /tmp/flowd-measure-$$ prune --older-than 720h --database-url "$url")
left=$(q "SELECT count(*) FROM executions")
echo "batched DELETE: $rows rows ($size) ($n executions + attempts) pruned in ${t_prune} ms = $((t_prune * 1000000 / rows)) ms per million rows; $left executions left"

# Partitioned copies: by day of created_at; the primary key must include
# the partition key, so the attempts' foreign key carries it too.
q "CREATE TABLE executions_p (LIKE executions INCLUDING DEFAULTS, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)"
q "CREATE TABLE step_attempts_p (LIKE step_attempts INCLUDING DEFAULTS, execution_created_at timestamptz NOT NULL,
     PRIMARY KEY (id, execution_created_at),
     FOREIGN KEY (execution_id, execution_created_at) REFERENCES executions_p (id, created_at)) PARTITION BY RANGE (execution_created_at)"
for d in $(seq 0 30); do
	q "CREATE TABLE executions_p$d PARTITION OF executions_p FOR VALUES FROM (date_trunc('day', now()) - interval '$((d + 1)) days') TO (date_trunc('day', now()) - interval '$d days')"
	q "CREATE TABLE step_attempts_p$d PARTITION OF step_attempts_p FOR VALUES FROM (date_trunc('day', now()) - interval '$((d + 1)) days') TO (date_trunc('day', now()) - interval '$d days')"
done
q "CREATE TABLE executions_pold PARTITION OF executions_p FOR VALUES FROM ('-infinity') TO (date_trunc('day', now()) - interval '31 days')"
q "CREATE TABLE step_attempts_pold PARTITION OF step_attempts_p FOR VALUES FROM ('-infinity') TO (date_trunc('day', now()) - interval '31 days')"
q "CREATE INDEX ON step_attempts_p (execution_id, step_number, started_at)"
fill "_p"
# Lookups by id, 2000 of each, the way GET /v1/executions/{id} asks.
lookup() {
	q "DO \$\$ DECLARE r record; BEGIN
	     FOR r IN SELECT id FROM $1 ORDER BY random() LIMIT 2000 LOOP
	       PERFORM * FROM $1 WHERE id = r.id;
	     END LOOP; END \$\$"
}
q "CREATE INDEX ON executions_p (id)"
t_plain=$(ms lookup executions)
t_part=$(ms lookup executions_p)
echo "lookup by id, 2000 times: plain table ${t_plain} ms, 32 partitions ${t_part} ms (every partition's index is probed)"
# The referenced partition must be detached (which checks that no attempt
# still points into it) before it can be dropped.
t_drop=$(ms q "BEGIN; DROP TABLE step_attempts_pold; ALTER TABLE executions_p DETACH PARTITION executions_pold; DROP TABLE executions_pold; COMMIT")
echo "partitions: dropping the old day's pair (all $rows rows) took ${t_drop} ms, under an ACCESS EXCLUSIVE lock on both parents"
