#!/usr/bin/env bash
# CI: the sbatch scripts in scripts/slurm, run for real on a one-node Slurm 22.05 cluster with two fake
# GPUs (scripts/ci/slurm-cluster.sh), with the container call replaced by the built classify.
# Prints PASS/FAIL per check and, last, "N passed, N failed". Needs root; tears the cluster down on exit.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cluster=$repo/scripts/ci/slurm-cluster.sh
slurm=$repo/scripts/slurm
started=$SECONDS
passed=0
failed=0
last=$SECONDS
pass() { echo "PASS: $1 ($((SECONDS - last)) s)"; passed=$((passed + 1)); last=$SECONDS; }
fail() { echo "FAIL: $1: $2 ($((SECONDS - last)) s)"; failed=$((failed + 1)); last=$SECONDS; }
# A check that cannot run yet (a feature another part of the project has not delivered); not counted.
skip() { echo "SKIP: $1: $2"; }
finish() {
    echo "slurm-test: $((SECONDS - started)) s"
    echo "$passed passed, $failed failed"
    [[ $failed -eq 0 ]]
    exit
}

work=$(mktemp -d /tmp/classify-slurm-test.XXXXXX)
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    "$cluster" down >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
logs=$work/logs
mkdir -p "$logs"

# --- the app ---------------------------------------------------------------------------------------------
if dotnet build "$repo/src/Classify.Cli" -c Release -nologo -v q >"$work/build.log" 2>&1; then
    pass "build classify (Release)"
else
    fail "build classify (Release)" "dotnet build failed: $(tail -n 3 "$work/build.log" | tr '\n' ' ')"
    finish
fi
classify=$repo/src/Classify.Cli/bin/Release/net10.0/classify
# What every sbatch script runs instead of "singularity exec --nv $SIF classify".
export CLASSIFY=$classify

# --- the cluster -------------------------------------------------------------------------------------------
if "$cluster" up >"$work/cluster.log" 2>&1; then
    pass "one-node cluster up, node idle"
else
    fail "one-node cluster up, node idle" "$(tail -n 5 "$work/cluster.log" | tr '\n' ' ')"
    finish
fi
eval "$("$cluster" env)"

lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
# Waits for a job (every task of an array) to leave the queue; returns its exit code (an array's highest;
# 128+N for a signal). Polls, since sbatch --wait sleeps up to 10 s between its own checks.
wait_job() {
    local code signal status=0
    for _ in $(seq 3000); do
        [[ -z $(squeue -h -j "$1" 2>/dev/null) ]] && break
        sleep 0.2
    done
    while IFS=: read -r code signal; do
        ((signal > 0)) && code=$((128 + signal))
        ((code > status)) && status=$code
    done < <(scontrol show job "$1" | grep -o ' ExitCode=[0-9]*:[0-9]*' | cut -d= -f2)
    return "$status"
}
# Submits and waits; prints the job id and returns the job's exit code.
run_job() {
    local id
    id=$(sbatch --parsable "$@" 2>>"$work/sbatch.err") || return 1
    echo "$id"
    wait_job "$id"
}
exit_code_of() { scontrol show job "$1" | grep -o 'ExitCode=[0-9]*:[0-9]*' | head -n1; }

if jid=$(run_job -o "$logs/trivial.out" --wrap 'echo ok') && grep -qx ok "$logs/trivial.out"; then
    pass "trivial sbatch job runs"
else
    fail "trivial sbatch job runs" "job ${jid:-?} did not print ok; $(tail -n 2 "$work/sbatch.err")"
fi

