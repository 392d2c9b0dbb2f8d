/**
 * The emulated side of a conformance run: the machine with the device under
 * test (and a NIC peer for the peer-to-peer checks), guest RAM mapped through
 * the container, guest drivers that give the device real DMA work, and the
 * lab's view of memory. Real hardware has none of this; checks that use it
 * are skipped there.
 */
import { createEmuBackend, lab, type DeviceSpec, type EmulatedMachine, type MachineDevice } from "../backends/emu.js";
import { MMAP, type Mapping } from "../../hw-emu/uapi/index.js";
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from "../../hw-emu/uapi/pci-regs.js";
import type { MigState } from "../../hw-emu/uapi/migration-fsm.js";
import type { Container } from "../vfio/container.js";
import type { Device } from "../vfio/device.js";
import { openGroupDevices } from "./open.js";
import type { EmulatedTarget } from "./types.js";

/** Guest RAM the checks give to device DMA. */
export const RAM_IOVA = 0x1000_0000;
export const RAM_SIZE = 2 << 20;
/** IOVAs where peer BARs are mapped, far from RAM */
const PEER_WINDOW_IOVA = 0x80_0000_0000;

export interface GuestRam {
  mapping: Mapping;
  iova: number;
  size: number;
  /** host physical address of the first byte (the lab's memory is host memory) */
  host: number;
  view: lab.GuestView;
}

/** A content hash per IOVA page of guest RAM, for spotting what DMA changed. */
export type PageHashes = Map<number, number>;

export interface OpenedEmuDevice {
  entry: MachineDevice;
  device: Device;
}

function specOf(t: EmulatedTarget): DeviceSpec {
  return {
    model: t.model,
    ...(t.model === "nic" ? { stateSize: t.stateSize ?? 256 << 10 } : {}),
    ...(t.preCopy !== undefined ? { preCopy: t.preCopy } : {}),
    ...(t.ports !== undefined ? { ports: t.ports } : {}),
  };
}

export class LabEnv {
  private ramCache: GuestRam | null = null;
  private windows = new Map<string, number>();
  private nextWindow = PEER_WINDOW_IOVA;

  private constructor(
    readonly target: EmulatedTarget,
    readonly machine: EmulatedMachine,
    readonly dut: OpenedEmuDevice,
    /** a NIC beside a NIC under test, for peer-to-peer checks */
    readonly peer: OpenedEmuDevice | null,
    readonly container: Container,
    private readonly closeDevices: () => void,
  ) {}

  /** Build the machine and open its devices through a type1v2 container. */
  static create(t: EmulatedTarget): LabEnv {
    const dutSpec: DeviceSpec = { ...specOf(t), name: `${t.model}-under-test`, ...(t.faulty ? { faulty: t.faulty, faultyOptions: t.faultyOptions ?? {} } : {}) };
    const specs: DeviceSpec[] = [dutSpec];
    if (t.model === "nic") specs.push({ model: "nic", name: "peer-nic", stateSize: 16 << 10 });
    const machine = createEmuBackend({ seed: t.seed ?? 1, devices: specs, name: "conformance" });
    const opened = openGroupDevices(
      machine.sys,
      machine.devices.map((d) => ({ group: d.group, bdf: d.address })),
    );
    const [dut, peer] = machine.devices.map((entry, i) => ({ entry, device: opened.devices[i]! }));
    return new LabEnv(t, machine, dut!, peer ?? null, opened.container, opened.close);
  }

  /** The model behind the device under test (through the faulty wrapper). */
  get model(): lab.DeviceModel {
    return lab.modelOf(this.dut.entry.model);
  }

  /** Migration arcs the emulated kernel has walked for the device under test so far. */
  arcCount(): number {
    return lab.migrationArcs(this.dut.entry).length;
  }

  /** The states walked by arcs recorded since `since` (the kernel's own log), both ends included. */
  walkedSince(since: number): MigState[] {
    const arcs = lab.migrationArcs(this.dut.entry).slice(since);
    if (arcs.length === 0) return [];
    return [arcs[0]!.from, ...arcs.map((a) => a.to)];
  }

