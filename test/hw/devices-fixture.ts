/**
 * A small machine for device tests: guest memory identity-mapped through one
 * IOMMU domain, a DMA engine with peer windows synced from the PCI bus.
 */
import { Clock } from "../../hw-emu/sim/clock.js";
import { DmaEngine } from "../../hw-emu/hw/dma.js";
import { Iommu, PERM_RW, type IoDomain } from "../../hw-emu/hw/iommu.js";
import { GuestMemory } from "../../hw-emu/hw/memory.js";
import { MmioMap } from "../../hw-emu/hw/mmio.js";
import { PciBus } from "../../hw-emu/hw/pci/bus.js";
import { PeerWindowSync } from "../../hw-emu/hw/pci/p2p-windows.js";
import { ResourceAllocator, assignBars } from "../../hw-emu/hw/pci/resources.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import type { PciFunction } from "../../hw-emu/hw/pci/function.js";
import type { MsixController } from "../../hw-emu/hw/msix.js";
import { identityView } from "../../hw-emu/lab/guest-drivers.js";

export const MEM_SIZE = 64 * 1024 * 1024;
/** where peer BARs are mapped in the IOMMU */
export const P2P_IOVA = 0x100_0000_0000;

export function machine() {
  const clock = new Clock();
  const memory = new GuestMemory({ size: MEM_SIZE });
  const iommu = new Iommu({ clock });
  const mmio = new MmioMap();
  const dma = new DmaEngine({ memory, iommu, mmio, clock });
  const bus = new PciBus();
  const alloc = new ResourceAllocator();
  const windows = new PeerWindowSync(bus, mmio);
  const domain: IoDomain = iommu.createDomain({ name: "guest" });
  domain.map(0, 0, MEM_SIZE, PERM_RW);
  const view = identityView(memory);
  let p2pNext = P2P_IOVA;
  return {
    clock,
    memory,
    iommu,
    mmio,
    dma,
    bus,
    alloc,
    windows,
    domain,
    view,
    /** attach, assign BARs, enable decode and bus mastering, put in the guest domain */
    plug(fn: PciFunction, rid: number) {
      bus.attach(fn, rid);
      assignBars(fn, alloc, { enableDecode: true, busMaster: true });
      iommu.attach(rid, domain);
    },
    /** maps a function's BAR into the guest domain for peer-to-peer; returns its IOVA */
    mapPeerBar(fn: PciFunction, bar: number): number {
      const iova = p2pNext;
      const size = fn.bar(bar)!.size;
      domain.map(iova, Number(fn.barAddress(bar)!), size, PERM_RW);
      p2pNext += Math.max(size, 0x10000);
      return iova;
    },
  };
}

/** Enables MSI-X and unmasks every vector. */
export function enableMsix(fn: PciFunction, msix: MsixController): void {
  fn.configWrite(msix.capOffset + R.PCI_MSIX_FLAGS, 2, R.PCI_MSIX_FLAGS_ENABLE);
  for (let v = 0; v < msix.vectors; v++) {
    fn.mmioWrite(msix.tableBar, msix.tableOffset + 16 * v, 4, 0xfee00000);
    fn.mmioWrite(msix.tableBar, msix.tableOffset + 16 * v + 8, 4, 0x40 + v);
    fn.mmioWrite(msix.tableBar, msix.tableOffset + 16 * v + 12, 4, 0);
  }
}

export function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Reads a whole save stream in chunks of `chunk` bytes until it returns nothing. */
export function drain(stream: { read(max: number): Uint8Array }, chunk = 65536): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const b = stream.read(chunk);
    if (b.length === 0) break;
    parts.push(b);
    total += b.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes `data` into a resume stream in pieces of varying sizes. */
export function feed(stream: { write(b: Uint8Array): number }, data: Uint8Array, sizes = [1, 7, 4096, 13, 65536]): void {
  let at = 0;
  let k = 0;
  while (at < data.length) {
    const n = Math.min(sizes[k++ % sizes.length]!, data.length - at);
    stream.write(data.subarray(at, at + n));
    at += n;
  }
}
