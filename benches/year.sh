#!/usr/bin/env bash
# A simulated year of hourly snapshots with the repository's default policy applied daily.
#
#   benches/year.sh [--scale tiny|small] [--days N] [--files-per-hour N] [--out DIR] [--no-build]
#
# One testgen tree (`cairn-testgen init`); every simulated hour: --files-per-hour of its files
# (default 6) are rewritten with new contents of the same size and two more are touched, then
# `cairn snapshot --time @T`; every simulated day: `cairn forget --prune` (the default policy:
# 24 hourly, 30 daily, 12 weekly, 12 monthly). The tree keeps its size: testgen's own hourly
# tick grows a tiny tree about tenfold in twelve days, and a year of that would measure the
# tree's growth, not the repository's age. The simulated hours end at the current hour (forget
# never removes snapshots dated in the future; its buckets use the recorded times). After week 1
# and at the end of each simulated month (--days/12 days) it prints: the no-change snapshot
# time (median of 3, taken right after that hour's snapshot), the repository size, the number
# of snapshot, index and pack files, and the last daily forget --prune's time. At the end: the
# month-12 / week-1 no-change ratio, and whether the repository holds only what the policy keeps.
# The repository uses a weak key derivation: every command opens it, and the KDF is not measured.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCALE=tiny
DAYS=365
OUT=""
BUILD=1
FILES_PER_HOUR=6

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "year: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="${2:?}"; shift 2 ;;
    --days) DAYS="${2:?}"; shift 2 ;;
    --files-per-hour) FILES_PER_HOUR="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
case "$SCALE" in tiny|small) ;; *) die "--scale must be tiny or small" ;; esac
[[ "$DAYS" =~ ^[0-9]+$ ]] && [ "$DAYS" -ge 12 ] || die "--days must be a number, at least 12"
[[ "$FILES_PER_HOUR" =~ ^[0-9]+$ ]] || die "--files-per-hour must be a number"
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "bash 5 is needed (EPOCHREALTIME)"
command -v python3 >/dev/null || die "python3 is required (stdlib only)"

. "$ROOT/benches/lib.sh"
prepare_out "${TMPDIR:-/tmp}/cairn-year" .cairn-year
mkdir -p "$OUT/tmp"
private_binaries

export CAIRN_PASSWORD="year-password-not-secret"
export XDG_CACHE_HOME="$OUT/cache" TMPDIR="$OUT/tmp"
TREE="$OUT/tree"
REPO="$OUT/repo"
HOURS=$((DAYS * 24))
NOW_HOUR=$(( $(date +%s) / 3600 * 3600 ))
START=$((NOW_HOUR - (HOURS - 1) * 3600))
# Milliseconds of the wall clock, without starting a process (durations only).
now_ms() { local us=${EPOCHREALTIME/[.,]/}; echo $((us / 1000)); }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%MZ; }

echo "# cairn: a simulated year of hourly snapshots"
echo
echo "command: \`$0 --scale $SCALE --days $DAYS --files-per-hour $FILES_PER_HOUR\`; $("$CAIRN" --version | head -n1); $(nproc) cores;" \
  "simulated $(iso "$START") .. $(iso "$NOW_HOUR")"
"$TESTGEN" init "$TREE" --scale "$SCALE" --seed 1 | sed 's/^/> /'
"$CAIRN" --repo "$REPO" init --kdf-memory-kib 8 --kdf-iterations 1 >"$OUT/logs/init.log" 2>&1
echo
# The files the hourly changes pick from (node_modules/ and target/ aside: cairn excludes them),
# with their sizes; RANDOM is seeded, so every run changes the same files.
mapfile -t FILES < <(cd "$TREE" && find . -type f ! -path '*/node_modules/*' ! -path '*/target/*' \
  ! -name '.cairn-testgen' -printf '%s %P\n' | sort -k2)
[ "${#FILES[@]}" -gt 0 ] || die "the generated tree has no files"
RANDOM=1
change_hour() {
  local k entry size rel
  for ((k = 0; k < FILES_PER_HOUR + 2; k++)); do
    entry="${FILES[$(( (RANDOM * 32768 + RANDOM) % ${#FILES[@]} ))]}"
    size="${entry%% *}"; rel="${entry#* }"
    if [ "$k" -lt "$FILES_PER_HOUR" ]; then
      # Text-like new contents (base64 of random bytes) of the same size.
      head -c $(( (size * 3 + 3) / 4 )) /dev/urandom | base64 -w 76 >"$TREE/$rel"
      truncate -s "$size" "$TREE/$rel"
    else
      touch "$TREE/$rel"
    fi
  done
}

