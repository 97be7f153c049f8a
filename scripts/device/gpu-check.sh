#!/usr/bin/env bash
# GPU check, run ON the GPU device machine from the repository root, after the app was stashed and unpacked
# to /tmp/app (see ../shared/device/README.md: self-contained publish, pack.sh, stash, unpack):
#   bash .device/NN/on-device.sh stash && bash .device/NN/on-device.sh unpack && bash scripts/device/gpu-check.sh
# What it does, all with the real app on the real GPU:
#   1. `classify doctor` (text + JSON): what was found, the verdict, its exit code.
#   2. the test photos on CUDA and on the CPU, for each bundled model: the device and the execution-provider
#      placement actually in use, time per image (median of RUNS runs), top-5 agreement CPU vs CUDA.
#   3. real diagnoses on real hardware: CUDA libraries off the loader path (6), CUDA_VISIBLE_DEVICES=-1 (4),
#      a Slurm job without GPUs (3), --gpu beyond the visible GPUs (7), each through doctor --json.
#   4. hooks for the TorchSharp CUDA check and a ResNet-50 throughput check (TODO, merged by the lead).
# Logs go to $OUT (the device tool brings them back); a short table is printed last.
# Environment: CLASSIFY_APP (default /tmp/app/classify), RUNS (default 5), REPEAT (photos per run = 4 x REPEAT, default 32).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
app=${CLASSIFY_APP:-/tmp/app/classify}
runs=${RUNS:-5}
repeat=${REPEAT:-32}
models=(squeezenet1.1 mobilenet_v2_1.0_224_quant mobilenet_edgetpu_224_1.0_float)
photos=(tests/images/chelsea.png tests/images/coffee.png tests/images/astronaut.png tests/images/rocket.jpg)
photo_args=()
for p in "${photos[@]}"; do photo_args+=(--image_file "$p"); done
rows=()
row() { rows+=("$(printf '%-44s %s' "$1" "$2")"); }

# The device's CUDA 13 / cuDNN 9 / libtorch come with its PyTorch; on-device.sh prints the export line.
part=$(find .device -mindepth 2 -maxdepth 2 -name on-device.sh 2>/dev/null | sort | tail -1)
if [ -n "$part" ]; then
  eval "$(bash "$part" env)"
else
  echo "gpu-check: no .device/NN/on-device.sh here; using LD_LIBRARY_PATH as it is" >&2
fi
cuda_ld_path=${LD_LIBRARY_PATH:-}
{
  echo "LD_LIBRARY_PATH=$cuda_ld_path"
  nvidia-smi 2>&1 || echo "nvidia-smi: not available"
  uname -a
} >"$out/machine.log"
if [ ! -x "$app" ]; then
  echo "gpu-check: $app not found (unpack the app first)" >&2
  echo "gpu-check: app missing" >"$out/summary.txt"
  exit 1
fi

# 1. doctor
"$app" doctor --verbose >"$out/doctor.txt" 2>&1
doctor_rc=$?
"$app" doctor --json >"$out/doctor.json" 2>"$out/doctor.json.err"
row "doctor (exit $doctor_rc)" "$(tail -1 "$out/doctor.txt" | cut -c1-160)"
row "doctor: execution provider" "$(grep '^execution provider:' "$out/doctor.txt" | sed 's/^execution provider: *//' | cut -c1-160)"

# 2. classification on CUDA and on the CPU
list="$out/photos.txt"
: >"$list"
for _ in $(seq "$repeat"); do printf '%s\n' "${photos[@]}" >>"$list"; done
count=$(wc -l <"$list")

