import { describe, expect, it } from "vitest";
import { Errno, IOCTL, MMAP, VFIO_IRQ_SET, vfio_irq_set } from "../../hw-emu/uapi/index.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { HostVectorPool } from "../../hw-emu/kernel/vfio-pci/index.js";
import { setup } from "./fixtures/pci-fixture.js";

const { DATA_NONE, DATA_BOOL, DATA_EVENTFD, ACTION_MASK, ACTION_UNMASK, ACTION_TRIGGER } = VFIO_IRQ_SET.bits;
const [INTX, MSI, MSIX, ERR, REQ] = [0, 1, 2, 3, 4];
const EFD_TRIGGER = DATA_EVENTFD | ACTION_TRIGGER;
const NONE_TRIGGER = DATA_NONE | ACTION_TRIGGER;

function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof Errno) return e.code;
    throw e;
  }
  return "ok";
}

function live(spec = {}, opts = {}) {
  const t = setup(spec, opts);
  t.io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
  return t;
}

function raw(t: ReturnType<typeof setup>, hdr: { argsz: number; flags: number; index: number; start: number; count: number }, extra = 0): number {
  const buf = new Uint8Array(20 + extra);
  buf.set(vfio_irq_set.encode(hdr).subarray(0, 20));
  return t.kernel.ioctl(t.fd, IOCTL.VFIO_DEVICE_SET_IRQS, buf);
}

describe("vfio-pci SET_IRQS: validation order", () => {
  it("header checks, then start/count against the index's count, then data type, then data length", () => {
    const t = live();
    const ok = { argsz: 20, flags: NONE_TRIGGER, index: MSIX, start: 0, count: 0 };
    expect(errno(() => raw(t, { ...ok, argsz: 19 }))).toBe("EINVAL");
    expect(errno(() => raw(t, { ...ok, index: 5 }))).toBe("EINVAL");
    expect(errno(() => raw(t, { ...ok, start: 1, count: 0xfffffffe }))).toBe("EINVAL");
    expect(errno(() => raw(t, { ...ok, flags: NONE_TRIGGER | 0x40 }))).toBe("EINVAL");
    expect(errno(() => raw(t, { ...ok, flags: DATA_NONE | DATA_BOOL | ACTION_TRIGGER }))).toBe("EINVAL");
    expect(errno(() => raw(t, { ...ok, flags: DATA_NONE | DATA_BOOL | ACTION_TRIGGER | ACTION_MASK }))).toBe("EINVAL");
    // two actions with a valid data type pass validation and fail dispatch
    expect(errno(() => raw(t, { ...ok, flags: DATA_NONE | ACTION_TRIGGER | ACTION_MASK }))).toBe("ENOTTY");
    expect(errno(() => raw(t, { ...ok, flags: DATA_NONE }))).toBe("ENOTTY");
    expect(errno(() => raw(t, { argsz: 20 + 7, flags: EFD_TRIGGER, index: MSIX, start: 0, count: 2 }, 8))).toBe("EINVAL");
    expect(errno(() => raw(t, { argsz: 28, flags: EFD_TRIGGER, index: MSIX, start: 0, count: 2 }, 4))).toBe("EFAULT");
  });

  it("trap 14: start/count are checked against the vector count even when count is 0", () => {
    const t = live();
    expect(errno(() => t.io.setIrqs(NONE_TRIGGER, MSIX, 8, 0))).toBe("EINVAL");
    expect(errno(() => t.io.setIrqs(NONE_TRIGGER, MSIX, 7, 2))).toBe("EINVAL");
    // an index with no vectors refuses everything
    const noMsi = live({ msiVectors: null });
    expect(errno(() => noMsi.io.setIrqs(NONE_TRIGGER, MSI, 0, 0))).toBe("EINVAL");
  });

  it("MSI and MSI-X have no MASK/UNMASK (ENOTTY); REQ has TRIGGER only", () => {
    const t = live();
    expect(errno(() => t.io.setIrqs(DATA_NONE | ACTION_MASK, MSIX, 0, 1))).toBe("ENOTTY");
    expect(errno(() => t.io.setIrqs(DATA_NONE | ACTION_UNMASK, MSI, 0, 1))).toBe("ENOTTY");
    expect(errno(() => t.io.setIrqs(DATA_NONE | ACTION_MASK, REQ, 0, 1))).toBe("ENOTTY");
  });
});

