#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: checks that the built-in model reads the same text on
# CUDA as on the CPU for the same pages, and times both. Prints both console tables and a
# line-by-line comparison of the predictions; exit code 1 when any document differs.
# Build (here or there): CUDARC_CUDA_VERSION=13000 cargo build --release --features cuda
# (13000 = the CUDA 13.0 API of the lent machines' driver 580; see docs/model.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${MEDOCR_BIN:-target/release/medocr}
out=${OUT:-reports}
dpi=${DPI:-150,300}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
for dev in cpu cuda; do
  echo "== $dev"
  /usr/bin/time -v "$bin" run --engine builtin --device "$dev" --dpi "$dpi" --quiet \
      --out "$out" --run-id "gpu-check-$dev" 2> "$out/gpu-check-$dev.time" || [ $? -eq 1 ]
  grep -E "Elapsed|Maximum resident" "$out/gpu-check-$dev.time" || true
done
status=0
python3 - "$out/gpu-check-cpu/predictions.jsonl" "$out/gpu-check-cuda/predictions.jsonl" <<'PY' || status=1
import json, sys
load = lambda p: {(d["id"], d["dpi"]): d["text"] for d in map(json.loads, open(p))}
cpu, gpu = load(sys.argv[1]), load(sys.argv[2])
diff = [k for k in cpu if cpu[k] != gpu.get(k)]
print(f"{len(cpu)} documents, {len(diff)} differ between cpu and cuda")
for k in diff[:5]:
    print(k, repr(cpu[k][:120]), repr(gpu.get(k, "")[:120]))
sys.exit(1 if diff else 0)
PY
# Warm-up on the GPU (issue 21 item 6): clocks, temperature and slowdown reasons read
# through NVML before and after warm-up, and throttling while measured.
"$bin" bench --scenario single --engines builtin --device cuda --dpi 150 --warmup 3 \
    --warmup-max 10 --iterations 10 --no-overhead --out "$out" --run-id gpu-check-warmup \
    >/dev/null
python3 - "$out/gpu-check-warmup/bench.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for m in r["measurements"]:
    w, g = m.get("warmup") or {}, m["resources"]["gpu"]
    print(m["label"], "warm-up", w.get("requests"), "stable", w.get("stable"))
    print("  gpu around warm-up:", json.dumps(w.get("gpu")))
    print("  gpu while measured:", json.dumps(g))
for n in r.get("notes", []):
    print("note:", n)
PY
exit $status
