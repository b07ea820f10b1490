#!/usr/bin/env bash
# scripts/pg.sh — flowd's private PostgreSQL cluster for development and tests.
#
# `make run`, `make test` and `make bench` use it when DATABASE_URL is not set.
# The cluster is built from the machine's own PostgreSQL binaries (initdb,
# pg_ctl, postgres found on PATH or under /usr/lib/postgresql/*/bin, newest
# version first) in the project's git-ignored .pgdata/ folder:
#
#   .pgdata/data/        the cluster (PGDATA)
#   .pgdata/port         the port it was last started on
#   .pgdata/server.log   the server log
#   .pgdata/.s.PGSQL.*   its unix socket (never /var/run/postgresql)
#
# It listens on 127.0.0.1 only, on port 55432 (FLOWD_PG_PORT overrides; when
# the port is taken by another program the next free one is used and
# remembered), with trust authentication for local connections. PostgreSQL
# refuses to run as root, so when invoked as root the cluster belongs to and
# runs as the `postgres` system user, or a `flowd-pg` system user created for
# it. If that user cannot traverse a parent directory of the project, the
# cluster lives in /tmp/flowd-pg-<hash of the project path> instead.
#
# Usage: scripts/pg.sh COMMAND
#   url       make sure the cluster runs (creating it if needed) and print
#             DATABASE_URL, e.g. postgres://postgres@127.0.0.1:55432/flowd?sslmode=disable
#   start     make sure the cluster runs (creating it if needed)
#   stop [-m smart|fast|immediate]
#             stop it (default: fast; immediate simulates a crash)
#   restart [-m MODE]   stop, then start
#   status    say whether it runs; exit 0 if it does, 3 if not
#   destroy   stop it and delete its data (`make clean-db`)
#   info      print the PostgreSQL binaries that would be used
#
# Environment: FLOWD_PG_PORT (port, default 55432), FLOWD_PG_BINDIR (use the
# binaries of this directory), FLOWD_PG_USER (the unprivileged user to run as
# when invoked as root), FLOWD_PG_START_TIMEOUT (seconds, default 30).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEFAULT_PORT=55432
DB_NAME=flowd
SUPERUSER=postgres
START_TIMEOUT="${FLOWD_PG_START_TIMEOUT:-30}"
LOCAL_BASE="$ROOT/.pgdata"
ROOT_HASH="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
TMP_BASE="/tmp/flowd-pg-$ROOT_HASH"

# Our own PG* settings only: the caller's PGHOST, PGPORT, PGDATA... must not
# redirect psql, pg_ctl or pg_isready to another server.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' || true)

say() { printf 'pg.sh: %s\n' "$*" >&2; }
die() {
	printf 'pg.sh: error: %s\n' "$1" >&2
	shift
	local line
	for line in "$@"; do printf '%s\n' "$line" | sed 's/^/  /' >&2; done
	exit 1
}

IS_ROOT=0
[[ $EUID -eq 0 ]] && IS_ROOT=1

# ---------------------------------------------------------------- binaries --

