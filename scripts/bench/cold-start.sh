#!/usr/bin/env bash
# Cold start of one whole `classify` process on the bundled cat: N runs, each wall time, then the median.
#   scripts/bench/cold-start.sh [CLASSIFY] [RUNS]    (default: ./dist/classify/classify, 11 runs)
# "Cold" means a new process each time (runtime start, model load and checks, decode, inference, output);
# the files are in the page cache after the first run, which is discarded as a warm-up.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
classify=${1:-$repo/dist/classify/classify}
runs=${2:-11}
[ -x "$classify" ] || { echo "cold-start.sh: $classify not found; run scripts/install.sh first" >&2; exit 1; }

"$classify" >/dev/null # warm-up: page cache
times=()
for _ in $(seq "$runs"); do
  start=$(date +%s%N)
  "$classify" >/dev/null </dev/null
  end=$(date +%s%N)
  times+=("$(( (end - start) / 1000000 ))")
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
echo "runs (ms): ${times[*]}"
echo "cold start median: ${median} ms over ${runs} runs ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
