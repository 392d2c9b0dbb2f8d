/**
 * Both dirty-harvest ioctls fill a registered, word-aligned caller bitmap in place and any
 * other bitmap through a copy; the two paths must give the same bits, only ever set bits,
 * and clear the same state. Checked against a plain model over several IOAS areas whose
 * bit offsets are not word multiples, at page sizes coarser than, equal to and finer than
 * the 4 KiB IOMMU granule.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createMachine } from "../../hw-emu/machine/machine.js";
import { PageDirtyLog } from "../../hw-emu/hw/devices/dma-log.js";
import { parseBdf } from "../../hw-emu/hw/pci/address.js";
import { IOCTL, IOMMU_HWPT_GET_DIRTY_BITMAP, MMAP, iommu_hwpt_get_dirty_bitmap, vfio_device_feature_dma_logging_report } from "../../hw-emu/uapi/index.js";
import { Device, Iommufd, featureCall } from "../../kernel-lib/vfio/index.js";

const PG = 4096;
/** area lengths in pages: offsets 0, 5, 42, 106 pages from the first area */
const AREAS = [5, 37, 64, 23];
const TOTAL_PAGES = AREAS.reduce((a, b) => a + b, 0);
const BASE = 0x4000_0000;

function rig() {
  const m = createMachine({ devices: [{ model: "nic" }] });
  const ram = m.sys.mmap(-1, TOTAL_PAGES * PG, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_PRIVATE | MMAP.MAP_ANONYMOUS, 0n);
  const ctx = Iommufd.open(m.sys);
  const ioas = ctx.allocIoas();
  let off = 0;
  for (const pages of AREAS) {
    ioas.map({ userVa: ram.addr + BigInt(off * PG), length: BigInt(pages * PG), iova: BigInt(BASE + off * PG) });
    off += pages;
  }
  const { device, devId } = Device.openCdev(m.sys, m.devices[0]!.cdev).bind(ctx);
  const hwpt = ctx.allocHwpt(devId, ioas, { dirtyTracking: true });
  device.attach(hwpt.id);
  hwpt.setDirtyTracking(true);
  const domain = m.hw.iommu.domainOf(parseBdf(m.devices[0]!.address))!;
  return { m, ctx, hwpt, device, domain };
}

/** Three caller bitmaps of `bytes` bytes: aligned (in place), at byte offset 1 (copied), aligned with a stale bit. */
function buffers(bytes: number) {
  const aligned = new Uint8Array(bytes);
  const backing = new Uint8Array(bytes + 8);
  const odd = backing.subarray(1, 1 + bytes);
  const stale = new Uint8Array(bytes);
  stale[0] = 0x80;
  return { aligned, backing, odd, stale };
}

const bitsOf = (b: Uint8Array) => {
  const out: number[] = [];
  for (let i = 0; i < b.length * 8; i++) if ((b[i >>> 3]! >>> (i & 7)) & 1) out.push(i);
  return out;
};

/** The bits a report of [start, start+length) at `ps` should set for dirty 4 KiB pages `pages` (page numbers from BASE). */
function model(pages: readonly number[], start: number, length: number, ps: number): number[] {
  const end = start + length;
  const out = new Set<number>();
  for (const p of pages) {
    const s = Math.max(BASE + p * PG, start);
    const e = Math.min(BASE + (p + 1) * PG, end);
    for (let b = Math.floor((s - start) / ps); s < e && b <= Math.floor((e - 1 - start) / ps); b++) out.add(b);
  }
  return [...out].sort((x, y) => x - y);
}

const dirtyPages = fc.uniqueArray(fc.integer({ min: 0, max: TOTAL_PAGES - 1 }), { maxLength: 40 });
const window = fc.record({ shift: fc.constantFrom(11, 12, 13, 15), startPage: fc.integer({ min: 0, max: TOTAL_PAGES - 1 }), pages: fc.integer({ min: 1, max: TOTAL_PAGES }) });

