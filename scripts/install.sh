#!/usr/bin/env bash
# Builds classify as a self-contained app with the bundled models, in one folder: a Native AOT executable where
# a C compiler is found (else ReadyToRun-compiled .NET).
#   scripts/install.sh [PREFIX]      (default PREFIX: ./dist; the app lands in PREFIX/classify/)
# Then run PREFIX/classify/classify, or put that folder on PATH.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-$repo/dist}
app="$prefix/classify"

if ! command -v dotnet >/dev/null 2>&1 || ! dotnet --list-sdks | grep -q '^10\.'; then
  echo "install.sh: the .NET 10 SDK is needed to build classify (https://dot.net/download, or your package manager's dotnet-sdk-10.0)." >&2
  echo "install.sh: no .NET? Use the container instead: see container/README.md." >&2
  exit 1
fi

# The TorchSharp backend's native libtorch (600 MB) is a build choice: CLASSIFY_LIBTORCH=cpu adds the CPU build.
libtorch=${CLASSIFY_LIBTORCH:-none}

# g++ does two jobs here. It links the Native AOT executable (a one-image run starts in about half the time of
# a ReadyToRun build), and with patchelf it patches libLibTorchSharp.so on hosts whose libstdc++ predates
# GCC 13 (Debian 12, RHEL 8/9; docs/torch.md). Install them where we can; without them classify is still
# built: ReadyToRun instead of AOT, and only --backend torch then reports the missing GLIBCXX version.
if ! command -v patchelf >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patchelf g++; } >/dev/null 2>&1 || true
  fi
fi
# libjpeg-turbo's TurboJPEG library (a system library, not bundled): classify decodes JPEG with it where it is
# installed, and with ImageSharp otherwise (then no arithmetic-coded JPEG and fewer damaged-data checks; README, Images).
if ! ldconfig -p 2>/dev/null | grep -q 'libturbojpeg\.so\.0 '; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libturbojpeg0; } >/dev/null 2>&1 || true
  fi
  ldconfig -p 2>/dev/null | grep -q 'libturbojpeg\.so\.0 ' \
    || echo "install.sh: libturbojpeg.so.0 not found: JPEG will be decoded by ImageSharp (install libturbojpeg0, or turbojpeg on RHEL, for libjpeg-turbo)" >&2
fi
# libspng (a system library too): classify decodes PNG with it where it is installed, and with ImageSharp otherwise
# (then four valid PngSuite images are decode timeouts and two are refused; README, Images).
if ! ldconfig -p 2>/dev/null | grep -q 'libspng\.so\.0 '; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libspng0; } >/dev/null 2>&1 || true
  fi
  ldconfig -p 2>/dev/null | grep -q 'libspng\.so\.0 ' \
    || echo "install.sh: libspng.so.0 not found: PNG will be decoded by ImageSharp (install libspng0, or libspng from EPEL on RHEL)" >&2
fi
patch=auto
if ! command -v patchelf >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then
  echo "install.sh: patchelf or g++ missing: building without the libstdc++ fix for the TorchSharp backend (see docs/torch.md)" >&2
  patch=never
fi
# CLASSIFY_AOT=false forces the ReadyToRun build.
aot=${CLASSIFY_AOT:-true}
if [ "$aot" = true ] && ! command -v gcc >/dev/null 2>&1 && ! command -v clang >/dev/null 2>&1; then
  echo "install.sh: no C compiler (gcc or clang) to link a Native AOT build: building ReadyToRun instead (slower start)" >&2
  aot=false
fi
if [ "$aot" = true ]; then build=(-p:PublishAot=true); else build=(--self-contained -p:PublishReadyToRun=true); fi
rm -rf "$app"
dotnet publish "$repo/src/Classify.Cli/Classify.Cli.csproj" -c Release -r linux-x64 "${build[@]}" \
  -p:ClassifyLibTorch="$libtorch" -p:ClassifyGlibcxxPatch="$patch" -o "$app" --nologo -v quiet
echo "install.sh: classify is in $app (run $app/classify --help)" >&2
