#!/usr/bin/env bash
# The failover drill (DESIGN §12), on one machine, from Debian's packages: etcd, three
# PostgreSQL 15 nodes under Patroni (synchronous replication, WAL archive), two talentcard
# instances behind haproxy. Fires redemptions through haproxy, SIGKILLs the primary's
# whole node (Patroni and PostgreSQL) mid-run, times the promotion, then checks against
# the new primary that no acknowledged redemption was lost, that no code was redeemed
# twice, that budgets and the audit chain verify; finally restores the base backup taken
# at the start plus the archived WAL into a scratch cluster and verifies the audit chain
# there. Everything runs on free local ports under a temporary directory and is torn
# down on exit. Run as root (PostgreSQL and Patroni run as the `postgres` user).
#
#   deploy/ha/drill.sh                                # binary: target/release/talentcard
#   TALENTCARD=target/debug/talentcard deploy/ha/drill.sh
#   NODES=2 KILL_AFTER=15 LOAD_SECONDS=60 deploy/ha/drill.sh
#
# Exit status: 0 all checks passed, 1 a check failed, 2 the drill could not run,
# 3 it ran but a check could not be made (e.g. a binary without loadgen --acknowledged).
# Functions called from traps and wait_for look unreachable to shellcheck.
# shellcheck disable=SC2317
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin

NODES=${NODES:-3}                 # 2 or 3 PostgreSQL nodes
KILL_AFTER=${KILL_AFTER:-12}      # seconds of load before the primary's node is killed
LOAD_SECONDS=${LOAD_SECONDS:-40}
CARDS=${CARDS:-2000}
CONCURRENCY=${CONCURRENCY:-8}
RATE=${RATE:-150}
PROMOTION_LIMIT=${PROMOTION_LIMIT:-30}   # seconds; a slower promotion fails the drill
KEEP_LOGS=${KEEP_LOGS:-auto}      # auto: keep the logs when a check fails; 1 always; 0 never

TALENTCARD=${TALENTCARD:-$REPO/target/release/talentcard}

say() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
die() { say "DRILL ERROR: $*" >&2; exit 2; }

[[ $(id -u) == 0 ]] || die "run as root: PostgreSQL and Patroni are started as the postgres user"
[[ -n ${TALENTCARD:-} && -x $TALENTCARD ]] ||
  die "no talentcard binary: set TALENTCARD=/path/to/talentcard"
TALENTCARD=$(realpath "$TALENTCARD")
[[ $NODES == 2 || $NODES == 3 ]] || die "NODES must be 2 or 3"
for tool in /usr/bin/patroni /usr/bin/patronictl /usr/bin/etcd /usr/bin/etcdctl /usr/sbin/haproxy \
  "$PGBIN/postgres" "$PGBIN/pg_basebackup" "$PGBIN/pg_ctl" "$PGBIN/psql" curl setpriv ss; do
  command -v "$tool" >/dev/null ||
    die "$tool missing: apt-get install -y patroni etcd-server etcd-client haproxy postgresql-15 curl"
done

# With three nodes the new primary still has a synchronous standby after a node is lost,
# so strict mode costs no availability; with two, strict mode would stop all writes until
# the dead node came back. See README.md.
if [[ $NODES == 3 ]]; then STRICT=true; else STRICT=false; fi

# --- Work directory and ports --------------------------------------------------------

WORK=$(mktemp -d /tmp/tc-ha-drill.XXXXXX)
chmod 755 "$WORK"                 # the postgres user must reach its directories below
mkdir -p "$WORK/pg" "$WORK/run" "$WORK/archive" "$WORK/app" "$WORK/logs"
chown postgres:postgres "$WORK/pg" "$WORK/run" "$WORK/archive"
chmod 700 "$WORK/pg" "$WORK/app"
LOGS=$WORK/logs
chmod 777 "$LOGS"

