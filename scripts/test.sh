#!/usr/bin/env bash
# The test command of the README: installs what the tests need, then runs them all in
# release mode (the metric and model tests are compute-heavy; one shared build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cargo test --release "$@"