# pg_candidates prints "version<TAB>bindir" for every directory holding
# initdb, pg_ctl and postgres.
pg_candidates() {
	local -a dirs=()
	local d p v
	if [[ -n ${FLOWD_PG_BINDIR:-} ]]; then
		dirs+=("$FLOWD_PG_BINDIR")
	else
		if p="$(command -v initdb 2>/dev/null)"; then
			dirs+=("$(dirname "$(readlink -f "$p")")")
		fi
		for d in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /usr/local/pgsql/bin; do
			[[ -d $d ]] && dirs+=("$d")
		done
	fi
	local -A seen=()
	for d in "${dirs[@]}"; do
		d="$(readlink -f "$d" 2>/dev/null)" || continue
		[[ -n ${seen[$d]:-} ]] && continue
		seen[$d]=1
		[[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] || continue
		v="$("$d/postgres" --version 2>/dev/null | sed -n 's/.*(PostgreSQL) \([0-9][0-9.]*\).*/\1/p' | head -n1)" || true
		[[ -n $v ]] && printf '%s\t%s\n' "$v" "$d"
	done
	return 0
}

# find_binaries [MAJOR] sets BINDIR, PG_VERSION_FULL, PG_MAJOR, PSQL,
# PG_ISREADY and PGSS (1 when pg_stat_statements can be preloaded). With
# MAJOR, only that major version will do (an existing cluster's).
find_binaries() {
	local want="${1:-}" line v d found=""
	while IFS=$'\t' read -r v d; do
		[[ -z $v ]] && continue
		if [[ -z $want || ${v%%.*} == "$want" ]]; then
			found="$v"$'\t'"$d"
			break
		fi
	done < <(pg_candidates | sort -s -t $'\t' -k1,1Vr)
	if [[ -z $found ]]; then
		if [[ -n $want ]]; then
			die "the private cluster in $(data_dir) was made by PostgreSQL $want, whose binaries are not installed" \
				"install them (Debian/Ubuntu: apt-get install postgresql-$want), or delete the cluster with \`make clean-db\`" \
				"(or set DATABASE_URL to use another server)"
		fi
		die "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found on PATH or under /usr/lib/postgresql/*/bin" \
			"install them: Debian/Ubuntu: sudo apt-get install postgresql   (Fedora: dnf install postgresql-server; macOS: brew install postgresql)" \
			"or point FLOWD_PG_BINDIR at their directory, or set DATABASE_URL to an existing server"
	fi
	PG_VERSION_FULL="${found%%$'\t'*}"
	BINDIR="${found#*$'\t'}"
	PG_MAJOR="${PG_VERSION_FULL%%.*}"
	if ((PG_MAJOR < 13)); then
		die "PostgreSQL $PG_VERSION_FULL in $BINDIR is too old; flowd needs 15 or newer (apt-get install postgresql)"
	elif ((PG_MAJOR < 15)); then
		say "warning: PostgreSQL $PG_VERSION_FULL is older than the 15+ flowd is developed against"
	fi
	PSQL="$BINDIR/psql"
	[[ -x $PSQL ]] || PSQL="$(command -v psql 2>/dev/null)" ||
		die "psql not found (Debian/Ubuntu: apt-get install postgresql-client)"
	PG_ISREADY="$BINDIR/pg_isready"
	[[ -x $PG_ISREADY ]] || PG_ISREADY="$(command -v pg_isready 2>/dev/null)" || PG_ISREADY=""

	local libdir="" sharedir=""
	if [[ -x $BINDIR/pg_config ]]; then
		libdir="$("$BINDIR/pg_config" --pkglibdir 2>/dev/null)" || libdir=""
		sharedir="$("$BINDIR/pg_config" --sharedir 2>/dev/null)" || sharedir=""
	fi
	PGSS=0
	local l s
	for l in "$libdir" "$(dirname "$BINDIR")/lib" "$(dirname "$BINDIR")/lib/postgresql" "/usr/lib/postgresql/$PG_MAJOR/lib"; do
		[[ -n $l && ( -f $l/pg_stat_statements.so || -f $l/pg_stat_statements.dylib ) ]] || continue
		for s in "$sharedir" "$(dirname "$BINDIR")/share" "$(dirname "$BINDIR")/share/postgresql" "/usr/share/postgresql/$PG_MAJOR"; do
			if [[ -n $s && -f $s/extension/pg_stat_statements.control ]]; then
				PGSS=1
				break 2
			fi
		done
	done
}

# ------------------------------------------------------------ the run user --

RUN_USER="" # empty: run PostgreSQL as ourselves (not root)

# default_run_user prints the unprivileged user to run PostgreSQL as when
# invoked as root, creating flowd-pg when there is no postgres user.
default_run_user() {
	if [[ -n ${FLOWD_PG_USER:-} ]]; then
		id -u "$FLOWD_PG_USER" >/dev/null 2>&1 || die "FLOWD_PG_USER=$FLOWD_PG_USER: no such user"
		[[ $(id -u "$FLOWD_PG_USER") != 0 ]] || die "FLOWD_PG_USER must not be root: PostgreSQL refuses to run as root"
		echo "$FLOWD_PG_USER"
	elif id -u postgres >/dev/null 2>&1 && [[ $(id -u postgres) != 0 ]]; then
		echo postgres
	else
		if ! id -u flowd-pg >/dev/null 2>&1; then
			command -v useradd >/dev/null 2>&1 ||
				die "PostgreSQL refuses to run as root and there is neither a postgres user nor useradd to create one" \
					"create an unprivileged user and set FLOWD_PG_USER, or run as a normal user"
			local shell=/usr/sbin/nologin
			[[ -x $shell ]] || shell=/sbin/nologin
			[[ -x $shell ]] || shell=/bin/false
			say "creating system user flowd-pg to run PostgreSQL (it refuses to run as root)"
			useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$shell" flowd-pg
		fi
		echo flowd-pg
	fi
}

# quote_sh quotes its arguments for /bin/sh.
quote_sh() {
	local a out=""
	for a in "$@"; do
		out+="'$(printf '%s' "$a" | sed "s/'/'\\\\''/g")' "
	done
	printf '%s' "$out"
}

# as_pg runs a command as the cluster's user, from /, with no file
# descriptors but 0-2 (a postmaster must not keep our lock or a caller's
# pipe open).
as_pg() {
	(
		local fd n
		for fd in "/proc/$BASHPID/fd"/*; do
			n="${fd##*/}"
			if [[ $n =~ ^[0-9]+$ ]] && ((n > 2)) && [[ -e $fd ]]; then
				eval "exec $n>&-"
			fi
		done
		cd /
		if [[ -z $RUN_USER ]]; then
			exec "$@"
		elif command -v runuser >/dev/null 2>&1; then
			exec runuser -u "$RUN_USER" -- "$@"
		else
			exec su -s /bin/sh "$RUN_USER" -c "$(quote_sh "$@")"
		fi
	)
}