# Consecutive free ports from a random base below the ephemeral range.
ports=()
pick_ports() {
  local want=$1 p used
  used=" $(ss -Htanl | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
  p=$((20000 + RANDOM % 10000))
  while ((${#ports[@]} < want)); do
    [[ $used == *" $p "* ]] || ports+=("$p")
    p=$((p + 1))
  done
}
pick_ports $((8 + 2 * NODES))
ETCD_PORT=${ports[0]} ETCD_PEER_PORT=${ports[1]} BALANCER_PORT=${ports[2]}
PG_PRIMARY_PORT=${ports[3]} APP1_PORT=${ports[4]} APP2_PORT=${ports[5]} SCRATCH_PORT=${ports[6]}
APP3_PORT=${ports[7]}
PG_PORT=() REST_PORT=()
for ((i = 1; i <= NODES; i++)); do
  PG_PORT[i]=${ports[6 + 2 * i]}
  REST_PORT[i]=${ports[7 + 2 * i]}
done

hosts=""
for ((i = 1; i <= NODES; i++)); do hosts+="${hosts:+,}127.0.0.1:${PG_PORT[i]}"; done
# libpq tries the hosts in turn and keeps the one that accepts writes; reports prefer a standby.
export DATABASE_URL="postgres://postgres@$hosts/talentcard?target_session_attrs=read-write"
export REPLICA_DATABASE_URL="postgres://postgres@$hosts/talentcard?target_session_attrs=prefer-standby"
export DATA_DIR=$WORK/app RUST_LOG=warn
ACK=$WORK/acknowledged.tsv

# --- Teardown ------------------------------------------------------------------------

declare -A PID=()                 # what we started: name -> pid
FAILED=0 INCOMPLETE=0

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- env HOME="$WORK" "$@"; }
alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
postmaster_of() { head -1 "$1/postmaster.pid" 2>/dev/null || true; }

stop_pid() { # name signal seconds
  local pid=${PID[$1]:-} n
  alive "$pid" || return 0
  kill "-$2" "$pid" 2>/dev/null || true
  for ((n = 0; n < $3 * 10; n++)); do
    # A child of ours stays a zombie (and "alive") until waited for.
    if ! alive "$pid" || [[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* ]]; then break; fi
    sleep 0.1
  done
  alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

teardown() {
  local status=$? name dir pm leftovers=""
  trap - EXIT INT TERM
  set +e
  say "tearing down"
  for name in loadgen app3 app2 app1 haproxy; do stop_pid "$name" TERM 5; done
  # Patroni stops its PostgreSQL on SIGTERM; whatever survives is stopped by pid.
  # All at once, so that no surviving node spends the time being promoted.
  for ((i = 1; i <= NODES; i++)); do
    alive "${PID[patroni$i]:-}" && kill -TERM "${PID[patroni$i]}" 2>/dev/null
  done
  for ((i = 1; i <= NODES; i++)); do stop_pid "patroni$i" TERM 20; done
  for dir in "$WORK"/pg/node* "$WORK/pg/restore"; do
    pm=$(postmaster_of "$dir")
    if alive "$pm"; then
      as_postgres "$PGBIN/pg_ctl" -D "$dir" -m immediate -w -t 10 stop >/dev/null 2>&1 ||
        kill -KILL "$pm" 2>/dev/null
    fi
  done
  stop_pid etcd TERM 5
  sleep 0.5
  for name in "${!PID[@]}"; do
    if alive "${PID[$name]}"; then leftovers+=" $name(${PID[$name]})"; fi
  done
  for pid in $(pgrep -f -- "$WORK" 2>/dev/null) $(pgrep -f 'postgres: talentcard-drill:' 2>/dev/null); do
    [[ $pid == "$$" ]] || leftovers+=" $pid:$(ps -o comm= -p "$pid" 2>/dev/null)"
  done
  if [[ -n $leftovers ]]; then
    say "LEFTOVER PROCESSES:$leftovers" >&2
    status=1
  else
    say "nothing left running (pgrep finds no drill process)"
  fi
  if [[ $KEEP_LOGS == 1 || ($KEEP_LOGS == auto && $status != 0) ]]; then
    local kept
    kept=$(mktemp -d /tmp/tc-ha-drill-logs.XXXXXX)
    cp -a "$LOGS"/. "$kept"/ 2>/dev/null
    [[ -f $ACK ]] && cp "$ACK" "$kept"/
    say "logs kept in $kept"
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# Waits up to $2 seconds for the command after them to succeed; gives up at once when a
# process named in WATCH has died (its log tells why).
WATCH=()
wait_for() {
  local what=$1 seconds=$2 n name
  shift 2
  for ((n = 0; n < seconds * 5; n++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    for name in "${WATCH[@]}"; do
      if ! alive "${PID[$name]}" || [[ $(ps -o stat= -p "${PID[$name]}") == Z* ]]; then
        tail -15 "$LOGS/$name.log" >&2 2>/dev/null
        die "$name died while waiting for $what (log above)"
      fi
    done
    sleep 0.2
  done
  die "timed out after ${seconds}s waiting for $what"
}
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true; }
is_primary() { [[ $(http_code "http://127.0.0.1:${REST_PORT[$1]}/primary") == 200 ]]; }
is_sync() { [[ $(http_code "http://127.0.0.1:${REST_PORT[$1]}/sync") == 200 ]]; }
is_replica() { [[ $(http_code "http://127.0.0.1:${REST_PORT[$1]}/replica") == 200 ]]; }
ready() { [[ $(http_code "$1/readyz") == 200 ]]; }
# The node Patroni calls primary (0: none).
primary_node() {
  local i
  for ((i = 1; i <= NODES; i++)); do
    if is_primary "$i"; then echo "$i"; return; fi
  done
  echo 0
}
any_sync() {
  local i
  for ((i = 1; i <= NODES; i++)); do is_sync "$i" && return 0; done
  return 1
}
psql_at() { "$PGBIN/psql" -X -qAt -v ON_ERROR_STOP=1 "postgres://postgres@127.0.0.1:$1/${2:-talentcard}" "${@:3}"; }
fill() { # template -> stdout, replacing @KEY@ by the value of each KEY=VALUE argument
  local expr=() kv
  for kv in "${@:2}"; do expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${expr[@]}" "$1"
}

say "work directory $WORK; binary $TALENTCARD"
say "ports: etcd $ETCD_PORT, postgres ${PG_PORT[*]}, patroni REST ${REST_PORT[*]}," \
  "balancer $BALANCER_PORT, apps $APP1_PORT $APP2_PORT $APP3_PORT, pg_primary $PG_PRIMARY_PORT, scratch $SCRATCH_PORT"

# --- etcd ----------------------------------------------------------------------------

etcd --name drill --data-dir "$WORK/etcd" --logger zap --log-level warn \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "drill=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
  --initial-cluster-token "tcdrill-$$" >"$LOGS/etcd.log" 2>&1 &
PID[etcd]=$!
WATCH+=(etcd)
wait_for "etcd" 20 env ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$ETCD_PORT" endpoint health
say "etcd up"

# --- Patroni + PostgreSQL ------------------------------------------------------------

start_patroni() {
  local i=$1
  fill "$HERE/patroni.yml.in" NAME="node$i" REST_PORT="${REST_PORT[i]}" ETCD_PORT="$ETCD_PORT" \
    PG_PORT="${PG_PORT[i]}" DATA_DIR="$WORK/pg/node$i" WORK="$WORK" ARCHIVE="$WORK/archive" \
    STRICT="$STRICT" >"$WORK/patroni$i.yml"
  chown postgres:postgres "$WORK/patroni$i.yml"
  # setpriv execs (runuser would stay as the parent): $! is Patroni's own pid.
  (cd "$WORK" && exec setpriv --reuid=postgres --regid=postgres --init-groups -- \
    env HOME="$WORK" /usr/bin/patroni "$WORK/patroni$i.yml" >"$LOGS/patroni$i.log" 2>&1) &
  PID[patroni$i]=$!
  WATCH+=("patroni$i")
}

start_patroni 1
wait_for "node1 to bootstrap and lead" 90 is_primary 1
say "node1 is primary"
for ((i = 2; i <= NODES; i++)); do start_patroni "$i"; done
for ((i = 2; i <= NODES; i++)); do wait_for "node$i to stream from node1" 120 is_replica "$i"; done
wait_for "a synchronous standby" 60 any_sync
patronictl -c "$WORK/patroni1.yml" list 2>/dev/null | sed 's/^/    /'

psql_at "${PG_PORT[1]}" postgres -c "CREATE DATABASE talentcard"
# The base backup the restore test starts from; WAL after it is in the archive.
as_postgres "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "${PG_PORT[1]}" -U replicator \
  -D "$WORK/pg/basebackup" -X stream -c fast >"$LOGS/basebackup.log" 2>&1 ||
  die "pg_basebackup failed: $(tail -3 "$LOGS/basebackup.log")"
say "base backup taken"

# --- talentcard behind haproxy -------------------------------------------------------

start_app() { # name port
  BIND=127.0.0.1:$2 "$TALENTCARD" serve >"$LOGS/$1.log" 2>&1 &
  PID[$1]=$!
  WATCH+=("$1")
  wait_for "$1 /readyz" 180 ready "http://127.0.0.1:$2"
}
# One at a time: the first generates DATA_DIR/secrets.json (and migrates), the second reads it.
start_app app1 "$APP1_PORT"
start_app app2 "$APP2_PORT"
say "talentcard instances ready"

{
  fill "$HERE/haproxy.cfg.in" BALANCER_PORT="$BALANCER_PORT" APP1_PORT="$APP1_PORT" \
    APP2_PORT="$APP2_PORT" PG_PRIMARY_PORT="$PG_PRIMARY_PORT"
  for ((i = 1; i <= NODES; i++)); do
    printf '    server node%d 127.0.0.1:%d check port %d\n' "$i" "${PG_PORT[i]}" "${REST_PORT[i]}"
  done
} >"$WORK/haproxy.cfg"
haproxy -c -q -f "$WORK/haproxy.cfg" || die "haproxy rejects $WORK/haproxy.cfg"
haproxy -db -f "$WORK/haproxy.cfg" >"$LOGS/haproxy.log" 2>&1 &
PID[haproxy]=$!
WATCH+=(haproxy)
BALANCER=http://127.0.0.1:$BALANCER_PORT
wait_for "the balancer" 20 ready "$BALANCER"
say "balancer up on $BALANCER"

# --- Load, and the kill --------------------------------------------------------------

loadgen_args=(--url "$BALANCER" --cards "$CARDS" --concurrency "$CONCURRENCY"
  --seconds "$LOAD_SECONDS" --rate "$RATE" --per-second)
if "$TALENTCARD" loadgen --help 2>/dev/null | grep -q -- '--acknowledged'; then
  loadgen_args+=(--acknowledged "$ACK")
else
  say "NOTE: this talentcard's loadgen has no --acknowledged: the lost-redemption check is skipped"
  INCOMPLETE=1
fi
"$TALENTCARD" loadgen "${loadgen_args[@]}" >"$LOGS/loadgen.out" 2>"$LOGS/loadgen.err" &
PID[loadgen]=$!
say "loadgen seeding $CARDS cards"
until grep -q '^firing' "$LOGS/loadgen.out" 2>/dev/null; do
  alive "${PID[loadgen]}" || die "loadgen ended before firing: $(tail -5 "$LOGS/loadgen.err")"
  sleep 0.2
done
say "loadgen firing for ${LOAD_SECONDS}s; killing the primary's node in ${KILL_AFTER}s"
sleep "$KILL_AFTER"

OLD=$(primary_node)
((OLD > 0)) || die "no primary before the kill"
pm=$(postmaster_of "$WORK/pg/node$OLD")
[[ -n $pm ]] || die "no postmaster.pid in $WORK/pg/node$OLD"
victims=("${PID[patroni$OLD]}" "$pm")
read -r -a children <<<"$(pgrep -P "$pm" | tr '\n' ' ')"
victims+=("${children[@]}")
# The whole node at once, as a power loss would: Patroni (so nobody restarts PostgreSQL
# in place or renews the leader key), the postmaster and its backends.
kill -KILL "${victims[@]}" 2>/dev/null || true
KILLED_AT=$(date +%s.%N)
watch=()
for name in "${WATCH[@]}"; do [[ $name == "patroni$OLD" ]] || watch+=("$name"); done
WATCH=("${watch[@]}")
{ wait "${PID[patroni$OLD]}"; } 2>/dev/null || true # reaped quietly, no "Killed" notice
say "SIGKILLed node$OLD: patroni ${PID[patroni$OLD]}, postmaster $pm and ${#children[@]} backends"

NEW=0
while ((NEW == 0)); do
  for ((i = 1; i <= NODES; i++)); do
    if ((i != OLD)) && is_primary "$i"; then NEW=$i; fi
  done
  if ((NEW == 0)); then
    if (($(awk -v k="$KILLED_AT" -v n="$(date +%s.%N)" 'BEGIN { print (n - k > 120) }'))); then
      die "no new primary 120 s after the kill"
    fi
    sleep 0.2
  fi
done
PROMOTION=$(awk -v k="$KILLED_AT" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - k }')
say "node$NEW promoted ${PROMOTION}s after the kill"
patronictl -c "$WORK/patroni$NEW.yml" list 2>/dev/null | sed 's/^/    /'

if wait "${PID[loadgen]}"; then :; else
  say "loadgen exited with status $?"
  FAILED=1
fi
say "loadgen done"
sed 's/^/    /' "$LOGS/loadgen.out"
if [[ -s $LOGS/loadgen.err ]]; then
  say "loadgen stderr (first lines):"
  head -20 "$LOGS/loadgen.err" | sed 's/^/    /'
fi

# --- Checks against the new primary --------------------------------------------------

NEW_PORT=${PG_PORT[NEW]}
report_line() { grep -m1 "$1" "$LOGS/loadgen.out" || true; }
OK_COUNT=$(report_line '^redemptions:' | awk '{print $2}')
GAP=$(report_line '^longest without' | sed 's/.*redemption: //')
ERRORS_LINE=$(report_line '^errors:')
STATUS_LINE=$(report_line '^answers other than 201')
STATUS_COUNTS=$(sed -n 's/.*by status: {\([^}]*\)}.*/\1/p' <<<"$STATUS_LINE")
CONN_ERRORS=$(sed -n 's/.*connection errors: \([0-9]*\).*/\1/p' <<<"$ERRORS_LINE")
# Answers loadgen did not resend (4xx): e.g. code_expired when a code's minute ran out
# while its redemption waited for the new primary.
REFUSED=$(sed -n 's/^errors: \([0-9]*\).*/\1/p' <<<"$ERRORS_LINE")
GAVE_UP=$(sed -n 's/.*given up: \([0-9]*\).*/\1/p' <<<"$STATUS_LINE")
FIVE_HUNDREDS=$(grep -oE '(^|, )500: [0-9]+' <<<"$STATUS_COUNTS" | grep -oE '[0-9]+$' || echo 0)

ACKED="n/a" LOST="n/a" KEY_MISMATCH="n/a"
if [[ -f $ACK ]]; then
  IFS='|' read -r ACKED LOST KEY_MISMATCH < <(psql_at "$NEW_PORT" talentcard <<SQL
CREATE TEMP TABLE acknowledged (id bigint, idempotency_key text);
\copy acknowledged FROM '$ACK'
SELECT (SELECT count(*) FROM acknowledged),
       (SELECT count(*) FROM acknowledged a LEFT JOIN redemptions r ON r.id = a.id WHERE r.id IS NULL),
       (SELECT count(*) FROM acknowledged a JOIN redemptions r ON r.id = a.id
         WHERE r.idempotency_key IS DISTINCT FROM a.idempotency_key);
SQL
  ) || die "could not load $ACK into the new primary"
  if [[ $LOST != 0 || $KEY_MISMATCH != 0 ]]; then FAILED=1; fi
elif ((INCOMPLETE == 0)); then
  say "loadgen wrote no $ACK"
  FAILED=1
fi
DUPLICATES=$(psql_at "$NEW_PORT" talentcard -c "SELECT count(*) FROM (SELECT card_id, code_window, code_slot
  FROM redemptions GROUP BY 1, 2, 3 HAVING count(*) > 1) d")
[[ $DUPLICATES == 0 ]] || FAILED=1
IN_DB=$(psql_at "$NEW_PORT" talentcard -c "SELECT count(*) FROM redemptions")
# haproxy's pg_primary front must have followed Patroni to the new primary.
ROUTED=$(psql_at "$PG_PRIMARY_PORT" postgres -c \
  "SELECT inet_server_port() || CASE WHEN pg_is_in_recovery() THEN ' (a standby!)' ELSE '' END" 2>&1) || true
if [[ $ROUTED == "$NEW_PORT" ]]; then ROUTED="node$NEW, ok"; else ROUTED="FAILED: $ROUTED"; FAILED=1; fi

# Both instances serve again without a restart, and a fresh one starts while a node
# listed in DATABASE_URL is down (a replacement instance during an outage).
BACK="ok"
for port in "$APP1_PORT" "$APP2_PORT"; do
  ready "http://127.0.0.1:$port" || { BACK="FAILED: 127.0.0.1:$port/readyz is not 200"; FAILED=1; }
done
BIND=127.0.0.1:$APP3_PORT "$TALENTCARD" serve >"$LOGS/app3.log" 2>&1 &
PID[app3]=$!
FRESH="ok"
for ((n = 0; n < 300; n++)); do
  ready "http://127.0.0.1:$APP3_PORT" && break
  if ! alive "${PID[app3]}"; then break; fi
  sleep 0.2
done
if ! ready "http://127.0.0.1:$APP3_PORT"; then
  FRESH="FAILED (log: $(tail -3 "$LOGS/app3.log" | tr '\n' ' '))"
  FAILED=1
fi
stop_pid app3 TERM 5

verify() { # command -> prints the verdict
  if "$TALENTCARD" "$1" >"$LOGS/$1.out" 2>&1; then echo "ok"; else echo "FAILED (exit $?)"; fi
}
AUDIT=$(verify audit-verify)
[[ $AUDIT == ok ]] || FAILED=1
if "$TALENTCARD" --help 2>/dev/null | grep -q 'budget-verify'; then
  BUDGET=$(verify budget-verify)
  [[ $BUDGET == ok ]] || FAILED=1
else
  BUDGET="skipped: this binary has no budget-verify"
  say "NOTE: $BUDGET"
fi
for f in audit-verify budget-verify; do
  [[ -f $LOGS/$f.out ]] && { say "$f:"; tail -5 "$LOGS/$f.out" | sed 's/^/    /'; }
done
if [[ -n $FIVE_HUNDREDS && $FIVE_HUNDREDS != 0 ]]; then
  say "the app answered 500 during the switch (DESIGN §12: 503, never 500)"
  FAILED=1
fi

# --- Restore: base backup + archived WAL ---------------------------------------------

RESTORED="not run"
restore_test() {
  local last dir=$WORK/pg/restore
  # Close the current segment so the archive holds every commit, and wait for it.
  last=$(psql_at "$NEW_PORT" postgres -c "SELECT pg_walfile_name(pg_switch_wal())")
  wait_for "WAL segment $last in the archive" 60 test -f "$WORK/archive/$last"
  as_postgres cp -a "$WORK/pg/basebackup" "$dir"
  # Later settings win: a lone cluster on the scratch port that replays the archive to
  # its end (latest timeline, across the failover) and then opens for writes.
  cat >>"$dir/postgresql.auto.conf" <<CONF
port = $SCRATCH_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK/run'
hba_file = '$dir/pg_hba.conf'
ident_file = '$dir/pg_ident.conf'
archive_mode = off
synchronous_standby_names = ''
primary_conninfo = ''
primary_slot_name = ''
restore_command = 'cp $WORK/archive/%f %p'
recovery_target_timeline = 'latest'
CONF
  as_postgres touch "$dir/recovery.signal"
  rm -f "$dir/standby.signal"
  as_postgres "$PGBIN/pg_ctl" -D "$dir" -l "$LOGS/restore.log" -w -t 180 start >/dev/null ||
    { say "restored cluster did not start: $(tail -5 "$LOGS/restore.log")"; return 1; }
  wait_for "the restored cluster to finish recovery" 180 \
    bash -c "[[ \$('$PGBIN/psql' -X -qAt 'postgres://postgres@127.0.0.1:$SCRATCH_PORT/postgres' \
      -c 'SELECT pg_is_in_recovery()') == f ]]"
  RESTORED_COUNT=$(psql_at "$SCRATCH_PORT" talentcard -c "SELECT count(*) FROM redemptions")
  if DATABASE_URL="postgres://postgres@127.0.0.1:$SCRATCH_PORT/talentcard" \
    "$TALENTCARD" audit-verify >"$LOGS/restore-audit-verify.out" 2>&1; then
    RESTORE_AUDIT=ok
  else
    RESTORE_AUDIT="FAILED (exit $?)"
  fi
  say "restore audit-verify:"
  tail -3 "$LOGS/restore-audit-verify.out" | sed 's/^/    /'
  if [[ $BUDGET != skipped* ]]; then
    if DATABASE_URL="postgres://postgres@127.0.0.1:$SCRATCH_PORT/talentcard" \
      "$TALENTCARD" budget-verify >"$LOGS/restore-budget-verify.out" 2>&1; then
      RESTORE_BUDGET=ok
    else
      RESTORE_BUDGET="FAILED (exit $?)"
    fi
  fi
}
RESTORED_COUNT="?" RESTORE_AUDIT="?" RESTORE_BUDGET="skipped"
if restore_test; then
  RESTORED="$RESTORED_COUNT redemptions of $IN_DB, audit $RESTORE_AUDIT, budget $RESTORE_BUDGET"
  [[ $RESTORE_AUDIT == ok && $RESTORED_COUNT == "$IN_DB" && $RESTORE_BUDGET != FAILED* ]] || FAILED=1
else
  RESTORED="FAILED"
  FAILED=1
fi

# --- Summary -------------------------------------------------------------------------

if awk -v p="$PROMOTION" -v l="$PROMOTION_LIMIT" 'BEGIN { exit !(p > l) }'; then
  say "promotion took longer than ${PROMOTION_LIMIT}s"
  FAILED=1
fi
if ((FAILED)); then VERDICT=FAIL; elif ((INCOMPLETE)); then VERDICT=INCOMPLETE; else VERDICT=PASS; fi
cat <<SUMMARY

==== failover drill: $VERDICT ====
nodes                          $NODES (synchronous_mode_strict: $STRICT), killed node$OLD, promoted node$NEW
acknowledged redemptions       $ACKED (loadgen counted ${OK_COUNT:-?}; in the database: $IN_DB)
lost (acknowledged, not in db) $LOST   (id present but other idempotency key: $KEY_MISMATCH)
duplicate codes                $DUPLICATES
seconds without service        ${GAP:-?}   (longest gap between acknowledged redemptions)
promotion                      ${PROMOTION}s after the kill
client errors during switch    statuses {${STATUS_COUNTS}}: refused ${REFUSED:-?}, connection errors ${CONN_ERRORS:-?}, given up ${GAVE_UP:-?}
audit-verify                   $AUDIT
budget-verify                  $BUDGET
restore (base backup + WAL)    $RESTORED
haproxy pg_primary front       $ROUTED
app1, app2 ready again         $BACK   (no restart)
fresh instance, node down      $FRESH
SUMMARY
if [[ -n ${SUMMARY_FILE:-} ]]; then
  fields=("$(date +%F)" "$VERDICT" "$NODES" "$ACKED" "$LOST" "$DUPLICATES" "${GAP:-?}" "$PROMOTION"
    "{${STATUS_COUNTS}} refused ${REFUSED:-?} conn ${CONN_ERRORS:-?} gave-up ${GAVE_UP:-?}" "$AUDIT" "$BUDGET" "$RESTORED"
    "$ROUTED" "$BACK" "$FRESH")
  (IFS=$'\t'; echo "${fields[*]}") >>"$SUMMARY_FILE"
fi
if ((FAILED)); then exit 1; elif ((INCOMPLETE)); then exit 3; fi
exit 0
