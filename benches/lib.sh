# Shared by the bench scripts (sourced, not run): the output folder each
# script owns, and private copies of the release binaries. Needs `die`,
# `ROOT` and `BUILD` from the script that sources it.

# prepare_out DEFAULT MARKER_NAME: sets OUT to --out (or DEFAULT) as an
# absolute path, emptied if an earlier run of the same script made it,
# refused if something else did.
prepare_out() {
  OUT="${OUT:-$1}"
  mkdir -p "$OUT"
  OUT="$(cd "$OUT" && pwd)"
  local marker="$OUT/$2"
  if [ -n "$(ls -A "$OUT")" ]; then
    [ -f "$marker" ] || die "$OUT is not empty and was not made by this script; choose another --out"
    find "$OUT" -mindepth 1 -maxdepth 1 ! -name "$2" -exec rm -rf {} +
  fi
  touch "$marker"
  mkdir -p "$OUT/logs" "$OUT/bin"
}

# private_binaries: builds cairn and cairn-testgen in release mode (unless
# --no-build) and copies them to $OUT/bin, so that a rebuild during the run
# cannot change the binaries measured; sets CAIRN and TESTGEN.
private_binaries() {
  local target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
  if [ "$BUILD" = 1 ]; then
    echo "> building: cargo build --release -p cairn-cli -p cairn-testgen"
    (cd "$ROOT" && cargo build --release -p cairn-cli -p cairn-testgen) >"$OUT/logs/build.log" 2>&1 \
      || { tail -n 30 "$OUT/logs/build.log"; die "build failed (log: $OUT/logs/build.log)"; }
  fi
  local b
  for b in cairn cairn-testgen; do
    [ -x "$target_dir/release/$b" ] || die "$target_dir/release/$b missing (drop --no-build)"
    cp "$target_dir/release/$b" "$OUT/bin/$b"
  done
  CAIRN="$OUT/bin/cairn"
  TESTGEN="$OUT/bin/cairn-testgen"
}
