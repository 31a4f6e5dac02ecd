#!/usr/bin/env bash
# Whole-process scenario: cairn against restic and borg on one agent-like tree.
#
#   benches/scenario.sh [--scale tiny|small|medium|large] [--tree DIR] [--ticks N] [--runs N]
#                       [--tools cairn,restic,borg] [--out DIR] [--first-hour H] [--no-build]
#                       [--no-verify] [--clean] [--backend local|s3] [--s3-endpoint URL]
#
# --backend s3 puts every repository in a bucket of a local S3 server (moto_server, from
# CAIRN_MOTO_SERVER or PATH; pip install 'moto[server]'), or at --s3-endpoint with the AWS_*
# variables of the environment; borg has no S3 backend and is left out. It adds
#   6. copy: the --ticks hourly snapshots, also taken into a local repository per tool during
#      step 3 (untimed), copied to a new S3 repository made with --copy-chunker-params
#      (cairn copy --to; restic copy --from-repo)
#
# Steps, run per tool on the same tree, the tools interleaved within each step:
#   1. first snapshot            (reference: tar | zstd -3 -T0 of the same files)
#   2. no-change snapshot        (median of --runs; reference: a bare stat walk)
#   3. --ticks x (tick, then each tool snapshots that same state): median hourly time,
#      repository size after all ticks
#   4. full restore of the latest snapshot into an empty folder (removed afterwards)
#   5. prune: forget --keep-last 5 --prune (restic the same; borg: prune --keep-last 5, then
#      compact, timed as one command); repository size after; with verification on, each
#      tool's own check afterwards (not timed)
# Each step is measured with /usr/bin/time (wall, user, sys, max RSS); repository sizes with
# du -sb. Markdown tables go to stdout (and OUT/report.md), raw numbers to OUT/results.json,
# every command's own output to OUT/logs/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_ARGS=("$@")

SCALE=medium
TREE_ARG=""
TICKS=24
RUNS=5
TOOLS="cairn,restic,borg"
OUT=""
FIRST_HOUR=1
BUILD=1
VERIFY=1
CLEAN=0
BACKEND=local
S3_ENDPOINT=""

usage() { sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "scenario: $*" >&2; exit 1; }
note() { echo "> note: $*"; NOTES+=("$*"); }
NOTES=()

while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="${2:?}"; shift 2 ;;
    --tree) TREE_ARG="${2:?}"; shift 2 ;;
    --ticks) TICKS="${2:?}"; shift 2 ;;
    --runs) RUNS="${2:?}"; shift 2 ;;
    --tools) TOOLS="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --first-hour) FIRST_HOUR="${2:?}"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-verify) VERIFY=0; shift ;;
    --clean) CLEAN=1; shift ;;
    --backend) BACKEND="${2:?}"; shift 2 ;;
    --s3-endpoint) S3_ENDPOINT="${2:?}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
case "$BACKEND" in local|s3) ;; *) die "--backend must be local or s3" ;; esac
case "$SCALE" in tiny|small|medium|large) ;; *) die "--scale must be tiny, small, medium or large" ;; esac
[[ "$TICKS" =~ ^[0-9]+$ ]] || die "--ticks must be a number"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number"
[[ "$FIRST_HOUR" =~ ^[1-9][0-9]*$ ]] || die "--first-hour must be a positive number"
command -v python3 >/dev/null || die "python3 is required (stdlib only)"

OUT="${OUT:-${TMPDIR:-/tmp}/cairn-scenario-$SCALE}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
MARKER="$OUT/.cairn-scenario"
if [ -n "$(ls -A "$OUT")" ]; then
  [ -f "$MARKER" ] || die "$OUT is not empty and was not made by this script; choose another --out"
  # A previous run of this script: start afresh (never touch a --tree given from outside).
  find "$OUT" -mindepth 1 -maxdepth 1 ! -name .cairn-scenario -exec rm -rf {} +
fi
touch "$MARKER"
mkdir -p "$OUT/logs" "$OUT/repos" "$OUT/cache" "$OUT/tmp"
RAW="$OUT/raw.tsv"      # step tool run rc wall user sys rss_kib
SIZES="$OUT/sizes.tsv"  # when tool bytes
META="$OUT/meta.tsv"    # key value
: >"$RAW"; : >"$SIZES"; : >"$META"; : >"$OUT/files.tsv"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }

