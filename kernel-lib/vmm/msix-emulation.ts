/**
 * The VMM's MSI-X for an assigned device: what QEMU 10.0 keeps for a vfio-pci device
 * (hw/pci/msix.c, and the vfio glue in hw/vfio/pci.c), over the uAPI only.
 *
 * The guest never touches the device's own vector table: vfio-pci hides it, and the host
 * kernel programs it with the host's messages when SET_IRQS enables MSI-X. The guest writes an
 * emulated table instead; its mask bits, its Message Control bits and its Pending Bit Array
 * are the VMM's. When the guest unmasks a vector (or enables MSI-X with vectors unmasked) the
 * vector is put in use: the VMM takes its message as the route (KVM's irqfd route in QEMU)
 * and gives the device an eventfd for it with VFIO_DEVICE_SET_IRQS. An interrupt on a vector
 * the guest masked sets the emulated PBA bit; the guest's unmask delivers it once. What the
 * VMM migrates is the table, the PBA and the Message Control bits (msix_save()/msix_load()).
 *
 * QEMU shows the guest its emulated PBA only while some vector is pending through it
 * (vfio_msix_setup() turns the PBA window off, vfio_msi_interrupt() turns it on, a vector
 * put in use turns it off when nothing is pending); otherwise a guest read of the PBA goes
 * through to the device's PBA, which vfio-pci lets userspace read. readPba() follows that.
 */
import type { Clock, ScheduledEvent, TimeSource } from "../../hw-emu/sim/clock.js";
import { EFD, VFIO_PCI_IRQ, type Syscalls } from "../../hw-emu/uapi/index.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import type { Device } from "../vfio/device.js";
import { readInterruptCapabilities, type MsixCapability } from "../vfio/pci-capabilities.js";

const MSIX = VFIO_PCI_IRQ.VFIO_PCI_MSIX_IRQ_INDEX;
const ENTRY = R.PCI_MSIX_ENTRY_SIZE;

/** One entry of the guest's vector table. */
export interface MsixEntry {
  address: bigint;
  data: number;
  masked: boolean;
}

/** What the VMM migrates for a device's MSI-X: Message Control bits, the table, the PBA (QEMU's msix_save() layout). */
export interface MsixSnapshot {
  vectors: number;
  enabled: boolean;
  functionMasked: boolean;
  /** 16 bytes per vector: address low, address high, data, vector control (little-endian) */
  table: Uint8Array;
  /** one bit per vector, ceil(vectors / 8) bytes */
  pba: Uint8Array;
}

/** What became of one interrupt at the VMM. */
export interface MsixEvent {
  timeNs: number;
  vector: number;
  /** "device": the device signalled the vector's eventfd; "unmask": the guest unmasked a pending vector */
  cause: "device" | "unmask";
  /**
   * delivered: a message went to the guest; pending: the guest masks the vector, so its PBA bit
   * is set; dropped: the vector is not in use (QEMU's msix_notify() sends nothing then)
   */
  outcome: "delivered" | "pending" | "dropped";
  /** eventfd count read (cause "device"): signals the device sent since the last read */
  signals: number;
  /** the message sent, when delivered */
  address?: bigint;
  data?: number;
}

export interface EmulatedMsixOptions {
  /** stamps events (default: all at 0) */
  time?: TimeSource;
}

export interface LoadOptions {
  /**
   * Re-run each vector's mask logic after loading, as msix_load() does (default true). false
   * copies the table in as bytes: vectors the table unmasks are not put in use.
   */
  replayMasks?: boolean;
}

interface VectorState {
  /** msix_entry_used: the vector has an eventfd on the device */
  used: boolean;
  eventfd: number | null;
  /** the message taken when the vector was put in use */
  route: { address: bigint; data: number } | null;
  /** vfio's own pending bit: the vector fired through the VMM while masked (drives the PBA window) */
  firedMasked: boolean;
}

export class EmulatedMsix {
  readonly cap: MsixCapability;
  readonly vectors: number;
  /** MSI-X vectors cannot be added while enabled (VFIO_IRQ_INFO_NORESIZE) */
  readonly noresize: boolean;
  readonly events: MsixEvent[] = [];
  private readonly table: Uint8Array;
  private readonly view: DataView;
  private readonly pba: Uint8Array;
  private enabledBit = false;
  private maskAllBit = false;
  /** msix_function_masked: updated when Message Control is written or loaded */
  private functionMaskedState = true;
  private readonly state: VectorState[];
  /** vdev->nr_vectors: vectors given to the device by the last enable */
  private nrVectors = 0;
  /** vfio_msix_enable() ran: the vector notifiers are set */
  private hostEnabledState = false;
  /** use notifiers defer SET_IRQS while vfio_msix_enable() walks the table */
  private deferring = false;
  private pbaWindow = false;
  private readonly time: TimeSource | null;

