#!/bin/bash
# Makes the copies of libLibTorchSharp.so under DIR loadable on a host whose libstdc++ lacks GLIBCXX_3.4.32
# (Debian 12, RHEL 8/9). TorchSharp 0.107's libLibTorchSharp.so is built with GCC 13 and demands that
# version for a single symbol, std::ios_base_library_init(), which does nothing (see glibcxx-shim.cpp);
# libtorch 2.10 itself needs only GLIBCXX_3.4.26. For each copy this
#   1. marks its GLIBCXX_3.4.32 requirement weak (vernaux-weak.cpp), so the loader no longer insists on it,
#   2. drops the version from that one symbol (patchelf --clear-symbol-version),
#   3. adds a tiny library that defines the symbol (glibcxx-shim.cpp) as a dependency, beside it.
# The NuGet cache is never touched: only the build or publish output. Copies already patched are left alone.
# With MODE auto it does nothing where the host's libstdc++ has GLIBCXX_3.4.32; always/never force it.
#   usage: glibcxx-compat.sh DIR WORKDIR [auto|always|never]
# Called by build/TorchNative.targets after the native files are copied (build and publish).
set -euo pipefail
dir=${1:?usage: glibcxx-compat.sh DIR WORKDIR [auto|always|never]}
work=${2:?usage: glibcxx-compat.sh DIR WORKDIR [auto|always|never]}
mode=${3:-auto}
here=$(cd "$(dirname "$0")" && pwd)
shim=libclassify-glibcxx-shim.so
me="glibcxx-compat.sh"

system_libstdcxx() {
  local cache p
  cache=$(/sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null || true)
  p=$(awk '/libstdc\+\+\.so\.6 .*x86-64/ && !found {print $NF; found=1}' <<<"$cache")
  [[ -n $p ]] || for p in /lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6 /usr/lib/libstdc++.so.6; do
    [[ -e $p ]] && break
  done
  echo "$p"
}

case $mode in
  never) exit 0 ;;
  always) ;;
  auto)
    lib=$(system_libstdcxx)
    if [[ -e $lib ]] && grep -q 'GLIBCXX_3\.4\.32' "$lib"; then exit 0; fi ;;
  *) echo "$me: error CLASSIFY001: mode must be auto, always or never, not '$mode'" >&2; exit 2 ;;
esac

mapfile -t targets < <(find "$dir" -maxdepth 4 -name libLibTorchSharp.so -type f)
todo=()
for t in "${targets[@]}"; do
  grep -q "$shim" "$t" || todo+=("$t")
done
[[ ${#todo[@]} -gt 0 ]] || exit 0

for tool in patchelf g++; do
  if ! command -v "$tool" >/dev/null; then
    echo "$me: error CLASSIFY002: this host's libstdc++ lacks GLIBCXX_3.4.32, which libLibTorchSharp.so needs; patching the build output needs '$tool' (Debian/Ubuntu: apt-get install patchelf g++; RHEL: dnf install patchelf gcc-c++), or build with -p:ClassifyLibTorch=none, or -p:ClassifyGlibcxxPatch=never to skip it" >&2
    exit 1
  fi
done

mkdir -p "$work"
[[ $work/$shim -nt $here/glibcxx-shim.cpp ]] ||
  g++ -shared -fPIC -O2 -Wl,-soname,$shim -o "$work/$shim" "$here/glibcxx-shim.cpp"
[[ $work/vernaux-weak -nt $here/vernaux-weak.cpp ]] ||
  g++ -O2 -o "$work/vernaux-weak" "$here/vernaux-weak.cpp"

for t in "${todo[@]}"; do
  # Patch a private copy and rename it over the output file: the output may be a hard link into the
  # NuGet cache, which must stay as published.
  tmp=$(mktemp "$t.XXXXXX")
  cp "$t" "$tmp"
  "$work/vernaux-weak" "$tmp" GLIBCXX_3.4.32
  patchelf --clear-symbol-version _ZSt21ios_base_library_initv "$tmp"
  patchelf --add-needed "$shim" "$tmp"
  chmod 755 "$tmp"
  mv -f "$tmp" "$t"
  cp "$work/$shim" "$(dirname "$t")/$shim"
  echo "$me: patched $t for a libstdc++ without GLIBCXX_3.4.32"
done
