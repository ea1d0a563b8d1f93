#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL server for the test suite.
#
# Usage:
#   line=$(bash scripts/postgres-up.sh) && eval "$line" && export DATABASE_URL
#   bash scripts/postgres-up.sh stop
#
# Capture the output first and then eval it, as above. In `eval "$(...)"` the
# exit status is eval's, and eval of an empty string succeeds, so a failure here
# would go unnoticed even under `set -e`.
#
# Environment:
#   PG_PORT      TCP port on 127.0.0.1 (default 54329)
#   PG_DATA_DIR  data directory, owned by the `postgres` user (default /tmp/ddci-pg)
#
# Stdout gets only the final `DATABASE_URL=...` line, so a caller can eval it.
# Everything else goes to stderr. The server listens only on 127.0.0.1, uses
# `trust` auth, and runs with durability settings off. It's meant for
# disposable CI and dev machines only.
#
# The script starts the server with initdb + pg_ctl, run as the postgres user.
# CI machines don't run systemd as PID 1, and this way we don't depend on the
# Debian-managed cluster in /var/lib/postgresql.

set -Eeuo pipefail

readonly DB_ROLE=ddci
readonly DB_NAME=ddci_test
readonly START_TIMEOUT=30          # seconds to wait for pg_isready
readonly PROG="postgres-up"

# Keep the caller's stdout on fd 3 for the final DATABASE_URL line. Send all
# other output, including from child commands, to stderr.
exec 3>&1 1>&2

log() { printf '[%s] %s\n' "$PROG" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# With set -e, a failing command would otherwise exit without saying why.
on_err() {
    local rc=$?
    log "ERROR: unexpected failure (exit $rc) at line $1: $BASH_COMMAND"
    exit "$rc"
}
trap 'on_err $LINENO' ERR

usage() {
    cat >&2 <<EOF
usage: $0 [start|stop]
  start (default)  start or reuse the server, and print DATABASE_URL=... on stdout
  stop             stop the server for PG_DATA_DIR (succeeds if none is running)
env: PG_PORT (default 54329), PG_DATA_DIR (default /tmp/ddci-pg)
EOF
}

# ---------------------------------------------------------------- settings ---
ACTION=${1:-start}
case "$ACTION" in
    start|up) ACTION=start ;;
    stop|down) ACTION=stop ;;
    -h|--help|help) usage; exit 0 ;;
    *) usage; die "unknown action '$ACTION'" ;;
