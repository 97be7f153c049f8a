#!/bin/bash
# The TorchSharp backend on the GPU device machine (see ../shared/device/README.md, docs/torch.md).
#
#   scripts/device/torch-check.sh prepare   HERE: the same as scripts/device/prepare.sh (its options too), where the
#                                           device build recipe lives: publish classify (Native AOT) and classify-bench,
#                                           self-contained, WITHOUT libtorch, into .device-app, and pack it into .device
#   scripts/device/torch-check.sh           ON THE DEVICE, after on-device.sh stash/unpack (app in /tmp/app;
#                                           CLASSIFY_APP=/path/to/classify otherwise); TORCH_CHECK=1 gpu-check.sh runs it:
#     1. top-5 of the bundled SqueezeNet 1.1 on tests/images with --backend torch on CUDA (fp32, fp16,
#        fp16 + channels_last) against the same backend on the CPU, with the device's own PyTorch libtorch;
#     2. model throughput (classify-bench: batch in host memory → scores in host memory) of the ResNet-50 that
#        on-device.sh exports, TorchSharp beside ONNX Runtime in the same run;
#     then prints a short table. Logs go to $OUT/torch-check/. Exit status 1 if a check failed.
set -uo pipefail

if [[ ${1:-} == prepare ]]; then
  shift
  exec bash "$(dirname "$0")/prepare.sh" "$@"
fi

classify=${CLASSIFY_APP:-/tmp/app/classify}   # as in gpu-check.sh
app=$(dirname "$classify")
out=${OUT:-/tmp/out}/torch-check
models=/tmp/m
images=(--image_file tests/images/chelsea.png --image_file tests/images/coffee.png)
mkdir -p "$out"
passed=0 failed=0
pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1: $2"; failed=$((failed + 1)); }

# The device's CUDA 13, cuDNN 9 and PyTorch libraries on the loader path; libtorch named the documented way too.
ondevice=$(find .device -name on-device.sh 2>/dev/null | sort | tail -1)
[[ -n $ondevice ]] || { echo "no .device/NN/on-device.sh: run this after on-device.sh stash/unpack" >&2; exit 2; }
eval "$(bash "$ondevice" env)"
: "${CLASSIFY_LIBTORCH_DIR:=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__) + '/lib')")}"
export CLASSIFY_LIBTORCH_DIR
echo "libtorch: $CLASSIFY_LIBTORCH_DIR (PyTorch $(python3 -c 'import torch; print(torch.__version__)' 2>/dev/null))"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1

# --- 1. top-5 on CUDA against the CPU ------------------------------------------------------------------------
run_classify() { # NAME ARGS...: jsonl of the test photos into $out/NAME.jsonl
  local name=$1; shift
  timeout 180 "$classify" --backend torch --format jsonl --verbose "$@" "${images[@]}" \
    >"$out/$name.jsonl" 2>"$out/$name.err"
}
compare() { # CPU.jsonl OTHER.jsonl → "same|differs maxdiff"
  python3 - "$1" "$2" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
same = len(a) == len(b) and all([p["label"] for p in x["predictions"]] == [p["label"] for p in y["predictions"]] for x, y in zip(a, b))
diff = max(abs(p["score"] - q["score"]) for x, y in zip(a, b) for p, q in zip(x["predictions"], y["predictions"]))
print("same" if same else "differs", f"{diff:.2e}")
PY
}
declare -A top5
if run_classify cpu --device cpu; then pass "torch on the CPU classifies the test photos"; else fail "torch on the CPU" "$(tail -1 "$out/cpu.err")"; fi
for variant in "cuda:--device cuda" "cuda-fp16:--device cuda --fp16" "cuda-fp16-nhwc:--device cuda --fp16 --channels_last"; do
  name=${variant%%:*}
  read -ra flags <<<"${variant#*:}"
  if ! run_classify "$name" "${flags[@]}"; then
    fail "torch $name" "$(tail -1 "$out/$name.err")"; top5[$name]="error"; continue
  fi
  grep -o 'backend torch on [^,]*' "$out/$name.err" | head -1
  result=$(compare "$out/cpu.jsonl" "$out/$name.jsonl")
  top5[$name]=$result
  # fp32 on CUDA (cuDNN may use TF32) must give the CPU's top-5; fp16 only scores within a looser bound.
  bound=2e-2; [[ $name == cuda ]] && bound=5e-3
  if [[ ($name != cuda || $result == same*) && $(python3 -c "print(float('${result#* }') <= $bound)") == True ]]; then
    pass "torch $name vs CPU: $result (bound $bound)"
  else
    fail "torch $name vs CPU" "$result (bound $bound)"
  fi