# give FILE... to the cluster's user (when running as root).
give() {
	[[ -n $RUN_USER ]] || return 0
	chown "$RUN_USER:" "$@"
}

# ------------------------------------------------------------- locations --

BASE=""
data_dir() { printf '%s/data' "${BASE:-$LOCAL_BASE}"; }

# locate_existing sets BASE to the folder of an existing cluster; returns 1
# if there is none.
locate_existing() {
	local b
	for b in "$LOCAL_BASE" "$TMP_BASE"; do
		if [[ -f $b/data/PG_VERSION ]]; then
			BASE="$b"
			return 0
		fi
	done
	return 1
}

# owner_of PATH prints the user name owning PATH (empty if the uid has none).
owner_of() {
	local uid
	uid="$(stat -c %u "$1")"
	getent passwd "$uid" | cut -d: -f1 || true
}

# setup_user decides who runs the cluster in BASE (existing or not) and, as
# root, hands the folder to that user.
setup_user() {
	RUN_USER=""
	local owner=""
	[[ -d $BASE/data ]] && owner="$(owner_of "$BASE/data")"
	if ((IS_ROOT)); then
		if [[ -n $owner && $owner != root ]]; then
			RUN_USER="$owner"
		else
			RUN_USER="$(default_run_user)"
		fi
		if [[ -d $BASE && $(owner_of "$BASE") != "$RUN_USER" ]] ||
			[[ -d $BASE/data && $owner != "$RUN_USER" ]]; then
			chown -R "$RUN_USER:" "$BASE"
		fi
	elif [[ -n $owner && $owner != "$(id -un)" ]]; then
		die "the private cluster in $BASE/data belongs to ${owner:-uid $(stat -c %u "$BASE/data")}" \
			"run this as root or as that user, or delete it (\`make clean-db\` as root), or set DATABASE_URL"
	fi
}

