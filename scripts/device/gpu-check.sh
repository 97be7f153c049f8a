#!/usr/bin/env bash
# GPU check: a PASS/FAIL verdict on the real app on a real GPU, sized for one device call of about 6 minutes
# (CHECK_BUDGET_S, default 360) out of a 15-minute lease. Run ON the GPU device machine from the repository root,
# after scripts/device/prepare.sh built and packed the app here and the parts were stashed and unpacked there
# (../shared/device/README.md; prepare.sh prints the calls), the last call being:
#   bash .device/NN/on-device.sh stash && bash .device/NN/on-device.sh unpack && bash scripts/device/gpu-check.sh
# `bash scripts/device/gpu-check.sh --dry-run` prints the plan (every run with its time limit, every check with
# its threshold) and exits 0, anywhere, without a GPU or a built app.
#
# Every command runs under `timeout` (its own limit, cut to what is left of the budget; past the budget a step is
# not run and FAILs). Each verdict is appended to the summary, `PASS|FAIL|SKIP name: measured vs threshold`, the
# moment it is known, so a killed run keeps its table. Exit 0 only when nothing FAILed; 1 otherwise.
# What it checks, on squeezenet1.1 unless named (130 distinct images cut from tests/images at batch 32: four full
# batches and a partial one of 2; the CPU reference runs at its own default batch):
#   doctor (text + JSON) | CUDA vs CPU | preprocessing on the device (the --verbose line says so) and
#   CLASSIFY_GPU_PREPROCESS=off, on vs off | a repeat run, byte for byte | --device auto | --fp16, --fp16
#   --channels_last, --channels_last vs CPU | mobilenet_edgetpu_224_1.0_float, float and fp16 files, vs CPU |
#   mobilenet_v2_1.0_224_quant with --device cuda | two ranks (--shard 0/2 and 1/2 at once on GPU 0), classify merge,
#   vs one run | diagnoses 6, 4, 3, 7 through doctor --json | the warning and CPU fallback without the CUDA
#   libraries | Apptainer without --nv (root only) | classify bench fp32, fp16, fp16+NHWC, float32 upload.
#   TORCH_CHECK=1 also runs scripts/device/torch-check.sh (TorchSharp, ResNet-50; up to 300 s more: past one device
#   call's 600 s unless CHECK_BUDGET_S is lowered, so rather run torch-check.sh in a call of its own).
# Scores are compared by scripts/device/gpu-check.py (python3 stdlib). Logs: $OUT/gpu-check/NAME.{out,err,rc,time}
# ($OUT: the device tool brings it back; without it a new /tmp/gpu-check.XXXXXX), summary: $OUT/summary.txt.
# Environment: CLASSIFY_APP (default /tmp/app/classify), CHECK_BUDGET_S, TOL_* and TOP1_* below, TORCH_CHECK.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.." || exit 2
dry=0
case ${1:-} in
  --dry-run) dry=1 ;;
  -h | --help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  '') ;;
  *) echo "usage: scripts/device/gpu-check.sh [--dry-run]" >&2; exit 2 ;;
esac

# Thresholds. Scores are the probabilities in the jsonl (6 decimals); "max |score diff|" is over the classes in both
# top-5 lists; a top-1 that differs only within the tolerance in both runs (a near-tie) counts as equal.
TOL_FP32=${TOL_FP32:-5e-3}    # fp32 on CUDA (TF32 convolutions) vs the CPU; also ranks vs one run (other batches).
                              # torch-check.sh's bound; TF32 moved ResNet-50 logits by 2.3e-2 (shared README), so a
                              # probability moves by up to about 0.25 x 2e-2.
TOL_FP16=${TOL_FP16:-2e-2}    # --fp16 (with or without --channels_last) vs the CPU ...
TOP1_FP16=${TOP1_FP16:-0.95}  # ... with top-1 equal on at least this fraction of the images
TOL_SAME=${TOL_SAME:-1e-4}    # the same device and batches: preprocessing on vs off, --device auto vs cuda
TOL_QUANT=${TOL_QUANT:-2e-2}  # a uint8 model (probabilities in steps of 1/256) with --device cuda vs the CPU
budget=${CHECK_BUDGET_S:-360}
app=${CLASSIFY_APP:-/tmp/app/classify}
images=130 batch=32 batches=1,32,128,256
photos=(tests/images/chelsea.png tests/images/coffee.png tests/images/astronaut.png tests/images/rocket.jpg)
if ((dry)); then
  out=${OUT:-/tmp/gpu-check.XXXXXX}