count() { find "$REPO/$1" -type f ! -name '.*' 2>/dev/null | wc -l; }
LAST_PRUNE_MS=-
WEEK1_MS=""
LAST_MS=""
# Three no-change snapshots a few simulated minutes after hour T's; prints one row.
measure() { # label T
  local label="$1" t="$2" k a b times=()
  for k in 1 2 3; do
    a=$(now_ms)
    "$CAIRN" --repo "$REPO" snapshot --time "@$((t + 60 * k))" "$TREE" >>"$OUT/logs/nochange.log" 2>&1 \
      || die "no-change snapshot at $(iso "$t") failed (see $OUT/logs/nochange.log)"
    b=$(now_ms)
    times+=($((b - a)))
  done
  local med; med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
  local size; size=$(du -sb "$REPO" | cut -f1)
  printf '| %s | %s | %s | %.1f | %s | %s | %s | %s |\n' "$label" "$(iso "$t")" "$med" \
    "$(python3 -c "print($size / 1048576)")" "$(count snapshots)" "$(count index)" "$(count data)" "$LAST_PRUNE_MS"
  LAST_MS=$med
  [ "$label" = "week 1" ] && WEEK1_MS=$med
  return 0
}

echo "| when | simulated time | no-change snapshot ms (median of 3) | repository MiB | snapshot files | index files | pack files | last forget --prune ms |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
MONTH=1
STARTED=$(now_ms)
for ((i = 0; i < HOURS; i++)); do
  t=$((START + i * 3600))
  change_hour
  month_end=$(( i + 1 == HOURS || (i + 1) * 12 / HOURS >= MONTH ))
  week1_end=$(( i + 1 == 7 * 24 ))
  if [ "$month_end" = 1 ] || [ "$week1_end" = 1 ]; then
    # Files changed within a second of a snapshot's start are read again by the next one (the
    # racy-file rule): let the tick's changes age first, so the no-change runs measure no change.
    sleep 1.1
  fi
  "$CAIRN" --repo "$REPO" snapshot --time "@$t" "$TREE" >>"$OUT/logs/snapshot.log" 2>&1 \
    || die "snapshot at $(iso "$t") failed (see $OUT/logs/snapshot.log)"
  if [ $(( (i + 1) % 24 )) = 0 ]; then
    a=$(now_ms)
    "$CAIRN" --repo "$REPO" forget --prune >"$OUT/logs/prune-last.log" 2>&1 \
      || { cat "$OUT/logs/prune-last.log"; die "forget --prune after $(iso "$t") failed"; }
    LAST_PRUNE_MS=$(( $(now_ms) - a ))
    cat "$OUT/logs/prune-last.log" >>"$OUT/logs/prune.log"
  fi
  [ "$week1_end" = 1 ] && measure "week 1" "$t"
  if [ "$month_end" = 1 ]; then
    measure "month $MONTH" "$t"
    MONTH=$((MONTH + 1))
  fi
done
echo

# ---------------------------------------------------------------- the end
"$CAIRN" --repo "$REPO" forget --prune >"$OUT/logs/prune-final.log" 2>&1 || die "final forget --prune failed"
"$CAIRN" --repo "$REPO" --json forget --dry-run >"$OUT/logs/policy-final.json" 2>/dev/null || true
"$CAIRN" --repo "$REPO" --json stats >"$OUT/logs/stats-final.json" 2>/dev/null || true
check_rc=0; "$CAIRN" --repo "$REPO" check >"$OUT/logs/check-final.log" 2>&1 || check_rc=$?
python3 - "$OUT" "$WEEK1_MS" "$LAST_MS" "$(( ($(now_ms) - STARTED) / 1000 ))" "$check_rc" <<'PY'
import json, os, sys
out, week1, last, secs, check_rc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
print("| what | value |")
print("| --- | --- |")
print(f"| no-change snapshot, month 12 / week 1 | {last / max(week1, 1):.2f} ({last} ms / {week1} ms; target <= 1.5) |")
try:
    plan = json.load(open(os.path.join(out, "logs", "policy-final.json")))
    print(f"| snapshots the policy would still remove after the final forget --prune | {len(plan.get('to_remove', []))} (target 0) |")
except (OSError, ValueError) as e:
    print(f"| forget --dry-run --json | unreadable: {e} |")
try:
    s = json.load(open(os.path.join(out, "logs", "stats-final.json")))
    for k in ("snapshots", "stored_size", "unused_size", "packs", "index_files", "deduplication_ratio"):
        print(f"| stats {k} | {s.get(k)} |")
except (OSError, ValueError) as e:
    print(f"| stats --json | unreadable: {e} |")
print(f"| check after the year | exit {check_rc} |")
print(f"| wall time of the whole run | {secs} s |")
PY