# ---------------------------------------------------------------- header
echo "# cairn scenario benchmark"
echo
printf 'command: `%s' "$0"; for a in "${ORIG_ARGS[@]}"; do printf ' %q' "$a"; done; printf '`\n\n'
meta command "$0 ${ORIG_ARGS[*]}"
meta started "$(date -Is)"
meta backend "$BACKEND"
meta scale "$SCALE"; meta ticks "$TICKS"; meta runs "$RUNS"; meta out "$OUT"

# ---------------------------------------------------------------- prerequisites
IS_ROOT=0; [ "$(id -u)" = 0 ] && IS_ROOT=1
APT_UPDATED=0
apt_install() {
  if [ "$IS_ROOT" = 1 ] && command -v apt-get >/dev/null; then
    echo "> installing with apt-get: $*"
    if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$OUT/logs/apt-get.log" 2>&1 \
      || echo "> apt-get install $* failed (see $OUT/logs/apt-get.log)"
  fi
}
[ -x /usr/bin/time ] || apt_install time
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is required"

IFS=',' read -r -a WANT <<<"$TOOLS"
for t in "${WANT[@]}"; do
  case "$t" in cairn|restic|borg) ;; *) die "unknown tool in --tools: $t" ;; esac
done
if [ "$BACKEND" = s3 ]; then
  KEEP=(); for t in "${WANT[@]}"; do [ "$t" = borg ] && note "borg has no S3 backend: left out" || KEEP+=("$t"); done
  WANT=("${KEEP[@]}")
fi
want() { local t; for t in "${WANT[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }
missing=()
want restic && ! command -v restic >/dev/null && missing+=(restic)
want borg && ! command -v borg >/dev/null && missing+=(borgbackup)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$IS_ROOT" = 1 ] && command -v apt-get >/dev/null; then
    echo "> restic or borg missing: running apt-get install -y restic borgbackup"
    apt_install restic borgbackup
  fi
fi
TOOL_LIST=()
for t in "${WANT[@]}"; do
  case "$t" in
    restic|borg)
      if command -v "$t" >/dev/null; then TOOL_LIST+=("$t"); else note "$t is not installed: skipped"; fi ;;
    cairn) TOOL_LIST+=(cairn) ;;
  esac
done
HAVE_ZSTD=1; command -v zstd >/dev/null || { HAVE_ZSTD=0; note "zstd not installed: no tar|zstd reference row"; }

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "$BUILD" = 1 ]; then
  echo "> building: cargo build --release -p cairn-cli -p cairn-testgen"
  (cd "$ROOT" && cargo build --release -p cairn-cli -p cairn-testgen) >"$OUT/logs/build.log" 2>&1 \
    || { tail -n 30 "$OUT/logs/build.log"; die "build failed (log: $OUT/logs/build.log)"; }
fi
# Private copies: a rebuild in the shared target folder mid-run must not change the binaries.
mkdir -p "$OUT/bin"
for b in cairn cairn-testgen; do
  if [ -x "$TARGET_DIR/release/$b" ]; then cp "$TARGET_DIR/release/$b" "$OUT/bin/$b"; fi
done
CAIRN="$OUT/bin/cairn"
TESTGEN="$OUT/bin/cairn-testgen"
if want cairn && [ ! -x "$CAIRN" ]; then die "$TARGET_DIR/release/cairn missing (drop --no-build)"; fi

