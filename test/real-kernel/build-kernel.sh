#!/usr/bin/env bash
# Build the guest kernel for test/real-kernel from Debian's linux-source-6.12:
# tinyconfig plus kernel.config. The result is cached outside the repository,
# keyed by the options, the kernel source version and the compiler, at
#   $CACHE/kernel/<key>/vmlinux   (CACHE: $VFIO_WORKBENCH_CACHE, else ~/.cache/vfio-workbench)
# and its path is the last line printed on stdout. Progress goes to stderr.
# The build runs at the lowest priority (the machines are shared) with make -j2
# (KERNEL_BUILD_JOBS to change); the extracted source is removed afterwards
# unless KEEP_KERNEL_SOURCE=1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fragment="$here/kernel.config"
cache="${VFIO_WORKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-workbench}/kernel"
tarball=/usr/src/linux-source-6.12.tar.xz
jobs="${KERNEL_BUILD_JOBS:-2}"

log() { echo "build-kernel: $*" >&2; }
die() { log "$*"; exit 1; }
# status 3: this machine cannot build the kernel at all (run.sh turns it into a skip)
cannot() { log "cannot build here: $*"; exit 3; }

[ -f "$tarball" ] || cannot "no $tarball (apt-get install linux-source-6.12)"
version="$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || stat -c %s "$tarball")"
key="$( { cat "$fragment"; echo "linux-source-6.12 $version"; gcc --version 2>/dev/null | head -n1; } | sha256sum | cut -c1-16)"
out="$cache/$key"
if [ -f "$out/vmlinux" ]; then
  log "cached: $out/vmlinux"
  echo "$out/vmlinux"
  exit 0
fi

for tool in gcc make flex bison bc tar xz sha256sum flock; do
  command -v "$tool" >/dev/null || cannot "$tool is missing (apt-get install gcc make flex bison bc libelf-dev xz-utils)"
done
# objtool, which x86-64 always builds, needs libelf
[ -f /usr/include/gelf.h ] || cannot "libelf's headers are missing (apt-get install libelf-dev)"

mkdir -p "$cache"
exec 9>"$cache/.lock"
log "waiting for the build lock" && flock 9
if [ -f "$out/vmlinux" ]; then
  echo "$out/vmlinux"
  exit 0
fi

src="$cache/src/$version"
if [ ! -f "$src/.complete" ]; then
  log "extracting $tarball"
  rm -rf "$src" && mkdir -p "$src"
  nice -n 19 tar -xJf "$tarball" -C "$src" --strip-components=1
  touch "$src/.complete"
fi

build="$cache/build/$key"
rm -rf "$build" && mkdir -p "$build"
log "configuring in $build"
nice -n 19 make -s -C "$src" O="$build" tinyconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$fragment" >/dev/null
nice -n 19 make -s -C "$src" O="$build" olddefconfig >&2
# a dependency that is not met makes Kconfig drop an option silently: insist on each one
missing=0
while IFS= read -r line; do
  case "$line" in
    CONFIG_*) grep -qxF "$line" "$build/.config" || { log "option dropped by Kconfig: $line"; missing=1; } ;;
    "# CONFIG_"*) opt="${line#\# }"; opt="${opt%% *}"; ! grep -q "^$opt=" "$build/.config" || { log "option still set: $opt"; missing=1; } ;;
  esac
done <"$fragment"
[ "$missing" = 0 ] || die "kernel.config does not hold after olddefconfig"

log "building vmlinux (make -j$jobs at nice 19; about 8 minutes on 2 cores)"
start=$SECONDS
nice -n 19 make -s -C "$src" O="$build" -j"$jobs" vmlinux >&2
log "built in $((SECONDS - start)) s"

mkdir -p "$out.tmp"
cp "$build/vmlinux" "$build/.config" "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
# the objects and the 1.5 GB source tree are not needed once vmlinux is cached (extraction takes under a minute)
rm -rf "$build"
[ "${KEEP_KERNEL_SOURCE:-0}" = 1 ] || rm -rf "$src"
echo "$out/vmlinux"
