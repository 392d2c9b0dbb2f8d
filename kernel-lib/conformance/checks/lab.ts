/**
 * Checks that watch the hardware through the lab (emulator only): STOP really
 * stops DMA, RUNNING_P2P really stops peer-to-peer writes (and still takes
 * them in), and the DMA log reports every page the device wrote.
 */
import type { MigStateName } from "../../../hw-emu/uapi/index.js";
import type { Capabilities, Check } from "../check.js";
import { fail, type CheckContext } from "../context.js";
import { LabEnv, RAM_IOVA, RAM_SIZE } from "../lab-env.js";
import { NIC_MAILBOX, dmaWorker, p2pPair, p2pReceived, type DmaWorker } from "../lab-guest.js";

const hex = (n: number) => `0x${n.toString(16)}`;
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;

/** One round of device work; returns the IOVA pages the device changed. */
function round(ctx: CheckContext, w: DmaWorker, n: number): number[] {
  w.prepare();
  const before = ctx.lab.hashes();
  w.kick(n);
  ctx.lab.advance();
  return LabEnv.changed(before, ctx.lab.hashes());
}

function worker(ctx: CheckContext): DmaWorker {
  const w = dmaWorker(ctx.lab);
  if (!w) throw new Error("the planner runs DMA checks only on devices that do DMA");
  return w;
}

const needsDma = (c: Capabilities): string | null => (c.dma ? null : "the device does no DMA");

const stopStopsDma: Check = {
  id: "lab.stop-stops-dma",
  description: "in STOP and STOP_COPY the device writes no guest memory, even when work arrives",
  needsLab: true,
  applies: (c) => (c.migration ? needsDma(c) : "the device has no migration support"),
  run(ctx) {
    const w = worker(ctx);
    const live = round(ctx, w, 1);
    if (live.length === 0) fail("setup: the device wrote no guest memory while RUNNING, so STOP cannot be judged");
    for (const [i, s] of (["STOP", "STOP_COPY"] as const).entries()) {
      ctx.goTo(s, `reaching ${s}`);
      const written = round(ctx, w, 2 + i);
      if (written.length) fail(`the device wrote ${plural(written.length, "page")} of guest memory in ${s} (first at IOVA ${hex(written[0]!)})`);
    }
    return `${plural(live.length, "page")} written while RUNNING; none in STOP or STOP_COPY`;
  },
};

const p2pQuiesce: Check = {
  id: "lab.p2p-quiesce",
  description: "in RUNNING_P2P (and PRE_COPY_P2P) the device starts no peer-to-peer write",
  needsLab: true,
  applies: (c) => (!c.p2p ? "the device does not offer P2P" : !c.p2pInitiator ? "the device initiates no peer-to-peer DMA" : null),
  run(ctx, caps) {
    const { dut, peerDevice } = p2pPair(ctx.lab);
    const mailbox = ctx.lab.peerWindow(ctx.lab.dut, peerDevice) + NIC_MAILBOX;
    const peer = peerDevice.device;
    const before = p2pReceived(peer);
    dut.sendPeerDoorbell(0, mailbox, 0x1001);
    ctx.lab.advance();
    if (p2pReceived(peer) !== before + 1) fail("setup: a peer doorbell sent while RUNNING did not arrive, so RUNNING_P2P cannot be judged");
    const states: MigStateName[] = caps.preCopy ? ["RUNNING_P2P", "PRE_COPY_P2P"] : ["RUNNING_P2P"];
    for (const s of states) {
      ctx.restore();
      ctx.goTo(s, `reaching ${s}`);
      const n0 = p2pReceived(peer);
      dut.sendPeerDoorbell(0, mailbox, 0x2002);
      dut.sendPeerDoorbell(1, mailbox, 0x3003);
      ctx.lab.advance();
      const sent = p2pReceived(peer) - n0;
      if (sent > 0) fail(`the device made ${plural(sent, "peer-to-peer write")} while in ${s}`);
    }
    return `no peer-to-peer write in ${states.join(" or ")}`;
  },
};

const p2pTarget: Check = {
  id: "lab.p2p-accepts-peer-writes",
  description: "a device in RUNNING_P2P still accepts writes from a running peer into its BAR",
  needsLab: true,
  applies: (c) => (!c.p2p ? "the device does not offer P2P" : !c.peerTarget ? "the device has no BAR a peer could write to" : null),
  run(ctx) {
    const { peer, peerDevice } = p2pPair(ctx.lab);
    const mailbox = ctx.lab.peerWindow(peerDevice, ctx.lab.dut) + NIC_MAILBOX;
    ctx.goTo("RUNNING_P2P", "reaching RUNNING_P2P");
    const n0 = p2pReceived(ctx.device);
    peer.sendPeerDoorbell(0, mailbox, 0x4004);
    ctx.lab.advance();
    const got = p2pReceived(ctx.device) - n0;
    if (got !== 1) fail(`a peer's doorbell write into the device's BAR during RUNNING_P2P ${got === 0 ? "was lost" : `arrived ${got} times`}`);
    return "the peer's write arrived";
  },
};

const dirtyLogged: Check = {
  id: "lab.dirty-logged",
  description: "every page the device wrote by DMA is in its DMA log report, at the logging page size and at coarser ones",
  needsLab: true,
  applies: (c) => (!c.dmaLogging ? "the device has no DMA logging (its DMA is tracked by the IOMMU)" : needsDma(c)),
  run(ctx) {
    const log = ctx.device.dmaLogging!;
    const w = worker(ctx);
    log.start([{ iova: BigInt(RAM_IOVA), length: BigInt(RAM_SIZE) }], 4096);
    log.report(BigInt(RAM_IOVA), BigInt(RAM_SIZE), 4096);
    let total = 0;
    const sizes = [4096, 16384, 65536];
    for (const [i, ps] of sizes.entries()) {
      const written = round(ctx, w, 10 + i);
      if (written.length === 0) fail(`setup: the device wrote no guest memory in round ${i + 1}`);
      const bm = log.report(BigInt(RAM_IOVA), BigInt(RAM_SIZE), ps);
      const missing = written.filter((iova) => !bm.isDirty(Math.floor((iova - RAM_IOVA) / ps)));
      if (missing.length) {
        fail(`the device wrote ${plural(written.length, "page")} but the DMA log (page size ${ps}) missed ${plural(missing.length, "page")}: IOVA ${missing.slice(0, 4).map(hex).join(", ")}`);
      }
      total += written.length;
    }
    return `${plural(total, "written page")} all reported (page sizes ${sizes.join(", ")})`;
  },
};

export const labChecks: Check[] = [stopStopsDma, p2pQuiesce, p2pTarget, dirtyLogged];