  constructor(
    readonly device: Device,
    private readonly sys: Syscalls,
    options: EmulatedMsixOptions = {},
  ) {
    const cap = readInterruptCapabilities(device).msix;
    if (!cap) throw new Error(`${device.name} has no MSI-X capability in its config region`);
    this.cap = cap;
    this.vectors = cap.vectors;
    this.noresize = device.irqInfo(MSIX).noresize;
    this.time = options.time ?? null;
    this.table = new Uint8Array(this.vectors * ENTRY);
    this.view = new DataView(this.table.buffer);
    this.pba = new Uint8Array(Math.ceil(this.vectors / 64) * 8);
    this.state = Array.from({ length: this.vectors }, () => ({ used: false, eventfd: null, route: null, firedMasked: false }));
    // every vector comes out of reset masked (msix_reset() -> msix_mask_all())
    for (let v = 0; v < this.vectors; v++) this.table[v * ENTRY + R.PCI_MSIX_ENTRY_VECTOR_CTRL] = R.PCI_MSIX_ENTRY_CTRL_MASKBIT;
  }

  private now(): number {
    return this.time ? this.time.now : 0;
  }

  private check(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v >= this.vectors) throw new RangeError(`${this.device.name}: MSI-X vector ${v} is not in 0..${this.vectors - 1}`);
  }

  // ---- the guest's view ----

  get enabled(): boolean {
    return this.enabledBit;
  }

  get functionMasked(): boolean {
    return this.maskAllBit;
  }

  entry(v: number): MsixEntry {
    this.check(v);
    return { ...this.message(v), masked: (this.table[v * ENTRY + R.PCI_MSIX_ENTRY_VECTOR_CTRL]! & R.PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0 };
  }

  private message(v: number): { address: bigint; data: number } {
    const o = v * ENTRY;
    const lo = BigInt(this.view.getUint32(o + R.PCI_MSIX_ENTRY_LOWER_ADDR, true));
    const hi = BigInt(this.view.getUint32(o + R.PCI_MSIX_ENTRY_UPPER_ADDR, true));
    return { address: (hi << 32n) | lo, data: this.view.getUint32(o + R.PCI_MSIX_ENTRY_DATA, true) };
  }

  /** msix_is_masked(): the vector's mask bit, or the function masked (Function Mask set, or MSI-X disabled) */
  isMasked(v: number): boolean {
    this.check(v);
    return this.functionMaskedState || this.entry(v).masked;
  }

  pending(v: number): boolean {
    this.check(v);
    return (this.pba[v >> 3]! & (1 << (v & 7))) !== 0;
  }

  pendingVectors(): number[] {
    const out: number[] = [];
    for (let v = 0; v < this.vectors; v++) if (this.pending(v)) out.push(v);
    return out;
  }

  /** A guest write of one table dword (msix_table_mmio_write()). */
  private writeDword(v: number, reg: number, value: number): void {
    const was = this.isMasked(v);
    this.view.setUint32(v * ENTRY + reg, value >>> 0, true);
    this.handleMaskUpdate(v, was);
  }

  /** The guest writes a vector's message (address and data dwords). The mask bit is left as it is. */
  writeEntry(v: number, msg: { address: bigint; data: number }): void {
    this.check(v);
    this.writeDword(v, R.PCI_MSIX_ENTRY_LOWER_ADDR, Number(msg.address & 0xffff_ffffn));
    this.writeDword(v, R.PCI_MSIX_ENTRY_UPPER_ADDR, Number((msg.address >> 32n) & 0xffff_ffffn));
    this.writeDword(v, R.PCI_MSIX_ENTRY_DATA, msg.data);
  }

  /** The guest writes a vector's Vector Control (its mask bit). */
  setMasked(v: number, masked: boolean): void {
    this.check(v);
    this.writeDword(v, R.PCI_MSIX_ENTRY_VECTOR_CTRL, masked ? R.PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
  }

  /**
   * The guest writes Message Control (vfio_pci_write_config() over the MSI-X capability):
   * the emulated bits change and the vectors' masks follow (msix_write_config()); turning
   * MSI-X on or off enables or disables it on the device (vfio_msix_enable()/_disable()).
   */
  setControl(bits: { enabled?: boolean; functionMasked?: boolean }): void {
    const wasEnabled = this.enabledBit;
    this.enabledBit = bits.enabled ?? this.enabledBit;
    this.maskAllBit = bits.functionMasked ?? this.maskAllBit;
    const wasMasked = this.functionMaskedState;
    this.updateFunctionMasked();
    if (this.enabledBit && this.functionMaskedState !== wasMasked) {
      for (let v = 0; v < this.vectors; v++) this.handleMaskUpdate(v, wasMasked || this.entry(v).masked);
    }
    if (!wasEnabled && this.enabledBit) this.enableHost();
    else if (wasEnabled && !this.enabledBit) this.disableHost();
  }

  /**
   * What the guest reads at the PBA: the emulated PBA while the VMM's PBA window is on,
   * otherwise the device's own PBA through the BAR region.
   */
  readPba(): Uint8Array {
    if (this.pbaWindow) return this.pba.slice();
    return this.device.region(this.cap.pbaBar).read(this.cap.pbaOffset, this.pba.length);
  }

  /** whether the guest's PBA reads are answered from the emulated PBA (QEMU's msix_pba_mmio enabled) */
  get pbaWindowOn(): boolean {
    return this.pbaWindow;
  }

  // ---- mask logic (msix_handle_mask_update() and the vector notifiers) ----

  private updateFunctionMasked(): void {
    this.functionMaskedState = !this.enabledBit || this.maskAllBit;
  }

  private handleMaskUpdate(v: number, wasMasked: boolean): void {
    const masked = this.isMasked(v);
    if (masked === wasMasked) return;
    // the use notifier; the release notifier (vfio_msix_vector_release()) changes nothing here:
    // QEMU keeps the eventfd on the device and takes the masked vector's interrupts itself,
    // which service() does for every vector
    if (this.hostEnabledState && !masked) this.use(v);
    if (!masked && this.pending(v)) {
      this.setPending(v, false);
      this.notify(v, "unmask", 0);
    }
  }

  private setPending(v: number, on: boolean): void {
    const bit = 1 << (v & 7);
    this.pba[v >> 3] = on ? this.pba[v >> 3]! | bit : this.pba[v >> 3]! & ~bit;
  }

  /** vfio_msix_vector_do_use(): give the vector an eventfd on the device and take its message as the route. */
  private use(v: number): void {
    const s = this.state[v]!;
    const resizing = this.nrVectors < v + 1;
    if (!s.used) {
      s.used = true;
      s.eventfd = this.sys.eventfd(0, EFD.EFD_NONBLOCK | EFD.EFD_CLOEXEC);
    }
    s.route = this.message(v);
    if (resizing) this.nrVectors = v + 1;
    if (!this.deferring) {
      if (this.noresize && resizing) {
        // the device cannot take vectors while MSI-X is on: off, then on with one more
        this.device.disableIrqs(MSIX);
        this.enableVectors();
      } else {
        this.setIrqs(v, [s.eventfd!]);
      }
    }
    s.firedMasked = false;
    if (!this.state.slice(0, this.nrVectors).some((x) => x.firedMasked)) this.pbaWindow = false;
  }

  private setIrqs(start: number, fds: number[]): void {
    const short = this.device.setIrqEventfds(MSIX, start, fds);
    if (short > 0) throw new Error(`${this.device.name}: VFIO_DEVICE_SET_IRQS gave only ${short} of ${fds.length} MSI-X vectors`);
  }

  /** vfio_enable_vectors(): one SET_IRQS for vectors 0..nr-1, -1 for the ones not in use. */
  private enableVectors(): void {
    this.setIrqs(0, this.state.slice(0, this.nrVectors).map((s) => (s.used ? s.eventfd! : -1)));
  }

  // ---- the device side ----

  get hostEnabled(): boolean {
    return this.hostEnabledState;
  }

  /** vectors with an eventfd on the device */
  get usedVectors(): number[] {
    return this.state.flatMap((s, v) => (s.used ? [v] : []));
  }

  /**
   * vfio_msix_enable(): put every vector the guest has unmasked in use, then one SET_IRQS
   * for them; with none, MSI-X is enabled on the device with no vector (vector 0 given fd -1),
   * as the guest's view has it. Returns the vectors put in use.
   */
  enableHost(): number[] {
    if (this.hostEnabledState) this.disableHost();
    this.hostEnabledState = true;
    this.deferring = true;
    try {
      if (this.enabledBit && !this.maskAllBit) {
        for (let v = 0; v < this.vectors; v++) if (!this.isMasked(v)) this.use(v);
      }
    } finally {
      this.deferring = false;
    }
    if (this.nrVectors > 0) this.enableVectors();
    else this.setIrqs(0, [-1]);
    return this.usedVectors;
  }

  /** vfio_msix_disable(): every vector out of use (their pending bits cleared), MSI-X off on the device. */
  disableHost(): void {
    if (!this.hostEnabledState) return;
    this.hostEnabledState = false;
    this.device.disableIrqs(MSIX);
    for (let v = 0; v < this.vectors; v++) {
      const s = this.state[v]!;
      if (s.used) this.setPending(v, false);
      if (s.eventfd !== null) this.sys.close(s.eventfd);
      this.state[v] = { used: false, eventfd: null, route: null, firedMasked: false };
    }
    this.nrVectors = 0;
  }

  /**
   * The VMM's event loop: read every vector's eventfd and handle what arrived
   * (vfio_msi_interrupt(), msix_notify()). Returns the vectors that had signalled.
   */
  service(): number {
    if (!this.hostEnabledState) return 0;
    const fds = this.state.flatMap((s) => (s.eventfd === null ? [] : [{ fd: s.eventfd, events: 1 }]));
    if (fds.length === 0) return 0;
    const ready = this.sys.poll(fds, 0);
    const buf = new Uint8Array(8);
    for (const r of ready) {
      const v = this.state.findIndex((s) => s.eventfd === r.fd);
      this.sys.read(r.fd, buf);
      const signals = Number(new DataView(buf.buffer).getBigUint64(0, true));
      if (this.isMasked(v)) {
        this.state[v]!.firedMasked = true;
        this.pbaWindow = true;
      }
      this.notify(v, "device", signals);
    }
    return ready.length;
  }

  /** Run service() every `periodNs` of simulated time until stopped (the VMM's main loop). */
  poll(clock: Clock, periodNs: number): { stop(): void } {
    if (!Number.isSafeInteger(periodNs) || periodNs <= 0) throw new RangeError(`poll period must be a positive integer of ns, got ${periodNs}`);
    let ev: ScheduledEvent | null = null;
    const tick = () => {
      this.service();
      ev = clock.after(periodNs, tick, `${this.device.name} MSI-X eventfds`);
    };
    ev = clock.after(periodNs, tick, `${this.device.name} MSI-X eventfds`);
    return {
      stop: () => {
        ev?.cancel();
        ev = null;
      },
    };
  }

  /** msix_notify(): nothing for a vector not in use; the PBA bit for a masked one; else the message. */
  private notify(v: number, cause: MsixEvent["cause"], signals: number): void {
    const base = { timeNs: this.now(), vector: v, cause, signals };
    const s = this.state[v]!;
    if (!s.used) {
      this.events.push({ ...base, outcome: "dropped" });
      return;
    }
    if (this.isMasked(v)) {
      this.setPending(v, true);
      this.events.push({ ...base, outcome: "pending" });
      return;
    }
    // the device's signal goes by the route taken at use; an unmask sends the table's message
    const msg = cause === "device" && s.route ? s.route : this.message(v);
    this.events.push({ ...base, outcome: "delivered", address: msg.address, data: msg.data });
  }

  // ---- migration ----

  /** msix_save(), with the Message Control bits QEMU migrates as part of the emulated config space. */
  snapshot(): MsixSnapshot {
    return {
      vectors: this.vectors,
      enabled: this.enabledBit,
      functionMasked: this.maskAllBit,
      table: this.table.slice(),
      pba: this.pba.slice(0, Math.ceil(this.vectors / 8)),
    };
  }

  /**
   * msix_load(): Message Control, the table and the PBA from a snapshot, then (unless
   * `replayMasks` is false) each vector's mask logic as if every vector had been masked
   * before. Enabling MSI-X on the device is a separate step (enableHost()).
   */
  load(s: MsixSnapshot, options: LoadOptions = {}): void {
    if (s.vectors !== this.vectors || s.table.length !== this.vectors * ENTRY || s.pba.length !== Math.ceil(this.vectors / 8)) {
      throw new Error(`${this.device.name}: an MSI-X snapshot of ${s.vectors} vectors does not fit a table of ${this.vectors}`);
    }
    this.enabledBit = s.enabled;
    this.maskAllBit = s.functionMasked;
    this.pba.fill(0);
    this.table.set(s.table);
    this.pba.set(s.pba);
    this.updateFunctionMasked();
    if (options.replayMasks === false) return;
    for (let v = 0; v < this.vectors; v++) this.handleMaskUpdate(v, true);
  }

  /** Close the eventfds (the device's MSI-X is left as it is). */
  close(): void {
    for (const s of this.state) {
      if (s.eventfd !== null) this.sys.close(s.eventfd);
      s.eventfd = null;
      s.used = false;
    }
  }
}
