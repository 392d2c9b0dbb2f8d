import { describe, expect, it } from "vitest";
import { IOCTL, VFIO_EXTENSION, VFIO_GROUP_FLAGS, vfio_device_bind_iommufd, vfio_group_status } from "../../hw-emu/uapi/index.js";
import { RID_A, RID_B, cString, dmaMachine, errnoNumberOf, errnoOf, intPtr } from "./fixtures/dma-machine.js";

const TOKEN = Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
const TOKEN_STR = "12345678-9abc-def0-0123-456789abcdef";

function machine() {
  return dmaMachine([
    { name: "0000:01:00.0", groupId: 7, rid: RID_A },
    { name: "0000:02:00.1", groupId: 8, rid: RID_B, token: TOKEN },
    { name: "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", groupId: 9, pinned: true },
  ]);
}

function status(kernel: ReturnType<typeof machine>["kernel"], g: number): number {
  const s = vfio_group_status.encode({ argsz: 8 });
  kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_STATUS, s);
  return vfio_group_status.decode(s).flags;
}

/** group fd with a type1v2 container set */
function ready(m: ReturnType<typeof machine>, group = 7) {
  const c = m.kernel.open("/dev/vfio/vfio");
  const g = m.kernel.open(`/dev/vfio/${group}`);
  m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
  m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU);
  return { c, g };
}