# Prints the median of the per-image times (ms) measured inside the process: (total - ready) / images,
# from the two --verbose lines ("ready in N ms", "classified ... in S s").
per_image_ms() {
  local model=$1 device=$2 times=() log
  for i in $(seq "$runs"); do
    log="$out/time-$model-$device-$i.log"
    "$app" --model "$model" --device "$device" --verbose --image_list "$list" >/dev/null 2>"$log" || { echo "failed (see $(basename "$log"))"; return; }
    times+=("$(awk -v n="$count" '/ready in [0-9]+ ms/ { for (i = 1; i <= NF; i++) if ($i == "ready") ready = $(i + 2) }
      / classified now.* in [0-9.]+ s/ { for (i = 1; i < NF; i++) if ($i == "in") total = $(i + 1) * 1000 }
      END { if (total > 0) printf "%.3f", (total - ready) / n; else print "nan" }' "$log")")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk -v all="${times[*]}" '{a[NR] = $1} END {print a[int((NR + 1) / 2)] " ms/img (median of " NR ": " all ")"}'
}

for model in "${models[@]}"; do
  for device in cuda cpu; do
    "$app" --model "$model" --device "$device" --verbose --format jsonl --num_top_predictions 5 \
      "${photo_args[@]}" >"$out/$model-$device.jsonl" 2>"$out/$model-$device.err"
    rc=$?
    used=$(grep -o 'backend onnx on [^,]*' "$out/$model-$device.err" | sed 's/backend onnx on //')
    placement=$(grep -o 'onnxruntime: [0-9a-z].*on [A-Za-z]*ExecutionProvider.*' "$out/$model-$device.err" | head -1 | sed 's/onnxruntime: //')
    row "$model --device $device" "exit $rc, device ${used:-?}${placement:+, $placement}"
    row "  time ($count images, after load)" "$(per_image_ms "$model" "$device")"
  done
  python3 - "$out/$model-cpu.jsonl" "$out/$model-cuda.jsonl" >"$out/$model-agreement.txt" 2>&1 <<'PY'
import json, sys
def load(p):
    with open(p) as f:
        return {d["file"]: d.get("predictions") for d in map(json.loads, filter(str.strip, f))}
cpu, cuda = load(sys.argv[1]), load(sys.argv[2])
same, maxdiff = 0, 0.0
for name, p in cpu.items():
    q = cuda.get(name)
    if p and q and [x["class"] for x in p] == [x["class"] for x in q]:
        same += 1
        maxdiff = max(maxdiff, max(abs(a["score"] - b["score"]) for a, b in zip(p, q)))
    print(name, "cpu:", [x["class"] for x in p or []], "cuda:", [x["class"] for x in q or []])
print(f"top-5 agreement {same}/{len(cpu)} images, max |score diff| {maxdiff:.2e}")
PY
  row "  top-5 CPU vs CUDA" "$(tail -1 "$out/$model-agreement.txt")"
done

# 2b. The ONNX Runtime engine options on CUDA (issue 13): --fp16 (the onnx-fp16 file) and --channels_last
#     (prefer_nhwc) against float32, top-5 agreement, then classify bench model-only at the batch sizes of the
#     comparison (plain fp32, fp16, fp16 + NHWC; every run goes through an IOBinding; pixels are uploaded as uint8 and
#     preprocessed on the GPU unless CLASSIFY_GPU_PREPROCESS=off, the last row: float32 uploads).
"$app" --device cuda --format jsonl "${photo_args[@]}" >"$out/engine-fp32.jsonl" 2>"$out/engine-fp32.err"
for variant in fp16 channels_last; do
  "$app" --device cuda --"$variant" --verbose --format jsonl "${photo_args[@]}" >"$out/engine-$variant.jsonl" 2>"$out/engine-$variant.err"
  rc=$?
  same=$(python3 - "$out/engine-fp32.jsonl" "$out/engine-$variant.jsonl" 2>&1 <<'PY'
import json, sys
a, b = ([json.loads(l)["predictions"] for l in open(p) if l.strip()] for p in sys.argv[1:3])
same = sum([x["class"] for x in p] == [x["class"] for x in q] for p, q in zip(a, b))
diff = max(abs(x["score"] - y["score"]) for p, q in zip(a, b) for x, y in zip(p, q))
print(f"top-5 as fp32 on {same}/{len(a)}, max |score diff| {diff:.2e}")
PY
)
  row "squeezenet1.1 --$variant on CUDA (exit $rc)" "$same"
done
# The model-only throughputs of bench-NAME.json, or why there are none.
bench_row() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join("b%d %.0f img/s" % (r["batch"], r["images_per_second"]) for r in d["model_only"]))' \
    "$out/bench-$1.json" 2>/dev/null || head -c 160 "$out/bench-$1.err"
}
for variant in "" --fp16 "--fp16 --channels_last"; do
  name=$(echo "fp32 $variant" | tr -d '-' | tr ' ' '_')
  # shellcheck disable=SC2086 # the variant is a list of flags
  "$app" bench --device cuda $variant --batch_sizes 1,32,128,256 --json >"$out/bench-$name.json" 2>"$out/bench-$name.err"
  row "bench squeezenet1.1 ${variant:-fp32} (exit $?)" "$(bench_row "$name")"
