/**
 * VFIO_DEVICE_SET_IRQS argument checks shared by every VFIO driver (the
 * core's vfio_set_irqs_validate_and_prepare), in the kernel's order, and the
 * typed view of the data that follows the 20-byte header.
 */
import { Errno, VFIO_IRQ_SET, VFIO_IRQ_SET_MASKS, vfio_irq_set } from "../../uapi/index.js";

export const SET_IRQS = "VFIO_DEVICE_SET_IRQS";
const HEADER = vfio_irq_set.size;
const U32_MAX = 0xffff_ffff;
const { DATA_NONE, DATA_BOOL, DATA_EVENTFD } = VFIO_IRQ_SET.bits;
const KNOWN_FLAGS = VFIO_IRQ_SET_MASKS.VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_MASKS.VFIO_IRQ_SET_ACTION_TYPE_MASK;

export interface IrqSetHeader {
  argsz: number;
  flags: number;
  index: number;
  start: number;
  count: number;
}

/** The data of one SET_IRQS call: none, one bool per vector, or one eventfd number per vector. */
export class IrqData {
  constructor(
    /** DATA_NONE, DATA_BOOL or DATA_EVENTFD */
    readonly type: number,
    private readonly bytes: Uint8Array,
  ) {}

  get none(): boolean {
    return this.type === DATA_NONE;
  }

  get isBool(): boolean {
    return this.type === DATA_BOOL;
  }

  get isEventfd(): boolean {
    return this.type === DATA_EVENTFD;
  }

  bool(i: number): boolean {
    return this.bytes[i] !== 0;
  }

  fd(i: number): number {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + 4 * i, 4).getInt32(0, true);
  }
}

/**
 * Check a SET_IRQS header against `max` (the index's count from GET_IRQ_INFO)
 * and return its data. Every failure is EINVAL, in this order: header (argsz,
 * index, start/count overflow, unknown flag bits), start/count against max
 * (even when count is 0), data type, data length; a buffer shorter than the
 * data it announces is EFAULT, as a failed copy_from_user.
 */
export function validateSetIrqs(hdr: IrqSetHeader, max: number, numIrqs: number, arg: Uint8Array): IrqData {
  if (hdr.argsz < HEADER) throw new Errno("EINVAL", `argsz ${hdr.argsz} is below the ${HEADER}-byte header`, SET_IRQS);
  if (hdr.index >= numIrqs) throw new Errno("EINVAL", `index ${hdr.index} is not below ${numIrqs}`, SET_IRQS);
  if (hdr.count >= U32_MAX - hdr.start) throw new Errno("EINVAL", `start ${hdr.start} + count ${hdr.count} overflows`, SET_IRQS);
  if (hdr.flags & ~KNOWN_FLAGS) throw new Errno("EINVAL", `unknown flag bits 0x${(hdr.flags & ~KNOWN_FLAGS).toString(16)}`, SET_IRQS);
  if (hdr.start >= max || hdr.start + hdr.count > max) {
    throw new Errno("EINVAL", `vectors [${hdr.start}, ${hdr.start + hdr.count}) are not within the ${max} of index ${hdr.index}`, SET_IRQS);
  }
  const type = hdr.flags & VFIO_IRQ_SET_MASKS.VFIO_IRQ_SET_DATA_TYPE_MASK;
  let size: number;
  if (type === DATA_NONE) size = 0;
  else if (type === DATA_BOOL) size = 1;
  else if (type === DATA_EVENTFD) size = 4;
  else throw new Errno("EINVAL", `data type bits 0x${type.toString(16)} name not exactly one of NONE, BOOL, EVENTFD`, SET_IRQS);
  const dataSize = hdr.count * size;
  if (hdr.argsz - HEADER < dataSize) throw new Errno("EINVAL", `argsz ${hdr.argsz} leaves ${hdr.argsz - HEADER} bytes for ${dataSize} bytes of data`, SET_IRQS);
  if (arg.byteLength < HEADER + dataSize) throw new Errno("EFAULT", `the buffer ends before the ${dataSize} bytes of data`, SET_IRQS);
  return new IrqData(type, arg.slice(HEADER, HEADER + dataSize));
}