# choose_base picks where a new cluster goes (called with no cluster yet).
choose_base() {
	BASE="$LOCAL_BASE"
	if ((IS_ROOT)); then
		RUN_USER="$(default_run_user)"
		if ! as_pg test -x "$ROOT"; then
			BASE="$TMP_BASE"
			say "note: user $RUN_USER cannot traverse a parent directory of $ROOT," \
				"so the private cluster lives in $BASE instead of .pgdata/"
		fi
	fi
}

# make_base creates BASE (0700, owned by the run user) and takes the lock.
make_base() {
	mkdir -p "$BASE"
	chmod 700 "$BASE"
	setup_user
	take_lock
}

LOCKED=0
take_lock() {
	((LOCKED)) && return 0
	command -v flock >/dev/null 2>&1 || return 0
	exec 9>>"$BASE/.lock"
	give "$BASE/.lock" 2>/dev/null || true
	flock 9
	LOCKED=1
}

sock_dir() {
	# A unix socket path is limited to 107 bytes.
	if ((${#BASE} + 16 <= 100)); then
		printf '%s' "$BASE"
	else
		printf '/tmp/flowd-pg-%s.sock' "$ROOT_HASH"
	fi
}

# ---------------------------------------------------------------- server --

pidfile_line() { sed -n "${1}p" "$(data_dir)/postmaster.pid" 2>/dev/null || true; }

# running: the postmaster of our data folder is alive (not a zombie: in
# containers whose init does not reap, a killed postmaster stays one).
running() {
	local pid comm state
	pid="$(pidfile_line 1)"
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -d /proc/$pid ]] || kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r /proc/$pid/stat ]]; then
		state="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || state=""
		[[ $state != Z && $state != X ]] || return 1
	fi
	if [[ -r /proc/$pid/comm ]]; then
		comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
		[[ -z $comm || $comm == postgres || $comm == postmaster ]] || return 1
	fi
	return 0
}

# clear_stale_pidfile: postmaster.pid names a pid that is alive but is not
# our postmaster (a zombie, or the pid was reused). PostgreSQL would refuse
# to start ("lock file already exists"), so remove it, but only when none of
# the old server's processes is still attached to its shared memory (the
# check PostgreSQL makes itself when the pid is gone).
clear_stale_pidfile() {
	local data pid shmid nattch
	data="$(data_dir)"
	[[ -f $data/postmaster.pid ]] || return 0
	pid="$(pidfile_line 1)"
	[[ $pid =~ ^[0-9]+$ && -d /proc/$pid ]] || return 0 # dead: PostgreSQL handles it
	shmid="$(pidfile_line 7 | awk '{print $2}')"
	if [[ -n $shmid && -r /proc/sysvipc/shm ]]; then
		local i
		for ((i = 0; i < 50; i++)); do # its children exit soon after it
			nattch="$(awk -v id="$shmid" '$2 == id {print $7}' /proc/sysvipc/shm)"
			[[ -z $nattch || $nattch == 0 ]] && break
			sleep 0.2
		done
		if [[ -n $nattch && $nattch != 0 ]]; then
			die "the private cluster's postmaster (pid $pid) is gone but $nattch of its processes still use its shared memory" \
				"wait for them to exit (or kill them), then retry"
		fi
	fi
	say "removing stale postmaster.pid (pid $pid is not a live PostgreSQL server)"
	rm -f "$data/postmaster.pid"
	# Its socket lock files name the same pid and would stop the start too.
	local lock
	for lock in "$(sock_dir)"/.s.PGSQL.*.lock; do
		[[ -f $lock && $(sed -n 1p "$lock" 2>/dev/null) == "$pid" ]] && rm -f "$lock" "${lock%.lock}"
	done
	return 0
}

running_port() { pidfile_line 4 | tr -d ' '; }

port_in_use() {
	local p="$1"
	if timeout 2 bash -c ": >/dev/tcp/127.0.0.1/$p" 2>/dev/null; then
		return 0
	fi
	if command -v ss >/dev/null 2>&1 && [[ -n $(ss -Hltn "sport = :$p" 2>/dev/null) ]]; then
		return 0
	fi
	return 1
}