# ---------------------------------------------------------------- the tree
TICK_KIND=none
if [ -n "$TREE_ARG" ]; then
  [ -d "$TREE_ARG" ] || die "--tree $TREE_ARG is not a folder"
  TREE="$(cd "$TREE_ARG" && pwd)"
  if [ -f "$TREE/.cairn-testgen" ]; then
    [ -x "$TESTGEN" ] || die "$TESTGEN missing (drop --no-build)"
    TICK_KIND=testgen
  elif [ -f "$TREE/.agentcorpus.json" ] && [ -n "${AGENTCORPUS:-}" ] && [ -f "$AGENTCORPUS" ]; then
    TICK_KIND=agentcorpus
  fi
  [ "$TICK_KIND" = none ] && [ "$TICKS" -gt 0 ] && note "--tree has neither .cairn-testgen nor .agentcorpus.json (with AGENTCORPUS set): ticks skipped"
  [ "$TICK_KIND" != none ] && [ "$TICKS" -gt 0 ] && note "ticks modify --tree $TREE in place"
  TREE_SRC="given with --tree; ticks: $TICK_KIND"
else
  [ -x "$TESTGEN" ] || die "$TESTGEN missing (drop --no-build)"
  TREE="$OUT/tree"
  echo "> generating: cairn-testgen init $TREE --scale $SCALE"
  "$TESTGEN" init "$TREE" --scale "$SCALE" | sed 's/^/> /'
  TICK_KIND=testgen
  TREE_SRC="cairn-testgen init --scale $SCALE"
fi
[ "$TICK_KIND" = none ] && TICKS=0
meta tree "$TREE"; meta tick_kind "$TICK_KIND"; meta tree_source "$TREE_SRC"

# The cmd_* functions set CMD to a command line (an array), so /usr/bin/time can run it.
CMD=()
cmd_tick() { # hour
  case "$TICK_KIND" in
    testgen) CMD=("$TESTGEN" tick "$TREE" --hour "$1") ;;
    agentcorpus) CMD=(python3 "$AGENTCORPUS" tick "$TREE" --hour "$1") ;;
  esac
}

# ---------------------------------------------------------------- tool set-up
PASSWORD="scenario-password-not-secret"
export CAIRN_PASSWORD="$PASSWORD" RESTIC_PASSWORD="$PASSWORD" BORG_PASSPHRASE="$PASSWORD"
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR="$OUT/cache/borg" BORG_CACHE_DIR="$OUT/cache/borg/cache"
export BORG_CONFIG_DIR="$OUT/cache/borg/config" BORG_SECURITY_DIR="$OUT/cache/borg/security"
export BORG_KEYS_DIR="$OUT/cache/borg/keys"
export XDG_CACHE_HOME="$OUT/cache/xdg" XDG_DATA_HOME="$OUT/cache/xdg-data" XDG_CONFIG_HOME="$OUT/cache/xdg-config"
export TMPDIR="$OUT/tmp"
RESTIC_CACHE="$OUT/cache/restic"
REPO_cairn="$OUT/repos/cairn"; REPO_restic="$OUT/repos/restic"; REPO_borg="$OUT/repos/borg"
repo_of() { local v="REPO_$1"; echo "${!v}"; }
LOCAL_cairn="$OUT/repos/cairn-local"; LOCAL_restic="$OUT/repos/restic-local"
printf '%s' "$PASSWORD" >"$OUT/password"
S3_PID=""
if [ "$BACKEND" = s3 ]; then
  if [ -z "$S3_ENDPOINT" ]; then
    MOTO="${CAIRN_MOTO_SERVER:-$(command -v moto_server || true)}"
    [ -n "$MOTO" ] && [ -x "$MOTO" ] || die "--backend s3 needs moto_server (pip install 'moto[server]'; or set CAIRN_MOTO_SERVER) or --s3-endpoint"
    S3_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$MOTO" -H 127.0.0.1 -p "$S3_PORT" >"$OUT/logs/moto.log" 2>&1 &
    S3_PID=$!
    trap '[ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null || true' EXIT
    S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
    for _ in $(seq 1 300); do curl -sf -o /dev/null "$S3_ENDPOINT/" && break; sleep 0.1; done
    curl -sf -o /dev/null "$S3_ENDPOINT/" || die "moto_server did not start (see $OUT/logs/moto.log)"
    export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
    export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
    for b in cairn-bench restic-bench cairn-copy restic-copy; do
      curl -sf -o /dev/null -X PUT "$S3_ENDPOINT/$b" || die "could not create bucket $b"
    done
    S3_NOTE="moto_server on $S3_ENDPOINT (same host)"
  else
    S3_NOTE="$S3_ENDPOINT (buckets cairn-bench, restic-bench, cairn-copy, restic-copy must exist)"
  fi
  meta s3 "$S3_NOTE"
  REPO_cairn="s3:$S3_ENDPOINT/cairn-bench"; REPO_restic="s3:$S3_ENDPOINT/restic-bench"
  COPY_cairn="s3:$S3_ENDPOINT/cairn-copy"; COPY_restic="s3:$S3_ENDPOINT/restic-copy"
