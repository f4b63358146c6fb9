#!/usr/bin/env bash
# Continuous against static batching in `medocr serve`, measured with `medocr bench
# --scenario load` at the same Poisson rates and seed (issue 21, docs/serve.md "Batching").
# Usage: scripts/serve-batching-load.sh [OUT_DIR]   (needs a release build; ~12 min on 2 cores;
# MEDOCR_BIN=path uses another binary, RATES=0.5,1 and REQUESTS=30 change the load,
# MODES=continuous runs one mode)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/serve-batching-load}
rates=${RATES:-0.5,1,1.5,2}
requests=${REQUESTS:-30}
bin=${MEDOCR_BIN:-target/release/medocr}
mkdir -p "$out"
modes=${MODES:-static continuous}
for mode in $modes; do
  port=$((18500 + RANDOM % 400))
  # No prefix cache: the bundled pages repeat across requests, and the comparison is of
  # batching alone.
  "$bin" serve --host 127.0.0.1 --port "$port" --prefix-cache-mib 0 --batching "$mode" \
    > "$out/serve-$mode.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.2; done
  "$bin" bench --scenario load --engines openai --base-url "http://127.0.0.1:$port" \
    --dpi 150 --rates "$rates" --arrival poisson --seed 1 --requests "$requests" \
    --concurrency 8 --warmup 1 --warmup-max 1 --no-overhead --slo-e2e 5s --p99-limit 5s \
    --out "$out" --run-id "$mode" --quiet || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  trap - EXIT
done
python3 - "$out" "$modes" <<'PY'
import json, sys
out = sys.argv[1]
print("| batching | offered req/s | achieved req/s | TTFT p50 | TTFT p99 | E2E p50 | E2E p99 | goodput req/s (E2E ≤ 5 s) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for mode in sys.argv[2].split():
    b = json.load(open(f"{out}/{mode}/bench.json"))
    for m in b["measurements"]:
        load, lat = m["load"], m["latency"]
        q = lambda name, p: f"{lat[name]['summary'][p]:,.0f} ms"
        print(f"| {mode} | {load['requested_rate']:g} | {load['achieved_rate']:.2f} | {q('ttft_ms','p50')} "
              f"| {q('ttft_ms','p99')} | {q('e2e_ms','p50')} | {q('e2e_ms','p99')} | {load['goodput_rps']:.2f} |")
PY