done
CLASSIFY_GPU_PREPROCESS=off "$app" bench --device cuda --batch_sizes 1,32,128,256 --json >"$out/bench-fp32-float-upload.json" 2>"$out/bench-fp32-float-upload.err"
row "bench squeezenet1.1 fp32, float32 upload (exit $?)" "$(bench_row fp32-float-upload)"

# 3. real diagnoses on real hardware (doctor --json's diagnosis.number; expected in brackets)
#    diagnosis NAME EXPECTED ENV_ASSIGNMENT [doctor options...]
diagnosis() {
  local name=$1 expected=$2 assign=$3 got
  shift 3
  env ${assign:+"$assign"} "$app" doctor --json "$@" >"$out/diag-$name.json" 2>&1
  got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["diagnosis"]; print(d["number"], "-", d["problem"][:110])' \
    "$out/diag-$name.json" 2>/dev/null || echo "no JSON (see diag-$name.json)")
  row "diagnosis $name [$expected]" "$got"
}
diagnosis no-cuda-libs 6 LD_LIBRARY_PATH=
diagnosis cvd-hidden 4 CUDA_VISIBLE_DEVICES=-1
diagnosis slurm-no-gpu 3 SLURM_JOB_ID=4242
diagnosis gpu-index-7 7 "" --gpu 7
# The warning a user sees when the CUDA libraries are missing, verbatim:
LD_LIBRARY_PATH='' "$app" --image_file tests/images/chelsea.png >"$out/warning-no-cuda-libs.out" 2>"$out/warning-no-cuda-libs.err"
row "warning without CUDA libs" "$(head -1 "$out/warning-no-cuda-libs.err" | cut -c1-160)"
# Singularity/Apptainer without --nv on real hardware: the real /dev/nvidia* and /proc/driver/nvidia stay,
# libcuda.so.1 disappears (a private mount namespace binds /dev/null over it). Needs root and unshare.
libcuda=$(python3 -c 'import json,sys; print(next((l["path"] or "") for l in json.load(open(sys.argv[1]))["libraries"] if l["name"] == "libcuda.so.1"))' \
  "$out/doctor.json" 2>/dev/null)
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && [ -n "$libcuda" ]; then
  # shellcheck disable=SC2016 # the inner shell expands $1 and $@, not this one
  APPTAINER_CONTAINER=/scratch/classifier.sif unshare --mount --propagation private -- \
    sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' sh "$libcuda" \
    "$app" --image_file tests/images/chelsea.png >"$out/apptainer-no-nv.out" 2>"$out/apptainer-no-nv.err"
  row "apptainer without --nv (exit $?)" "$(head -1 "$out/apptainer-no-nv.err" | cut -c1-200)"
  "$app" --device cpu --image_file tests/images/chelsea.png >"$out/apptainer-reference.out" 2>/dev/null
  if cmp -s "$out/apptainer-no-nv.out" "$out/apptainer-reference.out"; then
    row "  predictions" "identical to --device cpu"
  else
    row "  predictions" "DIFFER from --device cpu (see apptainer-no-nv.out)"
  fi
else
  row "apptainer without --nv" "skipped (needs root, unshare and libcuda's path from doctor)"
fi

# 4. The TorchSharp backend on CUDA and the ResNet-50 throughput of both backends: scripts/device/torch-check.sh,
#    its table goes to $out/torch-check.txt and is printed after this script's own.
OUT=$out CLASSIFY_APP=$app bash scripts/device/torch-check.sh >"$out/torch-check.txt" 2>&1
row "torch-check.sh (TorchSharp CUDA, ResNet-50)" "$(tail -1 "$out/torch-check.txt")"

printf '%s\n' "${rows[@]}" >"$out/summary.txt"
echo
echo "== GPU check ($(date -u +%FT%TZ), logs in $out)"
printf '%s\n' "${rows[@]}"
sed -n "/^| SqueezeNet/,\$p" "$out/torch-check.txt"