fi

# Excludes. cairn: its default excludes if it has them, else --exclude if offered, else none.
CAIRN_EXCL=()
CAIRN_EXCL_NOTE="-"
if want cairn; then
  help="$("$CAIRN" snapshot --help 2>&1 || true)"
  if grep -qi 'node_modules' <<<"$help"; then
    CAIRN_EXCL_NOTE="cairn: its default excludes (its --help names node_modules)"
  elif grep -q -- '--exclude' <<<"$help"; then
    CAIRN_EXCL=(--exclude node_modules --exclude target)
    CAIRN_EXCL_NOTE="cairn: --exclude node_modules --exclude target"
  else
    CAIRN_EXCL_NOTE="cairn: NO excludes (cairn snapshot has no --exclude yet): it also stores node_modules/ and target/"
    note "cairn snapshot has no --exclude and no default excludes yet: cairn stores node_modules/ and target/, the peers do not"
  fi
fi
meta cairn_excludes "$CAIRN_EXCL_NOTE"

cmd_init() { # tool [repository]
  case "$1" in
    cairn) CMD=("$CAIRN" --repo "${2:-$REPO_cairn}" init) ;;
    restic) CMD=(restic -r "${2:-$REPO_restic}" --cache-dir "$RESTIC_CACHE" init --repository-version 2) ;;
    borg) CMD=(borg init -e repokey-blake2 "$REPO_borg") ;;
  esac
}
cmd_snapshot() { # tool archive-name [repository]
  case "$1" in
    cairn) CMD=("$CAIRN" --repo "${3:-$REPO_cairn}" snapshot "${CAIRN_EXCL[@]}" "$TREE") ;;
    restic) CMD=(restic -r "${3:-$REPO_restic}" --cache-dir "$RESTIC_CACHE" backup --compression auto
              --exclude node_modules --exclude target "$TREE") ;;
    borg) CMD=(borg create --stats --compression 'zstd,3' --exclude '*/node_modules' --exclude '*/target'
            "$REPO_borg::$2" "$TREE") ;;
  esac
}
cmd_restore() { # tool target latest-archive
  case "$1" in
    cairn) CMD=("$CAIRN" --repo "$REPO_cairn" restore latest --target "$2") ;;
    restic) CMD=(restic -r "$REPO_restic" --cache-dir "$RESTIC_CACHE" restore latest --target "$2") ;;
    borg) CMD=(env -C "$2" borg extract "$REPO_borg::$3") ;;
  esac
}
cmd_prune() {
  case "$1" in
    cairn) CMD=("$CAIRN" --repo "$REPO_cairn" forget --keep-last 5 --prune) ;;
    restic) CMD=(restic -r "$REPO_restic" --cache-dir "$RESTIC_CACHE" forget --keep-last 5 --prune) ;;
    # borg prune only marks; compact frees the space: both are borg's prune.
    borg) CMD=(bash -c 'borg prune --keep-last 5 "$1" && borg compact "$1"' _ "$REPO_borg") ;;
  esac
}
cmd_check() {
  case "$1" in
    cairn) CMD=("$CAIRN" --repo "$REPO_cairn" check) ;;
    restic) CMD=(restic -r "$REPO_restic" --cache-dir "$RESTIC_CACHE" check) ;;
    borg) CMD=(borg check "$REPO_borg") ;;
  esac
}
version_of() {
  case "$1" in
    cairn) "$CAIRN" --version 2>&1 | head -n1 ;;
    restic) restic version 2>&1 | head -n1 ;;
    borg) borg --version 2>&1 | head -n1 ;;
  esac
}

