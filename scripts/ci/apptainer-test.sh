#!/usr/bin/env bash
# CI for the SIF (issue 25): a real Apptainer builds classifier.sif with container/build-sif.sh from the image that
# scripts/ci/docker-test.sh builds, and the promises of the README and container/README.md are checked on that SIF:
# exec/run/test/run-help/inspect, binds with overlay off, files written through the container, resume, --cleanenv
# and --containall, --nv without a GPU and on a faked GPU node, the seed's MPI pattern (host mpirun launching
# containers) and the Slurm scripts running the SIF on a real Slurm.
#
# Debian 12 has no Apptainer; Debian unstable has 1.4.5, which needs a newer glibc, so it runs in a sid root file
# system (debootstrap, cached in $state) under bubblewrap, which pivots into it (Apptainer refuses a plain chroot).
# A wrapper named `apptainer` ($work/bin) does that and binds this repository, $work and /tmp at the same paths, so
# that every command here (and in the Slurm jobs and MPI ranks) reads as a user's. Root here lacks
# CAP_SYS_RESOURCE, so the root's apptainer.conf says `root default capabilities = no`, and the build skips %test
# (`build-sif.sh --notest`; `apptainer test` runs it afterwards). Apptainer runs as root here, as with a setuid
# install; an unprivileged user cannot run a SIF inside this sandbox (README: container/README.md, Tests).
#
# CLASSIFY_KEEP_SIF=PATH keeps the SIF built here at PATH. CLASSIFY_CI_IMAGE_BUILT=1 (set by scripts/test.sh after
# docker-test.sh) means the image is fresh; otherwise docker-test.sh runs first to build it.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/ci/lib.sh
. "$repo/scripts/ci/lib.sh"
state=/var/lib/classify-apptainer-ci
root=$state/sid-v1
image=classify-ci/classify:test
sock=/run/ci-apptainer-docker.sock
export DEBIAN_FRONTEND=noninteractive
started=$SECONDS
last=$SECONDS
pass() { echo "PASS: $1 ($((SECONDS - last)) s)"; passed=$((passed + 1)); last=$SECONDS; }
fail() { echo "FAIL: $1: $2 ($((SECONDS - last)) s)"; failed=$((failed + 1)); last=$SECONDS; }
check() { # check NAME WHY-IF-FAILED COMMAND...
    local name=$1 why=$2; shift 2
    if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}
work=$(mktemp -d /tmp/classify-apptainer-test.XXXXXX)
dockerd_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [ -n "$dockerd_pid" ] && { kill "$dockerd_pid" 2>/dev/null; wait "$dockerd_pid" 2>/dev/null; }
    if mountpoint -q /run/ci-apptainer-docker/netns/default 2>/dev/null; then umount /run/ci-apptainer-docker/netns/default; fi
    "$repo/scripts/ci/slurm-cluster.sh" down >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
