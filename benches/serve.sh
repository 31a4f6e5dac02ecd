#!/usr/bin/env bash
# cairn through `cairn serve` on a Unix socket against cairn on a local folder.
#
#   benches/serve.sh [--scale tiny|small|medium|large] [--runs N] [--ticks N] [--out DIR] [--no-build]
#
# On one agent-like tree (cairn-testgen init --scale), for each of --runs rounds (default 5)
# and each target, local folder and server, the two interleaved step by step (which goes
# first alternates from round to round):
#   1. first snapshot into a new repository
#   2. no-change snapshot
#   3. hourly snapshot: cairn-testgen tick, then a snapshot to each target (--ticks of them per
#      round, default 2; the ticks carry on from round to round)
#   4. full restore of the latest snapshot into an empty folder (checked with diff -r in the
#      first round, removed afterwards)
# The server runs for the whole benchmark (`cairn serve ROOT --listen unix:SOCK`, as the
# user running the script); each round uses new repositories on both sides. Wall times are
# taken around each command; the table gives the median of each step per target and the
# ratio server/local (the target is at most 1.3). Everything goes to --out DIR (default
# /tmp/cairn-serve-bench-SCALE): report.md, times.tsv (every measurement), logs/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCALE=small
RUNS=5
TICKS=2
OUT=""
BUILD=1

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "serve.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="${2:?}"; shift 2 ;;
    --runs) RUNS="${2:?}"; shift 2 ;;
    --ticks) TICKS="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
case "$SCALE" in tiny|small|medium|large) ;; *) die "--scale must be tiny, small, medium or large" ;; esac
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number"
[[ "$TICKS" =~ ^[1-9][0-9]*$ ]] || die "--ticks must be a positive number"

# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
prepare_out "${TMPDIR:-/tmp}/cairn-serve-bench-$SCALE" .cairn-serve-bench
private_binaries

TREE="$OUT/tree"
SERVE_ROOT="$OUT/serve-root"
SOCK="$OUT/serve.sock"
mkdir -p "$SERVE_ROOT" "$OUT/repos"
export CAIRN_PASSWORD="serve-bench-password"
# A cache and state of the benchmark's own, the same for both targets.
export XDG_CACHE_HOME="$OUT/cache" XDG_STATE_HOME="$OUT/state" XDG_CONFIG_HOME="$OUT/config"

echo "> generating: cairn-testgen init --scale $SCALE"
"$TESTGEN" init "$TREE" --scale "$SCALE" >"$OUT/logs/testgen.log"

SERVER_PID=""
stop_server() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""; }
trap stop_server EXIT
"$CAIRN" serve "$SERVE_ROOT" --listen "unix:$SOCK" >"$OUT/logs/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { cat "$OUT/logs/serve.log"; die "the server did not start"; }

TIMES="$OUT/times.tsv"
printf 'round\tstep\ttarget\tseconds\n' >"$TIMES"

# timed ROUND STEP TARGET CMD...: runs CMD, appends its wall time.
timed() {
  local round="$1" step="$2" target="$3"; shift 3
  local start end
  start=$(date +%s.%N)
  "$@" >>"$OUT/logs/$target.log" 2>&1 || { tail -n 20 "$OUT/logs/$target.log"; die "$step ($target) failed: $*"; }
  end=$(date +%s.%N)
  printf '%s\t%s\t%s\t%s\n' "$round" "$step" "$target" "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')" >>"$TIMES"
}

HOUR=1
for round in $(seq 1 "$RUNS"); do
  echo "> round $round of $RUNS"
  declare -A REPO=([local]="$OUT/repos/local-$round" [serve]="rest:unix:$SOCK:/bench-$round/")
  # Which target goes first alternates from round to round, so neither
  # always finds the other's work in the page cache or the CPU busy.
  if [ $((round % 2)) = 1 ]; then ORDER="local serve"; else ORDER="serve local"; fi
  for t in local serve; do
    "$CAIRN" --repo "${REPO[$t]}" init --kdf-memory-kib 8 --kdf-iterations 1 >>"$OUT/logs/$t.log" 2>&1
  done
  for t in $ORDER; do timed "$round" first "$t" "$CAIRN" --repo "${REPO[$t]}" snapshot --quiet "$TREE"; done
  for t in $ORDER; do timed "$round" no-change "$t" "$CAIRN" --repo "${REPO[$t]}" snapshot --quiet "$TREE"; done
  for _ in $(seq 1 "$TICKS"); do
    "$TESTGEN" tick "$TREE" --hour "$HOUR" >>"$OUT/logs/testgen.log"
    HOUR=$((HOUR + 1))
    for t in $ORDER; do timed "$round" hourly "$t" "$CAIRN" --repo "${REPO[$t]}" snapshot --quiet "$TREE"; done
  done
  for t in $ORDER; do
    target="$OUT/restore-$t"
    rm -rf "$target"
    timed "$round" restore "$t" "$CAIRN" --repo "${REPO[$t]}" restore latest --target "$target"
    if [ "$round" = 1 ]; then
      diff -rq --no-dereference -x node_modules -x target "$TREE" "$target/${TREE#/}" >"$OUT/logs/diff-$t.log" 2>&1 \
        || echo "> note: the $t restore differs from the tree (excluded folders?): $OUT/logs/diff-$t.log"
    fi
    rm -rf "$target"
  done
done
stop_server

LOAD="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
python3 - "$TIMES" "$SCALE" "$RUNS" "$TICKS" "$LOAD" "$(nproc)" <<'EOF' | tee "$OUT/report.md"
import csv, statistics, sys
path, scale, runs, ticks, load, cpus = sys.argv[1:]
rows = list(csv.DictReader(open(path), delimiter="\t"))
print(f"# cairn serve (Unix socket) vs local folder, scale {scale}, {runs} rounds, {ticks} hourly ticks a round\n")
print(f"{cpus} CPUs, load average at the end {load} (other work on the machine makes medians swing)\n")
print("| step | local s (median) | serve s (median) | serve / local |")
print("|---|---|---|---|")
for step in ["first", "no-change", "hourly", "restore"]:
    med = {t: statistics.median(float(r["seconds"]) for r in rows if r["step"] == step and r["target"] == t)
           for t in ["local", "serve"]}
    print(f"| {step} | {med['local']:.3f} | {med['serve']:.3f} | {med['serve'] / med['local']:.2f}× |")
EOF
echo "> all measurements: $TIMES"
