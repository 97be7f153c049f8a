#!/usr/bin/env bash
# Builds classifier.sif: docker build -> docker save -> apptainer/singularity build from the docker-archive.
# Run it where Docker and Apptainer/Singularity are installed and you have root, sudo or fakeroot
# (a workstation, not a cluster login node); then copy the SIF to the cluster. See container/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: container/build-sif.sh [options]

Builds the Docker image from the repository's Dockerfile, saves it with `docker save`, and builds a SIF from
that archive with Singularity.def (apptainer if installed, else singularity).

Options:
  -t, --tag TAG          Docker image tag to build and convert (default: classify:latest)
  -o, --output FILE      SIF to write (default: classifier.sif in the current directory)
  -f, --force            overwrite an existing SIF
      --build-arg K=V    passed to docker build; repeatable (e.g. LIBTORCH=cuda, RUNTIME_IMAGE=...)
      --network MODE     docker build --network (e.g. host, where the engine has no bridge network)
      --no-build         skip docker build: convert the image TAG as it is
      --archive FILE     keep the docker save tarball at FILE (default: a temporary file, removed)
      --save-only        stop after docker save (needs --archive): convert it elsewhere with
                         apptainer build classifier.sif <Singularity.def using docker-archive>
      --no-fakeroot      as a non-root user, use sudo instead of trying --fakeroot first
      --notest           skip the definition's %test during the build (where the build cannot run it, e.g.
                         root without every capability); run `apptainer test FILE` afterwards instead
  -h, --help             this text

Environment: DOCKER (default docker), APPTAINER (path of apptainer or singularity, default: whichever is on
PATH), APPTAINER_TMPDIR / SINGULARITY_TMPDIR (scratch space for the build: needs a few GB free).
EOF
}

die() { echo "build-sif.sh: $*" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=classify:latest
output=$PWD/classifier.sif
force=false
build=true
archive=
save_only=false
try_fakeroot=true
notest=false
build_args=()

while [ $# -gt 0 ]; do
    case "$1" in
        -t|--tag) [ $# -ge 2 ] || die "$1 needs a value"; tag=$2; shift 2 ;;
        -o|--output) [ $# -ge 2 ] || die "$1 needs a value"; output=$2; shift 2 ;;
        -f|--force) force=true; shift ;;
        --build-arg) [ $# -ge 2 ] || die "$1 needs a value"; build_args+=(--build-arg "$2"); shift 2 ;;
        --network) [ $# -ge 2 ] || die "$1 needs a value"; build_args+=(--network "$2"); shift 2 ;;
        --no-build) build=false; shift ;;
        --archive) [ $# -ge 2 ] || die "$1 needs a value"; archive=$2; shift 2 ;;
        --save-only) save_only=true; shift ;;
        --no-fakeroot) try_fakeroot=false; shift ;;
        --notest) notest=true; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

docker=${DOCKER:-docker}
command -v "$docker" >/dev/null || die "'$docker' not found: install Docker (or set DOCKER=podman)."

builder=${APPTAINER:-}
if [ -z "$builder" ] && ! $save_only; then
    if command -v apptainer >/dev/null; then builder=apptainer
    elif command -v singularity >/dev/null; then builder=singularity
    else
        die "neither apptainer nor singularity is installed here. Install Apptainer (https://apptainer.org/docs/admin/main/installation.html), or run with --save-only --archive classify.tar and convert the archive on a machine that has it (see container/README.md)."
    fi
fi
if $save_only && [ -z "$archive" ]; then die "--save-only needs --archive FILE"; fi
case "$output" in /*) ;; *) output=$PWD/$output ;; esac
if ! $save_only && [ -e "$output" ] && ! $force; then die "$output exists (use --force to overwrite)"; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/build-sif.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -z "$archive" ]; then archive=$tmp/classify.tar; fi
case "$archive" in /*) ;; *) archive=$PWD/$archive ;; esac

if $build; then
    echo "==> docker build -t $tag $repo"
    revision=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
    created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    DOCKER_BUILDKIT=1 "$docker" build -t "$tag" \
        --build-arg REVISION="$revision" --build-arg CREATED="$created" \
        ${build_args[@]+"${build_args[@]}"} "$repo"
fi

echo "==> docker save -o $archive $tag"
"$docker" save -o "$archive" "$tag"
if $save_only; then
    echo "Saved $archive. Convert it where Apptainer/Singularity and root or fakeroot are available"
    echo "(Singularity.def with 'Bootstrap: docker-archive', see container/README.md)."
    exit 0
fi

# Singularity.def bootstraps from docker-daemon; the same sections on top of the archive:
def=$tmp/Singularity.def
awk -v archive="$archive" '
    !b && /^Bootstrap:/ { print "Bootstrap: docker-archive"; b = 1; next }
    !f && /^From:/      { print "From: " archive; f = 1; next }
    { print }' "$repo/Singularity.def" > "$def"

cmd=("$builder" build)
if $force; then cmd+=(--force); fi
if $notest; then cmd+=(--notest); fi
cmd+=("$output" "$def")

echo "==> $builder build $output (from $archive)"
if [ "$(id -u)" -eq 0 ]; then
    "${cmd[@]}"
elif $try_fakeroot && "$builder" build --fakeroot "${cmd[@]:2}"; then
    :
else
    if $try_fakeroot; then echo "build-sif.sh: '$builder build --fakeroot' failed (see above)." >&2; fi
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo "$(command -v "$builder")" "${cmd[@]:1}"
    else
        cat >&2 <<EOF
build-sif.sh: building a SIF from a definition file needs root, sudo or fakeroot, and none worked here.
  On an HPC login node you cannot sudo: build on a workstation where you have root (or where an admin ran
  '$builder config fakeroot --add $USER'), then copy the SIF to the cluster:
      container/build-sif.sh && scp classifier.sif cluster:~/
  Or keep this archive and convert it unprivileged (no %test/%help; the runscript then comes from the
  image's ENTRYPOINT): $builder build classifier.sif docker-archive://$archive
EOF
        if [ "$archive" = "$tmp/classify.tar" ]; then
            echo "  (rerun with --archive FILE to keep the archive; this one is removed now)" >&2
        fi
        exit 1
    fi
fi

echo "==> built $output ($(du -h "$output" | cut -f1)); check it with: $builder test $output"
