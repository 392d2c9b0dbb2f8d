/**
 * The setup the ioctl-path harvest benchmarks share: an emulated machine with one NIC,
 * a large anonymous mmap mapped into one IOAS, a dirty-tracking HWPT the NIC's cdev is
 * attached to, the seeded scattered page pattern of dirty-harvest, and the baseline
 * (one plain summing pass over a Uint32Array the size of the bitmap).
 */
import { createMachine, type EmulatedMachine } from "../hw-emu/machine/machine.js";
import { MMAP, type Syscalls } from "../hw-emu/uapi/index.js";
import { Random } from "../hw-emu/sim/random.js";
import { Device, Iommufd, type CdevDevice, type Hwpt, type Ioas } from "../kernel-lib/vfio/index.js";
import type { DirtyBitmap } from "../kernel-lib/vfio/bitmap.js";
import { bestOf, consume, round3 } from "./timing.js";
import type { BenchResult } from "./types.js";

export const PAGE = 4096;

export interface HarvestRig {
  machine: EmulatedMachine;
  sys: Syscalls;
  /** bytes of IOVA, mapped from IOVA 0 */
  range: number;
  pages: number;
  iommufd: Iommufd;
  ioas: Ioas;
  hwpt: Hwpt;
  device: CdevDevice;
  /** the user bitmap the timed calls fill: one bit per 4 KiB page of the range, registered once */
  bitmap: Uint8Array;
}

/**
 * Build the machine and open everything through the syscall line: mmap, IOAS_MAP (one
 * mapping), bind, HWPT_ALLOC with DIRTY_TRACKING, attach, SET_DIRTY_TRACKING.
 */
export function harvestRig(range: number): HarvestRig {
  const machine = createMachine({ devices: [{ model: "nic" }] });
  const sys = machine.sys;
  const mem = sys.mmap(-1, range, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_PRIVATE | MMAP.MAP_ANONYMOUS | MMAP.MAP_NORESERVE, 0n);
  const iommufd = Iommufd.open(sys);
  const ioas = iommufd.allocIoas();
  ioas.map({ userVa: mem.addr, length: BigInt(range), iova: 0n });
  const { device, devId } = Device.openCdev(sys, machine.devices[0]!.cdev).bind(iommufd);
  const hwpt = iommufd.allocHwpt(devId, ioas, { dirtyTracking: true });
  device.attach(hwpt.id);
  hwpt.setDirtyTracking(true);
  const pages = range / PAGE;
  const bitmap = new Uint8Array(pages / 8);
  sys.addressOf(bitmap);
  return { machine, sys, range, pages, iommufd, ioas, hwpt, device, bitmap };
}

/** 1% of `pages`, scattered: gaps uniform in [1, 199] pages (mean 100), seeded as dirty-harvest is. */
export function scatteredPages(pages: number): Int32Array {
  const rng = new Random(0x1dea);
  const out: number[] = [];
  for (let p = rng.int(0, 199); p < pages; p += rng.int(1, 199)) out.push(p);
  return Int32Array.from(out);
}

/** Number of set bits in a byte bitmap (checks only; skips zero words). */
function countSetBits(bytes: Uint8Array): number {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  let n = 0;
  for (let i = 0; i < words.length; i++) {
    let w = words[i]!;
    while (w !== 0) {
      w &= w - 1;
      n++;
    }
  }
  return n;
}

/** Whether exactly the bits of `pages` are set in `bytes`. */
function holdsExactly(bytes: Uint8Array, pages: Int32Array): boolean {
  if (countSetBits(bytes) !== pages.length) return false;
  for (let i = 0; i < pages.length; i++) {
    const p = pages[i]!;
    if (((bytes[p >>> 3]! >>> (p & 7)) & 1) === 0) return false;
  }
  return true;
}

/** The baseline: best of `reps` plain summing passes over the bitmap's bytes as a Uint32Array. */
function baselineMs(bitmap: Uint8Array, reps: number): number {
  const words = new Uint32Array(bitmap.buffer, bitmap.byteOffset, bitmap.byteLength >>> 2);
  return bestOf(reps, () => {
    let s = 0;
    for (let i = 0; i < words.length; i++) s = (s + words[i]!) | 0;
    consume(s);
  });
}

export interface HarvestMeasure {
  /** benchmark name, for its result and its error messages */
  name: string;
  quick: boolean;
  rig: HarvestRig;
  /** the pages made dirty before each timed call */
  dirty: Int32Array;
  /** make `dirty` dirty again (lab side, outside the timed region) */
  mark: () => void;
  /** the raw ioctl into the rig's registered bitmap (read-and-clear) */
  harvest: () => unknown;
  /** the library call a notebook makes, which allocates its own bitmap */
  libraryCall: () => DirtyBitmap;
}

/**
 * Time the raw harvest (best of N, bitmap zeroed and pages re-marked before each call), check it
 * reported exactly the marked pages and that a second call reports none, time the library call,
 * and measure the baseline; returns the benchmark's result.
 */
export function measureHarvest(m: HarvestMeasure): BenchResult {
  const { name, quick, rig, dirty, mark, harvest } = m;
  const { bitmap, range } = rig;
  // best of 11: the hosts are shared and noisy (anchors §3.2)
  const reps = quick ? 2 : 11;
  const projectMs = bestOf(reps, harvest, () => {
    bitmap.fill(0);
    mark();
  });
  if (!holdsExactly(bitmap, dirty)) throw new Error(`${name}: reported ${countSetBits(bitmap)} dirty pages, expected exactly the ${dirty.length} marked`);
  bitmap.fill(0);
  harvest();
  if (countSetBits(bitmap) !== 0) throw new Error(`${name}: bits survived a read-and-clear`);

  let last: DirtyBitmap | null = null;
  const libraryMs = bestOf(quick ? 1 : 3, () => (last = m.libraryCall()), mark);
  const libraryCount = last === null ? 0 : (last as DirtyBitmap).count();
  if (libraryCount !== dirty.length) throw new Error(`${name}: the library call reported ${libraryCount} pages, expected ${dirty.length}`);

  const baseMs = baselineMs(bitmap, reps);
  const ratio = projectMs / baseMs;
  return {
    name,
    ratio: round3(ratio),
    target: "ratio <= 2",
    ok: ratio <= 2,
    project_ms: round3(projectMs),
    baseline_ms: round3(baseMs),
    library_call_ms: round3(libraryMs),
    iova_range_gib: range / 2 ** 30,
    bitmap_mib: bitmap.byteLength / 2 ** 20,
    dirty_pages: dirty.length,
    quick,
  };
}