done

# --- 2. throughput on ResNet-50 --------------------------------------------------------------------------------
[[ -f $models/resnet50.pt && -f $models/resnet50.onnx ]] || bash "$ondevice" models "$models" >"$out/models.log" 2>&1
labels=$app/models/labels/imagenet_labels_1000.txt
cat >"$models/model.json" <<JSON
{
  "name": "resnet50",
  "description": "torchvision ResNet-50 architecture, RANDOM weights (on-device.sh models): timing only",
  "files": {
    "onnx": { "path": "resnet50.onnx", "sha256": "$(sha256sum "$models/resnet50.onnx" | cut -d' ' -f1)" },
    "torchscript": { "path": "resnet50.pt", "sha256": "$(sha256sum "$models/resnet50.pt" | cut -d' ' -f1)" }
  },
  "labels": { "path": "$labels", "sha256": "$(sha256sum "$labels" | cut -d' ' -f1)" },
  "input": { "name": "input", "layout": "nchw", "elementType": "float32", "width": 224, "height": 224,
             "channelOrder": "rgb", "scale": 0.00392156862745098, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
             "resize": { "mode": "center_crop", "shorterSide": 256 } },
  "output": { "name": "logits", "kind": "logits", "classes": 1000 }
}
JSON
bench=$out/bench.tsv
: >"$bench"
run_bench() { # LABEL ARGS... (classify-bench MODEL IMAGE BACKEND DEVICE BATCHES SECONDS [fp16] [channels_last])
  local label=$1; shift
  if timeout 240 "$app/classify-bench" "$models" tests/images/chelsea.png "$@" >>"$bench" 2>"$out/bench-$label.err"; then
    pass "bench $label"
  else
    fail "bench $label" "$(tail -1 "$out/bench-$label.err")"
  fi
}
batches=1,32,128,256
run_bench torch-fp32 torch cuda $batches 3
run_bench torch-fp16 torch cuda $batches 3 fp16
run_bench torch-fp16-nhwc torch cuda $batches 3 fp16 channels_last
# ONNX Runtime: on CUDA where the onnx backend of this build runs there; on the CPU only the small batches.
onnx_device=$(timeout 120 "$app/classify-bench" "$models" tests/images/chelsea.png onnx cuda 1 1 2>"$out/bench-onnx-probe.err" | cut -f2)
if [[ $onnx_device == cuda* ]]; then
  run_bench onnx-cuda onnx cuda $batches 3
else
  echo "onnx backend runs on '${onnx_device:-error}' here (no CUDA in this build's onnx backend): CPU batches 1,32 only"
  run_bench onnx-cpu onnx cpu 1,32 3
fi

# --- table ------------------------------------------------------------------------------------------------------
echo
echo "| SqueezeNet 1.1, chelsea + coffee: top-5 vs torch on the CPU | top-5, max score diff |"
echo "|---|---|"
for k in cuda cuda-fp16 cuda-fp16-nhwc; do echo "| torch $k | ${top5[$k]:-not run} |"; done
echo
echo "| ResNet-50 (random weights) | device | precision | batch | img/s | ms/batch |"
echo "|---|---|---|---|---|---|"
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$bench"
echo
echo "$passed passed, $failed failed"
exit $((failed > 0))
