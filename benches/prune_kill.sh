#!/usr/bin/env bash
# cairn prune killed (SIGKILL) at random moments, many times: nothing is lost and the next prune
# finishes the job. The cargo test prune_kill:: does a handful of trials; this does hundreds.
#
#   benches/prune_kill.sh [--trials N] [--scale tiny|small] [--rounds N] [--seed N] [--out DIR]
#                         [--no-build]
#
# Builds one repository with work for prune (--rounds snapshots of a changing testgen tree, each
# with a file of its own that the next drops, then forget --keep-last 2), prunes a copy of it
# once cleanly (the reference, timed), then per trial: a fresh copy, `cairn prune` killed after a
# random delay drawn from 0..1.2x the clean prune's time, then `check --read-data` (must exit 0),
# a restore of every kept snapshot compared with the tree it saved (diff -r), the next `prune`
# (must exit 0), `check --read-data` again, and the repository's files per folder (count, bytes)
# compared with the reference. Prints one line per failed trial and a summary; exits 1 if any.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRIALS=200
SCALE=tiny
ROUNDS=6
SEED=""
OUT=""
BUILD=1

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "prune_kill: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --trials) TRIALS="${2:?}"; shift 2 ;;
    --scale) SCALE="${2:?}"; shift 2 ;;
    --rounds) ROUNDS="${2:?}"; shift 2 ;;
    --seed) SEED="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$TRIALS" =~ ^[1-9][0-9]*$ ]] || die "--trials must be a positive number"
[[ "$ROUNDS" =~ ^[2-9]$|^[1-9][0-9]+$ ]] || die "--rounds must be at least 2"
case "$SCALE" in tiny|small) ;; *) die "--scale must be tiny or small" ;; esac
SEED="${SEED:-$(date +%s)}"
[[ "$SEED" =~ ^[0-9]+$ ]] || die "--seed must be a number"
command -v python3 >/dev/null || die "python3 is required (stdlib only)"

. "$ROOT/benches/lib.sh"
prepare_out "${TMPDIR:-/tmp}/cairn-prune-kill" .cairn-prune-kill
mkdir -p "$OUT/trees"
private_binaries

export CAIRN_PASSWORD="prune-kill-password-not-secret"
export XDG_CACHE_HOME="$OUT/cache" TMPDIR="$OUT/tmp"
mkdir -p "$TMPDIR"
TREE="$OUT/tree"
BASE="$OUT/base"