# --- inputs: the test photos, several copies in subfolders, plus one broken image --------------------------
images=$work/images
for set in a b c d; do
    mkdir -p "$images/$set"
    cp "$repo"/tests/images/*.png "$repo"/tests/images/*.jpg "$images/$set/"
done
head -c 2000 "$repo/tests/images/chelsea.png" >"$images/c/broken.png"
total=$(find "$images" -type f | wc -l)

reference=$work/reference.jsonl
"$classify" --image_dir "$images" --recursive --format jsonl --output "$reference" 2>"$work/reference.err"
rc=$?
if [[ $rc -eq 7 && $(lines "$reference") -eq $total ]]; then
    pass "single-process reference run ($total images, one broken: exit 7)"
else
    fail "single-process reference run" "exit $rc, $(lines "$reference") lines for $total images"
fi

# --- array job + dependent merge ----------------------------------------------------------------------------
out=$work/array
array_args=(--array=0-3 --cpus-per-task=2 -o "$logs/array-%A_%a.out")
# No GPU in CI: the header's --gres=gpu:1 still schedules on the fake GPUs, REQUIRE_GPU=0 lets classify use the CPU.
export REQUIRE_GPU=0
if array_id=$(run_job "${array_args[@]}" --export="ALL,OUT_DIR=$out" "$slurm/classify-array.sbatch" "$images"); then
    pass "array job of 4 tasks (classify-array.sbatch)"
else
    fail "array job of 4 tasks (classify-array.sbatch)" "$(exit_code_of "${array_id:-0}"); $(cat "$logs"/array-*.out | tail -n 5 | tr '\n' ' ')"
fi
shard_lines=()
for f in "$out"/results.shard-*-of-0004.jsonl; do
    [[ -f $f ]] && shard_lines+=("$(lines "$f")")
done
if [[ ${#shard_lines[@]} -eq 4 && ! " ${shard_lines[*]} " =~ " 0 " ]]; then
    pass "4 shard files, each with work (${shard_lines[*]} images)"
else
    fail "4 shard files, each with work" "found ${#shard_lines[@]} shard files (${shard_lines[*]:-none} lines)"
fi

merged=$out/results.jsonl
if merge_id=$(run_job --dependency="afterok:${array_id:-0}" -o "$logs/merge.out" --export="ALL,OUT_DIR=$out" \
    "$slurm/classify-merge.sbatch") && cmp -s "$merged" "$reference"; then
    pass "merge job (afterok) output is byte-equal to the single-process run"
else
    fail "merge job (afterok) output is byte-equal to the single-process run" \
        "job ${merge_id:-?} $(exit_code_of "${merge_id:-0}"); $(tail -n 3 "$logs/merge.out" 2>/dev/null | tr '\n' ' ')$(diff <(cut -c1-100 "$reference") <(cut -c1-100 "$merged" 2>/dev/null) | head -n 4 | tr '\n' ' ')"
fi

# --- rerun: finished tasks are skipped; a lost shard is redone by resubmitting only its task ---------------
before=$(stat -c %Y "$out"/results.shard-0000-of-0004.jsonl 2>/dev/null)
rm -f "$out/results.shard-0002-of-0004.jsonl" "$merged"
if run_job "${array_args[@]}" -o "$logs/rerun-%A_%a.out" --export="ALL,OUT_DIR=$out" \
    "$slurm/classify-array.sbatch" "$images" >/dev/null \
    && [[ $(grep -l "already done" "$logs"/rerun-*.out | wc -l) -eq 3 ]] \
    && [[ $(stat -c %Y "$out"/results.shard-0000-of-0004.jsonl) == "$before" ]] \
    && run_job -o "$logs/merge2.out" --export="ALL,OUT_DIR=$out" "$slurm/classify-merge.sbatch" >/dev/null \
    && cmp -s "$merged" "$reference"; then
    pass "rerun of the array skips the 3 finished tasks, redoes the lost shard, merge still equal"
else
    fail "rerun of the array skips finished tasks" "$(grep -h . "$logs"/rerun-*.out "$logs/merge2.out" 2>/dev/null | tail -n 6 | tr '\n' ' ')"
fi

rm -f "$out/results.shard-0001-of-0004.jsonl" "$merged"
merge_id=$(run_job -o "$logs/merge3.out" --export="ALL,OUT_DIR=$out" "$slurm/classify-merge.sbatch")
rc=$?
if [[ $rc -eq 30 && $(exit_code_of "$merge_id") == ExitCode=30:0 ]] \
    && grep -q "results.shard-0001-of-0004.jsonl" "$logs/merge3.out" && [[ ! -e $merged ]]; then
    pass "merge with a missing shard fails with exit 30, names the file, writes nothing"
else
    fail "merge with a missing shard fails with exit 30" "exit $rc; $(tail -n 2 "$logs/merge3.out" | tr '\n' ' ')"
fi

# --- a task killed mid-run (time limit, preemption) resumes from its journal --------------------------------
# 160 small photos: the cancel below must land while the job is still classifying (a window of seconds after the 8th
# record, on any machine), and the other jobs that use them stay quick.
many=$work/many
mkdir -p "$many"
for i in $(seq -w 1 40); do
    for f in "$repo"/tests/images/*.png "$repo"/tests/images/*.jpg; do cp "$f" "$many/$i-$(basename "$f")"; done
done
many_total=$(find "$many" -type f | wc -l)
"$classify" --image_dir "$many" --format jsonl --output "$work/many-reference.jsonl" 2>/dev/null
resumed=$work/resumed.jsonl
gpu_job() { sbatch --parsable --cpus-per-task=2 --export="ALL,OUTPUT=$resumed,FORMAT=jsonl" "$@" \
    "$slurm/classify-gpu.sbatch" "$many" --batch_size 4; }
kill_id=$(gpu_job -o "$logs/killed.out")
journal_lines=0
for _ in $(seq 600); do
    journal_lines=$(lines "$resumed.partial")
    [[ $journal_lines -ge 9 ]] && break
    sleep 0.1
done
scancel "$kill_id"
wait_job "$kill_id"
kept=$(($(lines "$resumed.partial") - 1))
if [[ ! -e $resumed && $kept -ge 8 && $kept -lt $many_total ]]; then
    pass "cancelled job left no output, and a journal of $kept of $many_total images"
else
    fail "cancelled job left a journal" "output exists: $([[ -e $resumed ]] && echo yes || echo no), journal records: $kept of $many_total"
fi
resume_id=$(gpu_job -o "$logs/resumed.out")
wait_job "$resume_id"
rc=$?
if [[ $rc -eq 0 ]] && grep -q "resuming: $kept of $many_total" "$logs/resumed.out" \
    && cmp -s "$resumed" "$work/many-reference.jsonl" && [[ ! -e $resumed.partial ]]; then
    pass "resubmitted job resumed after $kept images; output byte-equal to an uninterrupted run"
else
    fail "resubmitted job resumed" "job $resume_id exit $rc; $(tail -n 3 "$logs/resumed.out" | tr '\n' ' ')"
fi

# --- sharding from Slurm's environment ----------------------------------------------------------------------
# Array tasks without --shard: the shard comes from SLURM_ARRAY_TASK_ID/COUNT, and each task writes its own tagged file
# although all share one --output (the job's one command line).
env_out=$work/env-array
mkdir -p "$env_out"
if run_job --array=0-2 -o "$logs/env-array-%a.out" --wrap \
    "$classify --image_dir $images --recursive --format jsonl --output $env_out/r.jsonl; [ \$? -le 7 ]" >/dev/null \
    && [[ ! -e $env_out/r.jsonl ]] \
    && "$classify" merge --output "$env_out/merged.jsonl" "$env_out"/r.shard-000{0,1,2}-of-0003.jsonl 2>/dev/null \
    && cmp -s "$env_out/merged.jsonl" "$reference" && grep -q "shard 1/3 from Slurm.*results to $env_out/r.shard-0001-of-0003.jsonl" "$logs/env-array-1.out"; then
    pass "array tasks without --shard, one --output: each writes FILE.shard-I-of-N (named on stderr); merged equals the single run"
else
    fail "array tasks take their shard from the environment" "$(cat "$logs"/env-array-*.out | tail -n 4 | tr '\n' ' ')"
fi

# srun with 2 tasks: each takes SLURM_PROCID of the step's tasks.
srun_out=$work/srun
mkdir -p "$srun_out"
if run_job -n 2 -o "$logs/srun.out" --wrap \
    "srun $classify --image_dir $images --recursive --output '$srun_out/r.{shard}.jsonl'; [ \$? -le 7 ]" >/dev/null \
    && [[ -f $srun_out/r.shard-0000-of-0002.jsonl && -f $srun_out/r.shard-0001-of-0002.jsonl ]] \
    && "$classify" merge --output "$srun_out/merged.jsonl" "$srun_out"/r.shard-*-of-*.jsonl 2>/dev/null \
    && cmp -s "$srun_out/merged.jsonl" "$reference"; then
    pass "srun -n 2 tasks shard by SLURM_PROCID into --output r.{shard}.jsonl (zero-padded names); merged equals the single run"
else
    fail "srun -n 2 tasks shard by SLURM_PROCID" "$(tail -n 4 "$logs/srun.out" | tr '\n' ' ')"
fi

# The batch script of an -n 2 job has SLURM_PROCID=0 and SLURM_NTASKS=2 but is one process: no sharding.
run_job -n 2 -o "$logs/batch-step.out" --wrap "$classify --image_dir $images --recursive --format jsonl --output $work/batch-step.jsonl" >/dev/null
if cmp -s "$work/batch-step.jsonl" "$reference"; then
    pass "classify in the batch script of an -n 2 job (no srun) classifies everything"
else
    fail "classify in the batch script of an -n 2 job classifies everything" "$(lines "$work/batch-step.jsonl") lines of $total"
fi

# --- every GPU of a node (classify-multigpu.sbatch) and the MPI pattern (classify-mpi.sbatch) ---------------
# Two srun tasks on the two fake GPUs: each takes its shard and the GPU of its local rank; the job merges.
mg=$work/multigpu
mg_args=(-n 2 --gres=gpu:2 --cpus-per-task=1 --mem=1G --export="ALL,OUT_DIR=$mg")
if run_job "${mg_args[@]}" -o "$logs/multigpu.out" "$slurm/classify-multigpu.sbatch" "$images" >/dev/null \
    && cmp -s "$mg/results.jsonl" "$reference"; then
    pass "classify-multigpu.sbatch: 2 srun tasks, their merge byte-equal to the single run"
else
    fail "classify-multigpu.sbatch" "$(tail -n 4 "$logs/multigpu.out" | tr '\n' ' ')"
fi
if grep -q 'Slurm srun rank 1 of 2 (local rank 1): shard 1/2.*on the CPU\|Slurm srun rank 1 of 2 (local rank 1): shard 1/2.*GPU 1' "$logs/multigpu.out" \
    && grep -q 'Slurm srun rank 0 of 2 (local rank 0): shard 0/2' "$logs/multigpu.out"; then
    pass "each task names its rank, shard and GPU ($(grep -o 'rank 1 of 2.*' "$logs/multigpu.out" | head -n 1 | cut -c1-120))"
else
    fail "each task names its rank and GPU" "$(grep -i 'rank\|task' "$logs/multigpu.out" | head -n 4 | tr '\n' '|')"
fi
rm -f "$mg/results.jsonl"
if run_job "${mg_args[@]}" -o "$logs/multigpu2.out" "$slurm/classify-multigpu.sbatch" "$images" >/dev/null \
    && [[ $(grep -c 'already done' "$logs/multigpu2.out") == 2 ]] && cmp -s "$mg/results.jsonl" "$reference"; then
    pass "classify-multigpu.sbatch submitted again: both finished tasks skipped, merged again"
else
    fail "classify-multigpu.sbatch resume" "$(tail -n 4 "$logs/multigpu2.out" | tr '\n' ' ')"
fi

if command -v mpirun >/dev/null; then
    # As root, Open MPI needs --allow-run-as-root; --oversubscribe lets 2 ranks share the test node's cores.
    export MPIRUN="mpirun --allow-run-as-root --oversubscribe"
    mpi_out=$work/mpi
    if run_job -N 1 --ntasks-per-node=2 --gres=gpu:2 --cpus-per-task=1 --mem=1G --export="ALL,OUT_DIR=$mpi_out" \
        -o "$logs/mpi.out" "$slurm/classify-mpi.sbatch" "$images" >/dev/null \
        && cmp -s "$mpi_out/results.jsonl" "$reference" && grep -q 'Open MPI rank 1 of 2' "$logs/mpi.out"; then
        pass "classify-mpi.sbatch: mpirun -np 2 in the job, Open MPI ranks shard, merge byte-equal to the single run"
    else
        fail "classify-mpi.sbatch" "$(tail -n 5 "$logs/mpi.out" | tr '\n' ' ')"
    fi
    unset MPIRUN
else
    skip "classify-mpi.sbatch" "no mpirun (openmpi-bin; scripts/ci/mpi-test.sh installs it)"
fi

# --- job scripts that adapt themselves ----------------------------------------------------------------------
# OUTPUT=photos.csv without FORMAT: the format follows the extension (it used to fail after the queue wait).
csv_out=$work/photos.csv
if run_job --cpus-per-task=1 -o "$logs/csv.out" --export="ALL,OUTPUT=$csv_out" "$slurm/classify-gpu.sbatch" "$many" >/dev/null \
    && [[ $(head -n 1 "$csv_out") == file,rank,label,* && $(lines "$csv_out") -eq $((many_total * 5 + 1)) ]]; then
    pass "OUTPUT=photos.csv sbatch classify-gpu.sbatch: a csv of $many_total images x 5 predictions, FORMAT taken from the name"
else
    fail "OUTPUT=photos.csv without FORMAT" "$(tail -n 3 "$logs/csv.out" | tr '\n' ' ')"
fi

# A 1-based array (--array=1-3) runs shards 0..2 of 3, whose merge is the single run.
ob=$work/one-based
if run_job --array=1-3 --cpus-per-task=1 -o "$logs/one-based-%a.out" --export="ALL,OUT_DIR=$ob" "$slurm/classify-array.sbatch" "$images" >/dev/null \
    && "$classify" merge --output "$ob/merged.jsonl" "$ob"/results.shard-000{0,1,2}-of-0003.jsonl 2>/dev/null \
    && cmp -s "$ob/merged.jsonl" "$reference"; then
    pass "sbatch --array=1-3 classify-array.sbatch: shards 0-2 of 3, merge byte-equal to the single run"
else
    fail "a 1-based array" "$(cat "$logs"/one-based-*.out 2>/dev/null | tail -n 4 | tr '\n' ' ')"
fi

# MODULES under Lmod, whose scripts read unset variables: module load must not meet set -u (TACC/Lmod#839).
# shellcheck disable=SC2317,SC2329 # exported to the job's bash
module() { : "$CLASSIFY_TEST_UNSET_BY_LMOD"; }
export -f module
lmod_out=$work/lmod.jsonl
if run_job --cpus-per-task=1 -o "$logs/lmod.out" --export="ALL,MODULES=classify-test,OUTPUT=$lmod_out" "$slurm/classify-gpu.sbatch" "$many" >/dev/null \
    && cmp -s "$lmod_out" "$work/many-reference.jsonl"; then
    pass "MODULES with an Lmod-like module function that reads an unset variable: the job runs"
else
    fail "module load under set -u" "$(tail -n 3 "$logs/lmod.out" | tr '\n' ' ')"
fi
unset -f module

# A failed array task: the afterok merge is cancelled (--kill-on-invalid-dep in its header), not left pending.
bad_id=$(run_job --array=0-1 --cpus-per-task=1 -o "$logs/bad-%a.out" --export="ALL,OUT_DIR=$work/bad,MODEL=no-such-model" \
    "$slurm/classify-array.sbatch" "$images")
orphan=$(sbatch --parsable --dependency="afterok:$bad_id" -o "$logs/orphan.out" --export="ALL,OUT_DIR=$work/bad" "$slurm/classify-merge.sbatch" 2>>"$work/sbatch.err")
for _ in $(seq 150); do
    [[ -z $(squeue -h -j "$orphan" 2>/dev/null) ]] && break
    sleep 0.2
done
state=$(scontrol show job "$orphan" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n 1)
if [[ -z $(squeue -h -j "$orphan" 2>/dev/null) && $state != JobState=COMPLETED ]]; then
    pass "a failed array task: the dependent merge is cancelled, not pending for ever ($state)"
else
    fail "the merge after a failed array" "still queued or ran: $state $(squeue -h -j "$orphan" -o '%T %r' 2>/dev/null)"
    scancel "$orphan" 2>/dev/null
fi

# --- GPUs ------------------------------------------------------------------------------------------------
gres_out=$logs/gres.out
# shellcheck disable=SC2016 # expanded in the job, not here
run_job --gres=gpu:1 -o "$gres_out" --wrap 'echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset}"' >/dev/null
if grep -Eq '^CUDA_VISIBLE_DEVICES=[0-9]+$' "$gres_out"; then
    pass "a --gres=gpu:1 job sees $(head -n1 "$gres_out")"
else
    fail "a --gres=gpu:1 job sees CUDA_VISIBLE_DEVICES" "$(head -n 2 "$gres_out" | tr '\n' ' ')"
fi
if "$classify" doctor --help >/dev/null 2>&1; then
    run_job --gres=gpu:1 -o "$logs/doctor.out" --wrap "echo \"job got CUDA_VISIBLE_DEVICES=\$CUDA_VISIBLE_DEVICES\"; $classify doctor" >/dev/null
    cvd=$(sed -n 's/^job got CUDA_VISIBLE_DEVICES=//p' "$logs/doctor.out")
    # The value, not just the name: doctor names the variable even when it is unset.
    if [[ -n $cvd ]] && grep -v '^job got' "$logs/doctor.out" | grep -Eq "CUDA_VISIBLE_DEVICES.*\b$cvd\b"; then
        pass "classify doctor in a --gres=gpu:1 job reports CUDA_VISIBLE_DEVICES=$cvd"
    else
        fail "classify doctor in a --gres=gpu:1 job reports CUDA_VISIBLE_DEVICES" "$(head -n 5 "$logs/doctor.out" | tr '\n' ' ')"
    fi
else
    skip "classify doctor reports CUDA_VISIBLE_DEVICES" "this build has no doctor command"
fi

# A job without a GPU, classify-gpu.sbatch as written (--require-gpu): exit 20, GpuUnavailable.
if CUDA_VISIBLE_DEVICES="" "$classify" --require-gpu --image_file "$repo/tests/images/chelsea.png" >/dev/null 2>&1; then
    skip "no-GPU job with --require-gpu exits 20" "--require-gpu does not fail without a GPU in this build"
else
    nogpu_id=$(run_job --gres=none -o "$logs/nogpu.out" --export="ALL,REQUIRE_GPU=1,OUTPUT=$work/nogpu.jsonl" \
        "$slurm/classify-gpu.sbatch" "$images")
    rc=$?
    if [[ $rc -eq 20 && $(exit_code_of "$nogpu_id") == ExitCode=20:0 && ! -e $work/nogpu.jsonl ]]; then
        pass "no-GPU job running classify-gpu.sbatch (--require-gpu) fails with exit 20 (GpuUnavailable)"
    else
        fail "no-GPU job with --require-gpu exits 20" "exit $rc; $(tail -n 3 "$logs/nogpu.out" | tr '\n' ' ')"
    fi
fi

finish