# free_port FROM prints FROM or the next port no other program uses.
free_port() {
	local p="$1" i
	for ((i = 0; i < 100; i++, p++)); do
		((p <= 65535)) || break
		if ! port_in_use "$p"; then
			echo "$p"
			return 0
		fi
		say "port $p is taken by another program; trying $((p + 1))"
	done
	die "no free port in $1..$((p - 1)); set FLOWD_PG_PORT to a free one"
}

wanted_port() {
	local p
	if [[ -n ${FLOWD_PG_PORT:-} ]]; then
		p="$FLOWD_PG_PORT"
		if ! [[ $p =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then
			die "FLOWD_PG_PORT=$p is not a port number"
		fi
	elif [[ -f $BASE/port ]] && p="$(tr -dc 0-9 <"$BASE/port")" && [[ -n $p ]]; then
		:
	else
		p="$DEFAULT_PORT"
	fi
	echo "$p"
}

remember_port() {
	printf '%s\n' "$1" >"$BASE/port"
	give "$BASE/port"
}

conf_quote() { printf '%s' "${1//\'/\'\'}"; }

write_conf() {
	local port="$1" f sock
	f="$(data_dir)/flowd.conf"
	sock="$(sock_dir)"
	if [[ $sock != "$BASE" ]]; then
		say "note: $BASE is too long a path for a unix socket; the socket goes to $sock"
		mkdir -p "$sock"
		chmod 700 "$sock"
		give "$sock"
	fi
	{
		echo "# Written by scripts/pg.sh at every start: edit the script, not this file."
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $port"
		echo "unix_socket_directories = '$(conf_quote "$sock")'"
		echo "max_connections = 300"
		echo "shared_buffers = 256MB"
		if ((PGSS)); then
			echo "shared_preload_libraries = 'pg_stat_statements'"
		fi
	} >"$f"
	give "$f"
}

init_cluster() {
	local data tmp log
	data="$(data_dir)"
	[[ -f $data/PG_VERSION ]] && return 0
	find_binaries
	tmp="$BASE/data.initdb"
	log="$BASE/initdb.log"
	rm -rf "$tmp" "$data" # a data folder without PG_VERSION is a failed initdb
	say "creating a private PostgreSQL $PG_VERSION_FULL cluster in $data${RUN_USER:+ (running as user $RUN_USER)}"
	: >"$log"
	give "$log"
	if ! as_pg "$BINDIR/initdb" -D "$tmp" -U "$SUPERUSER" --auth=trust --encoding=UTF8 --no-locale >>"$log" 2>&1; then
		rm -rf "$tmp"
		die "initdb failed; last lines of $log:" "$(tail -n 20 "$log")"
	fi
	{
		echo
		echo "# flowd: the private cluster's settings, rewritten by scripts/pg.sh at every start."
		echo "include_if_exists 'flowd.conf'"
	} >>"$tmp/postgresql.conf"
	mv "$tmp" "$data"
}

rotate_log() {
	local log="$BASE/server.log"
	if [[ -f $log ]] && (($(stat -c %s "$log") > 50 * 1024 * 1024)); then
		mv -f "$log" "$log.1"
	fi
	[[ -e $log ]] || { : >"$log" && give "$log"; }
}

isready() {
	if [[ -n $PG_ISREADY ]]; then
		"$PG_ISREADY" -q -h 127.0.0.1 -p "$1" -U "$SUPERUSER" -d postgres -t 2 >/dev/null 2>&1
	else
		PGCONNECT_TIMEOUT=2 "$PSQL" -X -q -h 127.0.0.1 -p "$1" -U "$SUPERUSER" -d postgres -c 'select 1' >/dev/null 2>&1
	fi
}

# wait_ready PORT LOGOFFSET: 0 ready, 2 the port was taken, dies otherwise.
wait_ready() {
	local port="$1" off="$2" log="$BASE/server.log" start=$SECONDS new
	while ((SECONDS - start < START_TIMEOUT)); do
		if running && [[ $(pidfile_line 8 | tr -d ' ') == ready ]] && isready "$port"; then
			return 0
		fi
		new="$(tail -c +"$((off + 1))" "$log" 2>/dev/null || true)"
		if ! running; then
			if grep -qE 'could not create any TCP/IP sockets|Address already in use' <<<"$new"; then
				return 2
			fi
			if grep -qE '(FATAL|PANIC):' <<<"$new" || ((SECONDS - start >= 5)); then
				die "PostgreSQL failed to start; last lines of $log:" "$(tail -n 30 <<<"${new:-$(tail -n 30 "$log")}")"
			fi
		fi
		sleep 0.2
	done
	new="$(tail -c +"$((off + 1))" "$log" 2>/dev/null || true)"
	die "PostgreSQL did not accept connections on 127.0.0.1:$port within ${START_TIMEOUT}s; last lines of $log:" \
		"$(tail -n 30 <<<"${new:-$(tail -n 30 "$log")}")"
}

# ensure_running starts the cluster in BASE if needed; sets PORT.
ensure_running() {
	local data attempt off rc
	data="$(data_dir)"
	find_binaries "$(tr -dc 0-9 <"$data/PG_VERSION")"
	if running; then
		PORT="$(running_port)"
		if ! isready "$PORT"; then
			wait_ready "$PORT" "$(stat -c %s "$BASE/server.log" 2>/dev/null || echo 0)" || true
		fi
		[[ $(cat "$BASE/port" 2>/dev/null) == "$PORT" ]] || remember_port "$PORT"
		return 0
	fi
	clear_stale_pidfile
	local want
	want="$(wanted_port)"
	PORT="$(free_port "$want")"
	for ((attempt = 1; attempt <= 5; attempt++)); do
		write_conf "$PORT"
		remember_port "$PORT"
		rotate_log
		off="$(stat -c %s "$BASE/server.log")"
		say "starting PostgreSQL $PG_VERSION_FULL on 127.0.0.1:$PORT (data $data, log $BASE/server.log)"
		as_pg "$BINDIR/pg_ctl" -D "$data" -l "$BASE/server.log" -W -s start >&2 ||
			die "pg_ctl start failed; last lines of $BASE/server.log:" "$(tail -n 30 "$BASE/server.log")"
		rc=0
		wait_ready "$PORT" "$off" || rc=$?
		((rc == 0)) && return 0
		say "port $PORT was taken while starting; trying the next free port"
		PORT="$(free_port $((PORT + 1)))"
	done
	die "could not find a port to start PostgreSQL on; set FLOWD_PG_PORT"
}

q() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" "$@"; }

# ensure_database creates the postgres superuser (if initdb named it
# otherwise), the flowd database and, when preloaded, pg_stat_statements.
ensure_database() {
	local out
	if ! out="$(q -U "$SUPERUSER" -d postgres -tAc 'select 1' 2>&1)"; then
		if [[ $out == *"role \"$SUPERUSER\" does not exist"* ]]; then
			local other="${RUN_USER:-$(id -un)}"
			say "creating superuser role $SUPERUSER (the cluster's superuser is $other)"
			q -U "$other" -d postgres -c "CREATE ROLE $SUPERUSER SUPERUSER LOGIN" >&2
		else
			die "cannot connect to the private cluster on 127.0.0.1:$PORT: $out"
		fi
	fi
	if [[ $(q -U "$SUPERUSER" -d postgres -tAc "select 1 from pg_database where datname = '$DB_NAME'") != 1 ]]; then
		q -U "$SUPERUSER" -d postgres -c "CREATE DATABASE $DB_NAME" >&2
	fi
	if [[ $(q -U "$SUPERUSER" -d "$DB_NAME" -tAc 'show shared_preload_libraries') == *pg_stat_statements* ]]; then
		q -U "$SUPERUSER" -d "$DB_NAME" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >&2 2>/dev/null || true
	fi
}

url_of() { printf 'postgres://%s@127.0.0.1:%s/%s?sslmode=disable' "$SUPERUSER" "$1" "$DB_NAME"; }

cmd_start() {
	if ! locate_existing; then
		find_binaries # fail before creating anything when there are none
		choose_base
	fi
	make_base
	init_cluster
	ensure_running
	ensure_database
}

cmd_stop() {
	local mode="${1:-fast}"
	case "$mode" in smart | fast | immediate) ;; *) die "stop mode must be smart, fast or immediate, not $mode" ;; esac
	if ! locate_existing; then
		say "no private cluster (nothing to stop)"
		return 0
	fi
	setup_user
	take_lock
	if ! running; then
		say "the private cluster in $(data_dir) is not running"
		return 0
	fi
	find_binaries "$(tr -dc 0-9 <"$(data_dir)/PG_VERSION")"
	say "stopping the private cluster in $(data_dir) (mode $mode)"
	as_pg "$BINDIR/pg_ctl" -D "$(data_dir)" -m "$mode" -w -t 120 -s stop >&2
}

