#!/usr/bin/env bash
# npm run test:real-kernel: the native backend, the conformance suite, the
# differential test and the notebooks against a real Linux kernel booted under
# QEMU (TCG). The executed notebooks come back to test-output/real-kernel/
# (REAL_KERNEL_EXECUTED to change).
#
# Builds (or takes from the cache) the guest kernel, builds the package and
# the test, packs the initramfs, boots it, and decides from the guest's
# sentinel. Skips with "skipped: ..." and status 0 only when QEMU or the kernel
# source cannot be had here; with VFIO_WORKBENCH_REQUIRE_REAL_KERNEL=1 (CI)
# that is a failure instead.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/test/real-kernel"
boot_timeout="${REAL_KERNEL_BOOT_TIMEOUT:-900}"

skip() {
  if [ "${VFIO_WORKBENCH_REQUIRE_REAL_KERNEL:-0}" = 1 ]; then
    echo "real-kernel: cannot run, and VFIO_WORKBENCH_REQUIRE_REAL_KERNEL=1: $*" >&2
    exit 1
  fi
  echo "skipped: $*"
  exit 0
}

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
qemu-system-x86_64 -accel help 2>/dev/null | grep -qx tcg || skip "this QEMU has no TCG accelerator"
devices="$(qemu-system-x86_64 -machine q35 -device help 2>/dev/null)"
for d in edu intel-iommu; do
  grep -q "name \"$d\"" <<<"$devices" || skip "this QEMU has no $d device"
done
for tool in cpio busybox ldd; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (see test/real-kernel/README.md for the packages)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/vfio-workbench-real-kernel.XXXXXX")"
keep=0
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "real-kernel: logs kept in $work"; fi; }
trap cleanup EXIT

echo "== guest kernel"
kstatus=0
vmlinux="$("$here/build-kernel.sh" | tail -n 1)" || kstatus=$?
[ "$kstatus" = 3 ] && skip "the guest kernel cannot be built here (see the build-kernel line above)"
[ "$kstatus" = 0 ] || { echo "real-kernel: the guest kernel build failed" >&2; exit 1; }

echo "== package (dist/ and the native addon) and the test"
cd "$repo"
npm run --silent build
[ -f build/Release/vfio_native.node ] || npm run --silent build:native
node node_modules/typescript/bin/tsc -p test/real-kernel/tsconfig.json --outDir "$work/stage"
harness="$work/stage/test/real-kernel/host/harness.js"

echo "== initramfs"
node "$harness" prepare --repo "$repo" --stage "$work/stage" --init "$here/guest/init.sh" \
  --busybox "$(command -v busybox)" --emulated "$work/emulated.json" --out "$work/initrd"

# the guest's notebooks on the emulator, for the differential of their outputs: on the host,
# beside QEMU's one vCPU thread; a failing cell keeps its error as its output, to be compared
mkdir -p "$work/emulated-notebooks"
(
  for nb in $(node "$harness" notebooks); do
    node dist/cli/main.js run "$nb" --allow-errors -o "$work/emulated-notebooks/$(basename "$nb")" >"$work/emulated-notebooks/$(basename "$nb").log" 2>&1 || true
  done
) &
emulating=$!

echo "== boot (TCG, timeout ${boot_timeout}s)"
start=$SECONDS
status=0
timeout --kill-after=10 "$boot_timeout" qemu-system-x86_64 \
  -machine q35,kernel-irqchip=split -accel tcg -cpu max -smp 1 -m 1536M \
  -device intel-iommu,intremap=on -device edu \
  -nodefaults -nographic -no-reboot -monitor none \
  -serial "file:$work/console.log" -serial "file:$work/results.log" \
  -kernel "$vmlinux" -initrd "$work/initrd" \
  -append "console=ttyS0 intel_iommu=on iommu=pt panic=-1 quiet" || status=$?
echo "QEMU exited with status $status after $((SECONDS - start)) s"
[ "$status" = 124 ] && echo "real-kernel: the guest ran past ${boot_timeout}s and was stopped"

wait "$emulating" || true

echo "== guest console"
# SeaBIOS clears the screen with escape sequences; drop them and the carriage returns
sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' -e 's/\r$//' "$work/console.log" || true

echo "== verdict"
if ! node "$harness" check --repo "$repo" --results "$work/results.log" --console "$work/console.log" \
  --emulated "$work/emulated.json" --markdown "$repo/docs-site/known-differences.md" --draft "$work/unlisted-differences.json" \
  --executed "${REAL_KERNEL_EXECUTED:-$repo/test-output/real-kernel}" --emulated-notebooks "$work/emulated-notebooks"; then
  keep=1
  exit 1
fi