describe("vfio-pci SET_IRQS: MSI-X", () => {
  it("enables with eventfds; hardware vectors signal their eventfd", () => {
    const t = live();
    const efds = t.io.eventfds(4);
    expect(t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 4, efds)).toBe(0);
    expect(t.driver.interruptType).toBe("msix");
    expect(t.msix!.enabled).toBe(true);
    expect(t.msix!.fire(2)).toBe("delivered");
    expect(efds.map((e) => t.io.count(e))).toEqual([0n, 0n, 1n, 0n]);
    // vectors beyond the enabled block have no eventfd
    expect(t.msix!.fire(5)).toBe("pending");
  });

  it("trap 14: fd -1 in an eventfd array tears down that one vector", () => {
    const t = live();
    const efds = t.io.eventfds(3);
    t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 3, efds);
    t.io.setIrqs(EFD_TRIGGER, MSIX, 1, 1, [-1]);
    t.msix!.fire(0);
    t.msix!.fire(1);
    t.msix!.fire(2);
    expect(efds.map((e) => t.io.count(e))).toEqual([1n, 0n, 1n]);
    expect(t.msix!.pending(1)).toBe(true);
    // a new eventfd on vector 1 unmasks it and the pending message arrives
    const [again] = t.io.eventfds(1);
    t.io.setIrqs(EFD_TRIGGER, MSIX, 1, 1, [again!]);
    expect(t.io.count(again!)).toBe(1n);
  });

  it("adding vectors past the enabled count is EINVAL unless MSI-X is dynamic", () => {
    const t = live();
    t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 2, t.io.eventfds(2));
    expect(errno(() => t.io.setIrqs(EFD_TRIGGER, MSIX, 4, 1, t.io.eventfds(1)))).toBe("EINVAL");
    const d = live({}, { dynamicMsix: true });
    d.io.setIrqs(EFD_TRIGGER, MSIX, 0, 2, d.io.eventfds(2));
    const [late] = d.io.eventfds(1);
    expect(d.io.setIrqs(EFD_TRIGGER, MSIX, 4, 1, [late!])).toBe(0);
    d.msix!.fire(4);
    expect(d.io.count(late!)).toBe(1n);
    expect(d.driver.hostVectors.length).toBe(3);
  });

  it("loopback with DATA_NONE and DATA_BOOL signals the selected vectors that have an eventfd", () => {
    const t = live();
    const efds = t.io.eventfds(3);
    expect(errno(() => t.io.setIrqs(NONE_TRIGGER, MSIX, 0, 1))).toBe("EINVAL"); // not active yet
    t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 3, [efds[0]!, -1, efds[2]!]);
    t.io.setIrqs(NONE_TRIGGER, MSIX, 0, 3);
    expect(efds.map((e) => t.io.count(e))).toEqual([1n, 0n, 1n]);
    t.io.setIrqs(DATA_BOOL | ACTION_TRIGGER, MSIX, 0, 3, [0, 1, 1]);
    expect(efds.map((e) => t.io.count(e))).toEqual([1n, 0n, 2n]);
  });

  it("count 0 with DATA_NONE disables and gives the host vectors back", () => {
    const pool = new HostVectorPool({ capacity: 8 });
    const t = live({}, { vectors: pool });
    t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 4, t.io.eventfds(4));
    expect(pool.available).toBe(4);
    expect(t.io.setIrqs(NONE_TRIGGER, MSIX, 0, 0)).toBe(0);
    expect(t.msix!.enabled).toBe(false);
    expect(t.driver.interruptType).toBe("none");
    expect(pool.available).toBe(8);
  });

  it("trap 14: SET_IRQS MSI enable returns the number of vectors available when fewer", () => {
    const pool = new HostVectorPool({ capacity: 2 });
    const t = live({}, { vectors: pool });
    expect(t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 4, t.io.eventfds(4))).toBe(2);
    expect(t.driver.interruptType).toBe("none");
    expect(t.msix!.enabled).toBe(false);
    expect(pool.available).toBe(2);
    expect(t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 2, t.io.eventfds(2))).toBe(0);
    // MSI too: the positive count is the answer, nothing is enabled
    const m = live({}, { vectors: new HostVectorPool({ capacity: 1 }) });
    expect(m.io.setIrqs(EFD_TRIGGER, MSI, 0, 4, m.io.eventfds(4))).toBe(1);
    expect(m.msi!.enabled).toBe(false);
    // and with nothing left at all the allocation fails
    const none = live({}, { vectors: new HostVectorPool({ capacity: 0 }) });
    expect(errno(() => none.io.setIrqs(EFD_TRIGGER, MSIX, 0, 1, none.io.eventfds(1)))).toBe("ENOSPC");
  });

  it("bad fds: EBADF, a non-eventfd EINVAL; a failed enable leaves nothing enabled", () => {
    const pool = new HostVectorPool({ capacity: 8 });
    const t = live({}, { vectors: pool });
    const [a] = t.io.eventfds(1);
    expect(errno(() => t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 2, [a!, 999]))).toBe("EBADF");
    expect(t.driver.interruptType).toBe("none");
    expect(pool.available).toBe(8);
    expect(errno(() => t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 1, [t.fd]))).toBe("EINVAL");
    // on an active index, the vectors this call changed are left without eventfds
    const efds = t.io.eventfds(3);
    t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 3, efds);
    const fresh = t.io.eventfds(1);
    expect(errno(() => t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 2, [fresh[0]!, 999]))).toBe("EBADF");
    t.io.setIrqs(NONE_TRIGGER, MSIX, 0, 3);
    expect([...efds, ...fresh].map((e) => t.io.count(e))).toEqual([0n, 0n, 1n, 0n]);
  });

  it("a message the host did not program (rewritten through mmap) is not delivered", () => {
    const t = live();
    const [e] = t.io.eventfds(1);
    t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 1, [e!]);
    const m = t.kernel.mmap(t.fd, 0x4000, MMAP.PROT_READ | MMAP.PROT_WRITE, MMAP.MAP_SHARED, 0n);
    m.write(0x2000 + 8, Uint8Array.of(0x99, 0, 0, 0));
    t.msix!.fire(0);
    expect(t.io.count(e!)).toBe(0n);
  });
});

