#!/usr/bin/env bash
# CI for the container (issue 5): lints the Dockerfile and the scripts, starts a real Docker engine by hand,
# builds the repository's real Dockerfile on local stand-ins for the base images (no registry is reachable
# here; NuGet is), runs the image, checks Singularity.def's %runscript/%test and container/build-sif.sh, and
# tears the engine down again.
#
# The stand-ins: RUNTIME_IMAGE = Debian 13 minbase from debootstrap (no CUDA, so classify runs on the CPU;
# the real default is nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04), SDK_IMAGE = the same plus this machine's
# .NET 10 SDK and CA bundle. Both stay in the engine's data root (/var/lib/docker-ci) between runs, with the
# BuildKit cache, so a second run skips debootstrap and the NuGet download; CLASSIFY_DOCKER_CI_CLEAN=1
# removes the data root at the end.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sock=/run/ci-docker.sock
data_root=/var/lib/docker-ci
exec_root=/run/docker-ci
pidfile=/run/ci-dockerd.pid
state=/var/lib/classify-docker-ci
image=classify-ci/classify:test
torch_image=classify-ci/classify:torch
ci_zip=ci-libtorch-cpu.zip     # made in container/libtorch/ for the LIBTORCH=cuda build, removed afterwards
standin=v3    # bump whenever the stand-ins' recipes below change
base_image=classify-ci/debian:trixie-$standin
export DOCKER_HOST=unix://$sock DOCKER_BUILDKIT=1
export DEBIAN_FRONTEND=noninteractive
docker=/usr/bin/docker     # Debian's client: the docker on PATH may be another, newer one

passed=0 failed=0 skipped=0
pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1: $2"; failed=$((failed + 1)); }
skip() { echo "SKIP: $1: $2"; skipped=$((skipped + 1)); }
info() { echo "INFO: $*"; }
check() { # check NAME WHY-IF-FAILED COMMAND...
    local name=$1 why=$2; shift 2
    if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}
summary() {
    if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
    else echo "$passed passed, $failed failed"; fi
}

tmp=$(mktemp -d /tmp/docker-ci.XXXXXX)
started_dockerd=false
dockerd_pid=
teardown() {
    if $started_dockerd; then
        "$docker" ps -aq --filter label=classify-ci=1 2>/dev/null | xargs -r "$docker" rm -f >/dev/null 2>&1
        if [ "${CLASSIFY_DOCKER_CI_CLEAN:-0}" != 1 ]; then
            # Keep what the next run reuses (the current stand-ins, the NuGet cache mount, recent layers),
            # drop the rest: older stand-ins, untagged images, build cache beyond a few GB.
            "$docker" images --format '{{.Repository}}:{{.Tag}}' --filter 'reference=classify-ci/*' 2>/dev/null \
                | grep -v -x -e "$base_image" -e "${sdk_image:-none}" -e "$image" | xargs -r "$docker" image rm -f >/dev/null 2>&1
            "$docker" image prune -f >/dev/null 2>&1
            "$docker" builder prune -f --keep-storage 6gb >/dev/null 2>&1
        fi
        # the dockerd this script started (it stops its own containerd)
        kill "$dockerd_pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$dockerd_pid" 2>/dev/null || true
    fi
    # dockerd leaves its network namespace mounted here when it exits
    if mountpoint -q "$exec_root/netns/default" 2>/dev/null; then umount "$exec_root/netns/default"; fi
    if [ "${CLASSIFY_DOCKER_CI_CLEAN:-0}" = 1 ] && $started_dockerd; then rm -rf "$data_root" "$state"; fi
    rm -rf "$tmp"
    rm -f "$repo/container/libtorch/$ci_zip"
}
trap teardown EXIT

