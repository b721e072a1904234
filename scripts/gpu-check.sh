#!/usr/bin/env bash
# The GPU check: one script, run once on a machine with a CUDA GPU and PyTorch installed
# (no nox, no network needed). It runs the CUDA-only tests, the harness and sampler overhead checks
# on the GPU, determinism across processes (two runs per mode, result digests compared), the
# per-call floor (determinism and telemetry on and off, eager vs CUDA-graph launches), the
# data-parallel training on one GPU over NCCL (world size 1: the CUDA code path, not multi-GPU
# scaling), the peak probe (bench peak), the execution modes (compile, precision, memory format on
# conv2d, the MLP and a training step, against the reference mode), every GPU of the node side by
# side (--device cuda:all; stand-in devices in the dry run), an A/A head-to-head (bench ab,
# its false alarms on the GPU), and the whole suite at full size on CUDA, then prints a short table last.
#
#   scripts/gpu-check.sh            # on the GPU machine; results under $OUT (or results/runs)
#   scripts/gpu-check.sh --dry-run  # on a CPU: the same steps at smoke size on the CPU
#
# Exit codes: 0 ok; 1 a test or benchmark failed; 2 no torch; 3 no CUDA GPU (without --dry-run).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# The GPU machine has no network: CIFAR-10 training runs on the labelled synthetic set.
export BENCH_OFFLINE=1
PY=${PYTHON:-python3}
OUT_DIR=${OUT:-results/runs}
mkdir -p "$OUT_DIR"

if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "gpu-check: $PY cannot import torch; set PYTHON to an interpreter that has the suite's dependencies" >&2
  exit 2
fi
if [[ "${1:-}" == "--dry-run" ]]; then
  device=cpu; size=(--quick); max_time=0.05; floor_cases=(); peak_size=(--max-n 512)
  precisions=fp32,amp-bf16; compiles=off,default; modes_cases="fwd_bwd or lenet5"
else
  device=cuda; size=(--size full); max_time=0.2; floor_cases=(-k "256 or 1024 or 2048 or 16777216"); peak_size=()
  precisions=fp32,tf32,amp-bf16,amp-fp16; compiles=off,default,reduce-overhead
  modes_cases="fwd_bwd and (hw=56 or mlp) or resnet18"
  if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu-check: no CUDA GPU visible to torch; use --dry-run to try the script on a CPU" >&2
    exit 3
  fi
fi