  /** Guest RAM, mapped for DMA at RAM_IOVA (made on first use). */
  ram(): GuestRam {
    if (this.ramCache) return this.ramCache;
    const sys = this.machine.sys;
    const mapping = sys.mmap(-1, RAM_SIZE, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_PRIVATE | MMAP.MAP_ANONYMOUS, 0n);
    this.container.mapDma({ vaddr: mapping.addr, iova: BigInt(RAM_IOVA), size: BigInt(RAM_SIZE) });
    const at = (iova: number, n: number) => {
      if (iova < RAM_IOVA || iova + n > RAM_IOVA + RAM_SIZE) throw new RangeError(`IOVA 0x${iova.toString(16)}+${n} is outside guest RAM`);
      return iova - RAM_IOVA;
    };
    this.ramCache = {
      mapping,
      iova: RAM_IOVA,
      size: RAM_SIZE,
      host: this.machine.lab.hostAddress(mapping),
      view: { read: (iova, n) => mapping.read(at(iova, n), n), write: (iova, d) => mapping.write(at(iova, d.byteLength), d) },
    };
    return this.ramCache;
  }

  /** Turn on memory decode and bus mastering through the device's config region, as a guest driver does. */
  enableDma(device: Device): void {
    const cfg = device.config;
    const cmd = cfg.read(PCI_COMMAND, 2);
    cfg.write(PCI_COMMAND, new Uint8Array([cmd[0]! | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, cmd[1]!]));
  }

  /** Page hashes of guest RAM, keyed by IOVA. */
  hashes(): PageHashes {
    const ram = this.ram();
    const out: PageHashes = new Map();
    for (const p of this.machine.lab.pageHashes(ram.host, ram.size)) out.set(p.gpa - ram.host + ram.iova, p.hash);
    return out;
  }

  /** IOVAs of pages whose content differs between two hash snapshots, ascending. */
  static changed(before: PageHashes, after: PageHashes): number[] {
    const out: number[] = [];
    for (const [iova, h] of after) if (before.get(iova) !== h) out.push(iova);
    return out.sort((a, b) => a - b);
  }

  /**
   * Map `to`'s BAR into the IOMMU so `from` can write it by DMA; returns the IOVA.
   * A VMM does this with MAP_DMA of the BAR's mmap; the emulated type1 maps only
   * anonymous memory, so the lab maps the window into the device's IOMMU domain.
   */
  peerWindow(from: OpenedEmuDevice, to: OpenedEmuDevice, bar = 0): number {
    const key = `${from.entry.address}>${to.entry.address}:${bar}`;
    const known = this.windows.get(key);
    if (known !== undefined) return known;
    const iova = this.nextWindow;
    const size = this.machine.lab.mapPeerBar(from.entry.model, to.entry.model, iova, { bar });
    if (size === null) throw new Error(`${to.entry.name} has no BAR${bar}`);
    this.nextWindow += Math.max(size, 1 << 20);
    this.windows.set(key, iova);
    return iova;
  }

  /** The device under test's internal state as the lab sees it. */
  snapshot(): Uint8Array {
    return lab.deviceSnapshot(this.dut.entry.model);
  }

  /** Let simulated time pass (scheduled device work runs). */
  advance(ns = 1_000_000): void {
    this.machine.lab.advance(ns);
  }

  /**
   * A second machine on the same clock with an identical, well-behaved device:
   * the destination a saved stream is resumed into.
   */
  destination(): { device: Device; snapshot(): Uint8Array; close(): void } {
    const m = createEmuBackend({ seed: (this.target.seed ?? 1) + 1, clock: this.machine.clock, devices: [{ ...specOf(this.target), name: `${this.target.model}-destination` }], name: "destination" });
    const entry = m.devices[0]!;
    const opened = openGroupDevices(m.sys, [{ group: entry.group, bdf: entry.address }]);
    return { device: opened.devices[0]!, snapshot: () => lab.deviceSnapshot(entry.model), close: opened.close };
  }

  close(): void {
    this.closeDevices();
  }
}
