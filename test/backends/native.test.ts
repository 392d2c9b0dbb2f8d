import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EFD, Errno, IOCTL, MMAP, POLL, VFIO, isErrno, vfio_device_info, type Syscalls } from "../../hw-emu/uapi/index.js";
import { ADDON_PATH_ENV, createNativeBackend, nativeBackendStatus } from "../../kernel-lib/backends/native/index.js";
import { loadAddon } from "../../kernel-lib/backends/native/loader.js";

const onLinux = process.platform === "linux";
const hasVfio = existsSync("/dev/vfio/vfio");
const hasPciSysfs = existsSync("/sys/bus/pci/devices");

function errnoOf(fn: () => unknown): Errno {
  try {
    fn();
  } catch (e) {
    if (e instanceof Errno) return e;
    throw e;
  }
  throw new Error("expected an Errno");
}

function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}

/** Read the process's own memory at a virtual address, to prove addresses are real. */
function peekSelf(addr: bigint, length: number): Uint8Array {
  const fd = openSync("/proc/self/mem", "r");
  try {
    const out = new Uint8Array(length);
    readSync(fd, out, 0, length, addr);
    return out;
  } finally {
    closeSync(fd);
  }
}

const status = nativeBackendStatus();

// On Linux the addon is expected to build (npm ci builds it); if it did not, this says why.
it.runIf(onLinux)("the native addon is built and loads on Linux", () => {
  expect(status).toEqual({ available: true });
});

