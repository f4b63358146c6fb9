#!/usr/bin/env bash
# The main job of the README: installs what it needs, then runs `medocr run` on the
# bundled dataset with the default (built-in) engine. Extra arguments go to `medocr run`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cargo run --release --quiet -- run "$@"
