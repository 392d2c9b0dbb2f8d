/**
 * Interrupts of the mtty-like driver: one INTx line or one MSI vector, never
 * both, each signalled through a single eventfd. The behaviour follows the
 * kernel's mtty sample rather than vfio-pci:
 * - GET_IRQ_INFO knows only INTx (EVENTFD | MASKABLE | AUTOMASKED) and MSI
 *   (EVENTFD | NORESIZE), count 1; other indexes are EINVAL.
 * - SET_IRQS on MSI-X, ERR and REQ is ENOTTY; MSI MASK/UNMASK is ENOTTY; INTx
 *   MASK/UNMASK with an eventfd is ENOTTY (no unmask eventfd either).
 * - A data type and an action that match no case (no action bit, or several)
 *   do nothing and succeed.
 * - Installing a trigger first drops the old one, so a bad fd leaves the
 *   interrupt disabled.
 * - INTx is automasked after each signal; UNMASK clears the mask without
 *   re-signalling anything.
 * The device model raises its interrupts through the consumers installed here.
 */
import { Errno, VFIO_IRQ_INFO, VFIO_IRQ_SET, VFIO_IRQ_SET_MASKS, VFIO_PCI_IRQ } from "../../uapi/index.js";
import type { SerialMdev } from "../../hw/devices/serial-mdev.js";
import { EventFd } from "../eventfd.js";
import type { Kernel } from "../kernel.js";
import type { IrqData } from "../vfio-pci/set-irqs.js";

const SET_IRQS = "VFIO_DEVICE_SET_IRQS";
const { ACTION_MASK, ACTION_UNMASK, ACTION_TRIGGER } = VFIO_IRQ_SET.bits;
const INTX = VFIO_PCI_IRQ.VFIO_PCI_INTX_IRQ_INDEX;
const MSI = VFIO_PCI_IRQ.VFIO_PCI_MSI_IRQ_INDEX;

type Mode = "none" | "intx" | "msi";

export class MttyIrqs {
  private mode: Mode = "none";
  private intxTrigger: EventFd | null = null;
  private msiTrigger: EventFd | null = null;

  constructor(
    private readonly kernel: Kernel,
    private readonly uart: SerialMdev,
  ) {}

  /** The interrupt type in use (lab observation). */
  get activeType(): Mode {
    return this.mode;
  }

  /** GET_IRQ_INFO's flags and count for `index`, or EINVAL. */
  info(index: number): { flags: number; count: number } {
    const { EVENTFD, MASKABLE, AUTOMASKED, NORESIZE } = VFIO_IRQ_INFO.bits;
    if (index === INTX) return { flags: EVENTFD | MASKABLE | AUTOMASKED, count: 1 };
    if (index === MSI) return { flags: EVENTFD | NORESIZE, count: 1 };
    throw new Errno("EINVAL", `index ${index}: this mdev has only INTx (0) and MSI (1)`, "VFIO_DEVICE_GET_IRQ_INFO");
  }

  /** SET_IRQS after the core's validation. */
  set(flags: number, index: number, start: number, count: number, data: IrqData): number {
    const action = flags & VFIO_IRQ_SET_MASKS.VFIO_IRQ_SET_ACTION_TYPE_MASK;
    if (index === INTX) {
      if (action === ACTION_MASK || action === ACTION_UNMASK) return this.intxMask(action === ACTION_MASK, start, count, data);
      if (action === ACTION_TRIGGER) return this.trigger("intx", start, count, data);
      return 0;
    }
    if (index === MSI) {
      if (action === ACTION_MASK || action === ACTION_UNMASK) throw new Errno("ENOTTY", "MSI cannot be masked or unmasked here", SET_IRQS);
      if (action === ACTION_TRIGGER) return this.trigger("msi", start, count, data);
      return 0;
    }
    throw new Errno("ENOTTY", `index ${index} has no interrupts on this mdev (only INTx and MSI)`, SET_IRQS);
  }

  /** Last close: both interrupt types off, eventfds dropped. */
  disableAll(): void {
    this.disable("intx");
    this.disable("msi");
  }

  private intxMask(mask: boolean, start: number, count: number, data: IrqData): number {
    const what = mask ? "INTx MASK" : "INTx UNMASK";
    if (this.mode !== "intx" || start !== 0 || count !== 1) throw new Errno("EINVAL", `${what} needs INTx enabled, start 0 and count 1`, SET_IRQS);
    if (data.isEventfd) throw new Errno("ENOTTY", `${what} has no eventfd form on this mdev`, SET_IRQS);
    if (data.none || data.bool(0)) {
      if (mask) this.uart.maskIntx();
      else this.uart.unmaskIntx();
    }
    return 0;
  }

  private trigger(type: "intx" | "msi", start: number, count: number, data: IrqData): number {
    const name = type === "intx" ? "INTx" : "MSI";
    if (this.mode === type && count === 0 && data.none) {
      this.disable(type);
      return 0;
    }
    if ((this.mode !== type && this.mode !== "none") || start !== 0 || count !== 1) {
      throw new Errno("EINVAL", `${name} TRIGGER needs start 0, count 1 and no other interrupt type enabled (now: ${this.mode})`, SET_IRQS);
    }
    if (data.isEventfd) {
      this.disable(type);
      const fd = data.fd(0);
      if (fd < 0) return 0;
      this.enable(type, this.eventfd(fd));
      return 0;
    }
    if (this.mode !== type) throw new Errno("EINVAL", `${name} is not enabled: nothing to trigger`, SET_IRQS);
    if (data.none || data.bool(0)) this.loopback();
    return 0;
  }

  private eventfd(fd: number): EventFd {
    const f = this.kernel.file(fd, SET_IRQS);
    if (!(f instanceof EventFd)) throw new Errno("EINVAL", `fd ${fd} is a ${f.kind}, not an eventfd`, SET_IRQS);
    return f;
  }

  private enable(type: "intx" | "msi", efd: EventFd): void {
    const signal = () => efd.signal();
    if (type === "intx") {
      this.intxTrigger = efd;
      this.uart.setIntxConsumer(signal);
    } else {
      this.msiTrigger = efd;
      this.uart.setMsiConsumer(signal);
    }
    this.mode = type;
    this.uart.setIrqMode(type);
  }

  private disable(type: "intx" | "msi"): void {
    if (type === "intx") {
      if (!this.intxTrigger) return;
      this.intxTrigger = null;
      this.uart.setIntxConsumer(null);
    } else {
      if (!this.msiTrigger) return;
      this.msiTrigger = null;
      this.uart.setMsiConsumer(null);
    }
    this.mode = "none";
    this.uart.setIrqMode("none");
  }

  /** DATA_NONE / DATA_BOOL trigger: signal as the device would, INTx automask included. */
  private loopback(): void {
    if (this.mode === "msi") {
      this.msiTrigger?.signal();
    } else if (this.mode === "intx" && this.intxTrigger && !this.uart.intxIsMasked) {
      this.intxTrigger.signal();
      this.uart.maskIntx();
    }
  }
}