parse_mode() { # [-m MODE] -> MODE
	if [[ ${1:-} == -m ]]; then
		echo "${2:?stop -m needs a mode}"
	elif [[ ${1:-} == --mode=* ]]; then
		echo "${1#--mode=}"
	elif [[ -n ${1:-} ]]; then
		echo "$1"
	else
		echo fast
	fi
}

cmd_status() {
	if ! locate_existing; then
		echo "no private cluster yet (it will be created in $LOCAL_BASE by \`scripts/pg.sh start\`)"
		return 3
	fi
	if running; then
		echo "running: pid $(pidfile_line 1), 127.0.0.1:$(running_port), data $(data_dir), user $(owner_of "$(data_dir)"), PostgreSQL $(cat "$(data_dir)/PG_VERSION")"
		echo "DATABASE_URL=$(url_of "$(running_port)")"
		return 0
	fi
	echo "stopped: data $(data_dir), PostgreSQL $(cat "$(data_dir)/PG_VERSION"), last port $(cat "$BASE/port" 2>/dev/null || echo none)"
	return 3
}

cmd_destroy() {
	local b found=0
	for b in "$LOCAL_BASE" "$TMP_BASE"; do
		[[ -d $b ]] || continue
		found=1
		BASE="$b"
		if [[ -f $b/data/PG_VERSION ]]; then
			setup_user
			take_lock
			if running; then
				find_binaries "$(tr -dc 0-9 <"$(data_dir)/PG_VERSION")"
				say "stopping the private cluster in $(data_dir)"
				as_pg "$BINDIR/pg_ctl" -D "$(data_dir)" -m fast -w -t 120 -s stop >&2
			fi
		fi
		say "deleting $b"
		rm -rf "$b"
		LOCKED=0
		exec 9>&- 2>/dev/null || true
	done
	rm -rf "/tmp/flowd-pg-$ROOT_HASH.sock"
	((found)) || say "no private cluster to delete"
}

cmd_info() {
	find_binaries
	echo "bindir=$BINDIR"
	echo "version=$PG_VERSION_FULL"
	echo "pg_stat_statements=$([[ $PGSS == 1 ]] && echo yes || echo no)"
}

main() {
	local cmd="${1:-}"
	shift || true
	case "$cmd" in
	url)
		cmd_start
		url_of "$PORT"
		echo
		;;
	start)
		cmd_start
		say "running on 127.0.0.1:$PORT; DATABASE_URL=$(url_of "$PORT")"
		;;
	stop) cmd_stop "$(parse_mode "$@")" ;;
	restart)
		cmd_stop "$(parse_mode "$@")"
		cmd_start
		say "running on 127.0.0.1:$PORT; DATABASE_URL=$(url_of "$PORT")"
		;;
	status) cmd_status ;;
	destroy) cmd_destroy ;;
	info) cmd_info ;;
	-h | --help | help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" ;;
	*)
		echo "usage: scripts/pg.sh url|start|stop [-m smart|fast|immediate]|restart|status|destroy|info" >&2
		exit 2
		;;
	esac
}

main "$@"
