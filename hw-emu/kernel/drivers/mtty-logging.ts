/**
 * DMA logging as the mtty sample offers it: dummy operations that exist only
 * so a VMM that insists on device dirty tracking accepts the device. START and
 * STOP always succeed (a second START simply restarts; the page size is left as
 * the caller asked), and REPORT succeeds without setting a bit, whether or not
 * logging was started: a device without DMA never dirties a page.
 *
 * The calls still reach the model's own (always clean) log through
 * DeviceLoggingOps, so the lab can see whether logging is on.
 */
import type { DeviceDmaLog } from "../../hw/devices/migration.js";
import type { LoggingOps, LoggingRange } from "../vfio/driver.js";
import { DeviceLoggingOps } from "./device-migration.js";

export class MttyLoggingOps implements LoggingOps {
  private readonly inner: DeviceLoggingOps;

  constructor(private readonly log: DeviceDmaLog) {
    this.inner = new DeviceLoggingOps(log);
  }

  start(ranges: readonly LoggingRange[], pageSize: bigint): bigint {
    if (this.log.active) this.inner.stop();
    this.inner.start(ranges, pageSize);
    return pageSize;
  }

  stop(): void {
    this.inner.stop();
  }

  report(iova: bigint, length: bigint, pageSize: bigint, bitmap: Uint32Array): void {
    if (!this.log.active) return;
    this.inner.report(iova, length, pageSize, bitmap);
  }
}
