/**
 * The SR-IOV VF token: a UUID shared by the user of a PF and the users of its
 * VFs, proving they cooperate (a PF driver can disturb its VFs). vfio-pci's
 * rules when a device is opened:
 * - a VF whose PF is bound to the same vfio-pci driver needs the PF's token
 *   (missing or different: EACCES);
 * - a VF whose PF is bound elsewhere (or nowhere) takes no token (EINVAL if given);
 * - a PF with VFs in use needs the current token (EACCES); a PF without VF users
 *   takes a supplied token as its new one;
 * - any other function takes no token (EINVAL).
 * The PF's user may also set the token with DEVICE_FEATURE PCI_VF_TOKEN.
 */
import { Errno } from "../../uapi/index.js";
import type { PciFunction } from "../../hw/pci/function.js";
import { Random } from "../../sim/random.js";

export class VfToken {
  readonly uuid = new Uint8Array(16);
  /** VFs of this PF currently opened through the same driver */
  users = 0;

  /** A fresh random (version 4) UUID, from a seeded generator so runs repeat. */
  constructor(seed: number) {
    const rng = new Random(seed);
    for (let i = 0; i < 16; i += 4) new DataView(this.uuid.buffer).setUint32(i, rng.u32());
    this.uuid[6] = (this.uuid[6]! & 0x0f) | 0x40;
    this.uuid[8] = (this.uuid[8]! & 0x3f) | 0x80;
  }

  set(uuid: Uint8Array): void {
    this.uuid.set(uuid.subarray(0, 16));
  }

  matches(uuid: Uint8Array): boolean {
    return uuid.byteLength >= 16 && this.uuid.every((b, i) => uuid[i] === b);
  }
}

/** What the token rules need to know about a bound driver. */
export interface VfTokenOwner {
  readonly driverName: string;
  /** present on PFs (functions with an SR-IOV capability) */
  readonly vfToken: VfToken | null;
}

/** The driver bound to each function, as the PCI core records it. */
const bound = new WeakMap<PciFunction, VfTokenOwner>();

export function bindDriver(fn: PciFunction, owner: VfTokenOwner): void {
  if (bound.has(fn)) throw new Errno("EBUSY", `${fn.name} already has a driver bound`, "bind");
  bound.set(fn, owner);
}

export function unbindDriver(fn: PciFunction, owner: VfTokenOwner): void {
  if (bound.get(fn) === owner) bound.delete(fn);
}

export function boundDriver(fn: PciFunction): VfTokenOwner | undefined {
  return bound.get(fn);
}

/** The token of a VF's PF when that PF is bound to the same driver (get_pf_vdev), else null. */
export function pfToken(fn: PciFunction, driverName: string): VfToken | null {
  if (!fn.vf) return null;
  const owner = bound.get(fn.vf.pf);
  if (!owner || owner.driverName !== driverName) return null;
  return owner.vfToken;
}

/** Apply the rules above; throws EACCES or EINVAL. */
export function validateVfToken(fn: PciFunction, own: VfToken | null, driverName: string, token: Uint8Array | null, syscall = "open"): void {
  if (fn.vf) {
    const pf = pfToken(fn, driverName);
    if (!pf) {
      if (token) throw new Errno("EINVAL", "a VF token was given but the PF is not bound to this driver", syscall);
      return;
    }
    if (!token) throw new Errno("EACCES", "this VF's PF is owned by vfio-pci: a VF token is required", syscall);
    if (!pf.matches(token)) throw new Errno("EACCES", "the VF token does not match the PF's", syscall);
    return;
  }
  if (own) {
    if (own.users > 0) {
      if (!token) throw new Errno("EACCES", "VFs of this PF are in use: the current VF token is required", syscall);
      if (!own.matches(token)) throw new Errno("EACCES", "the VF token does not match the one the VF users hold", syscall);
    } else if (token) {
      own.set(token);
    }
    return;
  }
  if (token) throw new Errno("EINVAL", "a VF token was given for a function that is neither PF nor VF", syscall);
}
