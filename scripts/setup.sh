#!/usr/bin/env bash
# Installs what medocr needs on a fresh Debian machine, idempotently:
# Tesseract (kor+eng), Korean fonts (never the reserved families: see src/dataset/font_pool.rs), poppler-utils, and libpdfium (from PyPI's pypdfium2 wheel,
# since GitHub is not reachable). Safe to run again: each step checks before it installs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

pkgs=(tesseract-ocr tesseract-ocr-kor poppler-utils fonts-nanum fonts-nanum-extra fonts-unfonts-core fonts-unfonts-extra fonts-nanum-eco fonts-alee fonts-wqy-zenhei fonts-baekmuk python3-pip unzip chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# libpdfium: unpacked from the pypdfium2 wheel into .deps/pdfium (git-ignored), or into
# MEDOCR_PDFIUM_DIR (the Containerfile's system-wide copy).
pdfium_dir="${MEDOCR_PDFIUM_DIR:-$here/.deps/pdfium}"
lib="$pdfium_dir/libpdfium.so"
if [ ! -f "$lib" ]; then
  echo "setup: fetching libpdfium from PyPI (pypdfium2 wheel)" >&2
  tmp="$(mktemp -d)"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "pypdfium2==5.15.2" \
    || python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" pypdfium2
  mkdir -p "$pdfium_dir"
  unzip -q -o -j "$tmp"/pypdfium2-*.whl 'pypdfium2_raw/libpdfium.so' -d "$pdfium_dir"
  rm -rf "$tmp"
fi
echo "setup: ok (libpdfium at $lib)" >&2