# Per top-level folder: files named by id (not temporaries) and their bytes, one "folder count bytes"
# line each; index bytes are rounded to 1 KiB (new packs have random names, so index files may
# compress a few bytes differently).
totals() {
  python3 - "$1" <<'PY'
import os, sys
root = sys.argv[1]
out = {}
for d, _, files in os.walk(root):
    rel = os.path.relpath(d, root)
    top = rel.split(os.sep)[0] if rel != "." else None
    for n in files:
        if n.startswith("."):
            continue
        key = top or n
        c, b = out.get(key, (0, 0))
        out[key] = (c + 1, b + os.lstat(os.path.join(d, n)).st_size)
for k in sorted(out):
    c, b = out[k]
    print(k, c, (b + 512) // 1024 * 1024 if k == "index" else b)
PY
}

echo "# cairn prune killed at random moments"
echo
echo "command: \`$0 --trials $TRIALS --scale $SCALE --rounds $ROUNDS --seed $SEED\`; cairn $("$CAIRN" --version | head -n1)"
echo

# ---------------------------------------------------------------- the repository
echo "> preparing: $ROUNDS snapshots of a $SCALE tree, then forget --keep-last 2"
"$TESTGEN" init "$TREE" --scale "$SCALE" --seed 11 >"$OUT/logs/testgen.log"
# A weak key derivation: every command opens the repository, and the KDF is not what is measured.
"$CAIRN" --repo "$BASE" init --kdf-memory-kib 8 --kdf-iterations 1 >"$OUT/logs/init.log" 2>&1
KEPT=()
for r in $(seq 0 $((ROUNDS - 1))); do
  if [ "$r" -gt 0 ]; then
    "$TESTGEN" tick "$TREE" --hour "$r" >>"$OUT/logs/testgen.log"
    rm -f "$TREE/noise-$((r - 1)).bin"
  fi
  head -c 300000 /dev/urandom >"$TREE/noise-$r.bin"
  id=$("$CAIRN" --repo "$BASE" --json snapshot --no-default-excludes "$TREE" 2>>"$OUT/logs/snapshots.log" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  cp -a "$TREE" "$OUT/trees/$id"
  KEPT+=("$id")
done
KEPT=("${KEPT[@]: -2}")
"$CAIRN" --repo "$BASE" forget --keep-last 2 >"$OUT/logs/forget.log" 2>&1
for d in "$OUT"/trees/*; do
  case " ${KEPT[*]} " in *" $(basename "$d") "*) ;; *) rm -rf "$d" ;; esac
done

cp -a "$BASE" "$OUT/reference"
start=$(date +%s.%N)
"$CAIRN" --repo "$OUT/reference" prune >"$OUT/logs/reference-prune.log" 2>&1 \
  || { cat "$OUT/logs/reference-prune.log"; die "the clean prune failed"; }
REF_WALL=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$start" "$(date +%s.%N)")
totals "$OUT/reference" >"$OUT/reference.totals"
echo "> clean prune: ${REF_WALL}s; it leaves: $(tr '\n' ';' <"$OUT/reference.totals")"
rm -rf "$OUT/reference"

# ---------------------------------------------------------------- the trials
RANDOM=$SEED
MAX_MS=$(python3 -c "print(max(20, int(float('$REF_WALL') * 1200)))")
FAILED=0; KILLED=0; FINISHED=0
declare -A WHY=()
fail() { # trial reason
  FAILED=$((FAILED + 1)); WHY[$1]="$2"
  echo ">   trial $1 FAILED: $2 (repository kept: $OUT/failed-$1)"
  cp -a "$REPO" "$OUT/failed-$1"
}
# check --read-data, then every kept snapshot restored and compared; returns 1 with REASON set.
intact() { # trial when
  local t="$1" when="$2" id dest
  if ! "$CAIRN" --repo "$REPO" check --read-data >"$OUT/logs/check.log" 2>&1; then
    REASON="check $when exited non-zero: $(grep -m1 -iE 'error|damaged|missing' "$OUT/logs/check.log" | cut -c1-200)"
    return 1
  fi
  for id in "${KEPT[@]}"; do
    dest="$OUT/restore"; rm -rf "$dest"
    if ! "$CAIRN" --repo "$REPO" restore "$id" --target "$dest" >"$OUT/logs/restore.log" 2>&1; then
      REASON="restore ${id:0:8} $when failed: $(tail -n1 "$OUT/logs/restore.log")"; return 1
    fi
    if ! diff -r --no-dereference "$OUT/trees/$id" "$dest/${TREE#/}" >"$OUT/logs/diff.log" 2>&1; then
      REASON="restore ${id:0:8} $when differs: $(head -n1 "$OUT/logs/diff.log")"; return 1
    fi
  done
  rm -rf "$dest"
}

echo "> $TRIALS trials, each a SIGKILL after 0..${MAX_MS} ms"
for t in $(seq 1 "$TRIALS"); do
  REPO="$OUT/trial"
  rm -rf "$REPO"; cp -a "$BASE" "$REPO"
  delay_ms=$(( (RANDOM * 32768 + RANDOM) % MAX_MS ))
  "$CAIRN" --repo "$REPO" prune >"$OUT/logs/trial-prune.log" 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -KILL "$pid" 2>/dev/null || true
  # (The braces keep bash's "Killed" job report out of the output.)
  rc=0; { wait "$pid"; } 2>/dev/null || rc=$?
  case "$rc" in
    137) KILLED=$((KILLED + 1)) ;;
    0) FINISHED=$((FINISHED + 1)) ;;
    *) fail "$t" "prune exited $rc before the kill: $(tail -n1 "$OUT/logs/trial-prune.log")"; continue ;;
  esac
  REASON=""
  intact "$t" "after the kill" || { fail "$t" "$REASON"; continue; }
  if ! "$CAIRN" --repo "$REPO" prune >"$OUT/logs/next-prune.log" 2>&1; then
    fail "$t" "the next prune failed: $(tail -n1 "$OUT/logs/next-prune.log")"; continue
  fi
  intact "$t" "after the next prune" || { fail "$t" "$REASON"; continue; }
  if ! diff <(totals "$REPO") "$OUT/reference.totals" >"$OUT/logs/totals.log"; then
    fail "$t" "after the next prune the repository differs from a clean prune's: $(tr '\n' ' ' <"$OUT/logs/totals.log")"
    continue
  fi
  if [ $((t % 20)) = 0 ]; then
    echo ">   $t trials: $KILLED killed mid-run, $FINISHED finished before the kill, $FAILED failed"
  fi
done
rm -rf "$OUT/trial" "$OUT/restore"

echo
echo "## Summary"
echo
echo "| what | value |"
echo "| --- | --- |"
echo "| trials | $TRIALS (seed $SEED) |"
echo "| killed mid-run | $KILLED |"
echo "| finished before the kill | $FINISHED |"
echo "| clean prune time | ${REF_WALL}s; kill delays 0..${MAX_MS} ms |"
echo "| failed trials | $FAILED |"
for t in "${!WHY[@]}"; do echo "| trial $t | ${WHY[$t]} |"; done
[ "$FAILED" = 0 ]
