/** Device DMA logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_*): the device reports the pages it wrote. */
import {
  vfio_device_feature_dma_logging_control,
  vfio_device_feature_dma_logging_range,
  vfio_device_feature_dma_logging_report,
  type Syscalls,
} from "../../hw-emu/uapi/index.js";
import { DirtyBitmap } from "./bitmap.js";
import { VfioError } from "./errors.js";
import { featureCall } from "./feature.js";

interface HasFd {
  readonly sys: Syscalls;
  readonly fd: number;
}

export class DmaLogging {
  private constructor(private readonly dev: HasFd) {}

  /** PROBE with SET, as QEMU does: ENOTTY means the device cannot log. */
  static probe(dev: HasFd): DmaLogging | null {
    try {
      featureCall(dev.sys, dev.fd, "DMA_LOGGING_START", "probe-set");
      return new DmaLogging(dev);
    } catch (e) {
      if (e instanceof VfioError && (e.code === "ENOTTY" || e.code === "EINVAL")) return null;
      throw e;
    }
  }

  /** Start logging writes in `ranges`; returns the page size the device chose. */
  start(ranges: readonly { iova: bigint; length: bigint }[], pageSize = 4096): number {
    const arr = new Uint8Array(ranges.length * vfio_device_feature_dma_logging_range.size);
    ranges.forEach((r, i) => vfio_device_feature_dma_logging_range.encodeInto(arr, i * vfio_device_feature_dma_logging_range.size, r));
    const p = featureCall(
      this.dev.sys,
      this.dev.fd,
      "DMA_LOGGING_START",
      "set",
      vfio_device_feature_dma_logging_control.encode({ page_size: BigInt(pageSize), num_ranges: ranges.length, ranges: this.dev.sys.addressOf(arr) }),
    );
    return Number(vfio_device_feature_dma_logging_control.decode(p).page_size);
  }

  stop(): void {
    featureCall(this.dev.sys, this.dev.fd, "DMA_LOGGING_STOP", "set");
  }

  /** Report and clear the log for [iova, iova+length) at `pageSize`. */
  report(iova: bigint, length: bigint, pageSize = 4096): DirtyBitmap {
    const bm = DirtyBitmap.empty(iova, length, pageSize);
    featureCall(
      this.dev.sys,
      this.dev.fd,
      "DMA_LOGGING_REPORT",
      "get",
      vfio_device_feature_dma_logging_report.encode({ iova, length, page_size: BigInt(pageSize), bitmap: this.dev.sys.addressOf(bm.bytes) }),
    );
    return bm;
  }
}