else
  out=${OUT:-$(mktemp -d /tmp/gpu-check.XXXXXX)}
  mkdir -p "$out/gpu-check/images" "$out/gpu-check/shards" || exit 2
fi
w=$out/gpu-check
summary=$out/summary.txt
list=$w/images/list.txt
passed=0 failed=0 skipped=0 planned=0 current=setup child='' ranks=''
start=$(date +%s)
deadline=$((start + budget))

row() { # VERDICT NAME MEASURED THRESHOLD: one line of the summary, appended at once
  case $1 in PASS) passed=$((passed + 1)) ;; FAIL) failed=$((failed + 1)) ;; *) skipped=$((skipped + 1)) ;; esac
  printf '%s %s: %s vs %s\n' "$1" "$2" "$3" "$4" | tee -a "$summary"
}
plan() { # KIND NAME LIMIT TEXT (dry run; log paths shown relative to the log folder)
  printf '%-5s %-20s %4s  %s\n' "$1" "$2" "$3" "${4//"$w/"/}"
  [[ $1 == run || $1 == setup ]] && planned=$((planned + ${3%s}))
}
words() { # ARGS...: one line, a word with blanks or shell characters in single quotes
  local a s=
  for a in "$@"; do [[ $a =~ [[:space:]\"\$\&\;\|] ]] && a="'$a'"; s+="$a "; done
  echo "${s% }"
}
run() { # NAME LIMIT COMMAND...: stdout, stderr, exit status and start/end times to $w/NAME.{out,err,rc,time}
  local name=$1 limit=$2 left rc t0
  shift 2
  if ((dry)); then plan run "$name" "${limit}s" "$(words "$@")"; return 0; fi
  current=$name
  left=$((deadline - $(date +%s)))
  ((limit > left)) && limit=$left
  if ((limit < 5)); then
    echo "not run: the check's ${budget} s budget was spent" >"$w/$name.err"
    : >"$w/$name.out"; echo 124 >"$w/$name.rc"; rm -f "$w/$name.time"; return 124
  fi
  t0=$(date +%s.%N)
  timeout -k 5 "$limit" "$@" >"$w/$name.out" 2>"$w/$name.err" &
  child=$!   # waited for in the background, so that a TERM to this script is handled at once (the trap below)
  wait "$child"
  rc=$?
  echo "$rc" >"$w/$name.rc"
  echo "$t0 $(date +%s.%N)" >"$w/$name.time"
  ((rc == 124 || rc == 137)) && echo "gpu-check: killed at its time limit of $limit s" >>"$w/$name.err"
  echo "[$(($(date +%s) - start)) s] $name: exit $rc" >&2
  return "$rc"
}
check() { # NAME THRESHOLD HELPER-ARGS...: gpu-check.py prints what it measured and exits 0 within the threshold
  local name=$1 threshold=$2 measured rc
  shift 2
  if ((dry)); then plan check "$name" 60s "$threshold  [$*]"; return 0; fi
  measured=$(timeout 60 python3 "$here/gpu-check.py" "$@" 2>&1)
  rc=$?
  measured=${measured##*$'\n'}
  if ((rc == 0)); then row PASS "$name" "$measured" "$threshold"; else row FAIL "$name" "${measured:-no output (exit $rc)}" "$threshold"; fi
}
finish() {
  local verdict=PASS
  ((failed == 0)) || verdict=FAIL
  printf 'VERDICT %s: %d passed, %d failed, %d skipped in %d s (budget %d s)\n' "$verdict" "$passed" "$failed" \
    "$skipped" $(($(date +%s) - start)) "$budget" | tee -a "$summary"
  echo "summary: $summary; logs: $w"
  exit $((failed > 0))
}

if ((dry)); then
  echo "gpu-check plan (dry run: nothing runs). app $app; logs $w; summary $summary"
  echo "budget ${budget} s; each run's limit is cut to what is left of it. NAME.out/.err/.rc/.time in the logs."
  # shellcheck disable=SC2016 # printed, not run
  plan setup env 90s 'eval "$(bash .device/NN/on-device.sh env)"  (the device CUDA 13 / cuDNN 9 / libtorch on LD_LIBRARY_PATH)'
else
  echo "gpu-check: summary $summary (each row appended as it is known); logs $w; budget $budget s"
  echo "# gpu-check $(date -u +%FT%TZ) on $(uname -n), app $app" >>"$summary"
  # shellcheck disable=SC2086 # $child and $ranks: process ids or nothing
  trap 'kill -TERM $child $ranks 2>/dev/null
    row FAIL gpu-check "killed during $current after $(($(date +%s) - start)) s" "a run to the end"; finish' TERM INT
  part=$(find .device -mindepth 2 -maxdepth 2 -name on-device.sh 2>/dev/null | sort | tail -1)
  libs="the device's CUDA libraries on the loader path"
  if [[ -z $part ]]; then
    row SKIP setup-env "no .device/NN/on-device.sh here, LD_LIBRARY_PATH kept as it is" "$libs"
  elif envline=$(timeout 90 bash "$part" env 2>"$w/setup-env.err"); then
    eval "$envline"
    row PASS setup-env "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" "$libs"
  else
    row FAIL setup-env "$part env failed: $(tail -1 "$w/setup-env.err")" "$libs"
  fi
  { timeout 20 nvidia-smi 2>&1 || echo "nvidia-smi: not available"; uname -a; } >"$w/machine.log"
  if [[ ! -x $app ]]; then row FAIL app "$app is missing" "the unpacked app (on-device.sh unpack)"; finish; fi
fi

# Inputs: 130 distinct crops of the test photos (Pillow on the device), so a misplaced row shows.
check images "$images images, distinct where Pillow is there" images "$w/images" "$images" "${photos[@]}"
photo_args=()
for p in "${photos[@]}"; do photo_args+=(--image_file "$p"); done
all=(--format jsonl --verbose --image_list "$list")
cuda32=(--device cuda --batch_size "$batch" "${all[@]}")
ran="exit 0, $images results, on cuda"
pre="$ran, --verbose says 'preprocessing on the device'"
fp32="top-1 equal $images/$images, max |score diff| <= $TOL_FP32"
fp16="top-1 equal on >= $TOP1_FP16 of $images, max |score diff| <= $TOL_FP16"
same="top-1 equal $images/$images, max |score diff| <= $TOL_SAME"

# 1. doctor
run doctor 30 "$app" doctor --verbose
run doctor-json 30 "$app" doctor --json
check doctor "exit 0, gpu_usable true, a CUDA execution provider" doctor "$w/doctor-json"

# 2. CUDA at batch 32 (partial last batch) against the CPU; device preprocessing, on and off; repeat; --device auto
run cuda 90 "$app" "${cuda32[@]}"
check cuda "$pre" ran "$w/cuda" --count "$images" --device cuda --pre on
run cpu 60 "$app" --device cpu "${all[@]}"
check cpu "exit 0, $images results, on cpu" ran "$w/cpu" --count "$images" --device cpu
check cuda-vs-cpu "$fp32 (TF32)" compare "$w/cpu.out" "$w/cuda.out" --top1 1 --tol "$TOL_FP32" --tail 2
run cuda-pre-off 60 env CLASSIFY_GPU_PREPROCESS=off "$app" "${cuda32[@]}"
check cuda-pre-off "$ran, NOT preprocessing on the device" ran "$w/cuda-pre-off" --count "$images" --device cuda --pre off
check pre-on-vs-off "$same" compare "$w/cuda-pre-off.out" "$w/cuda.out" --top1 1 --tol "$TOL_SAME"
run cuda-again 60 "$app" "${cuda32[@]}"
check repeat "byte-identical jsonl" same "$w/cuda.out" "$w/cuda-again.out"
run auto 60 "$app" --device auto --batch_size "$batch" "${all[@]}"
check auto "$pre" ran "$w/auto" --count "$images" --device cuda --pre on
check auto-vs-cuda "$same" compare "$w/cuda.out" "$w/auto.out" --top1 1 --tol "$TOL_SAME"

# 3. the engine options, then the float EdgeTPU model (float32 and fp16 files) and a uint8 model with --device cuda
for variant in fp16 fp16-nhwc nhwc; do
  flags=(--fp16) file=(--file fp16) want=$fp16 tol=$TOL_FP16 top1=$TOP1_FP16 says=", model file *fp16*"
  [[ $variant == fp16-nhwc ]] && flags=(--fp16 --channels_last)
  [[ $variant == nhwc ]] && flags=(--channels_last) file=() want=$fp32 tol=$TOL_FP32 top1=1 says=
  run "cuda-$variant" 60 "$app" "${cuda32[@]}" "${flags[@]}"
  check "cuda-$variant" "$pre$says" ran "$w/cuda-$variant" --count "$images" --device cuda --pre on "${file[@]}"
  check "$variant-vs-cpu" "$want" compare "$w/cpu.out" "$w/cuda-$variant.out" --top1 "$top1" --tol "$tol"
done
edge=(--model mobilenet_edgetpu_224_1.0_float)
run edgetpu-cpu 60 "$app" "${edge[@]}" --device cpu "${all[@]}"
check edgetpu-cpu "exit 0, $images results, on cpu" ran "$w/edgetpu-cpu" --count "$images" --device cpu
run edgetpu-cuda 60 "$app" "${edge[@]}" "${cuda32[@]}"
check edgetpu-cuda "$pre" ran "$w/edgetpu-cuda" --count "$images" --device cuda --pre on
check edgetpu-vs-cpu "$fp32" compare "$w/edgetpu-cpu.out" "$w/edgetpu-cuda.out" --top1 1 --tol "$TOL_FP32"
run edgetpu-fp16 60 "$app" "${edge[@]}" "${cuda32[@]}" --fp16
check edgetpu-fp16 "$pre, model file *fp16*" ran "$w/edgetpu-fp16" --count "$images" --device cuda --pre on --file fp16
check edgetpu-fp16-vs-cpu "$fp16" compare "$w/edgetpu-cpu.out" "$w/edgetpu-fp16.out" --top1 "$TOP1_FP16" --tol "$TOL_FP16"
quant=(--model mobilenet_v2_1.0_224_quant --format jsonl --verbose "${photo_args[@]}")
run quant-cpu 45 "$app" --device cpu "${quant[@]}"
run quant-cuda 45 "$app" --device cuda "${quant[@]}"
check quant-cuda "exit 0, 4 results (QLinearConv has no CUDA kernel: placement shown)" ran "$w/quant-cuda" --count 4
check quant-vs-cpu "top-1 equal 4/4, max |score diff| <= $TOL_QUANT" compare "$w/quant-cpu.out" "$w/quant-cuda.out" --top1 1 --tol "$TOL_QUANT"

# 4. two ranks on one GPU at once, merged, against the one run (other batches: 32+32+1 per rank, so fp32's bound)
rank() { run "rank-$1" 90 "$app" "${cuda32[@]}" --gpu 0 --shard "$1/2" --output "$w/shards/results.{shard}.jsonl"; }
if ((dry)); then
  rank 0; rank 1
else
  current=ranks
  rank 0 &
  ranks=$!
  rank 1 &
  ranks="$ranks $!"
  wait
fi
check ranks "both exit 0 on cuda, running at the same time" ranks "$w/rank-0" "$w/rank-1"
run merge 30 "$app" merge --output "$w/merged.jsonl" "$w"/shards/results.shard-*.jsonl
check merge "exit 0" ran "$w/merge"
check ranks-vs-one "$fp32" compare "$w/cuda.out" "$w/merged.jsonl" --top1 1 --tol "$TOL_FP32"

# 5. real diagnoses on real hardware (doctor --json's diagnosis.number), and what a user sees without the CUDA libraries
run diag-no-cuda-libs 30 env LD_LIBRARY_PATH= "$app" doctor --json
check diag-no-cuda-libs "diagnosis 6" diagnosis "$w/diag-no-cuda-libs" 6
run diag-cvd-hidden 30 env CUDA_VISIBLE_DEVICES=-1 "$app" doctor --json
check diag-cvd-hidden "diagnosis 4" diagnosis "$w/diag-cvd-hidden" 4
run diag-slurm-no-gpu 30 env SLURM_JOB_ID=4242 "$app" doctor --json
check diag-slurm-no-gpu "diagnosis 3" diagnosis "$w/diag-slurm-no-gpu" 3
run diag-gpu-7 30 "$app" doctor --json --gpu 7
check diag-gpu-7 "diagnosis 7" diagnosis "$w/diag-gpu-7" 7
run cpu-chelsea 30 "$app" --device cpu --image_file tests/images/chelsea.png
run no-cuda-libs 30 env LD_LIBRARY_PATH= "$app" --image_file tests/images/chelsea.png
check no-cuda-libs "exit 0, a 'warning:' line, stdout = --device cpu's" fallback "$w/no-cuda-libs" "$w/cpu-chelsea" --warn
# Apptainer/Singularity without --nv: /dev/nvidia* stay, libcuda.so.1 is gone (/dev/null bound over it). Root only.
libcuda=$( ((dry)) || python3 -c 'import json,sys; print(next((l["path"] or "") for l in json.load(open(sys.argv[1]))["libraries"] if l["name"] == "libcuda.so.1"))' \
  "$w/doctor-json.out" 2>/dev/null)
if ((dry)) || { [[ $(id -u) == 0 && -n $libcuda ]] && command -v unshare >/dev/null; }; then
  # shellcheck disable=SC2016 # the inner shell expands $1 and $@
  run apptainer-no-nv 30 env APPTAINER_CONTAINER=/scratch/classifier.sif unshare --mount --propagation private -- \
    sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' sh "${libcuda:-LIBCUDA_FROM_DOCTOR}" "$app" --image_file tests/images/chelsea.png
  check apptainer-no-nv "exit 0, a 'warning:' line, stdout = --device cpu's" fallback "$w/apptainer-no-nv" "$w/cpu-chelsea" --warn
else
  row SKIP apptainer-no-nv "not run (needs root, unshare and libcuda's path from doctor)" "exit 0, a 'warning:' line, stdout = --device cpu's"
fi

# 6. classify bench, model only (uint8 upload and device preprocessing unless CLASSIFY_GPU_PREPROCESS=off)
for variant in fp32 fp16 fp16-nhwc float-upload; do
  flags=() cmd=("$app")
  [[ $variant == fp16* ]] && flags=(--fp16)
  [[ $variant == fp16-nhwc ]] && flags+=(--channels_last)
  [[ $variant == float-upload ]] && cmd=(env CLASSIFY_GPU_PREPROCESS=off "$app")
  run "bench-$variant" 90 "${cmd[@]}" bench --device cuda "${flags[@]}" --batch_sizes "$batches" --seconds 1 --json
  check "bench-$variant" "exit 0, on cuda, img/s > 0 at batches $batches" bench "$w/bench-$variant" "$batches"
done

# 7. TorchSharp on CUDA and ResNet-50 throughput (torch-check.sh), only when asked: it outlasts this budget.
if [[ ${TORCH_CHECK:-0} == 1 ]]; then
  deadline=$(($(date +%s) + 300)) budget=$((budget + 300))
  run torch-check 300 env OUT="$out" CLASSIFY_APP="$app" bash scripts/device/torch-check.sh
  check torch-check "exit 0 (no torch-check.sh line FAILs)" ran "$w/torch-check" --last 1
elif ((dry)); then
  plan skip torch-check "" "TORCH_CHECK=1 runs scripts/device/torch-check.sh here (300 s more)"
else
  row SKIP torch-check "not run" "TORCH_CHECK=1 runs scripts/device/torch-check.sh (300 s more)"
fi

if ((dry)); then
  echo "sum of the run limits ${planned} s; the check stops at its ${budget} s budget (later steps FAIL, not run)"
  echo "thresholds: TOL_FP32=$TOL_FP32 TOL_FP16=$TOL_FP16 TOP1_FP16=$TOP1_FP16 TOL_SAME=$TOL_SAME TOL_QUANT=$TOL_QUANT"
  exit 0
fi
finish
