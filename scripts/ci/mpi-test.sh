#!/usr/bin/env bash
# CI: classify under a real Open MPI (Debian's openmpi-bin), launched as the seed guide's pattern launches the
# container (mpirun -np N ... classify): each rank classifies its shard of the inputs, writes its own zero-padded
# shard file and says on stderr what it detected; classify merge joins the shards into the bytes of one run.
# Installs openmpi-bin when missing (as root). Prints PASS/FAIL per check and, last, "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/ci/lib.sh
. "$repo/scripts/ci/lib.sh"
work=$(mktemp -d /tmp/classify-mpi-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

command -v mpirun >/dev/null || apt_install "$work/apt.log" openmpi-bin
if ! command -v mpirun >/dev/null; then
    fail "Open MPI" "mpirun not found and openmpi-bin could not be installed: $(tail -n 3 "$work/apt.log" 2>/dev/null | tr '\n' ' ')"
    finish
fi
if dotnet build "$repo/src/Classify.Cli" -c Release -nologo -v q >"$work/build.log" 2>&1; then
    pass "build classify (Release)"
else
    fail "build classify" "$(tail -n 3 "$work/build.log" | tr '\n' ' ')"
    finish
fi
classify=${CLASSIFY_TEST_EXECUTABLE:-$repo/src/Classify.Cli/bin/Release/net10.0/classify}
images=$repo/tests/images
mkdir -p "$work/out" "$work/gpu" "$work/one" "$work/pmi"
# As root, Open MPI needs --allow-run-as-root; 4 ranks on 2 cores need --oversubscribe.
mpi=(mpirun --allow-run-as-root --oversubscribe -np 4)

"$classify" --image_dir "$images" --recursive -f jsonl -o "$work/single.jsonl" --quiet 2>"$work/single.err"
total=$(wc -l <"$work/single.jsonl")

"${mpi[@]}" "$classify" --image_dir "$images" --recursive -f jsonl -o "$work/out/results.jsonl" --quiet \
    >"$work/mpi.out" 2>"$work/mpi.err"; rc=$?
shards=$(find "$work/out" -name 'results.shard-000[0-3]-of-0004.jsonl' | wc -l)
mpi_ran() { [ "$rc" = 0 ] && [ "$shards" = 4 ]; }
if mpi_ran; then pass "mpirun -np 4 classify -o out/results.jsonl: 4 shard files results.shard-000I-of-0004.jsonl"
else fail "mpirun -np 4 classify" "exit $rc, $shards shard files: $(find "$work/out" -type f | tr '\n' ' ') $(head -c 400 "$work/mpi.err")"; fi

"$classify" merge --output "$work/merged.jsonl" "$work"/out/results.shard-*.jsonl 2>"$work/merge.err"
if cmp -s "$work/single.jsonl" "$work/merged.jsonl" && [ "$total" -gt 4 ]; then
    pass "classify merge of the 4 rank shards = one run, byte for byte ($total images)"
else
    fail "merge = one run" "$(wc -l <"$work/merged.jsonl" 2>/dev/null) of $total lines; $(head -c 300 "$work/merge.err")"
fi

said=0
for r in 0 1 2 3; do
    grep -q "^classify: Open MPI rank $r of 4 (local rank $r): shard $r/4, images [0-9]*-[0-9]* of $total, on GPU $r (local rank $r; CUDA_VISIBLE_DEVICES unset)" "$work/mpi.err" && said=$((said + 1))
done
if [ "$said" = 4 ]; then pass "each rank names its rank, size, shard and GPU (its local rank) on stderr"
else fail "each rank says what it detected" "$said of 4 lines: $(grep 'Open MPI' "$work/mpi.err" | head -n 4 | tr '\n' '|')"; fi

# Two GPUs visible to every rank (a node's CUDA_VISIBLE_DEVICES, here without a driver): ranks take them in turn.
"${mpi[@]}" -x CUDA_VISIBLE_DEVICES=0,1 "$classify" "$images/chelsea.png" -o "$work/gpu/r.jsonl" --quiet \
    >/dev/null 2>"$work/gpu.err"; rc=$?
turns() {
    [ "$rc" = 0 ] || [ "$rc" = 7 ] || return 1
    grep -q 'rank 3 of 4 (local rank 3).*on GPU 1 (local rank 3 of the 2 GPUs in CUDA_VISIBLE_DEVICES="0,1")' "$work/gpu.err" &&
    grep -q 'rank 2 of 4 (local rank 2).*on GPU 0 (local rank 2 of the 2 GPUs' "$work/gpu.err"
}
if turns; then pass "with CUDA_VISIBLE_DEVICES=0,1 the 4 local ranks take GPUs 0 1 0 1"
else fail "GPU by local rank" "exit $rc: $(grep 'Open MPI' "$work/gpu.err" | head -n 4 | tr '\n' '|')"; fi

# A launcher that already gave each rank one GPU (Slurm --gpus-per-task=1 sets CUDA_VISIBLE_DEVICES per task).
"${mpi[@]}" -x CUDA_VISIBLE_DEVICES=3 "$classify" "$images/chelsea.png" -o "$work/one/r.jsonl" --quiet \
    >/dev/null 2>"$work/one.err"
if [ "$(grep -c 'on GPU 0 (CUDA_VISIBLE_DEVICES="3" already names this task.s GPU)' "$work/one.err")" = 4 ]; then
    pass "CUDA_VISIBLE_DEVICES narrowed to one GPU: every rank uses it (index 0)"
else
    fail "one GPU per task" "$(grep 'Open MPI' "$work/one.err" | head -n 4 | tr '\n' '|')"
fi

# MPICH/Intel MPI's Hydra variables, as a launcher sets them (mpich is not installed beside Open MPI here).
PMI_RANK=1 PMI_SIZE=2 MPI_LOCALRANKID=1 "$classify" --image_dir "$images" --recursive -f jsonl -o "$work/pmi/results.jsonl" --quiet 2>"$work/pmi.err"
PMI_RANK=0 PMI_SIZE=2 MPI_LOCALRANKID=0 "$classify" --image_dir "$images" --recursive -f jsonl -o "$work/pmi/results.jsonl" --quiet 2>>"$work/pmi.err"
"$classify" merge --output "$work/pmi.jsonl" "$work"/pmi/results.shard-*.jsonl 2>>"$work/pmi.err"
if cmp -s "$work/single.jsonl" "$work/pmi.jsonl" && grep -q 'MPICH/Intel MPI (PMI) rank 1 of 2' "$work/pmi.err"; then
    pass "PMI_RANK/PMI_SIZE (MPICH, Intel MPI): 2 shards whose merge = one run"
else
    fail "PMI variables" "$(head -c 300 "$work/pmi.err")"
fi
finish
