/**
 * A device behind an emulated IOMMU (the mtty-like mdev) binds to iommufd as an
 * access object, as in Linux: it attaches straight to an IOAS, ATTACH reports
 * the IOAS's own id, and its id is no device id to GET_HW_INFO or HWPT_ALLOC.
 */
import { describe, expect, it } from "vitest";
import { createMachine } from "../../hw-emu/machine/machine.js";
import { IOCTL, iommu_destroy, iommu_hw_info, iommu_hwpt_alloc } from "../../hw-emu/uapi/index.js";
import { Device, Iommufd, VfioError } from "../../kernel-lib/vfio/index.js";

describe("emulated-IOMMU devices bind to iommufd as an access", () => {
  const m = createMachine({ devices: [{ model: "serial" }, { model: "nic" }] });
  const ictx = Iommufd.open(m.sys);
  const ioas = ictx.allocIoas();
  const other = ictx.allocIoas();
  const { device: serial, devId } = Device.openCdev(m.sys, m.devices[0]!.cdev).bind(ictx);
  const { device: nic, devId: nicId } = Device.openCdev(m.sys, m.devices[1]!.cdev).bind(ictx);

  it("ATTACH to an IOAS reports the IOAS id itself, again and after a detach; re-attaching elsewhere replaces it", () => {
    expect(serial.attach(ioas.id)).toBe(ioas.id);
    expect(serial.attach(ioas.id)).toBe(ioas.id);
    serial.detach();
    expect(serial.attach(ioas.id)).toBe(ioas.id);
    expect(serial.attach(other.id)).toBe(other.id);
    serial.attach(ioas.id);
  });

  it("ATTACH to a HWPT is ENOENT: an access takes only an IOAS", () => {
    const hwptId = nic.attach(ioas.id);
    expect(hwptId).not.toBe(ioas.id);
    expect(() => serial.attach(hwptId)).toThrowError(/ENOENT/);
  });

  it("its id is not a device: GET_HW_INFO and HWPT_ALLOC answer ENOENT, while the NIC's works", () => {
    expect(() => m.sys.ioctl(ictx.fd, IOCTL.IOMMU_GET_HW_INFO, iommu_hw_info.encode({ dev_id: devId }))).toThrowError(/ENOENT/);
    expect(() => m.sys.ioctl(ictx.fd, IOCTL.IOMMU_HWPT_ALLOC, iommu_hwpt_alloc.encode({ dev_id: devId, pt_id: ioas.id }))).toThrowError(/ENOENT/);
    expect(ictx.hwInfo(nicId).dirtyTracking).toBe(true);
  });

  it("the IOAS it is attached to cannot be destroyed; the access itself is held by VFIO", () => {
    serial.attach(other.id);
    expect(() => m.sys.ioctl(ictx.fd, IOCTL.IOMMU_DESTROY, iommu_destroy.encode({ id: other.id }))).toThrowError(/EBUSY/);
    serial.attach(ioas.id);
    expect(() => m.sys.ioctl(ictx.fd, IOCTL.IOMMU_DESTROY, iommu_destroy.encode({ id: other.id }))).not.toThrow();
    try {
      ictx.destroy(devId);
      expect.unreachable();
    } catch (e) {
      expect((e as VfioError).code).toBe("EBUSY");
    }
    serial.detach();
    nic.detach();
    expect(() => ictx.destroy(ioas.id)).not.toThrow();
  });
});
