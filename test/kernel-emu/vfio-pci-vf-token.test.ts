import { describe, expect, it } from "vitest";
import { Errno, IOCTL, VFIO_DEVICE_FEATURE_FLAG, VFIO_IRQ_SET, vfio_device_feature } from "../../hw-emu/uapi/index.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { DeviceFile, VfioDevice, checkToken } from "../../hw-emu/kernel/vfio/device.js";
import type { Kernel } from "../../hw-emu/kernel/kernel.js";
import { VfioPciDriver } from "../../hw-emu/kernel/vfio-pci/index.js";
import { DeviceIo, buildFunction, buildSriov, newKernel } from "./fixtures/pci-fixture.js";

const { GET, SET, PROBE } = VFIO_DEVICE_FEATURE_FLAG.bits;
const TOKEN = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const OTHER = Uint8Array.from({ length: 16 }, (_, i) => i);

function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof Errno) return e.code;
    throw e;
  }
  return "ok";
}

/** What VFIO_GROUP_GET_DEVICE_FD does: the token check, then the fd. */
function open(kernel: Kernel, device: VfioDevice, token: Uint8Array | null): number {
  checkToken(device, token, "VFIO_GROUP_GET_DEVICE_FD");
  return kernel.install(new DeviceFile(kernel, device, "group"));
}

function vfToken(kernel: Kernel, fd: number, flags: number, uuid: Uint8Array | null, argsz?: number): number {
  const buf = new Uint8Array(8 + 16);
  buf.set(vfio_device_feature.encode({ argsz: argsz ?? (uuid ? 24 : 8), flags }).subarray(0, 8));
  if (uuid) buf.set(uuid, 8);
  return kernel.ioctl(fd, IOCTL.VFIO_DEVICE_FEATURE, buf);
}

function sriovMachine(bindPf = true) {
  const { kernel } = newKernel();
  const s = buildSriov(kernel);
  const pfDriver = bindPf ? new VfioPciDriver({ kernel, fn: s.pf.fn, vectors: s.pool }) : null;
  const pfDevice = pfDriver ? new VfioDevice("0000:03:00.0", pfDriver, 0, 3) : null;
  const pfFd = pfDevice ? open(kernel, pfDevice, null) : -1;
  const vfs = s.pf.sriov.enableVfs(2);
  const vfDevices = vfs.map((fn, i) => new VfioDevice(`0000:03:00.${i + 1}`, new VfioPciDriver({ kernel, fn, msix: s.vfMsix.get(i)!, vectors: s.pool }), i + 1, 4 + i));
  return { kernel, ...s, pfDriver, pfDevice, pfFd, vfs, vfDevices };
}

describe("trap 17: VF token", () => {
  it("trap 17: a VF whose PF is on vfio-pci needs the PF's token: missing or wrong is EACCES", () => {
    const m = sriovMachine();
    const vf = m.vfDevices[0]!;
    expect(errno(() => open(m.kernel, vf, null))).toBe("EACCES");
    expect(errno(() => open(m.kernel, vf, TOKEN))).toBe("EACCES");
    expect(vfToken(m.kernel, m.pfFd, SET | 0, TOKEN)).toBe(0);
    expect(errno(() => open(m.kernel, vf, OTHER))).toBe("EACCES");
    expect(errno(() => open(m.kernel, vf, TOKEN))).toBe("ok");
  });

  it("trap 17: a token for a VF whose PF is not on vfio-pci is EINVAL; without one the VF opens", () => {
    const m = sriovMachine(false);
    const vf = m.vfDevices[0]!;
    expect(errno(() => open(m.kernel, vf, TOKEN))).toBe("EINVAL");
    expect(errno(() => open(m.kernel, vf, null))).toBe("ok");
  });

  it("trap 17: a PF bound to a different driver does not share its token with the VFs", () => {
    const { kernel } = newKernel();
    const s = buildSriov(kernel);
    new VfioPciDriver({ kernel, fn: s.pf.fn, driverName: "other-variant" });
    const [vfFn] = s.pf.sriov.enableVfs(1);
    const vf = new VfioDevice("vf", new VfioPciDriver({ kernel, fn: vfFn!, msix: s.vfMsix.get(0)! }), 1, 4);
    expect(errno(() => open(kernel, vf, TOKEN))).toBe("EINVAL");
    expect(errno(() => open(kernel, vf, null))).toBe("ok");
  });

  it("trap 17: a PF with VFs in use needs the current token; without VF users a token sets it", () => {
    const m = sriovMachine();
    vfToken(m.kernel, m.pfFd, SET, TOKEN);
    open(m.kernel, m.vfDevices[0]!, TOKEN);
    m.kernel.close(m.pfFd);
    expect(errno(() => open(m.kernel, m.pfDevice!, null))).toBe("EACCES");
    expect(errno(() => open(m.kernel, m.pfDevice!, OTHER))).toBe("EACCES");
    const pfFd = open(m.kernel, m.pfDevice!, TOKEN);
    m.kernel.close(pfFd);
    // close the VF: no users, so the PF's next token replaces the old one
    for (const [fd, f] of m.kernel.openFiles()) if (f instanceof DeviceFile && f.device === m.vfDevices[0]) m.kernel.close(fd);
    expect(errno(() => open(m.kernel, m.pfDevice!, OTHER))).toBe("ok");
    expect(errno(() => open(m.kernel, m.vfDevices[1]!, TOKEN))).toBe("EACCES");
    expect(errno(() => open(m.kernel, m.vfDevices[1]!, OTHER))).toBe("ok");
  });

  it("trap 17: a token for a function that is neither PF nor VF is EINVAL", () => {
    const { kernel } = newKernel();
    const dev = buildFunction(kernel);
    const d = new VfioDevice("plain", new VfioPciDriver({ kernel, fn: dev.fn, msix: dev.msix, msi: dev.msi, intx: dev.intx }), 0, 1);
    expect(errno(() => open(kernel, d, TOKEN))).toBe("EINVAL");
    const fd = open(kernel, d, null);
    // and it has no PCI_VF_TOKEN feature
    expect(errno(() => vfToken(kernel, fd, SET, TOKEN))).toBe("ENOTTY");
  });

  it("PCI_VF_TOKEN: SET only, PROBE succeeds, a short payload is EINVAL", () => {
    const m = sriovMachine();
    expect(vfToken(m.kernel, m.pfFd, SET | PROBE, null)).toBe(0);
    expect(errno(() => vfToken(m.kernel, m.pfFd, GET | PROBE, null))).toBe("EINVAL");
    expect(errno(() => vfToken(m.kernel, m.pfFd, GET, TOKEN))).toBe("EINVAL");
    expect(errno(() => vfToken(m.kernel, m.pfFd, SET, TOKEN, 8 + 15))).toBe("EINVAL");
    // other feature indexes the core leaves to vfio-pci are ENOTTY
    expect(errno(() => vfToken(m.kernel, m.pfFd, SET | 3, null))).toBe("ENOTTY");
  });

  it("vfio-pci refuses to bind a PF whose VFs are already enabled", () => {
    const { kernel } = newKernel();
    const s = buildSriov(kernel);
    s.pf.sriov.enableVfs(1);
    expect(errno(() => new VfioPciDriver({ kernel, fn: s.pf.fn }))).toBe("EBUSY");
  });
});

