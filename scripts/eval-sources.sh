#!/usr/bin/env bash
# CER per document source, side by side for several engines: printed PDFs at 150 and 300 DPI,
# faxes and phone photos at 200 DPI, grey scans at 300 DPI (each image at its own resolution).
#
#   bash scripts/eval-sources.sh DATASET OUT [ENGINE_SPEC ...]
#
# DATASET is a `medocr gen --toolchain chromium --variants fax,photo,scan` folder (or the
# bundled datasets/printed); ENGINE_SPEC is `builtin`, `tesseract` or `builtin=MODEL_DIR`
# (default: builtin tesseract). Prints one table row per engine and source and leaves every
# run's reports under OUT/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dataset="$(cd "$1" && pwd)"
out="$(mkdir -p "$2" && cd "$2" && pwd)"
shift 2
engines=("$@")
[ "${#engines[@]}" -gt 0 ] || engines=(builtin tesseract)
medocr="${MEDOCR_BIN:-$here/target/release/medocr}"

# One manifest per source, with the image sources' paths made absolute.
split() { # name, grep pattern on the id
  grep -E "\"id\":\"[^\"]*$2\"" "$dataset/manifest.jsonl" \
    | sed "s#\"source\":\"#\"source\":\"$dataset/#" > "$out/$1.jsonl" || true
}
split pdf '-[0-9]{3}'
split fax '-fax'
split photo '-photo'
split scan '-scan'

row() { # engine label, source, dpi, extra args...
  local label=$1 source=$2 dpi=$3
  shift 3
  local m="$out/$source.jsonl"
  [ -s "$m" ] || return 0
  local d="$out/sets/$source"
  mkdir -p "$d"
  cp "$m" "$d/manifest.jsonl"
  local line
  line=$("$medocr" run --dataset "$d" --dpi "$dpi" --out "$out" --run-id "$label-$source-$dpi" \
    --quiet "$@" 2>&1 | grep -E 'corpus CER' || true)
  printf '%-28s %-6s %4s DPI  %s\n' "$label" "$source" "$dpi" "$line"
}

for spec in "${engines[@]}"; do
  case "$spec" in
    builtin=*) args=(--engine builtin --model "${spec#builtin=}"); label="builtin:$(basename "${spec#builtin=}")" ;;
    *) args=(--engine "$spec"); label="$spec" ;;
  esac
  row "$label" pdf 150 "${args[@]}"
  row "$label" pdf 300 "${args[@]}"
  row "$label" fax 200 "${args[@]}"
  row "$label" photo 200 "${args[@]}"
  row "$label" scan 300 "${args[@]}"
done
