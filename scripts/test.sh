#!/usr/bin/env bash
# All of classify's tests: `dotnet test` on the solution (unit tests and real-process tests on the real models
# and photos), then the system tests scripts/ci/*-test.sh (a real Docker engine, a real Apptainer, a real Slurm cluster), which
# install and start what they need and stop it afterwards.
#   scripts/test.sh            everything (as root on Debian/Ubuntu: installs missing tools with apt-get)
#   scripts/test.sh --unit     only `dotnet test`
# The last line is the total of everything that ran: "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
unit_only=false
[ "${1:-}" = "--unit" ] && unit_only=true

# shellcheck source=scripts/ci/lib.sh
. "$repo/scripts/ci/lib.sh"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Tools the build and tests use: patchelf + g++ (TorchSharp's libstdc++ fix on older hosts),
# bubblewrap (the GPU-diagnosis test fakes a GPU node in a mount namespace), shellcheck.
# The decoding conformance test (tests/conformance) makes its corpus with ImageMagick, cjpeg, exiftool and libturbojpeg and
# decodes the reference with Debian's python3-pil; the fuzz test (tests/fuzz) writes its seeds with it too.
need=()
for tool in patchelf:patchelf g++:g++ bwrap:bubblewrap shellcheck:shellcheck convert-im6.q16:imagemagick \
            cjpeg:libjpeg-turbo-progs exiftool:libimage-exiftool-perl; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
/usr/bin/python3 -c 'import PIL.ImageCms' >/dev/null 2>&1 || need+=(python3 python3-pil)
# libjpeg-turbo's TurboJPEG library, which classify decodes JPEG with (the tests expect it, as the container has it).
ldconfig -p 2>/dev/null | grep -q 'libturbojpeg\.so\.0 ' || need+=(libturbojpeg0)
# libspng, which classify decodes PNG with (the PngSuite conformance test expects it, as the container has it).
ldconfig -p 2>/dev/null | grep -q 'libspng\.so\.0 ' || need+=(libspng0)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing ${need[*]}" >&2
    apt_install "$logs/apt.log" "${need[@]}" || { echo "test.sh: apt-get install ${need[*]} failed:" >&2; tail -20 "$logs/apt.log" >&2; }
  else
    echo "test.sh: missing ${need[*]}; some tests will fail or skip without them" >&2
  fi
fi

# 1. dotnet test: sum the per-assembly summaries ("Passed!  - Failed: 0, Passed: 23, Skipped: 0, ...").
dotnet test Classifier.sln -c Release --nologo 2>&1 | tee "$logs/dotnet-test.log"
rc=${PIPESTATUS[0]}
add_dotnet_totals "$logs/dotnet-test.log" || true
if [ "$rc" -ne 0 ] && ! grep -qE '^Failed! +- Failed: +[0-9]+' "$logs/dotnet-test.log"; then
  echo "test.sh: dotnet test failed (exit $rc) outside any test (build error?)" >&2
  failed=$((failed + 1))
fi

# 2. System tests: each prints PASS/FAIL lines and ends with "N passed, N failed".
if ! $unit_only; then
  # docker-test.sh first: apptainer-test.sh converts the image it builds (CLASSIFY_CI_IMAGE_BUILT tells it so).
  for script in scripts/ci/docker-test.sh scripts/ci/*-test.sh; do
    [ -e "$script" ] || continue
    [ "$script" = scripts/ci/docker-test.sh ] && [ -n "${docker_done:-}" ] && continue
    [ "$script" = scripts/ci/docker-test.sh ] && docker_done=1
    echo "=== $script" >&2
    log="$logs/$(basename "$script").log"
    CI=${CI:-} bash "$script" </dev/null 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ -z "$last" ]; then
      echo "test.sh: $script printed no totals (exit $rc)" >&2
      failed=$((failed + 1))
      continue
    fi
    if [ "$script" = scripts/ci/docker-test.sh ] && grep -q '^PASS: docker build (the repository' "$log"; then
      export CLASSIFY_CI_IMAGE_BUILT=1
    fi
    p=$(echo "$last" | cut -d' ' -f1)
    f=$(echo "$last" | cut -d' ' -f3)
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      echo "test.sh: $script exited $rc with no failed check" >&2
      failed=$((failed + 1))
    fi
  done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
