/**
 * DMA ownership of an IOMMU group, as the IOMMU core keeps it: a VFIO container claims the
 * whole group exclusively when the group joins it; an iommufd context claims it once for each
 * device bound through its cdev and may share it only with itself. The two exclude each other
 * (EPERM). vfio/ and iommufd/ both claim through this module, so neither needs the other.
 */
import { Errno } from "../uapi/index.js";

export class DmaOwnership {
  private owner: object | null = null;
  private count = 0;

  constructor(
    /** the IOMMU group's number, for messages */
    readonly groupId: number,
    /** who holds the claim, for messages ("by a container", "by an iommufd") */
    private readonly describeOwner: () => string,
  ) {}

  /** whether someone owns the group's DMA */
  get claimed(): boolean {
    return this.count > 0;
  }

  /** Claim DMA ownership for `owner`; exclusively, or shared with the same owner only. */
  claim(owner: object, exclusive: boolean, syscall: string): void {
    if (this.count > 0 && (exclusive || this.owner !== owner)) {
      throw new Errno("EPERM", `the DMA of group ${this.groupId} is already owned ${this.describeOwner()}`, syscall);
    }
    this.owner = owner;
    this.count++;
  }

  release(owner: object): void {
    if (this.owner !== owner || this.count === 0) return;
    if (--this.count === 0) this.owner = null;
  }
}

const ownershipOfDevice = new WeakMap<object, DmaOwnership>();

/** Record which group's DMA ownership a device falls under (when its group is registered). */
export function setDmaOwnership(device: object, ownership: DmaOwnership): void {
  ownershipOfDevice.set(device, ownership);
}

/** The DMA ownership of the group a device is in; undefined for a device in no group. */
export function dmaOwnershipOf(device: object): DmaOwnership | undefined {
  return ownershipOfDevice.get(device);
}