describe("vfio-pci SET_IRQS: one interrupt type at a time", () => {
  it("MSI, MSI-X and INTx exclude each other until disabled", () => {
    const t = live();
    t.io.setIrqs(EFD_TRIGGER, MSIX, 0, 1, t.io.eventfds(1));
    expect(errno(() => t.io.setIrqs(EFD_TRIGGER, MSI, 0, 1, t.io.eventfds(1)))).toBe("EINVAL");
    expect(errno(() => t.io.setIrqs(EFD_TRIGGER, INTX, 0, 1, t.io.eventfds(1)))).toBe("EINVAL");
    // disabling an index that is not active is EINVAL too
    expect(errno(() => t.io.setIrqs(NONE_TRIGGER, MSI, 0, 0))).toBe("EINVAL");
    t.io.setIrqs(NONE_TRIGGER, MSIX, 0, 0);
    expect(t.io.setIrqs(EFD_TRIGGER, MSI, 0, 1, t.io.eventfds(1))).toBe(0);
    expect(t.driver.interruptType).toBe("msi");
  });
});

describe("vfio-pci SET_IRQS: MSI", () => {
  it("programs the host message, Multiple Message Enable rounded up, and per-vector masks", () => {
    const t = live();
    const efds = t.io.eventfds(3);
    t.io.setIrqs(EFD_TRIGGER, MSI, 0, 3, [efds[0]!, efds[1]!, -1]);
    expect(t.msi!.enabled).toBe(true);
    expect(t.msi!.enabledVectors).toBe(4);
    expect(t.msi!.fire(1)).toBe("delivered");
    expect(t.msi!.fire(2)).toBe("pending"); // no eventfd: masked
    expect(efds.map((e) => t.io.count(e))).toEqual([0n, 1n, 0n]);
    t.io.setIrqs(NONE_TRIGGER, MSI, 0, 0);
    expect(t.msi!.enabled).toBe(false);
  });
});