# run_measured STEP TOOL RUN LOGNAME cmd... : times one command, appends a row to raw.tsv.
# Returns the command's exit status.
run_measured() {
  local step="$1" tool="$2" run="$3" log="$OUT/logs/$4.log"; shift 4
  local tf="$OUT/tmp/time.$$"
  local rc=0
  /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$log" 2>&1 || rc=$?
  local w u s m
  read -r w u s m < <(tail -n1 "$tf")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "$tool" "$run" "$rc" "$w" "$u" "$s" "$m" \
    "$(cut -d' ' -f1 /proc/loadavg)" >>"$RAW"
  LAST_WALL="$w"
  return "$rc"
}
repo_size() { # when tool
  local b
  if [ "$BACKEND" = s3 ]; then b=$(s3_bucket_bytes "$(repo_of "$2")"); else b=$(du -sb "$(repo_of "$2")" | cut -f1); fi
  printf '%s\t%s\t%s\n' "$1" "$2" "$b" >>"$SIZES"
}
# s3_bucket_bytes s3:http://HOST/BUCKET: the bytes of every object, by ListObjectsV2 (unsigned:
# moto does not check signatures; with --s3-endpoint elsewhere the size is left out).
s3_bucket_bytes() {
  python3 - "${1#s3:}" <<'PY' || echo 0
import sys, urllib.request, urllib.parse, xml.etree.ElementTree as ET
url, total, token = sys.argv[1], 0, None
ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
while True:
    q = {"list-type": "2"}
    if token: q["continuation-token"] = token
    root = ET.fromstring(urllib.request.urlopen(url + "?" + urllib.parse.urlencode(q), timeout=30).read())
    total += sum(int(e.text) for e in root.iter(ns + "Size"))
    token = root.findtext(ns + "NextContinuationToken")
    if root.findtext(ns + "IsTruncated") != "true" or not token: break
print(total)
PY
}
# Exit statuses meaning "saved, with warnings": cairn 3, restic 3, borg 1.
ok_status() {
  local tool="$1" rc="$2"
  [ "$rc" = 0 ] && return 0
  case "$tool:$rc" in cairn:3|restic:3|borg:1) return 0 ;; esac
  return 1
}
declare -A FAILED=()
alive() { [ -z "${FAILED[$1]:-}" ]; }
report_rc() { # tool step rc logname
  local tool="$1" step="$2" rc="$3" log="$OUT/logs/$4.log"
  if [ "$rc" != 0 ]; then
    if ok_status "$tool" "$rc"; then
      note "$tool $step exited $rc (saved with warnings): $(grep -m1 -i 'warn' "$log" | cut -c1-200)"
    else
      note "$tool $step FAILED with exit $rc; last lines of $log:"
      tail -n 5 "$log" | sed 's/^/>     /'
      return 1
    fi
  fi
  return 0
}

# ---------------------------------------------------------------- environment report
echo "## Environment"
echo
echo "| what | value |"
echo "| --- | --- |"
for t in "${TOOL_LIST[@]}"; do
  v="$(version_of "$t")"; echo "| $t | $v |"; meta "version_$t" "$v"
done
v="$(tar --version | head -n1)"; echo "| tar | $v |"; meta version_tar "$v"
if [ "$HAVE_ZSTD" = 1 ]; then v="$(zstd --version | head -n1)"; echo "| zstd | $v |"; meta version_zstd "$v"; fi
if [ -d "$ROOT/.git" ] && command -v git >/dev/null; then
  v="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -n1)" ] && v="$v (+ uncommitted changes)"
  echo "| cairn source | $v |"; meta cairn_commit "$v"
fi
echo "| machine | $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -sr) |"
[ "$BACKEND" = s3 ] && echo "| repositories | S3: $S3_NOTE |"
echo "| load average at start | $(cut -d' ' -f1-3 /proc/loadavg) |"
meta load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "| tree | $TREE ($TREE_SRC) |"
echo "| excludes | restic: --exclude node_modules --exclude target; borg: --exclude '*/node_modules' --exclude '*/target'; $CAIRN_EXCL_NOTE |"
echo "| compression | cairn: repository default (zstd 3); restic: --compression auto (klauspost zstd SpeedDefault, ~zstd level 3); borg: --compression zstd,3 |"
echo "| encryption | cairn: default (XChaCha20-Poly1305, argon2id); restic: repository v2 (AES-256-CTR + Poly1305); borg: repokey-blake2 |"
echo "| caches | inside $OUT/cache (cairn: XDG_CACHE_HOME, restic: --cache-dir, borg: BORG_BASE_DIR); page cache warm |"
echo