# --- tools ------------------------------------------------------------------------------------------------
need=()
[ -x /usr/sbin/dockerd ] && [ -x "$docker" ] || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v npm >/dev/null || need+=(nodejs npm)
command -v zip >/dev/null || need+=(zip)
if [ ${#need[@]} -gt 0 ]; then
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$tmp/apt.log" 2>&1; then
        fail "install ${need[*]}" "apt-get failed: $(tail -n 3 "$tmp/apt.log" | tr '\n' ' ')"
        summary; exit 1
    fi
fi

# --- lint -------------------------------------------------------------------------------------------------
if shellcheck "$repo/scripts/ci/docker-test.sh" "$repo/container/build-sif.sh" >"$tmp/shellcheck.log" 2>&1; then
    pass "shellcheck scripts/ci/docker-test.sh container/build-sif.sh"
else
    fail "shellcheck" "$(grep -c '^In ' "$tmp/shellcheck.log") findings: $(head -n 3 "$tmp/shellcheck.log" | tr '\n' ' ')"
fi

lint=$state/npm/node_modules/.bin/dockerfilelint
if [ ! -x "$lint" ]; then
    mkdir -p "$state/npm"
    npm install --no-audit --no-fund --silent --prefix "$state/npm" dockerfilelint@1.8.0 >"$tmp/npm.log" 2>&1
fi
if [ ! -x "$lint" ]; then
    fail "dockerfilelint Dockerfile" "npm install dockerfilelint failed: $(tail -n 2 "$tmp/npm.log" | tr '\n' ' ')"
elif (cd "$repo" && "$lint" Dockerfile) >"$tmp/dockerfilelint.log" 2>&1; then
    pass "dockerfilelint Dockerfile"
else
    fail "dockerfilelint Dockerfile" "$(grep -E '^Line|Issues:' "$tmp/dockerfilelint.log" | tr '\n' ' ')"
fi

# --- engine -----------------------------------------------------------------------------------------------
if [ -S "$sock" ] && "$docker" version >/dev/null 2>&1; then
    fail "start dockerd" "a dockerd is already serving $sock (pid $(cat "$pidfile" 2>/dev/null)); not ours to use or stop"
    summary; exit 1
fi
mkdir -p "$data_root" "$exec_root" "$state"
dockerd --host "unix://$sock" --data-root "$data_root" --exec-root "$exec_root" --pidfile "$pidfile" \
    --iptables=false --ip6tables=false --bridge=none >"$tmp/dockerd.log" 2>&1 &
dockerd_pid=$!
started_dockerd=true
for _ in $(seq 1 100); do "$docker" version >/dev/null 2>&1 && break; sleep 0.2; done
if ! "$docker" version >/dev/null 2>&1; then
    fail "start dockerd" "not answering on $sock: $(tail -n 3 "$tmp/dockerd.log" | tr '\n' ' ')"
    summary; exit 1
fi
pass "start dockerd ($("$docker" version -f '{{.Server.Version}}'))"

# --- stand-ins for the base images ------------------------------------------------------------------------
t0=$SECONDS
if ! "$docker" image inspect "$base_image" >/dev/null 2>&1; then
    # Debian 13, like the real images' Ubuntu 24.04: a libstdc++ from GCC 14 (libLibTorchSharp.so needs
    # GLIBCXX_3.4.32, which Debian 12 lacks). libssl3t64: the SDK's NuGet client needs OpenSSL.
    # ca-certificates: the CUDA images have it, and without a CA bundle ONNX Runtime 1.31 warns on stderr
    # about its telemetry uploads.
    if debootstrap --variant=minbase --include=libssl3t64,ca-certificates trixie "$tmp/rootfs" http://deb.debian.org/debian \
            >"$tmp/debootstrap.log" 2>&1; then
        rm -rf "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/var/lib/apt/lists/"*
        tar -C "$tmp/rootfs" -c . | "$docker" import - "$base_image" >/dev/null
        rm -rf "$tmp/rootfs"
    fi
fi
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
sdk_version=$(dotnet --version)
ca_sum=$(sha256sum /etc/ssl/certs/ca-certificates.crt | cut -c1-8)
sdk_image=classify-ci/dotnet-sdk:$sdk_version-ca$ca_sum-$standin
if "$docker" image inspect "$base_image" >/dev/null 2>&1 && ! "$docker" image inspect "$sdk_image" >/dev/null 2>&1; then
    # The host's CA bundle: NuGet is reached through this machine's TLS setup, which the real SDK image
    # (talking to nuget.org directly) does not need.
    mkdir -p "$tmp/sdk"
    cat >"$tmp/sdk/Dockerfile" <<'EOF'
ARG BASE
FROM ${BASE}
COPY dotnet /usr/share/dotnet/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt NUGET_CERT_REVOCATION_MODE=offline \
    DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 NUGET_XMLDOC_MODE=skip
EOF
    tar -c -C "$(dirname "$dotnet_root")" "$(basename "$dotnet_root")" -C /etc/ssl/certs ca-certificates.crt \
        -C "$tmp/sdk" Dockerfile --transform "s|^$(basename "$dotnet_root")|dotnet|" \
        | "$docker" build -q --network host --build-arg BASE="$base_image" -t "$sdk_image" - >"$tmp/sdk.log" 2>&1
fi
if "$docker" image inspect "$base_image" >/dev/null 2>&1 && "$docker" image inspect "$sdk_image" >/dev/null 2>&1; then
    pass "stand-in base images $base_image, $sdk_image ($((SECONDS - t0)) s)"
else
    fail "stand-in base images" "$(tail -n 3 "$tmp/debootstrap.log" "$tmp/sdk.log" 2>/dev/null | tr '\n' ' ')"
    summary; exit 1
fi

# --- build the real Dockerfile ----------------------------------------------------------------------------
t0=$SECONDS
if "$docker" build --network host --progress plain \
        --build-arg SDK_IMAGE="$sdk_image" --build-arg RUNTIME_IMAGE="$base_image" \
        --build-arg REVISION="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        -t "$image" "$repo" >"$tmp/build.log" 2>&1; then
    build_s=$((SECONDS - t0))
    pass "docker build (the repository's Dockerfile)"
    info "build time ${build_s} s"
else
    fail "docker build" "$(grep -E 'error|ERROR' "$tmp/build.log" | head -n 5 | tr '\n' ' ')"
    summary; exit 1
fi
size=$("$docker" image inspect -f '{{.Size}}' "$image")
base_size=$("$docker" image inspect -f '{{.Size}}' "$base_image")
info "image size $((size / 1000000)) MB (stand-in base $((base_size / 1000000)) MB, classify layers $(((size - base_size) / 1000000)) MB)"

run() { "$docker" run --rm --network host --label classify-ci=1 "$@"; }

# --- the image --------------------------------------------------------------------------------------------
uid=$(run --entrypoint id "$image" -u 2>&1)
check "runs as a non-root user" "id -u = $uid" test "$uid" != 0 -a -n "$uid"

# shellcheck disable=SC2016 # expanded inside the container
on_path=$(run --entrypoint /bin/sh "$image" -c 'command -v classify; readlink -f "$(command -v classify)"' 2>&1)
check "classify on PATH (for singularity exec)" "got: $on_path" \
    test "$on_path" = "$(printf '/usr/local/bin/classify\n/opt/classify/classify')"

labels=$("$docker" image inspect -f '{{index .Config.Labels "org.opencontainers.image.title"}} {{index .Config.Labels "org.opencontainers.image.revision"}}' "$image")
check "OCI labels" "title/revision: $labels" test "${labels%% *}" = classify

# shellcheck disable=SC2016 # expanded inside the container
no_libtorch_dir() { run --entrypoint /bin/sh "$image" -c 'test ! -e /opt/libtorch && test -z "${CLASSIFY_LIBTORCH_DIR:-}"'; }
check "the default image (LIBTORCH=none) has no /opt/libtorch" "found /opt/libtorch or CLASSIFY_LIBTORCH_DIR" no_libtorch_dir

# shellcheck disable=SC2016 # expanded inside the container
mounts() { run --entrypoint /bin/sh "$image" -c 'for d in /work /scratch /gpfs /lustre /projects /home /tmp; do test -d "$d" || exit 1; done'; }
check "HPC bind points /work /scratch /gpfs /lustre /projects exist in the image (binds where overlayFS is off)" "one is missing" mounts

top1() { head -n 1 | sed 's/ (score = .*//'; }

out=$(run -v "$repo/tests/images:/data:ro" "$image" --image_file /data/chelsea.png 2>"$tmp/err")
check "classify --image_file chelsea.png: top-1 Egyptian cat" "stdout: $(echo "$out" | head -n 2 | tr '\n' '|') stderr: $(head -c 300 "$tmp/err")" \
    test "$(echo "$out" | top1)" = "Egyptian cat"
lines=$(echo "$out" | grep -c ' (score = [0-9]\.[0-9]\{5\})$')
check "five predictions in classify_image.py's format" "got $lines lines like 'label (score = 0.12345)'" test "$lines" = 5

# Camera photos (EXIF in every orientation) in the shipped (AOT) image: all decode, and the nine of a kind agree.
exif_args=()
for f in "$repo"/tests/images/exif-orientation/*.jpg; do exif_args+=(--image_file "/data/exif-orientation/$(basename "$f")"); done
out=$(run -v "$repo/tests/images:/data:ro" "$image" --model mobilenet_v2_1.0_224_quant --format csv --num_top_predictions 1 "${exif_args[@]}" 2>"$tmp/err"); rc=$?
# Every photo gets a result; the nine portraits agree (MobileNet: geyser, 0.5-0.97). The landscapes are not
# compared by label: MobileNet's top two tie on Landscape_2 (alp 0.2193, cliff 0.2193), so their labels depend on
# the last bit of a decoder; the conformance test compares their pixels instead.
exif_agree() {
  [ "$rc" = 0 ] || return 1
  [ "$(echo "$out" | grep -c '^/data/exif-orientation/[LP][a-z]*_[0-8]\.jpg,1,')" = 18 ] || return 1
  [ "$(echo "$out" | grep '^/data/exif-orientation/Portrait_' | cut -d, -f3 | sort -u)" = geyser ]
}
check "18 EXIF camera photos (orientations 0-8) classify in the image; the nine portraits with one top-1 (geyser)" \
    "exit $rc: $(echo "$out" | cut -d, -f1,3 | tr '\n' '|' | head -c 400) stderr: $(head -c 300 "$tmp/err")" exif_agree
head=$(run -v "$repo/tests/images:/data:ro" "$image" decode /data/exif-orientation/Landscape_6.jpg --output - 2>"$tmp/err" | head -c 15 | tr '\n' ' ')
check "classify decode in the image turns an orientation-6 photo upright (1800x1200)" "got '$head' stderr: $(head -c 300 "$tmp/err")" \
    test "$head" = "P6 1800 1200 25"

out=$(run "$image" --image_file /opt/classify/examples/cat.png 2>"$tmp/err")
check "classify --image_file <bundled cat>: top-1 Egyptian cat" "stdout: $(echo "$out" | head -n 1) stderr: $(head -c 300 "$tmp/err")" \
    test "$(echo "$out" | top1)" = "Egyptian cat"

out=$(run "$image" 2>"$tmp/err")
check "no input (docker run IMAGE): the bundled cat is Egyptian cat" "stdout: $(echo "$out" | head -n 1) stderr: $(head -c 300 "$tmp/err")" \
    test "$(echo "$out" | top1)" = "Egyptian cat"

out=$(run -v "$repo/tests/images:/data:ro" "$image" --image_file /data/missing.png 2>"$tmp/err"); rc=$?
one_error_line() { [ "$rc" = 3 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q missing.png "$tmp/err"; }
check "a missing file: one line on stderr naming it, exit 3 (ImageNotFound)" "rc=$rc stderr: $(head -c 300 "$tmp/err")" \
    one_error_line

# Singularity.def's sections, run in the Docker image (Apptainer itself is not installable here)
section() { awk -v s="%$1" '$1 == s { on = 1; next } /^%/ { on = 0 } on' "$repo/Singularity.def"; }
out=$(run --entrypoint /bin/sh "$image" -c "$(section test)" 2>&1); rc=$?
check "Singularity.def %test passes in the image" "rc=$rc: $(echo "$out" | tail -n 2 | tr '\n' ' ')" test "$rc" = 0
out=$(run -v "$repo/tests/images:/data:ro" --entrypoint /bin/sh "$image" -c "set -- --image_file /data/chelsea.png; $(section runscript)" 2>"$tmp/err")
check "Singularity.def %runscript passes its arguments to classify" "$(echo "$out" | head -n 1)" \
    test "$(echo "$out" | top1)" = "Egyptian cat"

# --- GPU diagnosis inside the container (issue 3) ----------------------------------------------------------
# As under `singularity exec` without --nv on a GPU node: the host's /dev/nvidia* and /proc/driver/nvidia are
# visible, libcuda.so.1 is not. runc refuses bind mounts inside /proc, so a root shell with CAP_SYS_ADMIN
# mounts a tmpfs over /proc/driver, then drops to the image's user before starting classify.
if doctor_help=$(run --entrypoint classify "$image" doctor --help 2>&1) && grep -q -- '--json' <<<"$doctor_help"; then
    printf 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  Thu Oct  9 00:00:00 UTC 2025\nGCC version:  gcc version 13.3.0\n' >"$tmp/nvidia-version"
    fake_gpu() {
        # shellcheck disable=SC2016 # expanded inside the container
        run --user 0 --cap-add SYS_ADMIN --device /dev/null:/dev/nvidia0 --device /dev/null:/dev/nvidiactl \
            -v "$tmp/nvidia-version:/run/fake-nvidia-version:ro" -v "$repo/tests/images:/data:ro" \
            -e APPTAINER_CONTAINER=/scratch/classifier.sif -e APPTAINER_NAME=classifier.sif -e CI_UID="$uid" \
            --entrypoint /bin/sh "$image" -c '
                mount -t tmpfs -o mode=755 tmpfs /proc/driver && mkdir /proc/driver/nvidia \
                && cp /run/fake-nvidia-version /proc/driver/nvidia/version \
                && exec setpriv --reuid="$CI_UID" --regid="$CI_UID" --clear-groups -- classify "$@"' sh "$@"
    }
    out=$(fake_gpu --image_file /data/chelsea.png 2>"$tmp/err")
    nv_warning() { grep -- '--nv' "$tmp/err" | grep -q -i -e apptainer -e singularity; }
    check "Apptainer without --nv: the warning names --nv" "stderr: $(head -c 400 "$tmp/err")" nv_warning
    check "Apptainer without --nv: still Egyptian cat on the CPU" "stdout: $(echo "$out" | head -n 1)" \
        test "$(echo "$out" | top1)" = "Egyptian cat"
    warnings=$(grep -c -- '--nv' "$tmp/err")
    check "Apptainer without --nv: one warning line" "$warnings lines mention --nv" test "$warnings" = 1
    out=$(fake_gpu doctor 2>&1); rc=$?
    check "classify doctor under fake Apptainer names --nv" "rc=$rc: $(echo "$out" | tail -n 3 | tr '\n' ' ')" \
        grep -q -- '--nv' <<<"$out"
    out=$(run "$image" doctor 2>&1); rc=$?
    # no GPU here: 0 or GpuUnavailable (20), a report, and no crash
    doctor_ok() { { [ "$rc" = 0 ] || [ "$rc" = 20 ]; } && [ -n "$out" ] && ! grep -q 'Unhandled exception' <<<"$out"; }
    check "classify doctor runs (no GPU)" "rc=$rc: $(echo "$out" | tail -n 3 | tr '\n' ' ')" doctor_ok
    # This host has no NVIDIA driver: the advice must fit it, not tell the user to add --gpus all.
    cpu_host_advice() { ! grep -q 'run it with --gpus all' <<<"$out" && grep -q 'would not help on this host' <<<"$out"; }
    check "classify doctor in Docker on a host without NVIDIA driver does not advise --gpus all" "$(echo "$out" | grep -i -e fix -e problem | tr '\n' ' ')" cpu_host_advice
else
    skip "GPU diagnosis in the container" "'classify doctor --help' fails: the GPU helper's doctor is not on this branch yet"
fi

# --- LIBTORCH: none in the default image, an archive unpacked into /opt/libtorch with LIBTORCH=cuda ------------
# The official CUDA archive cannot be downloaded here. NuGet's CPU libtorch 2.10.0, zipped in the archive's
# layout (libtorch/lib/...), takes the same road: a zip in container/libtorch/, the Dockerfile's libtorch
# stage, /opt/libtorch/lib named by CLASSIFY_LIBTORCH_DIR, classify loading libtorch from there.
if ! run --entrypoint /bin/sh "$image" -c 'test -f /opt/classify/libLibTorchSharp.so' 2>/dev/null; then
    fail "LIBTORCH build option" "the image has no TorchSharp backend (/opt/classify/libLibTorchSharp.so)"
else
    out=$(run "$image" --backend torch --image_file /opt/classify/examples/cat.png 2>"$tmp/err"); rc=$?
    no_libtorch() { [ "$rc" = 15 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && [ -z "$out" ] \
        && grep -qF -- '--build-arg LIBTORCH=cpu' "$tmp/err" && ! grep -q 'ClassifyLibTorch' "$tmp/err"; }
    check "LIBTORCH=none: --backend torch says libtorch is missing and how to add it to the image (one line, exit 15)" \
        "rc=$rc stderr: $(head -c 300 "$tmp/err")" no_libtorch
    native=${NUGET_PACKAGES:-$HOME/.nuget/packages}/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native
    if [ ! -f "$native/libtorch_cpu.so" ]; then
        skip "LIBTORCH=cuda with a libtorch archive" "no libtorch-cpu-linux-x64 2.10.0 in the NuGet cache to zip (dotnet test restores it)"
    else
        mkdir -p "$tmp/lt/libtorch/lib"
        ln -s "$native"/* "$tmp/lt/libtorch/lib/"
        (cd "$tmp/lt" && zip -q -0 -r "$repo/container/libtorch/$ci_zip" libtorch)
        t0=$SECONDS
        # The default build (Native AOT), as users get it: TorchSharp and libtorch loading in the AOT executable.
        if "$docker" build --network host --progress plain \
                --build-arg SDK_IMAGE="$sdk_image" --build-arg RUNTIME_IMAGE="$base_image" \
                --build-arg LIBTORCH=cuda --build-arg LIBTORCH_ARCHIVE="$ci_zip" \
                -t "$torch_image" "$repo" >"$tmp/build-torch.log" 2>&1; then
            pass "docker build --build-arg LIBTORCH=cuda LIBTORCH_ARCHIVE=<zip in container/libtorch> ($((SECONDS - t0)) s)"
            out=$(run "$torch_image" --backend torch --image_file /opt/classify/examples/cat.png 2>"$tmp/err")
            check "LIBTORCH=cuda: --backend torch loads /opt/libtorch/lib (CLASSIFY_LIBTORCH_DIR) and gives Egyptian cat" \
                "stdout: $(echo "$out" | head -n 1) stderr: $(head -c 300 "$tmp/err")" test "$(echo "$out" | top1)" = "Egyptian cat"
            bundled=$(run --entrypoint /bin/sh "$torch_image" -c 'ls /opt/classify | grep -c "^libtorch" || true')
            check "LIBTORCH=cuda: no NuGet libtorch inside the app" "$bundled libtorch* files in /opt/classify" test "$bundled" = 0
        else
            fail "docker build LIBTORCH=cuda" "$(grep -E 'error|ERROR' "$tmp/build-torch.log" | head -n 5 | tr '\n' ' ')"
        fi
        rm -f "$repo/container/libtorch/$ci_zip"
        "$docker" image rm -f "$torch_image" >/dev/null 2>&1
    fi
fi

# --- MODELS: catalogue models baked into the image (issue 14) ------------------------------------------------
# A catalogue that pins the bundled SqueezeNet under a mirror path, served by python3's http.server on 127.0.0.1
# (the build runs with --network host); the model must then classify in a container without any network.
sq="$repo/models/squeezenet1.1/squeezenet1.1.onnx"
mkdir -p "$tmp/mirror/zoo"
cp "$sq" "$tmp/mirror/zoo/ci-squeezenet.onnx"
ci_catalog="$repo/models/.ci-catalog.json"
cat >"$ci_catalog" <<EOF
{ "baseUrl": "https://models.invalid/", "models": [ { "name": "ci-squeezenet", "aliases": ["cisq"],
  "file": { "path": "zoo/ci-squeezenet.onnx", "sha256": "$(sha256sum "$sq" | cut -d' ' -f1)", "bytes": $(stat -c %s "$sq") },
  "labels": { "path": "labels/imagenet_labels_1000.txt" },
  "manifest": $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(json.dumps({"input": m["input"], "output": m["output"]}))' "$repo/models/squeezenet1.1/model.json") } ] }
EOF
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$tmp/mirror" "$port" >"$tmp/http.log" 2>&1 &
http_pid=$!
sleep 1
t0=$SECONDS
if "$docker" build --network host --progress plain \
        --build-arg SDK_IMAGE="$sdk_image" --build-arg RUNTIME_IMAGE="$base_image" \
        --build-arg MODELS=cisq --build-arg MODEL_MIRROR="http://127.0.0.1:$port" --build-arg MODEL_CATALOG=models/.ci-catalog.json \
        -t "$image-models" "$repo" >"$tmp/build-models.log" 2>&1; then
    pass "docker build --build-arg MODELS=cisq (from a mirror on 127.0.0.1, $((SECONDS - t0)) s)"
    out=$("$docker" run --rm --network none -v "$repo/tests/images:/data:ro" "$image-models" --model ci-squeezenet /data/chelsea.png 2>"$tmp/err")
    check "the baked model classifies in a container without network: Egyptian cat" "stdout: $(echo "$out" | head -n 1) stderr: $(head -c 300 "$tmp/err")" \
        test "$(echo "$out" | top1)" = "Egyptian cat"
    out=$("$docker" run --rm --network none "$image-models" models list 2>&1)
    listed() { grep -Eq '^ci-squeezenet +bundled' <<<"$out"; }
    check "models list in that image names it as bundled" "got: $(echo "$out" | grep ci-squeezenet)" listed
    "$docker" image rm "$image-models" >/dev/null 2>&1
else
    fail "docker build --build-arg MODELS" "$(grep -E 'classify:|error|ERROR' "$tmp/build-models.log" | head -n 5 | tr '\n' ' ')"
fi
kill "$http_pid" 2>/dev/null
rm -f "$ci_catalog"

# --- container/build-sif.sh -------------------------------------------------------------------------------
# docker build (cached) + docker save for real; the SIF step through a stand-in for apptainer that checks
# the definition it is given and the archive it points at.
mkdir -p "$tmp/bin"
cat >"$tmp/bin/apptainer" <<'EOF'
#!/bin/sh
# stand-in for `apptainer build [--force] OUT DEF`: checks DEF's header and the docker-archive it names
[ "$1" = build ] || { echo "unexpected: $*" >&2; exit 2; }
for a; do out=$def; def=$a; done
grep -qx 'Bootstrap: docker-archive' "$def" || { echo "not a docker-archive definition" >&2; exit 3; }
archive=$(sed -n 's/^From: //p' "$def")
tar -xOf "$archive" manifest.json | grep -q '"RepoTags":\["classify-ci/sif-test:latest"\]' || { echo "bad archive $archive" >&2; exit 4; }
for s in %runscript %test %help %labels; do grep -qx "$s" "$def" || { echo "no $s" >&2; exit 5; }; done
echo "$*" >"$out"
EOF
chmod +x "$tmp/bin/apptainer"
t0=$SECONDS
if (cd "$tmp" && PATH="$tmp/bin:$PATH" DOCKER="$docker" "$repo/container/build-sif.sh" -t classify-ci/sif-test:latest \
        -o "$tmp/classifier.sif" --network host --build-arg SDK_IMAGE="$sdk_image" --build-arg RUNTIME_IMAGE="$base_image" \
        >"$tmp/sif.log" 2>&1) && [ -s "$tmp/classifier.sif" ]; then
    pass "build-sif.sh: docker build, docker save, apptainer build from the docker-archive ($((SECONDS - t0)) s)"
else
    fail "build-sif.sh" "$(tail -n 4 "$tmp/sif.log" | tr '\n' ' ')"
fi
out=$(PATH=/usr/bin:/bin "$repo/container/build-sif.sh" --no-build 2>&1); rc=$?
no_builder_error() { [ "$rc" -ne 0 ] && grep -q 'neither apptainer nor singularity' <<<"$out"; }
check "build-sif.sh without apptainer/singularity: a clear error" "rc=$rc: $out" no_builder_error
"$docker" image rm classify-ci/sif-test:latest >/dev/null 2>&1

summary
[ "$failed" -eq 0 ]