finish() {
    echo "apptainer-test: $((SECONDS - started)) s"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# --- tools and the Apptainer root (cached) -------------------------------------------------------------------
need=()
for tool in bwrap:bubblewrap debootstrap:debootstrap mpirun:openmpi-bin dockerd:docker.io; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    apt_install "$work/apt.log" "${need[@]}" \
        || { fail "install ${need[*]}" "$(tail -n 3 "$work/apt.log" | tr '\n' ' ')"; finish; }
fi
if [ ! -x "$root/usr/bin/apptainer" ]; then
    rm -rf "$root.tmp"; mkdir -p "$state"
    if debootstrap --variant=minbase --include=ca-certificates sid "$root.tmp" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
        && cp /etc/hosts /etc/resolv.conf "$root.tmp/etc/" \
        && chroot "$root.tmp" /bin/sh -c 'apt-get -o Acquire::Check-Valid-Until=false update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apptainer e2fsprogs \
            && rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/*' >"$work/root.log" 2>&1; then
        mv "$root.tmp" "$root"
    else
        fail "Apptainer root (debootstrap sid + apt-get install apptainer)" "$(tail -n 3 "$work/debootstrap.log" "$work/root.log" 2>/dev/null | tr '\n' ' ')"
        finish
    fi
fi
conf=$root/etc/apptainer/apptainer.conf
sed -i -e 's/^#\? *root default capabilities *=.*/root default capabilities = no/' \
       -e 's/^#\? *enable overlay *=.*/enable overlay = yes/' -e 's/^#\? *enable underlay *=.*/enable underlay = yes/' "$conf"
mkdir -p "$work/bin" "$work/fakedev"
# The wrapper: Apptainer in the sid root, with this repository, $work and /tmp at their own paths. With
# FAKE_GPU_NODE=1 the node also looks like a GPU node (device nodes and the driver's /proc file, as the
# GPU tests fake them; no libcuda): /dev is then a copy of the host's plus /dev/nvidia0 and /dev/nvidiactl
# (/dev/null's device), so that nothing is created in the host's /dev.
had_nvidia=$(ls /dev/nvidia* 2>/dev/null | wc -l)
cp -a /dev/. "$work/fakedev/" 2>/dev/null
mknod -m 666 "$work/fakedev/nvidia0" c 1 3 && mknod -m 666 "$work/fakedev/nvidiactl" c 1 3
cat >"$work/bin/apptainer" <<EOF
#!/bin/bash
dev=(--dev-bind /dev /dev)
if [ "\${FAKE_GPU_NODE:-}" = 1 ]; then
    dev=(--dev-bind "$work/fakedev" /dev --tmpfs /dev/shm --tmpfs /proc/driver)
fi
exec bwrap --bind "$root" / --proc /proc "\${dev[@]}" --bind /sys /sys --bind /tmp /tmp \\
    --bind "$repo" "$repo" --bind "$work" "$work" --chdir "\$PWD" -- /bin/sh -c '
    if [ "\${FAKE_GPU_NODE:-}" = 1 ]; then
        mkdir /proc/driver/nvidia
        echo "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  Thu Oct 30 10:00:00 UTC 2025" >/proc/driver/nvidia/version
    fi
    exec /usr/bin/apptainer "\$@"' apptainer "\$@"
EOF
chmod +x "$work/bin/apptainer"
export PATH=$work/bin:$PATH
if version=$(apptainer --version 2>&1); then
    pass "a real Apptainer runs here ($version, in a Debian sid root under bubblewrap)"
else
    fail "Apptainer runs" "$version"; finish
fi

# --- the SIF, from the image docker-test.sh builds -------------------------------------------------------------
if [ "${CLASSIFY_CI_IMAGE_BUILT:-}" != 1 ]; then
    echo "INFO: building the image with scripts/ci/docker-test.sh first"
    bash "$repo/scripts/ci/docker-test.sh" >"$work/docker-test.log" 2>&1 || true
fi
mkdir -p /run/ci-apptainer-docker
dockerd --host "unix://$sock" --data-root /var/lib/docker-ci --exec-root /run/ci-apptainer-docker \
    --pidfile /run/ci-apptainer-dockerd.pid --iptables=false --ip6tables=false --bridge=none >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
export DOCKER_HOST=unix://$sock
for _ in $(seq 1 100); do /usr/bin/docker version >/dev/null 2>&1 && break; sleep 0.2; done
if ! /usr/bin/docker image inspect "$image" >/dev/null 2>&1; then
    fail "the image docker-test.sh builds ($image)" "not in /var/lib/docker-ci: $(grep -E '^FAIL' "$work/docker-test.log" 2>/dev/null | head -n 3 | tr '\n' ' ')"
    finish
fi
sif=$work/classifier.sif
t0=$SECONDS
if DOCKER=/usr/bin/docker "$repo/container/build-sif.sh" --no-build -t "$image" --archive "$work/classify.tar" --notest -o "$sif" \
    >"$work/build-sif.log" 2>&1 && [ -s "$sif" ]; then
    build_s=$((SECONDS - t0))
    pass "container/build-sif.sh --no-build --notest: a real Apptainer built classifier.sif ($(($(stat -c %s "$sif") / 1000000)) MB, archive $(($(stat -c %s "$work/classify.tar") / 1000000)) MB, ${build_s} s)"
else
    fail "container/build-sif.sh" "$(grep -v '^INFO' "$work/build-sif.log" | tail -n 4 | tr '\n' ' ')"
    finish
fi
kill "$dockerd_pid" 2>/dev/null; wait "$dockerd_pid" 2>/dev/null; dockerd_pid=
if [ -n "${CLASSIFY_KEEP_SIF:-}" ]; then cp "$sif" "$CLASSIFY_KEEP_SIF" && echo "INFO: kept the SIF at $CLASSIFY_KEEP_SIF"; fi

# The route without Singularity.def (what a user without root or fakeroot can run): the archive as it is.
if apptainer build "$work/plain.sif" "docker-archive://$work/classify.tar" >"$work/plain.log" 2>&1 \
    && out=$(apptainer run "$work/plain.sif" -n 1 2>&1) && [[ $out == "Egyptian cat (score = "* ]]; then
    pass "apptainer build plain.sif docker-archive://classify.tar (no definition file): 'apptainer run' runs classify (the ENTRYPOINT)"
else
    fail "apptainer build from docker-archive:// without the definition file" "$(tail -n 3 "$work/plain.log" | tr '\n' ' ') ${out:-}"
fi
rm -f "$work/plain.sif" "$work/classify.tar"

# --- what container/README.md promises ----------------------------------------------------------------------
data=$work/data
mkdir -p "$data" "$work/scratch"
cp "$repo/tests/images/chelsea.png" "$repo/tests/images/coffee.png" "$repo/tests/images/rocket.jpg" "$data/"
cd "$work" || finish

out=$(apptainer test "$sif" 2>&1); rc=$?
check "apptainer test classifier.sif (%test: the bundled cat on the CPU)" "rc=$rc: $(echo "$out" | tail -n 2 | tr '\n' ' ')" \
    grep -q "classify: test passed" <<<"$out"
out=$(apptainer exec "$sif" classify --image_file "$data/chelsea.png" 2>"$work/err"); rc=$?
check "apptainer exec classifier.sif classify --image_file chelsea.png (bound from the host): Egyptian cat, five lines" \
    "rc=$rc: $(head -n 1 <<<"$out") $(head -c 300 "$work/err")" \
    test "$rc" = 0 -a "$(grep -c ' (score = ' <<<"$out")" = 5 -a "$(head -n 1 <<<"$out" | cut -d' ' -f1,2)" = "Egyptian cat"
out=$(apptainer run "$sif" --image_file "$data/coffee.png" -n 1 2>"$work/err"); rc=$?
check "apptainer run classifier.sif --image_file coffee.png -n 1 (the runscript is classify)" "rc=$rc: $out $(head -c 300 "$work/err")" \
    test "${out%% (score*}" = espresso
out=$(apptainer run-help "$sif" 2>&1)
check "apptainer run-help shows %help (--nv, --require-gpu)" "$(head -n 3 <<<"$out" | tr '\n' ' ')" \
    grep -q -- "--require-gpu" <<<"$out"
out=$(apptainer inspect "$sif" 2>&1)
labels_ok() {
    grep -q "^org.opencontainers.image.title: classify" <<<"$out" && grep -q "^org.opencontainers.image.version: " <<<"$out" \
        && grep -q "^org.opencontainers.image.revision: " <<<"$out" && grep -q "^org.opencontainers.image.documentation: container/README.md" <<<"$out"
}
check "apptainer inspect: the OCI labels (title, version, revision) and the definition's" "$(tr '\n' ' ' <<<"$out" | head -c 300)" labels_ok
label() { apptainer inspect "$sif" | sed -n "s/^org.opencontainers.image.$1: //p" | head -n 1; }
label_version=$(label version) label_revision=$(label revision)
out=$(apptainer exec "$sif" classify --version 2>&1)
check "classify --version in the SIF is the version and commit its labels give ($label_version, $label_revision)" "$out" \
    test "${out%%;*}" = "classify $label_version (commit $label_revision)"

# The seed's bind-point rule: with overlay (and underlay) off, as many sites run, a bind needs a folder in the image.
sed -i -e 's/^enable overlay = yes/enable overlay = no/' -e 's/^enable underlay = yes/enable underlay = no/' "$conf"
out=$(apptainer exec --bind "$data:/work" --bind "$work/scratch:/scratch" "$sif" \
    classify --image_dir /work --format jsonl --output /scratch/results.jsonl 2>&1); rc=$?
check "overlay off: --bind HOST:/work and HOST:/scratch (folders in the image); images read from /work, results written to /scratch" \
    "rc=$rc: $out" test "$rc" = 0 -a "$(lines "$work/scratch/results.jsonl")" = 3
owner=$(stat -c %u "$work/scratch/results.jsonl" 2>/dev/null)
check "results written through the container belong to the calling user (uid $(id -u)), no journal left behind" \
    "owner ${owner:-none}; $(ls "$work/scratch")" test "${owner:-}" = "$(id -u)" -a ! -e "$work/scratch/results.jsonl.partial"
out=$(apptainer exec --bind "$data:/nonexistent-mount-point" "$sif" classify -n 1 2>&1); rc=$?
check "overlay off: a bind onto a folder the image lacks is refused by Apptainer (why the image has /work, /scratch, ...)" \
    "rc=$rc: $(tail -n 2 <<<"$out" | tr '\n' ' ')" test "$rc" != 0
sed -i -e 's/^enable overlay = no/enable overlay = yes/' -e 's/^enable underlay = no/enable underlay = yes/' "$conf"

# Resume on the bound folder: SIGTERM (Slurm's time limit) during a run, the journal survives, the rerun resumes.
big=$work/big
mkdir -p "$big"
# Photos that take a while each (12 MP of noise, progressive, decoded in full: about 0.4 s here), so that the SIGTERM
# sent after two records lands mid-run: upscaled smooth photos once decoded in 0.1 s with DCT scaling, and the run
# finished (and deleted its journal) before pkill started.
/usr/bin/python3 -c "import os, sys; from PIL import Image; im = Image.frombytes('RGB', (4000, 3000), os.urandom(4000 * 3000 * 3)); [im.save(f'{sys.argv[1]}/b{i}.jpg', quality=90, progressive=True) for i in range(6)]" \
    "$big" 2>"$work/err"
apptainer exec "$sif" classify --image_dir "$big" --format jsonl --output "$work/scratch/big.jsonl" --batch_size 1 --threads 1 --full_decode \
    >/dev/null 2>"$work/term.err" &
for _ in $(seq 1 300); do [ "$(lines "$work/scratch/big.jsonl.partial")" -ge 3 ] && break; sleep 0.1; done
pkill -TERM -f "classify-app --image_dir $big" ; wait $!; rc=$?
kept=$(($(lines "$work/scratch/big.jsonl.partial") - 1))
out=$(apptainer exec "$sif" classify --image_dir "$big" --format jsonl --output "$work/scratch/big.jsonl" --full_decode --verbose 2>&1 >/dev/null); rc2=$?
resumed_ok() {
    [ "$rc" = 130 ] && [ "$rc2" = 0 ] && grep -q "resuming: $kept of 6 images already done" <<<"$out" \
        && [ "$(lines "$work/scratch/big.jsonl")" = 6 ] && [ ! -e "$work/scratch/big.jsonl.partial" ]
}
check "SIGTERM through the container: exit 130, journal kept on the bound folder; the rerun resumes and completes it" \
    "first rc=$rc (kept $kept), rerun rc=$rc2: $(grep -m1 -e resuming -e 'classify:' <<<"$out")" resumed_ok

# Environment: classify's variables pass into the container by default, --cleanenv drops them, and
# APPTAINERENV_/SINGULARITYENV_ set them inside either way. CLASSIFY_OFFLINE=1 shows which: with it a catalogue
# model that is not downloaded fails at once with a message naming the variable.
offline() { grep -q "CLASSIFY_OFFLINE" <<<"$1"; }
env_ok() { offline "$o1" && ! offline "$o2" && offline "$o3" && offline "$o4"; }
o1=$(CLASSIFY_OFFLINE=1 apptainer exec "$sif" classify --model resnet50 "$data/chelsea.png" 2>&1)
o2=$(CLASSIFY_OFFLINE=1 apptainer exec --cleanenv "$sif" classify --model resnet50 "$data/chelsea.png" 2>&1)
o3=$(APPTAINERENV_CLASSIFY_OFFLINE=1 apptainer exec --cleanenv "$sif" classify --model resnet50 "$data/chelsea.png" 2>&1)
o4=$(SINGULARITYENV_CLASSIFY_OFFLINE=1 apptainer exec --cleanenv "$sif" classify --model resnet50 "$data/chelsea.png" 2>&1)
check "environment: CLASSIFY_OFFLINE passes in; --cleanenv drops it; APPTAINERENV_ and SINGULARITYENV_ set it under --cleanenv" \
    "plain: $(tail -n1 <<<"$o1") | cleanenv: $(tail -n1 <<<"$o2") | APPTAINERENV_: $(tail -n1 <<<"$o3") | SINGULARITYENV_: $(tail -n1 <<<"$o4")" \
    env_ok
out=$(cd "$data" && apptainer exec --containall "$sif" classify chelsea.png 2>&1); rc=$?
out2=$(apptainer exec --containall "$sif" classify -n 1 2>&1); rc2=$?
check "--containall: the working folder is not bound (a relative path is exit 3); the bundled cat still classifies" \
    "rc=$rc: $out | rc=$rc2: $out2" test "$rc" = 3 -a "$rc2" = 0 -a "${out2%% (score*}" = "Egyptian cat"

# --nv: on this host without a GPU Apptainer finds no driver libraries and classify runs on the CPU. On a faked
# GPU node (device nodes and /proc/driver/nvidia, no libcuda) without --nv, classify names --nv and carries on on
# the CPU, or stops with exit 20 when asked to require a GPU.
out=$(apptainer exec --nv "$sif" classify -n 1 2>"$work/err"); rc=$?
check "apptainer exec --nv on a host without a GPU: classify still classifies on the CPU" "rc=$rc: $out $(head -c 300 "$work/err")" \
    test "$rc" = 0 -a "${out%% (score*}" = "Egyptian cat"
out=$(FAKE_GPU_NODE=1 apptainer exec "$sif" classify -n 1 2>"$work/err"); rc=$?
warn=$(grep -c -- "--nv" "$work/err")
check "faked GPU node without --nv: one warning line naming --nv, then the CPU result" "rc=$rc: $out | $(head -c 400 "$work/err")" \
    test "$rc" = 0 -a "${out%% (score*}" = "Egyptian cat" -a "$warn" = 1
out=$(FAKE_GPU_NODE=1 apptainer exec "$sif" classify --require-gpu -n 1 2>&1); rc=$?
required_ok() { [ "$rc" = 20 ] && grep -q -- "--nv" <<<"$out"; }
check "faked GPU node without --nv, --require-gpu: exit 20 with the diagnosis naming --nv" "rc=$rc: $(head -c 400 <<<"$out")" required_ok

# --- the seed's MPI pattern: the host's mpirun launches one container per rank ------------------------------------
reference=$work/reference.jsonl
apptainer exec "$sif" classify --image_dir "$data" --format jsonl --output "$reference" 2>/dev/null
mkdir -p "$work/mpi"
out=$(mpirun --allow-run-as-root --oversubscribe -np 2 apptainer exec "$sif" classify --image_dir "$data" --format jsonl \
    --output "$work/mpi/results.jsonl" 2>&1); rc=$?
shards=$(find "$work/mpi" -name 'results.shard-*-of-0002.jsonl' | wc -l)
check "mpirun -np 2 apptainer exec classifier.sif classify: two ranks, one shard file each" "rc=$rc, $shards shards: $(tail -n 3 <<<"$out" | tr '\n' ' ')" \
    test "$rc" = 0 -a "$shards" = 2
out=$(apptainer exec "$sif" classify merge --output "$work/mpi/merged.jsonl" "$work"/mpi/results.shard-*.jsonl 2>&1); rc=$?
check "classify merge (in the SIF) of the rank files is byte-equal to one run" "rc=$rc: $out" cmp -s "$work/mpi/merged.jsonl" "$reference"

# --- the Slurm scripts, running the SIF on the real Slurm of slurm-test ---------------------------------------
cluster=$repo/scripts/ci/slurm-cluster.sh
if "$cluster" up >"$work/cluster.log" 2>&1; then
    eval "$("$cluster" env)"
    export CLASSIFY="apptainer exec --nv $sif classify" REQUIRE_GPU=0
    wait_job() { # the job's highest exit code once it has left the queue
        local code signal status=0
        for _ in $(seq 3000); do [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && break; sleep 0.2; done
        while IFS=: read -r code signal; do
            [ "$signal" -gt 0 ] && code=$((128 + signal)); [ "$code" -gt "$status" ] && status=$code
        done < <(scontrol show job "$1" | grep -o ' ExitCode=[0-9]*:[0-9]*' | cut -d= -f2)
        return "$status"
    }
    mkdir -p "$work/slurm"
    array=$(sbatch --parsable --array=0-1 --cpus-per-task=1 -o "$work/slurm/array-%A_%a.out" \
        --export="ALL,OUT_DIR=$work/slurm" "$repo/scripts/slurm/classify-array.sbatch" "$data" 2>&1)
    wait_job "$array"; rc=$?
    check "sbatch classify-array.sbatch (2 tasks) with CLASSIFY=\"apptainer exec --nv classifier.sif classify\"" \
        "job $array exit $rc: $(cat "$work"/slurm/array-*.out 2>/dev/null | tail -n 4 | tr '\n' ' ')" \
        test "$rc" = 0 -a "$(find "$work/slurm" -name 'results.shard-*-of-0002.jsonl' | wc -l)" = 2
    merge=$(sbatch --parsable --dependency="afterok:$array" -o "$work/slurm/merge.out" --export="ALL,OUT_DIR=$work/slurm" \
        "$repo/scripts/slurm/classify-merge.sbatch" 2>&1)
    wait_job "$merge"; rc=$?
    check "classify-merge.sbatch through the SIF: the merged file is byte-equal to one run" \
        "job $merge exit $rc: $(tail -n 3 "$work/slurm/merge.out" 2>/dev/null | tr '\n' ' ')" cmp -s "$work/slurm/results.jsonl" "$reference"
    "$cluster" down >/dev/null 2>&1
else
    fail "one-node Slurm cluster up" "$(tail -n 4 "$work/cluster.log" | tr '\n' ' ')"
fi
check "the host's /dev is as it was (the faked GPU node lived in a copy)" "$(ls -l /dev/nvidia* 2>&1 | tr '\n' ' ')" \
    test "$(ls /dev/nvidia* 2>/dev/null | wc -l)" = "$had_nvidia"
finish