# Tree size, with and without node_modules/target (regular files; what each tool is asked to read).
read -r TREE_FILES TREE_BYTES ALL_FILES ALL_BYTES < <(python3 - "$TREE" <<'PY'
import os, sys
root = sys.argv[1]
f = b = af = ab = 0
for d, dirs, files in os.walk(root):
    excluded = any(p in ("node_modules", "target") for p in os.path.relpath(d, root).split(os.sep))
    for n in files:
        try:
            st = os.lstat(os.path.join(d, n))
        except OSError:
            continue
        if not os.path.isfile(os.path.join(d, n)) or os.path.islink(os.path.join(d, n)):
            continue
        af += 1; ab += st.st_size
        if not excluded and n not in ("node_modules", "target"):
            f += 1; b += st.st_size
print(f, b, af, ab)
PY
)
meta tree_files "$TREE_FILES"; meta tree_bytes "$TREE_BYTES"; meta all_files "$ALL_FILES"; meta all_bytes "$ALL_BYTES"
echo "tree: $TREE_FILES files, $TREE_BYTES bytes without node_modules/target ($ALL_FILES files, $ALL_BYTES bytes with them)"
echo

# ---------------------------------------------------------------- init (not part of any step)
for t in "${TOOL_LIST[@]}"; do
  rc=0; cmd_init "$t"; run_measured init "$t" 1 "$t-init" "${CMD[@]}" || rc=$?
  report_rc "$t" init "$rc" "$t-init" || FAILED[$t]=1
done

# ---------------------------------------------------------------- step 1: first snapshot
echo "> step 1: first snapshot"
declare -A LATEST=()
for t in "${TOOL_LIST[@]}"; do
  alive "$t" || continue
  cmd_snapshot "$t" first; rc=0; run_measured first "$t" 1 "$t-first" "${CMD[@]}" || rc=$?
  if report_rc "$t" "first snapshot" "$rc" "$t-first"; then
    LATEST[$t]=first; repo_size first "$t"
    # Files each tool says it stored: shows at once whether the excludes agree.
    case "$t" in
      cairn) n=$(grep -m1 -oE 'saved: [0-9]+ files' "$OUT/logs/$t-first.log" | grep -oE '[0-9]+' || true) ;;
      restic) n=$(grep -m1 -oE 'processed [0-9]+ files' "$OUT/logs/$t-first.log" | grep -oE '[0-9]+' || true) ;;
      borg) n=$(grep -m1 -oE 'Number of files: +[0-9]+' "$OUT/logs/$t-first.log" | grep -oE '[0-9]+' || true) ;;
    esac
    printf '%s\t%s\n' "$t" "${n:--}" >>"$OUT/files.tsv"
    echo ">   $t: ${LAST_WALL}s"
  else
    FAILED[$t]=1
  fi
done
[ -n "${FAILED[cairn]:-}" ] || ! want cairn || grep -m1 '^snapshot ' "$OUT/logs/cairn-first.log" | sed 's/^/>   cairn says: /' || true
if [ "$HAVE_ZSTD" = 1 ]; then
  rc=0
  run_measured first "tar | zstd -3 -T0 (limit)" 1 ref-tar-zstd bash -c \
    'set -o pipefail; tar -C "$1" -cf - --exclude=node_modules --exclude=target "$2" | zstd -3 -T0 -q -c >/dev/null' \
    _ "$(dirname "$TREE")" "$(basename "$TREE")" || rc=$?
  [ "$rc" = 0 ] || note "tar | zstd reference exited $rc (see $OUT/logs/ref-tar-zstd.log)"
  echo ">   tar | zstd: ${LAST_WALL}s"
fi