status=0
log="$OUT_DIR/gpu-check.log"
: > "$log"
step() { echo "== $*" | tee -a "$log"; }
newest_run() {  # run folders are named by their start time: the last in order is the newest
  local runs=("$OUT_DIR"/*/)
  echo "${runs[-1]%/}"
}

step "environment"
"$PY" - <<'PY' 2>&1 | tee -a "$log"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
for i in range(torch.cuda.device_count()):
    print("gpu", i, torch.cuda.get_device_name(i))
PY

step "CUDA-path tests (pytest -k cuda)"
"$PY" -m pytest tests -q -p no:cacheprovider -k "cuda or device" 2>&1 | tail -n 5 | tee -a "$log" || status=1

step "harness overhead on $device"
"$PY" -m bench overhead harness --device "$device" --repeats 2 2>&1 | tail -n 4 | tee -a "$log" || status=1
step "telemetry sampler overhead on $device"
"$PY" -m bench overhead sampler --device "$device" --repeats 2 2>&1 | tail -n 4 | tee -a "$log" || status=1

step "determinism on $device: two processes per mode, same seed, result digests compared case by case"
det=("${size[@]}" --family layers --family recurrent --max-time 0.02 --seed 0 --telemetry-hz 0)
for mode in off warn; do
  runs=()
  for rep in 1 2; do
    timeout 120 "$PY" -m bench run --device "$device" "${det[@]}" --determinism "$mode" \
      --out "$OUT_DIR" -- -q -p no:warnings > "$OUT_DIR/det-$mode-$rep.log" 2>&1 || status=1
    runs+=("$(newest_run)")
  done
  echo "determinism $mode: $("$PY" -m tools.gpu_questions digests "${runs[@]}" 2>&1)" | tee -a "$log"
done

step "per-call floor on $device: determinism off/warn, telemetry 0/20 Hz, and a direct eager vs CUDA-graph probe"
floor=()
for setting in "warn 20" "off 20" "off 0"; do
  read -r mode hz <<< "$setting"
  timeout 90 "$PY" -m bench run --device "$device" "${size[@]}" --workload mm --workload pointwise --dtype bfloat16 \
    --dtype float32 --max-time 0.1 --determinism "$mode" --telemetry-hz "$hz" "${floor_cases[@]}" \
    --out "$OUT_DIR" -- -q -p no:warnings > "$OUT_DIR/floor-$mode-$hz.log" 2>&1 || status=1
  floor+=("$mode,${hz}Hz=$(newest_run)")
done
"$PY" -m tools.gpu_questions floor --device "$device" "${floor[@]}" 2>&1 | tee -a "$log" || status=1

step "peak on $device: the best matmul FLOP/s per dtype over a sweep of sizes, and copy bandwidth"
timeout 90 "$PY" -m bench peak --device "$device" "${peak_size[@]}" --again 2>&1 | tee -a "$log" || status=1

step "execution modes on $device: compile, precision and memory format against the reference mode"
modes_runs=()
for axes in "--precision ${precisions} --memory-format contiguous,channels_last" "--compile ${compiles} --precision fp32,amp-bf16"; do
  read -r -a flags <<< "$axes"
  timeout 150 "$PY" -m bench run --device "$device" "${size[@]}" --max-time "$max_time" --telemetry-hz 0 \
    --workload conv2d --workload mlp --workload cifar_step "${flags[@]}" --out "$OUT_DIR" \
    -- -q -p no:warnings -k "$modes_cases" > "$OUT_DIR/modes-${#modes_runs[@]}.log" 2>&1 || status=1
  modes_runs+=("$(newest_run)")
done
"$PY" -m bench report "${modes_runs[@]}" --out "$OUT_DIR/modes-report" > /dev/null 2>&1 || status=1
sed -n '/^## Execution modes/,/^## /p' "$OUT_DIR/modes-report/report.md" | grep '^|' | tee -a "$log"
tar -czf "$OUT_DIR/modes-report.tar.gz" -C "$OUT_DIR" modes-report && rm -r "$OUT_DIR/modes-report"

step "DDP on $device, one process (NCCL on a GPU, gloo on the CPU), smoke size"
timeout 150 "$PY" -m bench ddp --device "$device" --nproc-per-node 1 --quick --param path=tensor --param ranks=all \
  --out "$OUT_DIR" -- -q -p no:warnings 2>&1 | tail -n 3 | tee -a "$log" || status=1

step "every GPU of the node (--device cuda:all, quick matrix family): the devices side by side"
if [[ $device == cpu ]]; then  # no GPU to list: the orchestration with stand-in devices, as the tests run it
  "$PY" -m pytest -q -p no:cacheprovider tests/test_devices.py 2>&1 | tail -n 1 | tee -a "$log" || status=1
else
  devices_out="$OUT_DIR/devices"
  timeout 150 "$PY" -m bench run --device cuda:all --quick --family matrix --max-time "$max_time" --telemetry-hz 0 \
    --out "$devices_out" -- -q -p no:warnings > "$OUT_DIR/devices.log" 2>&1 || status=1
  tail -n 3 "$OUT_DIR/devices.log" | tee -a "$log"
  "$PY" -m bench report "$devices_out"/*/ --out "$OUT_DIR/devices-report" > /dev/null 2>&1 || status=1
  sed -n '/^## Devices side by side/,/^## /p' "$OUT_DIR/devices-report/report.md" | grep -v '^## [^D]' | tee -a "$log"
  tar -czf "$OUT_DIR/devices.tar.gz" -C "$OUT_DIR" devices devices-report && rm -r "$devices_out" "$OUT_DIR/devices-report"
fi

step "A/A head-to-head on $device (bench ab current current, quick matrix and layers: a slower verdict is a false alarm)"
timeout 240 "$PY" -m bench ab current current --device "$device" --quick --family matrix --family layers --pairs 3 \
  --out "$OUT_DIR" > "$OUT_DIR/ab.log" 2>&1
code=$?
grep -E "^[0-9]+ slower, |^bench: time: " "$OUT_DIR/ab.log" | tee -a "$log"
((code <= 1)) || status=1

step "suite on $device (${size[*]}, max-time $max_time s per case; DDP above)"
before=$(ls "$OUT_DIR")
timeout 200 "$PY" -m bench run --device "$device" "${size[@]}" --max-time "$max_time" -m "not distributed" \
  --out "$OUT_DIR" -- -q -p no:warnings >> "$log" 2>&1 || status=1
run_dir=$(comm -13 <(echo "$before") <(ls "$OUT_DIR") | grep -v '\.log$' | head -n 1)
if [[ -n "$run_dir" && -f "$OUT_DIR/$run_dir/benchmark.json" ]]; then
  "$PY" -m bench show "$OUT_DIR/$run_dir" > "$OUT_DIR/$run_dir/table.txt"
  if [[ -d "$OUT_DIR/$run_dir/artifacts" ]]; then  # one file: the device tool brings back few files, 2 folders deep
    tar -czf "$OUT_DIR/$run_dir/artifacts.tar.gz" -C "$OUT_DIR/$run_dir" artifacts && rm -r "$OUT_DIR/$run_dir/artifacts"
  fi
  step "results: $OUT_DIR/$run_dir (full table in table.txt)"
  "$PY" -m bench show --brief "$OUT_DIR/$run_dir"
else
  echo "gpu-check: the suite wrote no results; see $log" >&2
  status=1
fi
exit $status