describe("vfio-pci SET_IRQS: INTx", () => {
  it("is automasked: a firing masks the line until UNMASK", () => {
    const t = live();
    const [e] = t.io.eventfds(1);
    t.io.setIrqs(EFD_TRIGGER, INTX, 0, 1, [e!]);
    expect(t.driver.interruptType).toBe("intx");
    t.intx!.assert();
    expect(t.io.count(e!)).toBe(1n);
    expect(t.fn.intxDisabled()).toBe(true); // the host masked it
    t.intx!.deassert();
    t.intx!.assert();
    expect(t.io.count(e!)).toBe(1n);
    // still asserted: UNMASK signals again and stays masked
    t.io.setIrqs(DATA_NONE | ACTION_UNMASK, INTX, 0, 1);
    expect(t.io.count(e!)).toBe(2n);
    expect(t.fn.intxDisabled()).toBe(true);
    t.intx!.deassert();
    t.io.setIrqs(DATA_BOOL | ACTION_UNMASK, INTX, 0, 1, [1]);
    expect(t.fn.intxDisabled()).toBe(false);
    t.intx!.assert();
    expect(t.io.count(e!)).toBe(3n);
  });

  it("MASK keeps the line quiet; MASK/UNMASK need INTx active, start 0, count 1; MASK has no eventfd form", () => {
    const t = live();
    expect(errno(() => t.io.setIrqs(DATA_NONE | ACTION_MASK, INTX, 0, 1))).toBe("EINVAL");
    const [e] = t.io.eventfds(1);
    t.io.setIrqs(EFD_TRIGGER, INTX, 0, 1, [e!]);
    t.io.setIrqs(DATA_BOOL | ACTION_MASK, INTX, 0, 1, [1]);
    t.intx!.assert();
    expect(t.io.count(e!)).toBe(0n);
    expect(errno(() => t.io.setIrqs(DATA_NONE | ACTION_MASK, INTX, 0, 0))).toBe("EINVAL");
    expect(errno(() => t.io.setIrqs(DATA_EVENTFD | ACTION_MASK, INTX, 0, 1, [e!]))).toBe("ENOTTY");
  });

  it("an unmask eventfd unmasks when written; only one at a time", () => {
    const t = live();
    const [trig, unmask, other] = t.io.eventfds(3);
    t.io.setIrqs(EFD_TRIGGER, INTX, 0, 1, [trig!]);
    t.io.setIrqs(DATA_EVENTFD | ACTION_UNMASK, INTX, 0, 1, [unmask!]);
    expect(errno(() => t.io.setIrqs(DATA_EVENTFD | ACTION_UNMASK, INTX, 0, 1, [other!]))).toBe("EBUSY");
    t.intx!.assert();
    t.intx!.deassert();
    expect(t.fn.intxDisabled()).toBe(true);
    const one = new Uint8Array(8);
    one[0] = 1;
    t.kernel.write(unmask!, one);
    expect(t.fn.intxDisabled()).toBe(false);
    expect(t.io.count(unmask!)).toBe(0n); // consumed by the kernel
    t.io.setIrqs(DATA_EVENTFD | ACTION_UNMASK, INTX, 0, 1, [-1]);
    expect(t.io.setIrqs(DATA_EVENTFD | ACTION_UNMASK, INTX, 0, 1, [other!])).toBe(0);
  });

  it("loopback, disable with count 0, and the user's INTx Disable bit", () => {
    const t = live();
    const [e] = t.io.eventfds(1);
    expect(errno(() => t.io.setIrqs(NONE_TRIGGER, INTX, 0, 1))).toBe("EINVAL");
    t.io.setIrqs(EFD_TRIGGER, INTX, 0, 1, [e!]);
    t.io.setIrqs(NONE_TRIGGER, INTX, 0, 1);
    t.io.setIrqs(DATA_BOOL | ACTION_TRIGGER, INTX, 0, 1, [0]);
    expect(t.io.count(e!)).toBe(1n);
    t.io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER | R.PCI_COMMAND_INTX_DISABLE);
    t.intx!.assert();
    t.io.setIrqs(NONE_TRIGGER, INTX, 0, 1);
    expect(t.io.count(e!)).toBe(1n);
    // clearing it unmasks, and the asserted line is signalled
    t.io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER);
    expect(t.io.count(e!)).toBe(2n);
    t.io.setIrqs(NONE_TRIGGER, INTX, 0, 0);
    expect(t.driver.interruptType).toBe("none");
  });

  it("INTx enabled with fd -1 has no eventfd but still automasks; an eventfd installed later gets the next firing", () => {
    const t = live();
    t.io.setIrqs(EFD_TRIGGER, INTX, 0, 1, [-1]);
    expect(t.driver.interruptType).toBe("intx");
    t.intx!.assert();
    expect(t.fn.intxDisabled()).toBe(true);
    const [e] = t.io.eventfds(1);
    t.io.setIrqs(EFD_TRIGGER, INTX, 0, 1, [e!]);
    t.intx!.deassert();
    t.io.setIrqs(DATA_NONE | ACTION_UNMASK, INTX, 0, 1);
    t.intx!.assert();
    expect(t.io.count(e!)).toBe(1n);
  });

  it("a level already asserted fires as soon as the eventfd is installed", () => {
    const t = live();
    t.intx!.assert();
    const [e] = t.io.eventfds(1);
    t.io.setIrqs(EFD_TRIGGER, INTX, 0, 1, [e!]);
    expect(t.io.count(e!)).toBe(1n);
  });
});