esac
[[ $# -le 1 ]] || { usage; die "too many arguments"; }

PORT=${PG_PORT:-54329}
# Ports below 1024 need privileges that the postgres user doesn't have.
if ! [[ $PORT =~ ^[0-9]+$ ]] || (( 10#$PORT < 1024 || 10#$PORT > 65535 )); then
    die "PG_PORT must be an integer in 1024..65535 (got '$PORT')"
fi
PORT=$((10#$PORT))

# Make the path absolute before we `cd /` below. -m: it may not exist yet.
DATA_DIR=$(realpath -m -- "${PG_DATA_DIR:-/tmp/ddci-pg}")
case "$DATA_DIR" in
    /|/tmp|/var|/usr|/etc|/root|/home) die "PG_DATA_DIR='$DATA_DIR' is not a sensible data directory" ;;
esac
LOG_FILE="$DATA_DIR/server.log"
CONF_SNIPPET=ddci-ci.conf           # lives in $DATA_DIR, included from postgresql.conf

# Ambient libpq variables (PGHOST, PGUSER, PGDATABASE, PGPASSWORD, PGOPTIONS,
# PGSSLMODE, PGDATA, ...) from CI or a dev shell would silently redirect or
# break our psql/pg_ctl calls. Our own PG_* settings have an underscore after
# "PG", so this pattern leaves them alone.
for var in $(compgen -e); do
    if [[ $var == PG[A-Z]* ]]; then unset "$var"; fi
done

# Commands run as the postgres user inherit the cwd. If postgres can't read it
# (for example /root), they print warnings or fail.
cd /

[[ $EUID -eq 0 ]] || die "must run as root (it installs packages and runs the server as the postgres user)"

# ----------------------------------------------------------------- helpers ---

# Run a command as the postgres OS user. We don't use a login shell, so no
# profile gets sourced and the environment stays predictable.
as_pg() {
    if command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

# Run a command with every file descriptor above 2 closed. The postmaster
# outlives this script. If it inherited fd 3 (the stdout pipe of a
# `$(postgres-up.sh)` caller), the caller would block forever waiting for EOF.
# If it inherited fd 9 (our flock), the lock would never be released. The CI
# runner may also have leaked other descriptors. We use this for pg_ctl start
# and for apt-get, whose maintainer scripts could start daemons.
without_extra_fds() {
    (
        for fd_path in /proc/self/fd/*; do
            fd=${fd_path##*/}
            if [[ $fd =~ ^[0-9]+$ ]] && (( fd > 2 )); then
                eval "exec ${fd}>&-" 2>/dev/null || true
            fi
        done
        "$@"    # not exec: "$@" may be a shell function (as_pg)
    )
}

# Print the bin directory of the newest installed PostgreSQL server, or of
# version $1 if given. Print nothing if there isn't one. We check for the
# server binary on purpose: the psql client can be installed without it.
find_bindir() {
    local want=${1:-} dir ver best="" best_ver=""
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x $dir/postgres ]] || continue
        ver=${dir#/usr/lib/postgresql/}; ver=${ver%/bin}
        if [[ -n $want ]]; then
            [[ $ver == "$want" ]] && { printf '%s\n' "$dir"; return 0; }
            continue
        fi
        if [[ -z $best_ver ]] || [[ $(printf '%s\n%s\n' "$best_ver" "$ver" | sort -V | tail -n1) == "$ver" ]]; then
            best=$dir; best_ver=$ver
        fi
    done
    [[ -n $best ]] && printf '%s\n' "$best"
    return 0
}

install_postgres() {
    log "no PostgreSQL server binary found under /usr/lib/postgresql/*/bin; installing Debian's postgresql package"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install a PostgreSQL server manually"

    # Debian's postinst would create and start a default "main" cluster on
    # port 5432. We don't use it, so it would only waste time and leave a
    # stray server running. postgresql-common reads this drop-in directory.
    # The drop-in isn't a dpkg conffile, so it causes no conffile prompt.
    local dropin_dir=/etc/postgresql-common/createcluster.d
    local dropin=$dropin_dir/50-ddci-no-main-cluster.conf
    local created_dropin=0
    if [[ ! -e $dropin ]]; then
        mkdir -p "$dropin_dir"
        printf '# written by %s: CI starts its own cluster with initdb/pg_ctl\ncreate_main_cluster = off\n' "$PROG" >"$dropin"
        created_dropin=1
    fi

    local attempt delay=5 ok=0
    # DPkg::Lock::Timeout makes apt wait for the dpkg lock instead of failing
    # at once, for example while a fresh VM runs unattended-upgrades.
    local apt_opts=(-q -o DPkg::Lock::Timeout=120 -o Acquire::Retries=3)
    for attempt in 1 2 3; do
        # An update failure isn't fatal on its own. An unrelated broken
        # third-party source can make `update` fail while the Debian lists we
        # need are fine, so the install step decides whether this attempt worked.
        if ! without_extra_fds apt-get "${apt_opts[@]}" update; then
            log "apt-get update failed (attempt $attempt/3); trying the install anyway"
        fi
        if without_extra_fds env DEBIAN_FRONTEND=noninteractive \
                apt-get "${apt_opts[@]}" install -y --no-install-recommends postgresql; then
            ok=1; break
        fi
        if (( attempt < 3 )); then
            log "apt-get install failed (attempt $attempt/3); retrying in ${delay}s"
            sleep "$delay"; delay=$((delay * 2))
        fi
    done
    if (( created_dropin )); then rm -f "$dropin"; fi
    (( ok )) || die "could not install PostgreSQL with apt-get after 3 attempts (see apt output above)"
}

# Print the postmaster PID if a server for DATA_DIR is really running.
# `pg_ctl status` only checks kill(pid, 0). After a container restart, that PID
# can belong to an unrelated process, so we also check the process name and state.
running_pid() {
    local pidfile=$DATA_DIR/postmaster.pid pid
    [[ -f $pidfile ]] || return 1
    pid=$(head -n1 "$pidfile" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -d /proc/$pid ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null || true) == postgres ]] || return 1
    # A killed postmaster can linger as a zombie when PID 1 doesn't reap
    # orphans, which is common in containers. A zombie isn't running.
    ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

# Print the port recorded by the running postmaster (line 4 of postmaster.pid).
running_port() { sed -n 4p "$DATA_DIR/postmaster.pid" 2>/dev/null || true; }

port_in_use() {
    # bash's /dev/tcp needs no extra tools (ss/netstat may be missing).
    # Run in a subshell so the probe socket is closed right away.
    ( exec 8<>"/dev/tcp/127.0.0.1/$1" ) 2>/dev/null
}

print_server_log() {
    if [[ -f $LOG_FILE ]]; then
        log "---- last 100 lines of $LOG_FILE ----"
        tail -n 100 "$LOG_FILE" >&2 || true
        log "---- end of server log ----"
    else
        log "(no server log at $LOG_FILE)"
    fi
}

pg_ready() { "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -t 2; }

# Admin connection: superuser over loopback TCP (trust). -X ignores any psqlrc.
psql_admin() {
    "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"
}

# -------------------------------------------------------------------- stop ---
if [[ $ACTION == stop ]]; then
    if [[ ! -f $DATA_DIR/postmaster.pid ]]; then
        log "no server running for $DATA_DIR; nothing to stop"
        exit 0
    fi
    ver=$(cat "$DATA_DIR/PG_VERSION" 2>/dev/null || true)
    BINDIR=$(find_bindir "$ver")
    [[ -n $BINDIR ]] || BINDIR=$(find_bindir)
    [[ -n $BINDIR ]] || die "$DATA_DIR/postmaster.pid exists but no PostgreSQL server binaries are installed"
    if ! running_pid >/dev/null; then
        log "stale postmaster.pid in $DATA_DIR (server not running); removing it"
        rm -f "$DATA_DIR/postmaster.pid"
        exit 0
    fi
    log "stopping server for $DATA_DIR (port $(running_port))"
    # "fast" disconnects clients and shuts down cleanly. If that hangs, use
    # "immediate" so CI teardown never blocks.
    if ! as_pg "$BINDIR/pg_ctl" -D "$DATA_DIR" -m fast -w -t 30 stop; then
        log "fast shutdown failed; trying immediate shutdown"
        as_pg "$BINDIR/pg_ctl" -D "$DATA_DIR" -m immediate -w -t 30 stop \
            || { print_server_log; die "could not stop the server for $DATA_DIR"; }
    fi
    log "stopped"
    exit 0
fi

# ------------------------------------------------------------------- start ---
started_at=$SECONDS

# 1. Server binaries.
if [[ -z $(find_bindir) ]]; then
    install_postgres
    [[ -n $(find_bindir) ]] || die "apt-get succeeded but there is still no /usr/lib/postgresql/*/bin/postgres"
fi
id postgres >/dev/null 2>&1 || die "OS user 'postgres' does not exist (it is normally created by the postgresql-common package)"

# Two CI steps or two developers might run this at the same time. Serialise
# on a lock next to the data directory, so that two runs don't both initdb or
# pg_ctl start the same directory.
mkdir -p -- "$(dirname -- "$DATA_DIR")"
LOCK_FILE="${DATA_DIR}.lock"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$LOCK_FILE"
    flock -w 120 9 || die "timed out waiting for lock $LOCK_FILE (another postgres-up.sh is running?)"
fi

# 2. Data directory: create, check, or initdb it.
if [[ -e $DATA_DIR && ! -d $DATA_DIR ]]; then
    die "PG_DATA_DIR='$DATA_DIR' exists but is not a directory"
fi
mkdir -p -- "$DATA_DIR"

if [[ -f $DATA_DIR/PG_VERSION ]]; then
    # An existing cluster. Use the binaries of its major version, because a
    # different major version refuses to start on it.
    DATA_VER=$(cat "$DATA_DIR/PG_VERSION")
    BINDIR=$(find_bindir "$DATA_VER")
    [[ -n $BINDIR ]] || die "$DATA_DIR was created by PostgreSQL $DATA_VER, which is not installed (have: $(find_bindir)); remove the directory or set PG_DATA_DIR elsewhere"
    owner=$(stat -c %U -- "$DATA_DIR")
    [[ $owner == postgres ]] || die "$DATA_DIR is owned by '$owner', not 'postgres'; remove it or fix its ownership"
    NEED_INITDB=0
elif [[ -z $(ls -A -- "$DATA_DIR") ]]; then
    BINDIR=$(find_bindir)
    NEED_INITDB=1
else
    die "$DATA_DIR is not empty and is not a PostgreSQL data directory (no PG_VERSION); refusing to touch it"
fi

# PostgreSQL requires the data dir to be owned by the server user and not
# group/world accessible.
chown postgres:postgres -- "$DATA_DIR"
chmod 700 -- "$DATA_DIR"
# The postgres user must also be able to traverse every parent directory.
as_pg test -r "$DATA_DIR" -a -w "$DATA_DIR" -a -x "$DATA_DIR" \
    || die "the postgres user cannot access $DATA_DIR; check the permissions of its parent directories"

log "using $BINDIR, data directory $DATA_DIR, port $PORT"

if (( NEED_INITDB )); then
    # Prefer C.UTF-8: UTF8 encoding with byte-order collation, which is
    # deterministic and needs no locale generation. Plain C with UTF8 encoding
    # works everywhere. Capture `locale -a` before matching: `locale -a | grep -q`
    # can die of SIGPIPE and fail under pipefail.
    locales=$(locale -a 2>/dev/null || true)
    if grep -qiE '^c\.utf-?8$' <<<"$locales"; then LOCALE=C.UTF-8; else LOCALE=C; fi
    log "initialising new cluster (encoding UTF8, locale $LOCALE)"
    # --no-sync: this is a throwaway CI cluster, so fsyncing the new files
    # would only cost time.
    as_pg "$BINDIR/initdb" -D "$DATA_DIR" -U postgres --encoding=UTF8 --locale="$LOCALE" \
        --auth-local=trust --auth-host=trust --no-sync >/dev/null \
        || die "initdb failed for $DATA_DIR"
fi

# 3. Start the server, or reuse the one already running for this data dir.
if pid=$(running_pid); then
    cur_port=$(running_port)
    if [[ $cur_port != "$PORT" ]]; then
        die "a server for $DATA_DIR is already running on port $cur_port (PID $pid), not $PORT; stop it first (PG_DATA_DIR=$DATA_DIR $0 stop) or use another PG_DATA_DIR"
    fi
    log "reusing running server (PID $pid) on 127.0.0.1:$PORT"
else
    if [[ -f $DATA_DIR/postmaster.pid ]]; then
        # Left behind by a crash or a killed container. Postgres would refuse
        # to start if the recorded PID now belongs to another process.
        log "removing stale $DATA_DIR/postmaster.pid"
        rm -f -- "$DATA_DIR/postmaster.pid"
    fi
    if port_in_use "$PORT"; then
        die "127.0.0.1:$PORT is already in use by another process (not a server for $DATA_DIR); set PG_PORT to a free port"
    fi

    # We rewrite our settings on every start, so the port follows PG_PORT even
    # for an existing cluster. We include them last from postgresql.conf, so
    # they override initdb's defaults.
    #   listen_addresses=127.0.0.1  loopback only, never exposed on the network
    #   unix_socket_directories=''  TCP only. /var/run/postgresql may not
    #       exist without the init system, and this avoids socket path length
    #       limits and clashes with any Debian cluster's socket lock.
    #   fsync/synchronous_commit/full_page_writes off  faster tests. The data
    #       is disposable.
    cat >"$DATA_DIR/$CONF_SNIPPET" <<EOF
# Written by scripts/postgres-up.sh on every start; edits will be overwritten.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    grep -qxF "include = '$CONF_SNIPPET'" "$DATA_DIR/postgresql.conf" \
        || printf "\n# Added by scripts/postgres-up.sh\ninclude = '%s'\n" "$CONF_SNIPPET" >>"$DATA_DIR/postgresql.conf"

    # Trust only the local socket and 127.0.0.1. Any other client matches no
    # line and is rejected.
    cat >"$DATA_DIR/pg_hba.conf" <<'EOF'
# Written by scripts/postgres-up.sh. Throwaway CI server: trust, loopback only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
EOF
    chown postgres:postgres -- "$DATA_DIR/$CONF_SNIPPET" "$DATA_DIR/postgresql.conf" "$DATA_DIR/pg_hba.conf"
    chmod 600 -- "$DATA_DIR/$CONF_SNIPPET" "$DATA_DIR/pg_hba.conf"

    log "starting server on 127.0.0.1:$PORT (log: $LOG_FILE)"
    # pg_ctl -w notices early postmaster death, so a bad config fails at once
    # instead of after the full timeout. pg_ctl points the server's stdin,
    # stdout and stderr at /dev/null and the log file. without_extra_fds
    # handles the rest.
    if ! without_extra_fds as_pg "$BINDIR/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" \
            -w -t "$START_TIMEOUT" start >/dev/null; then
        print_server_log
        die "pg_ctl could not start the server for $DATA_DIR on port $PORT"
    fi
fi

# Bounded wait until the server accepts connections on the loopback port.
deadline=$((SECONDS + START_TIMEOUT))
until pg_ready; do
    if (( SECONDS >= deadline )); then
        print_server_log
        die "server on 127.0.0.1:$PORT did not become ready within ${START_TIMEOUT}s"
    fi
    sleep 0.5
done

# 4. Role and database. Idempotent, and the flock above rules out races
# between concurrent runs of this script. CREATE DATABASE can't run inside a
# DO block or transaction, so we check for the database separately.
psql_admin <<SQL || die "could not create role '$DB_ROLE'"
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_ROLE') THEN
        CREATE ROLE $DB_ROLE LOGIN;
    END IF;
END
\$\$;
ALTER ROLE $DB_ROLE LOGIN;
SQL
if [[ $(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") != 1 ]]; then
    log "creating database $DB_NAME owned by $DB_ROLE"
    psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_ROLE ENCODING 'UTF8'" \
        || die "could not create database '$DB_NAME'"
else
    # The database already exists. Make sure the role owns it.
    psql_admin -c "ALTER DATABASE $DB_NAME OWNER TO $DB_ROLE" || die "could not set owner of '$DB_NAME'"
fi

# Check the exact connection the tests will make before telling them to use it.
"$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$DB_ROLE" -d "$DB_NAME" \
    -tAc 'SELECT 1' >/dev/null \
    || die "cannot connect as $DB_ROLE to $DB_NAME on 127.0.0.1:$PORT"

log "PostgreSQL ready on 127.0.0.1:$PORT after $((SECONDS - started_at))s"
printf 'DATABASE_URL=postgresql+psycopg2://%s@127.0.0.1:%s/%s\n' "$DB_ROLE" "$PORT" "$DB_NAME" >&3
