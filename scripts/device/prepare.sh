#!/usr/bin/env bash
# Build and pack, HERE (no GPU needed), what travels to the GPU device machine, as ../shared/device/README.md
# describes (the device has no .NET, and one call carries at most 64 MiB with the repository):
#   1. classify as users get it from install.sh and the Dockerfile (Native AOT), self-contained for linux-x64 and
#      WITHOUT libtorch (-p:ClassifyLibTorch=none: the device's PyTorch brings its own), into .device-app;
#   2. classify-bench (scripts/device/bench, the throughput tool of torch-check.sh), self-contained, beside it
#      (--no-bench leaves it out: fewer parts, and torch-check.sh's ResNet-50 step cannot run);
#   3. ../shared/device/pack.sh .device-app .device: xz parts .device/01, 02, ..., each fitting one device call
#      together with the working tree (it sizes them from what else travels, so run this when the tree is final);
#   4. prints the device calls, in order, back to back (the machine keeps /tmp only while warm): every part but the
#      last `bash .device/NN/on-device.sh stash`, the last one also unpacks and runs scripts/device/gpu-check.sh.
# usage: scripts/device/prepare.sh [--dry-run] [--no-bench]
#   --dry-run   print the commands and the calls, run nothing (no .NET needed)
# Environment: SHARED_DEVICE, the folder of pack.sh and on-device.sh (default: ../shared/device beside the repository).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
shared=$(realpath -m "${SHARED_DEVICE:-$repo/../shared/device}")
dry=0 bench=1
for arg in "$@"; do
  case $arg in
    --dry-run) dry=1 ;;
    --no-bench) bench=0 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "usage: scripts/device/prepare.sh [--dry-run] [--no-bench]" >&2; exit 2 ;;
  esac
done
step() { # COMMAND...: shown, then run unless --dry-run
  echo "+ $*" >&2
  ((dry)) || "$@"
}
[[ -f $shared/pack.sh && -f $shared/on-device.sh ]] || { echo "prepare: no pack.sh and on-device.sh in $shared (set SHARED_DEVICE)" >&2; exit 2; }

step rm -rf .device-app
step dotnet publish src/Classify.Cli -c Release -r linux-x64 -p:PublishAot=true -p:ClassifyLibTorch=none \
  -o .device-app -nologo -v q
if ((bench)); then
  step dotnet publish scripts/device/bench -c Release -r linux-x64 --self-contained -p:ClassifyLibTorch=none \
    -o .device-app -nologo -v q
fi
if ((!dry)); then
  ls -l .device-app/classify
  ((bench)) && ls -l .device-app/classify-bench
  if compgen -G '.device-app/libtorch*.so' >/dev/null; then echo "prepare: libtorch leaked into .device-app" >&2; exit 1; fi
  du -sh .device-app
fi
step bash "$shared/pack.sh" .device-app .device

# The calls, for the device tool (its `carry` takes the part's folder).
if ((dry)); then
  parts=(.device/01 .device/NN)
else
  mapfile -t parts < <(find .device -mindepth 1 -maxdepth 1 -type d -name '[0-9][0-9]' | sort)
fi
echo
echo "device calls, back to back (gpu-check.sh: about 6 minutes, CHECK_BUDGET_S=360; give it timeout_s 480):"
last=${parts[${#parts[@]} - 1]}
for p in "${parts[@]}"; do
  if [[ $p == "$last" ]]; then
    echo "  carry [\"$p\"]  command: bash $p/on-device.sh stash && bash $p/on-device.sh unpack && bash scripts/device/gpu-check.sh"
  else
    echo "  carry [\"$p\"]  command: bash $p/on-device.sh stash"
  fi
done
echo "TorchSharp (torch-check.sh, up to 5 minutes more): a call of its own right after, while /tmp/app is still there:"
echo "  carry [\"$last\"]  command: bash scripts/device/torch-check.sh"
echo "then give_back, unless you rerun at once."