describe("VFIO groups", () => {
  it("appear in /dev/vfio and /sys/kernel/iommu_groups, and open once at a time", () => {
    const { kernel } = machine();
    expect(kernel.readdir("/dev/vfio")).toEqual(expect.arrayContaining(["7", "8", "9", "vfio"]));
    expect(kernel.readdir("/sys/kernel/iommu_groups/7/devices")).toEqual(["0000:01:00.0"]);
    expect(kernel.readlink("/sys/kernel/iommu_groups/7/devices/0000:01:00.0")).toBe("/sys/bus/pci/devices/0000:01:00.0");
    expect(kernel.readlink("/sys/kernel/iommu_groups/9/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001")).toMatch(/^\/sys\/bus\/mdev\/devices\//);
    const g = kernel.open("/dev/vfio/7");
    expect(errnoOf(() => kernel.open("/dev/vfio/7"))).toBe("EBUSY");
    kernel.close(g);
    kernel.close(kernel.open("/dev/vfio/7"));
  });

  it("GET_STATUS: VIABLE, then CONTAINER_SET; argsz below 8 is EINVAL", () => {
    const m = machine();
    const g = m.kernel.open("/dev/vfio/7");
    expect(status(m.kernel, g)).toBe(VFIO_GROUP_FLAGS.bits.VIABLE);
    expect(errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_STATUS, vfio_group_status.encode({ argsz: 7 })))).toBe("EINVAL");
    const c = m.kernel.open("/dev/vfio/vfio");
    m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    expect(status(m.kernel, g)).toBe(VFIO_GROUP_FLAGS.bits.VIABLE | VFIO_GROUP_FLAGS.bits.CONTAINER_SET);
  });

  it("SET_CONTAINER: EBADF for a closed fd, EBADFD for a non-container fd, EINVAL when already set", () => {
    const m = machine();
    const g = m.kernel.open("/dev/vfio/7");
    expect(errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(99)))).toBe("EBADF");
    const efd = m.kernel.eventfd(0);
    expect(errnoNumberOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(efd)))).toBe(77);
    const iommufd = m.kernel.open("/dev/iommu");
    expect(errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(iommufd)))).toBe("EOPNOTSUPP");
    const c = m.kernel.open("/dev/vfio/vfio");
    m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    expect(errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c)))).toBe("EINVAL");
    expect(errnoOf(() => m.kernel.ioctl(g, 0x3b99))).toBe("ENOTTY");
  });

  it("GET_DEVICE_FD needs a container with an IOMMU, and a known name", () => {
    const m = machine();
    const g = m.kernel.open("/dev/vfio/7");
    const name = cString("0000:01:00.0");
    expect(errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, name))).toBe("EINVAL");
    const c = m.kernel.open("/dev/vfio/vfio");
    m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    expect(errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, name))).toBe("EINVAL");
    m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU);
    expect(errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, cString("0000:01:00.1")))).toBe("ENODEV");
    expect(errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, new TextEncoder().encode("0000:01:00.0")))).toBe("EFAULT");
    const fd = m.kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, name);
    expect(m.kernel.file(fd).kind).toBe("device");
    expect(m.dev["0000:01:00.0"]!.driver.opens).toBe(1);
    // the group path may open the same device again
    const fd2 = m.kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, name);
    expect(fd2).not.toBe(fd);
  });

  it("parses the ' vf_token=UUID' suffix as vfio-pci does", () => {
    const m = machine();
    const { g } = ready(m, 8);
    const get = (s: string) => errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, cString(s)));
    expect(get("0000:02:00.1")).toBe("EACCES");
    expect(get(`0000:02:00.1 vf_token=${TOKEN_STR.replace("1", "2")}`)).toBe("EACCES");
    expect(get(`0000:02:00.1 vf_token=${TOKEN_STR.slice(0, 30)}`)).toBe("EINVAL");
    expect(get(`0000:02:00.1 vf_token=${TOKEN_STR.replace("-", "x")}`)).toBe("EINVAL");
    expect(get(`0000:02:00.1 vf_token=${TOKEN_STR} vf_token=${TOKEN_STR}`)).toBe("EINVAL");
    expect(get(`0000:02:00.1 colour=blue`)).toBe("EINVAL");
    expect(get(`0000:02:00.1x vf_token=${TOKEN_STR}`)).toBe("ENODEV");
    expect(get(`0000:02:00.1   vf_token=${TOKEN_STR.toUpperCase()}  `)).toBe("ok");
  });

  it("a device without a token rule takes the exact name only", () => {
    const m = machine();
    const { g } = ready(m, 7);
    expect(errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, cString(`0000:01:00.0 vf_token=${TOKEN_STR}`)))).toBe("EINVAL");
    const mdev = machine();
    const r = ready(mdev, 9);
    expect(errnoOf(() => mdev.kernel.ioctl(r.g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, cString(`83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 vf_token=${TOKEN_STR}`)))).toBe("ENODEV");
    expect(errnoOf(() => mdev.kernel.ioctl(r.g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, cString("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001")))).toBe("ok");
  });

  it("UNSET_CONTAINER: EINVAL without one, EBUSY while device fds are open, and the last group takes the IOMMU", () => {
    const m = machine();
    const g = m.kernel.open("/dev/vfio/7");
    expect(errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_UNSET_CONTAINER))).toBe("EINVAL");
    const c = m.kernel.open("/dev/vfio/vfio");
    m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU);
    const fd = m.kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, cString("0000:01:00.0"));
    expect(errnoOf(() => m.kernel.ioctl(g, IOCTL.VFIO_GROUP_UNSET_CONTAINER))).toBe("EBUSY");
    m.kernel.close(fd);
    m.kernel.ioctl(g, IOCTL.VFIO_GROUP_UNSET_CONTAINER);
    expect(m.iommu.domainOf(RID_A)).toBeUndefined();
    // the container is back to its unprivileged state: no backend, SET_IOMMU needs a group again
    expect(errnoOf(() => m.kernel.ioctl(c, IOCTL.VFIO_IOMMU_GET_INFO, new Uint8Array(24)))).toBe("EINVAL");
    expect(errnoOf(() => m.kernel.ioctl(c, IOCTL.VFIO_SET_IOMMU, VFIO_EXTENSION.VFIO_TYPE1v2_IOMMU))).toBe("EINVAL");
    expect(m.iommu.listDomains()).toHaveLength(0);
  });

  it("device fds keep a closed group file alive until they close", () => {
    const m = machine();
    const { g } = ready(m);
    const fd = m.kernel.ioctl(g, IOCTL.VFIO_GROUP_GET_DEVICE_FD, cString("0000:01:00.0"));
    m.kernel.close(g);
    expect(errnoOf(() => m.kernel.open("/dev/vfio/7"))).toBe("EBUSY");
    expect(m.iommu.domainOf(RID_A)).toBeDefined();
    m.kernel.close(fd);
    expect(m.iommu.domainOf(RID_A)).toBeUndefined();
    m.kernel.close(m.kernel.open("/dev/vfio/7"));
  });

  it("a bound cdev and an open group exclude each other (EBUSY both ways, as Linux blocks the group)", () => {
    const m = machine();
    const ifd = m.kernel.open("/dev/iommu");
    const cdev = m.kernel.open(m.dev["0000:01:00.0"]!.cdev);
    m.kernel.ioctl(cdev, IOCTL.VFIO_DEVICE_BIND_IOMMUFD, vfio_device_bind_iommufd.encode({ argsz: 24, iommufd: ifd }));
    expect(errnoOf(() => m.kernel.open("/dev/vfio/7"))).toBe("EBUSY");
    m.kernel.close(cdev);
    const g = m.kernel.open("/dev/vfio/7");
    expect(status(m.kernel, g)).toBe(VFIO_GROUP_FLAGS.bits.VIABLE);
    const c = m.kernel.open("/dev/vfio/vfio");
    m.kernel.ioctl(g, IOCTL.VFIO_GROUP_SET_CONTAINER, intPtr(c));
    const cdev2 = m.kernel.open(m.dev["0000:01:00.0"]!.cdev);
    expect(errnoOf(() => m.kernel.ioctl(cdev2, IOCTL.VFIO_DEVICE_BIND_IOMMUFD, vfio_device_bind_iommufd.encode({ argsz: 24, iommufd: ifd })))).toBe("EBUSY");
  });
});