describe("vfio-pci on an SR-IOV VF", () => {
  it("trap 15: VFs report INTx count 0 and every INTx SET_IRQS is EINVAL", () => {
    const m = sriovMachine();
    vfToken(m.kernel, m.pfFd, SET, TOKEN);
    const fd = open(m.kernel, m.vfDevices[0]!, TOKEN);
    const io = new DeviceIo(m.kernel, fd);
    expect(io.irqInfo(0).count).toBe(0);
    const { DATA_NONE, DATA_EVENTFD, ACTION_TRIGGER, ACTION_MASK } = VFIO_IRQ_SET.bits;
    expect(errno(() => io.setIrqs(DATA_EVENTFD | ACTION_TRIGGER, 0, 0, 1, io.eventfds(1)))).toBe("EINVAL");
    expect(errno(() => io.setIrqs(DATA_NONE | ACTION_MASK, 0, 0, 1))).toBe("EINVAL");
    expect(errno(() => io.setIrqs(DATA_NONE | ACTION_TRIGGER, 0, 0, 0))).toBe("EINVAL");
    expect(io.irqInfo(2).count).toBe(4);
  });

  it("a VF's Memory Space Enable is virtual: BARs stay reachable and the bit reads back as written", () => {
    const m = sriovMachine();
    vfToken(m.kernel, m.pfFd, SET, TOKEN);
    const fd = open(m.kernel, m.vfDevices[1]!, TOKEN);
    const io = new DeviceIo(m.kernel, fd);
    expect(io.cfg(0) >>> 0).toBe(0x101e15b3);
    expect(io.writeU(0, 0x10, 4, 0x1234)).toBe(4);
    expect(io.readU(0, 0x10, 4)).toBe(0x1234);
    io.setCfg(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
    expect(io.cfg(R.PCI_COMMAND, 2) & R.PCI_COMMAND_MEMORY).toBe(R.PCI_COMMAND_MEMORY);
    expect(m.vfs[1]!.command() & R.PCI_COMMAND_MEMORY).toBe(0);
    // BAR sizing on a VF works from the PF's VF BAR
    io.setCfg(R.PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    expect(io.cfg(R.PCI_BASE_ADDRESS_0) >>> 0).toBe(0xffffc004);
    // the PF exposes its SR-IOV capability read-only
    const pfIo = new DeviceIo(m.kernel, m.pfFd);
    expect(pfIo.cfg(0x100) & 0xffff).toBe(R.PCI_EXT_CAP_ID_SRIOV);
    const ctrl = 0x100 + R.PCI_SRIOV_CTRL;
    pfIo.setCfg(ctrl, 2, 0);
    expect(m.pf.sriov.vfEnable).toBe(true);
  });
});