describe("vfio-pci SET_IRQS: ERR and REQ", () => {
  it("install, signal from the host, loopback, remove", () => {
    const t = live();
    const [err, req] = t.io.eventfds(2);
    expect(errno(() => t.io.setIrqs(NONE_TRIGGER, ERR, 0, 1))).toBe("EINVAL"); // nothing installed
    t.io.setIrqs(EFD_TRIGGER, ERR, 0, 1, [err!]);
    t.io.setIrqs(EFD_TRIGGER, REQ, 0, 1, [req!]);
    expect(t.driver.reportError()).toBe(true);
    expect(t.driver.requestRelease()).toBe(true);
    t.io.setIrqs(NONE_TRIGGER, ERR, 0, 1);
    t.io.setIrqs(DATA_BOOL | ACTION_TRIGGER, REQ, 0, 1, [1]);
    expect([t.io.count(err!), t.io.count(req!)]).toEqual([2n, 2n]);
    expect(errno(() => t.io.setIrqs(DATA_BOOL | ACTION_TRIGGER, ERR, 0, 0))).toBe("EINVAL");
    expect(errno(() => t.io.setIrqs(EFD_TRIGGER, ERR, 0, 0))).toBe("EINVAL");
    t.io.setIrqs(NONE_TRIGGER, ERR, 0, 0); // count 0 removes
    expect(t.driver.reportError()).toBe(false);
    t.io.setIrqs(EFD_TRIGGER, REQ, 0, 1, [-1]);
    expect(t.driver.requestRelease()).toBe(false);
  });

  it("ERR does not exist on conventional PCI", () => {
    const t = live({ pcie: false });
    expect(errno(() => t.io.setIrqs(EFD_TRIGGER, ERR, 0, 1, t.io.eventfds(1)))).toBe("EINVAL");
  });
});