describe.runIf(status.available)("native backend on this Linux host", () => {
  const sys: Syscalls = status.available ? createNativeBackend() : (undefined as unknown as Syscalls);

  describe("eventfd and poll", () => {
    it("write, poll and read round trip", () => {
      const fd = sys.eventfd(0, EFD.EFD_NONBLOCK);
      try {
        expect(sys.poll([{ fd, events: POLL.POLLIN }], 0)).toEqual([]);
        expect(sys.write(fd, u64(5n))).toBe(8);
        expect(sys.write(fd, u64(2n))).toBe(8);
        expect(sys.poll([{ fd, events: POLL.POLLIN }], 1000)).toEqual([{ fd, revents: POLL.POLLIN }]);
        const buf = new Uint8Array(8);
        expect(sys.read(fd, buf)).toBe(8);
        expect(new DataView(buf.buffer).getBigUint64(0, true)).toBe(7n);
        expect(errnoOf(() => sys.read(fd, buf)).code).toBe("EAGAIN");
      } finally {
        sys.close(fd);
      }
    });

    it("a semaphore eventfd counts down one at a time", () => {
      const fd = sys.eventfd(2, EFD.EFD_NONBLOCK | EFD.EFD_SEMAPHORE);
      try {
        const buf = new Uint8Array(8);
        sys.read(fd, buf);
        sys.read(fd, buf);
        expect(new DataView(buf.buffer).getBigUint64(0, true)).toBe(1n);
        expect(errnoOf(() => sys.read(fd, buf)).code).toBe("EAGAIN");
      } finally {
        sys.close(fd);
      }
    });

    it("poll waits no longer than its timeout and reports closed fds as POLLNVAL", () => {
      const fd = sys.eventfd(0);
      expect(sys.poll([{ fd, events: POLL.POLLIN }], 20)).toEqual([]);
      sys.close(fd);
      expect(sys.poll([{ fd, events: POLL.POLLIN }], 0)).toEqual([{ fd, revents: POLL.POLLNVAL }]);
    });

    it("refuses an initval that is not an unsigned int", () => {
      expect(errnoOf(() => sys.eventfd(-1)).code).toBe("EINVAL");
      expect(errnoOf(() => sys.eventfd(0, 0x40)).code).toBe("EINVAL");
    });
  });

  describe("mmap", () => {
    const prot = MMAP.PROT_READ | MMAP.PROT_WRITE;
    const anon = MMAP.MAP_PRIVATE | MMAP.MAP_ANONYMOUS;

    it("anonymous memory reads back what was written, at a real address", () => {
      const m = sys.mmap(-1, 1 << 20, prot, anon, 0n);
      try {
        expect(m.length).toBe(1 << 20);
        expect(m.addr % 4096n).toBe(0n);
        expect(m.read(4096, 16)).toEqual(new Uint8Array(16));
        m.write(4096 + 3, Uint8Array.of(1, 2, 3, 4, 5));
        expect(m.read(4096, 9)).toEqual(Uint8Array.of(0, 0, 0, 1, 2, 3, 4, 5, 0));
        expect(peekSelf(m.addr + 4099n, 5)).toEqual(Uint8Array.of(1, 2, 3, 4, 5));
        m.write((1 << 20) - 1, Uint8Array.of(9));
        expect(m.read((1 << 20) - 1, 1)).toEqual(Uint8Array.of(9));
        expect(() => m.read((1 << 20) - 1, 2)).toThrow(RangeError);
        expect(() => m.write(1 << 20, Uint8Array.of(1))).toThrow(RangeError);
      } finally {
        sys.munmap(m);
      }
      expect(errnoOf(() => m.read(0, 1)).code).toBe("EFAULT");
      expect(errnoOf(() => sys.munmap(m)).code).toBe("EINVAL");
    });

    it("guest-RAM sized anonymous memory costs nothing until touched (MAP_NORESERVE)", () => {
      const m = sys.mmap(-1, 1 << 30, prot, anon, 0n);
      m.write((1 << 30) - 8, u64(0x1122334455667788n));
      expect(m.read((1 << 30) - 8, 8)).toEqual(u64(0x1122334455667788n));
      sys.munmap(m);
    });

    it("refuses access the protection does not allow, instead of crashing", () => {
      const m = sys.mmap(-1, 4096, MMAP.PROT_READ, anon, 0n);
      expect(errnoOf(() => m.write(0, Uint8Array.of(1))).code).toBe("EFAULT");
      expect(m.read(0, 4)).toEqual(new Uint8Array(4));
      sys.munmap(m);
    });

    it("refuses MAP_FIXED, PROT_EXEC, a bad length and a mapping it did not make", () => {
      expect(errnoOf(() => sys.mmap(-1, 4096, prot, anon | 0x10, 0n)).code).toBe("EINVAL");
      expect(errnoOf(() => sys.mmap(-1, 4096, prot | 4, anon, 0n)).code).toBe("EINVAL");
      expect(errnoOf(() => sys.mmap(-1, 0, prot, anon, 0n)).code).toBe("EINVAL");
      expect(errnoOf(() => sys.mmap(-1, 4096, prot, MMAP.MAP_ANONYMOUS, 0n)).code).toBe("EINVAL");
      const fake = { addr: 0x1000n, length: 4096, read: () => new Uint8Array(), write: () => {} };
      expect(errnoOf(() => sys.munmap(fake)).code).toBe("EINVAL");
    });

    it("mmap of an fd that cannot be mapped gives the kernel's errno", () => {
      const fd = sys.eventfd(0);
      try {
        expect(errnoOf(() => sys.mmap(fd, 4096, prot, MMAP.MAP_SHARED, 0n)).code).toBe("ENODEV");
      } finally {
        sys.close(fd);
      }
    });

    it("a file-backed shared mapping (copied like device memory) writes through at every width and alignment", () => {
      const dir = mkdtempSync(join(tmpdir(), "vfio-native-"));
      const file = join(dir, "bar");
      writeFileSync(file, new Uint8Array(8192));
      const fd = openSync(file, "r+");
      try {
        const m = sys.mmap(fd, 8192, prot, MMAP.MAP_SHARED, 0n);
        const model = new Uint8Array(8192);
        fc.assert(
          fc.property(fc.integer({ min: 0, max: 8192 - 40 }), fc.uint8Array({ minLength: 1, maxLength: 40 }), (offset, bytes) => {
            m.write(offset, bytes);
            model.set(bytes, offset);
            expect(m.read(offset, bytes.byteLength)).toEqual(bytes);
          }),
          { seed: 42, numRuns: 300 },
        );
        expect(m.read(0, 8192)).toEqual(model);
        sys.munmap(m);
        expect(new Uint8Array(readFileSync(file))).toEqual(model);
      } finally {
        closeSync(fd);
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("a mapping dropped without munmap is unmapped when collected", () => {
      const load = loadAddon();
      if (!load.available) throw new Error(load.reason);
      // the child records where its mappings were, drops them, collects, and counts how many are still mapped
      const script = `
        const addon = require(${JSON.stringify(load.path)});
        const fs = require("node:fs");
        const live = (starts) => fs.readFileSync("/proc/self/maps", "utf8").split("\\n")
          .filter((line) => starts.has(line.split("-")[0])).length;
        const starts = new Set();
        for (let i = 0; i < 200; i++) starts.add(addon.mappingAddress(addon.mmap(-1, 4096, 1 + 2 * (i % 2), 0x22, 0n)).toString(16));
        const during = live(starts);
        globalThis.gc();
        setImmediate(() => { globalThis.gc(); setImmediate(() => console.log(JSON.stringify({ during, after: live(starts) }))); });
      `;
      const out = JSON.parse(execFileSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8" })) as Record<string, number>;
      // neighbours with alternating protection never merge, so each mapping is its own line
      expect(out.during).toBe(200);
      expect(out.after).toBeLessThan(5);
    });
  });

  describe("addressOf", () => {
    it("is the real address of the bytes, stable for a buffer and distinct across buffers", () => {
      const a = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
      const b = new Uint8Array(4096).fill(0x5a);
      const addrA = sys.addressOf(a);
      expect(addrA).not.toBe(0n);
      expect(sys.addressOf(b)).not.toBe(addrA);
      const garbage = Array.from({ length: 2000 }, (_, i) => new Uint8Array(i % 64));
      expect(garbage.length).toBe(2000);
      expect(sys.addressOf(a)).toBe(addrA);
      expect(peekSelf(addrA, 4)).toEqual(a);
      expect(peekSelf(sys.addressOf(b) + 100n, 3)).toEqual(Uint8Array.of(0x5a, 0x5a, 0x5a));
    });

    it("accounts for byteOffset", () => {
      const buf = new Uint8Array(64);
      buf[10] = 0x77;
      const sub = buf.subarray(10, 20);
      expect(sys.addressOf(sub)).toBe(sys.addressOf(buf) + 10n);
      expect(peekSelf(sys.addressOf(sub), 1)).toEqual(Uint8Array.of(0x77));
    });
  });

  describe("open", () => {
    it.runIf(!hasVfio)("/dev/vfio/vfio is ENOENT on a host without VFIO", () => {
      const e = errnoOf(() => sys.open("/dev/vfio/vfio"));
      expect(e.code).toBe("ENOENT");
      expect(e.syscall).toBe("open");
    });

    it("opens nothing but the VFIO and iommufd device nodes", () => {
      for (const path of ["/etc/passwd", "/dev/null", "/dev/vfio/../null", "/dev/vfio/7/../../null", "/dev/vfio/vfio0", "dev/iommu"]) {
        const e = errnoOf(() => sys.open(path));
        expect(e.code, path).toBe("EACCES");
        expect(e.detail).toMatch(/opens only \/dev\/vfio\/vfio/);
      }
    });

    it("refuses flags that could create or truncate", () => {
      expect(errnoOf(() => sys.open("/dev/vfio/1", 0o100 /* O_CREAT */)).code).toBe("EINVAL");
    });
  });

  describe("ioctl", () => {
    it("on a bad fd is EBADF", () => {
      const fd = sys.eventfd(0);
      sys.close(fd);
      expect(errnoOf(() => sys.ioctl(fd, IOCTL.VFIO_GET_API_VERSION)).code).toBe("EBADF");
      expect(errnoOf(() => sys.ioctl(-1, IOCTL.VFIO_GET_API_VERSION)).code).toBe("EBADF");
    });

    it("with a buffer or an integer on an eventfd is ENOTTY", () => {
      const fd = sys.eventfd(0);
      try {
        const info = vfio_device_info.encode({});
        expect(new DataView(info.buffer, info.byteOffset).getUint32(0, true)).toBe(info.byteLength);
        expect(errnoOf(() => sys.ioctl(fd, IOCTL.VFIO_DEVICE_GET_INFO, info)).code).toBe("ENOTTY");
        expect(errnoOf(() => sys.ioctl(fd, IOCTL.VFIO_CHECK_EXTENSION, 3)).code).toBe("ENOTTY");
        expect(errnoOf(() => sys.ioctl(fd, IOCTL.VFIO_GET_API_VERSION)).code).toBe("ENOTTY");
      } finally {
        sys.close(fd);
      }
    });

    it("never lets the kernel reach past the buffer", () => {
      const fd = sys.eventfd(0);
      try {
        const info = vfio_device_info.encode({ argsz: 64 });
        const big = errnoOf(() => sys.ioctl(fd, IOCTL.VFIO_DEVICE_GET_INFO, info));
        expect(big.code).toBe("EFAULT");
        expect(big.detail).toMatch(/argsz 64 is larger than the 24-byte buffer/);
        expect(errnoOf(() => sys.ioctl(fd, IOCTL.IOMMU_IOAS_ALLOC, new Uint8Array(2))).code).toBe("EFAULT");
        const name = new TextEncoder().encode("0000:00:01.0");
        expect(errnoOf(() => sys.ioctl(fd, IOCTL.VFIO_GROUP_GET_DEVICE_FD, name)).detail).toMatch(/NUL/);
        expect(errnoOf(() => sys.ioctl(fd, IOCTL.VFIO_GROUP_SET_CONTAINER, new Uint8Array(3))).code).toBe("EFAULT");
      } finally {
        sys.close(fd);
      }
    });

    it("passes only VFIO and iommufd requests", () => {
      const fd = sys.eventfd(0);
      try {
        const e = errnoOf(() => sys.ioctl(fd, 0x5401 /* TCGETS */, new Uint8Array(64)));
        expect(e.code).toBe("ENOTTY");
        expect(e.detail).toMatch(/not a VFIO or iommufd ioctl/);
        expect(errnoOf(() => sys.ioctl(fd, 2 ** 32)).code).toBe("ENOTTY");
      } finally {
        sys.close(fd);
      }
    });
  });

  describe("read, write, pread, pwrite", () => {
    it("give the kernel's errno", () => {
      const fd = sys.eventfd(0);
      try {
        expect(errnoOf(() => sys.pread(fd, new Uint8Array(8), 0n)).code).toBe("ESPIPE");
        expect(errnoOf(() => sys.pwrite(fd, u64(1n), 0n)).code).toBe("ESPIPE");
        expect(errnoOf(() => sys.write(fd, new Uint8Array(4))).code).toBe("EINVAL");
      } finally {
        sys.close(fd);
      }
      expect(errnoOf(() => sys.read(fd, new Uint8Array(8))).code).toBe("EBADF");
    });
  });

  describe("sysfs", () => {
    it.runIf(hasPciSysfs)("lists PCI devices and reads their attributes", () => {
      const devices = sys.readdir("/sys/bus/pci/devices");
      expect([...devices].sort()).toEqual(devices);
      for (const d of devices) expect(d).toMatch(/^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
      if (devices.length > 0) {
        const dev = `/sys/bus/pci/devices/${devices[0]}`;
        expect(sys.readlink(dev)).toMatch(/devices\/pci/);
        expect(sys.readFile(`${dev}/vendor`)).toMatch(/^0x[0-9a-f]{4}\n$/);
      }
    });

    it("reports errors as Errno", () => {
      expect(errnoOf(() => sys.readdir("/sys/no-such-dir")).code).toBe("ENOENT");
      expect(errnoOf(() => sys.readlink("/sys")).code).toBe("EINVAL");
      expect(errnoOf(() => sys.readFile("/sys")).code).toBe("EISDIR");
    });

    it("reads only under /sys and /dev (files only under /sys)", () => {
      expect(errnoOf(() => sys.readdir("/proc")).code).toBe("EACCES");
      expect(errnoOf(() => sys.readdir("/sys/../etc")).code).toBe("EACCES");
      expect(errnoOf(() => sys.readdir("sys")).code).toBe("EACCES");
      expect(errnoOf(() => sys.readFile("/dev/zero")).code).toBe("EACCES");
      expect(sys.readdir("/dev")).toContain("null");
    });
  });

  describe.runIf(hasVfio)("a host with /dev/vfio", () => {
    it("the container answers VFIO_GET_API_VERSION", () => {
      const fd = sys.open("/dev/vfio/vfio");
      try {
        expect(sys.ioctl(fd, IOCTL.VFIO_GET_API_VERSION)).toBe(VFIO.VFIO_API_VERSION);
      } finally {
        sys.close(fd);
      }
    });
  });
  it.skipIf(hasVfio)("real VFIO ioctls need /dev/vfio, which this host lacks", () => {});
});

describe("when the addon cannot be used", () => {
  const saved = process.env[ADDON_PATH_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[ADDON_PATH_ENV];
    else process.env[ADDON_PATH_ENV] = saved;
  });

  it.runIf(onLinux)("a missing addon file says it was not built", () => {
    const addonPath = "/nonexistent/vfio_native.node";
    expect(nativeBackendStatus({ addonPath })).toEqual({
      available: false,
      reason: expect.stringMatching(/^the addon was not built \(no file at \/nonexistent\/vfio_native\.node; `npm run build:native`/),
    });
    expect(() => createNativeBackend({ addonPath })).toThrow(/^the native backend is unavailable: the addon was not built/);
  });

  it.runIf(onLinux)("the environment variable points the loader elsewhere", () => {
    process.env[ADDON_PATH_ENV] = "/nonexistent/other.node";
    expect(nativeBackendStatus().reason).toMatch(/no file at \/nonexistent\/other\.node/);
    expect(() => createNativeBackend()).toThrow(/the native backend is unavailable/);
  });

  it.runIf(onLinux)("a file that is not a loadable addon says why", () => {
    const dir = mkdtempSync(join(tmpdir(), "vfio-native-"));
    try {
      const addonPath = join(dir, "broken.node");
      writeFileSync(addonPath, "not an ELF file");
      expect(nativeBackendStatus({ addonPath }).reason).toMatch(/^the addon at .*broken\.node failed to load: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(!onLinux)("another OS says the backend needs Linux", () => {
    expect(nativeBackendStatus().reason).toMatch(/needs Linux/);
    expect(() => createNativeBackend()).toThrow(/the native backend is unavailable: it needs Linux/);
  });

  it("Errno values carry Linux's numbers", () => {
    expect(isErrno(Errno.fromNumber(25, "ioctl"), "ENOTTY")).toBe(true);
  });
});