# ---------------------------------------------------------------- step 2: no-change snapshots
echo "> step 2: no-change snapshot x $RUNS"
for r in $(seq 1 "$RUNS"); do
  line=">   run $r:"
  for t in "${TOOL_LIST[@]}"; do
    alive "$t" || continue
    cmd_snapshot "$t" "nochange-$r"; rc=0; run_measured nochange "$t" "$r" "$t-nochange-$r" "${CMD[@]}" || rc=$?
    if report_rc "$t" "no-change snapshot $r" "$rc" "$t-nochange-$r"; then LATEST[$t]="nochange-$r"; fi
    line="$line $t ${LAST_WALL}s"
  done
  run_measured nochange "stat walk (limit)" "$r" ref-stat-walk bash -c \
    'find "$1" \( -name node_modules -o -name target \) -prune -o -printf "%s %T@\n" >/dev/null' _ "$TREE" || true
  echo "$line, stat walk ${LAST_WALL}s"
done
for t in "${TOOL_LIST[@]}"; do if alive "$t"; then repo_size nochange "$t"; fi; done
! want cairn || ! alive cairn || grep -m1 '^snapshot ' "$OUT/logs/cairn-nochange-$RUNS.log" | sed 's/^/>   cairn says: /' || true

# ---------------------------------------------------------------- step 3: hourly ticks
if [ "$TICKS" -gt 0 ]; then
  echo "> step 3: $TICKS x (tick, snapshot)"
  for i in $(seq 1 "$TICKS"); do
    h=$((FIRST_HOUR + i - 1))
    name=$(printf 'hour-%04d' "$h")
    cmd_tick "$h"; rc=0; run_measured tick "tick ($TICK_KIND)" "$i" "tick-$h" "${CMD[@]}" || rc=$?
    [ "$rc" = 0 ] || { tail -n 5 "$OUT/logs/tick-$h.log"; die "tick --hour $h failed"; }
    line=">   hour $h: tick ${LAST_WALL}s ($(tail -n1 "$OUT/logs/tick-$h.log" | cut -c1-100));"
    for t in "${TOOL_LIST[@]}"; do
      alive "$t" || continue
      cmd_snapshot "$t" "$name"; rc=0; run_measured hourly "$t" "$i" "$t-$name" "${CMD[@]}" || rc=$?
      if report_rc "$t" "snapshot after hour $h" "$rc" "$t-$name"; then LATEST[$t]="$name"; fi
      line="$line $t ${LAST_WALL}s"
      if [ "$BACKEND" = s3 ]; then
        # The copy step's source: the same state in a local repository (not timed).
        if [ "$i" = 1 ]; then LR="LOCAL_$t"; cmd_init "$t" "${!LR}"; "${CMD[@]}" >"$OUT/logs/$t-local-init.log" 2>&1 || note "$t local init failed"; fi
        LR="LOCAL_$t"; cmd_snapshot "$t" "$name" "${!LR}"
        "${CMD[@]}" >"$OUT/logs/$t-local-$name.log" 2>&1 || note "$t local snapshot $name failed"
      fi
      if [ "$t" = cairn ]; then
        line="$line ($(grep -m1 -o 'read .* to the repository' "$OUT/logs/$t-$name.log" | sed 's/ to the repository//'))"
      fi
    done
    echo "$line"
  done
  for t in "${TOOL_LIST[@]}"; do if alive "$t"; then repo_size ticks "$t"; fi; done
else
  note "no ticks: step 3 skipped"
fi

