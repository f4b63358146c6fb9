#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ under libFuzzer for a bounded time, on the stable
# toolchain (RUSTC_BOOTSTRAP=1 lets stable rustc take cargo-fuzz's -Z flags). Installs
# cargo-fuzz once (idempotent). Exits non-zero on the first finding; the crashing input is
# left in fuzz/artifacts/<target>/ — add it to REGRESSIONS in tests/fuzz_smoke.rs.
#
#   bash scripts/fuzz.sh                 # every target, 60 s each
#   bash scripts/fuzz.sh manifest sse    # some targets
#   MEDOCR_FUZZ_SECONDS=600 bash scripts/fuzz.sh
#   MEDOCR_FUZZ_SANITIZER=none bash scripts/fuzz.sh   # if AddressSanitizer is unavailable
#
# Builds go to fuzz/target (git-ignored), never the main target/ folder; the inputs a session
# discovers go to fuzz/target/corpus/<target>/, so the committed seeds in fuzz/corpus/ stay
# as they are.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

seconds="${MEDOCR_FUZZ_SECONDS:-60}"
sanitizer="${MEDOCR_FUZZ_SANITIZER:-address}"
version="0.13.2"

if ! cargo fuzz --version 2>/dev/null | grep -qF "$version"; then
  echo "fuzz: installing cargo-fuzz $version" >&2
  cargo install cargo-fuzz --version "$version" --locked
fi

export RUSTC_BOOTSTRAP=1
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

start=$(date +%s)
# One build for all targets, then the binaries are run directly: `cargo fuzz run` would
# rebuild whenever a source file's mtime changed in between.
cargo fuzz build --sanitizer "$sanitizer"
echo "fuzz: built in $(( $(date +%s) - start )) s" >&2
bin="target/$(rustc -vV | sed -n 's/^host: //p')/release"

for t in "${targets[@]}"; do
  mkdir -p "target/corpus/$t" "artifacts/$t"
  echo "fuzz: $t for ${seconds} s" >&2
  # New inputs go to the first folder; the committed seeds are only read.
  "$bin/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$seconds" -print_final_stats=1 \
    "target/corpus/$t" "corpus/$t"
done
echo "fuzz: ${#targets[@]} target(s), no finding, $(( $(date +%s) - start )) s in all" >&2
