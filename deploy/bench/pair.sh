#!/usr/bin/env bash
# One measured pair for BENCHMARKS.md: a `talentcard loadgen` run against a server on a
# fresh PostgreSQL database, then pgbench TPC-B (`-c 8 -j 2 -T 20`) in the same minute.
# Prints loadgen's report, the CPU the server and PostgreSQL spent per redemption while
# loadgen fired (from /proc, so seeding and logins are left out), the server's peak RSS,
# and pgbench's tps. Needs a local PostgreSQL the current user may create databases on.
#
#   deploy/bench/pair.sh target/release/talentcard --realistic --cards 10000 --concurrency 32 --seconds 20
#   deploy/bench/pair.sh target/release/talentcard --cards 10000 --concurrency 32 --seconds 20
set -euo pipefail
bin=$(realpath "$1")
shift
db="tc_pair_$$"
dir=$(mktemp -d)
port=$((18300 + RANDOM % 600))
ticks=$(getconf CLK_TCK)
cleanup() {
  [[ -n "${server:-}" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  dropdb --if-exists "$db" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

# CPU seconds (user + system) of the given pids, from /proc/PID/stat fields 14 and 15.
cpu_of() {
  local total=0 pid fields
  for pid in "$@"; do
    fields=$(cut -d')' -f2 "/proc/$pid/stat" 2>/dev/null) || continue
    read -r -a f <<<"$fields"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
postgres_pids() { pgrep -u postgres -x postgres || pgrep -x postgres; }

if ! psql -qAt -d tc_pgbench -c 'SELECT 1 FROM pgbench_branches LIMIT 1' >/dev/null 2>&1; then
  createdb tc_pgbench 2>/dev/null || true
  pgbench -q -i -s 10 tc_pgbench >/dev/null
fi
createdb "$db"
# As deploy/'s unit and image run it (README, MIMALLOC_PURGE_DELAY and MIMALLOC_ALLOW_THP).
export MIMALLOC_PURGE_DELAY=${MIMALLOC_PURGE_DELAY:-0}
export MIMALLOC_ALLOW_THP=${MIMALLOC_ALLOW_THP:-0}
DATABASE_URL="postgres:///$db" DATA_DIR="$dir" BIND="127.0.0.1:$port" RUST_LOG=warn \
  "$bin" serve >"$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done

DATABASE_URL="postgres:///$db" DATA_DIR="$dir" "$bin" loadgen --url "http://127.0.0.1:$port" "$@" \
  >"$dir/loadgen.out" 2>&1 &
loadgen=$!
until grep -q '^firing' "$dir/loadgen.out" 2>/dev/null; do
  kill -0 "$loadgen" 2>/dev/null || { cat "$dir/loadgen.out"; exit 1; }
  sleep 0.05
done
server_before=$(cpu_of "$server")
pg_before=$(cpu_of $(postgres_pids))
# loadgen shares the two cores with the server and PostgreSQL, as pgbench's client does:
# its own CPU, sampled until it exits (the last sample misses at most its report).
loadgen_before=$(cpu_of "$loadgen")
loadgen_after=$loadgen_before
while kill -0 "$loadgen" 2>/dev/null; do
  sample=$(cpu_of "$loadgen")
  [[ -n "$sample" && "$sample" -gt 0 ]] && loadgen_after=$sample
  sleep 0.2
done
wait "$loadgen"
server_after=$(cpu_of "$server")
pg_after=$(cpu_of $(postgres_pids))
cat "$dir/loadgen.out"
done_count=$(grep -oP '^(sales|redemptions): \K[0-9]+' "$dir/loadgen.out")
python3 - "$done_count" "$ticks" "$server_before" "$server_after" "$pg_before" "$pg_after" \
  "$loadgen_before" "$loadgen_after" <<'EOF'
import sys
n, ticks, sb, sa, pb, pa, lb, la = map(int, sys.argv[1:])
us = lambda a, b: (b - a) / ticks * 1e6 / max(n, 1)
print(f"CPU per redemption: server {us(sb, sa):.0f} µs, PostgreSQL {us(pb, pa):.0f} µs, "
      f"loadgen {us(lb, la):.0f} µs")
EOF
echo "server peak RSS: $(grep VmHWM "/proc/$server/status" | awk '{print $2 / 1024 " MiB"}')"
# Which way the redemptions went (quoted: the one statement a quote prepared).
curl -sf "http://127.0.0.1:$port/metrics" | grep '^talentcard_redemption_paths_total' || true
kill "$server"
wait "$server" 2>/dev/null || true
server=
# With REALISTIC_PGBENCH=1 (after --realistic): the realistic redemption's own SQL on the
# database loadgen just filled, as deploy/bench/redemption-realistic.pgbench describes.
if [[ ${REALISTIC_PGBENCH:-0} == 1 ]]; then
  psql -qAt -d "$db" >/dev/null <<'SQL'
UPDATE budget_slots SET room_fen = 1000000000000;
UPDATE budgets SET merchant_monthly_cap_fen = 1000000000000;
CREATE TABLE pgb_counters AS
  SELECT row_number() OVER (ORDER BY o.id) AS n, c.id AS cashier_id,
         (SELECT max(s.id) FROM sessions s WHERE s.user_id = c.id) AS session_id, o.id AS offer_id,
         o.merchant_id, m.category, m.district, o.subsidy_bp,
         CASE WHEN o.kind = 'percent' THEN LEAST(12800 * o.percent_bp / 10000, COALESCE(o.max_discount_fen, 12800))
              ELSE o.amount_fen END AS discount
  FROM offers o JOIN merchants m ON m.id = o.merchant_id
  JOIN LATERAL (SELECT min(u.id) AS id FROM users u
    WHERE u.merchant_id = o.merchant_id AND u.role = 'cashier') c ON true
  WHERE o.status = 'active' AND o.subsidy_bp > 0
    AND o.per_card_daily IS NULL AND o.per_card_monthly IS NULL;
ALTER TABLE pgb_counters ADD PRIMARY KEY (n);
SQL
  counters=$(psql -Atc 'SELECT count(*) FROM pgb_counters' "$db")
  cards=$(psql -Atc 'SELECT max(id) FROM cards' "$db")
  pgbench -n -M prepared -c 8 -j 2 -T 20 -D cards="$cards" -D counters="$counters" \
    -f "$(dirname "$0")/redemption-realistic.pgbench" "$db" 2>/dev/null |
    grep -E '^tps' | sed 's/^/pgbench (realistic redemption SQL, transaction): /'
  pgbench -n -M prepared -c 8 -j 2 -T 20 -D cards="$cards" -D counters="$counters" \
    -f "$(dirname "$0")/redemption-quoted.pgbench" "$db" 2>/dev/null |
    grep -E '^tps' | sed 's/^/pgbench (realistic redemption SQL, quoted): /'
fi
pgbench -c 8 -j 2 -T 20 tc_pgbench 2>/dev/null | grep -E '^tps' | sed 's/^/pgbench: /'