describe("dirty bitmaps filled in place or through a copy", () => {
  it("HWPT_GET_DIRTY_BITMAP: the same bits either way, stale bits kept, the same state cleared (property)", () => {
    const { m, ctx, hwpt, domain } = rig();
    const get = (start: number, length: number, ps: number, data: bigint, noClear: boolean) =>
      m.sys.ioctl(
        ctx.fd,
        IOCTL.IOMMU_HWPT_GET_DIRTY_BITMAP,
        iommu_hwpt_get_dirty_bitmap.encode({ hwpt_id: hwpt.id, flags: noClear ? IOMMU_HWPT_GET_DIRTY_BITMAP.bits.NO_CLEAR : 0, iova: BigInt(start), length: BigInt(length), page_size: BigInt(ps), data }),
      );
    fc.assert(
      fc.property(dirtyPages, window, (pages, w) => {
        const ps = 2 ** w.shift;
        // a window aligned to the page size, inside the mapped span
        const start = BASE + Math.floor((w.startPage * PG) / ps) * ps;
        const length = Math.max(ps, Math.floor(Math.min(w.pages * PG, BASE + TOTAL_PAGES * PG - start) / ps) * ps);
        for (const p of pages) domain.markDirty(BASE + p * PG, PG);
        const bytes = Math.ceil(length / ps / 64) * 8;
        const { aligned, backing, odd, stale } = buffers(bytes);
        get(start, length, ps, m.sys.addressOf(aligned), true);
        get(start, length, ps, m.sys.addressOf(backing) + 1n, true);
        get(start, length, ps, m.sys.addressOf(stale), false);
        const want = model(pages, start, length, ps);
        expect(bitsOf(aligned)).toEqual(want);
        expect(bitsOf(odd)).toEqual(want);
        expect(bitsOf(stale)).toEqual([...new Set([7, ...want])].sort((x, y) => x - y));
        // what the clearing read took is gone; what lay outside its window is still there
        const after = new Uint8Array(Math.ceil(TOTAL_PAGES / 64) * 8);
        get(BASE, TOTAL_PAGES * PG, PG, m.sys.addressOf(after), false);
        const outside = pages.filter((p) => BASE + (p + 1) * PG <= start || BASE + p * PG >= start + length).sort((x, y) => x - y);
        expect(bitsOf(after)).toEqual(outside);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it("DMA_LOGGING_REPORT: the same bits either way, stale bits kept (property)", () => {
    const { m, device } = rig();
    const logging = device.dmaLogging!;
    logging.start([{ iova: BigInt(BASE), length: BigInt(TOTAL_PAGES * PG) }], PG);
    const log = m.devices[0]!.model.dmaLog as PageDirtyLog;
    const report = (start: number, length: number, ps: number, bitmap: bigint) =>
      featureCall(m.sys, device.fd, "DMA_LOGGING_REPORT", "get", vfio_device_feature_dma_logging_report.encode({ iova: BigInt(start), length: BigInt(length), page_size: BigInt(ps), bitmap }));
    fc.assert(
      fc.property(dirtyPages, window, (pages, w) => {
        const ps = 2 ** Math.max(12, w.shift);
        const start = BASE + w.startPage * PG;
        const length = Math.min(w.pages * PG, BASE + TOTAL_PAGES * PG - start);
        const bytes = Math.ceil(Math.ceil(length / ps) / 64) * 8;
        const { aligned, backing, odd, stale } = buffers(bytes);
        const record = () => {
          for (const p of pages) log.record(BASE + p * PG, 1);
        };
        record();
        report(start, length, ps, m.sys.addressOf(aligned));
        record();
        report(start, length, ps, m.sys.addressOf(backing) + 1n);
        record();
        report(start, length, ps, m.sys.addressOf(stale));
        const want = model(pages, start, length, ps);
        expect(bitsOf(aligned)).toEqual(want);
        expect(bitsOf(odd)).toEqual(want);
        expect(bitsOf(stale)).toEqual([...new Set([7, ...want])].sort((x, y) => x - y));
        // clear the rest of the log for the next run
        report(BASE, TOTAL_PAGES * PG, PG, m.sys.addressOf(new Uint8Array(Math.ceil(TOTAL_PAGES / 64) * 8)));
        expect(log.dirtyPageCount).toBe(0);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