# ---------------------------------------------------------------- step 4: restore
echo "> step 4: full restore of the latest snapshot"
VERIFY_TSV="$OUT/verify.tsv"; : >"$VERIFY_TSV"
for t in "${TOOL_LIST[@]}"; do
  alive "$t" || continue
  dest="$OUT/restore-$t"
  rm -rf "$dest"; mkdir -p "$dest"
  cmd_restore "$t" "$dest" "${LATEST[$t]}"; rc=0; run_measured restore "$t" 1 "$t-restore" "${CMD[@]}" || rc=$?
  report_rc "$t" restore "$rc" "$t-restore" || true
  got="$dest/${TREE#/}"
  rfiles=$(find "$dest" -type f | wc -l); rbytes=$(du -sb "$dest" | cut -f1)
  status="-"
  if [ "$VERIFY" = 1 ]; then
    if [ -d "$got" ] && diff -rq --no-dereference -x node_modules -x target "$TREE" "$got" >"$OUT/logs/$t-verify.log" 2>&1; then
      status="identical"
    else
      status="DIFFERS ($(wc -l <"$OUT/logs/$t-verify.log") lines in logs/$t-verify.log)"
      note "$t restore differs from the tree: $(head -n2 "$OUT/logs/$t-verify.log" | tr '\n' ' ' | cut -c1-300)"
    fi
  fi
  printf '%s\t%s\t%s\t%s\n' "$t" "$rfiles" "$rbytes" "$status" >>"$VERIFY_TSV"
  echo ">   $t: ${LAST_WALL}s, $rfiles files, verify: $status"
  rm -rf "$dest"
done

# ---------------------------------------------------------------- step 5: prune
echo "> step 5: forget --keep-last 5 --prune"
for t in "${TOOL_LIST[@]}"; do
  alive "$t" || continue
  cmd_prune "$t"; rc=0; run_measured prune "$t" 1 "$t-prune" "${CMD[@]}" || rc=$?
  if report_rc "$t" prune "$rc" "$t-prune"; then
    repo_size prune "$t"
    line=">   $t: ${LAST_WALL}s"
    if [ "$VERIFY" = 1 ]; then
      # The tool's own check after its prune (not timed): a prune that breaks the repository
      # must not pass as a fast one.
      cmd_check "$t"; crc=0; "${CMD[@]}" >"$OUT/logs/$t-check-after-prune.log" 2>&1 || crc=$?
      if [ "$crc" = 0 ]; then
        line="$line, check after prune: ok"
      else
        line="$line, check after prune: EXIT $crc"
        note "$t check after its prune exited $crc: $(tail -n 2 "$OUT/logs/$t-check-after-prune.log" | tr '\n' ' ' | cut -c1-200)"
      fi
    fi
    echo "$line"
  fi
done

# ---------------------------------------------------------------- step 6: copy to S3
if [ "$BACKEND" = s3 ] && [ "$TICKS" -gt 0 ]; then
  echo "> step 6: copy the $TICKS hourly snapshots from a local repository to a new S3 one"
  for t in "${TOOL_LIST[@]}"; do
    alive "$t" || continue
    LR="LOCAL_$t"; CR="COPY_$t"
    case "$t" in
      cairn)
        init=("$CAIRN" --repo "${!CR}" init --copy-chunker-params "${!LR}" --from-password-file "$OUT/password")
        CMD=("$CAIRN" --repo "${!LR}" copy --to "${!CR}" --to-password-file "$OUT/password") ;;
      restic)
        init=(restic -r "${!CR}" --cache-dir "$RESTIC_CACHE" init --repository-version 2 --copy-chunker-params
              --from-repo "${!LR}" --from-password-file "$OUT/password")
        CMD=(restic -r "${!CR}" --cache-dir "$RESTIC_CACHE" copy --from-repo "${!LR}" --from-password-file "$OUT/password") ;;
    esac
    "${init[@]}" >"$OUT/logs/$t-copy-init.log" 2>&1 || { note "$t copy destination init failed: $(tail -n1 "$OUT/logs/$t-copy-init.log")"; continue; }
    rc=0; run_measured copy "$t" 1 "$t-copy" "${CMD[@]}" || rc=$?
    report_rc "$t" copy "$rc" "$t-copy" || continue
    echo ">   $t: ${LAST_WALL}s"
  done
fi

meta load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta finished "$(date -Is)"
printf '%s\n' "${NOTES[@]+"${NOTES[@]}"}" >"$OUT/notes.txt"
echo

# ---------------------------------------------------------------- tables and JSON
python3 "$ROOT/benches/scenario_report.py" "$OUT" | tee "$OUT/report.md"

if [ "$CLEAN" = 1 ]; then
  rm -rf "$OUT/repos" "$OUT/cache"
  [ -z "$TREE_ARG" ] && rm -rf "$OUT/tree"
  echo "(--clean: repositories, caches and the generated tree removed)"
fi
