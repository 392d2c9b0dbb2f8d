import { describe, expect, it } from "vitest";
import {
  SERIAL_CONFIG_SIZE,
  SERIAL_HEADER_SIZE,
  SERIAL_PORT_STATE_SIZE,
  SerialMdev,
  UART_FCR,
  UART_FCR_ENABLE_FIFO,
  UART_IER,
  UART_IER_RDI,
  UART_IER_THRI,
  UART_IIR,
  UART_IIR_NO_INT,
  UART_IIR_RDI,
  UART_LCR,
  UART_LCR_DLAB,
  UART_LSR,
  UART_LSR_DR,
  UART_LSR_OE,
  UART_RX,
  UART_SCR,
  UART_TX,
} from "../../hw-emu/hw/devices/serial-mdev.js";
import { Clock } from "../../hw-emu/sim/clock.js";
import * as R from "../../hw-emu/uapi/pci-regs.js";
import { drain, feed } from "./devices-fixture.js";

function busy(dev: SerialMdev, port = 0) {
  dev.portWrite(port, UART_FCR, UART_FCR_ENABLE_FIFO);
  dev.portWrite(port, UART_LCR, UART_LCR_DLAB);
  dev.portWrite(port, UART_TX, 0x0c);
  dev.portWrite(port, UART_IER, 0x00);
  dev.portWrite(port, UART_LCR, 0x03);
  dev.portWrite(port, UART_SCR, 0x5a);
  for (const b of [1, 2, 3]) dev.portWrite(port, UART_TX, b);
}

describe("serial mdev UART", () => {
  it("exposes a 255-byte config region over a 256-byte config space, I/O BARs and INTA", () => {
    const dev = new SerialMdev({ ports: 2 });
    expect(dev.configSize).toBe(SERIAL_CONFIG_SIZE);
    expect(dev.fn.config.size).toBe(256);
    expect(dev.fn.configRead(R.PCI_INTERRUPT_PIN, 1)).toBe(1);
    expect(dev.fn.bar(0)).toMatchObject({ kind: "io", size: 8 });
    expect(dev.fn.bar(1)).toMatchObject({ kind: "io", size: 8 });
    expect(dev.fn.configRead(0x08, 4) >>> 8).toBe(0x070002);
    expect(dev.features).toEqual({ stopCopy: true, p2p: true, preCopy: true, dmaLogging: true });
  });

  it("loops transmitted bytes back into the FIFO with 16550 status registers", () => {
    const dev = new SerialMdev();
    dev.portWrite(0, UART_FCR, UART_FCR_ENABLE_FIFO);
    dev.portWrite(0, UART_IER, UART_IER_RDI);
    expect(dev.portRead(0, UART_IIR)).toBe(UART_IIR_NO_INT | 0xc0);
    dev.portWrite(0, UART_TX, 0x41);
    dev.portWrite(0, UART_TX, 0x42);
    expect(dev.portRead(0, UART_LSR) & UART_LSR_DR).toBeTruthy();
    expect(dev.portRead(0, UART_IIR)).toBe(UART_IIR_RDI | 0xc0);
    expect(dev.portRead(0, UART_RX)).toBe(0x41);
    expect(dev.portRead(0, UART_RX)).toBe(0x42);
    expect(dev.portRead(0, UART_LSR) & UART_LSR_DR).toBe(0);
    for (let i = 0; i < 17; i++) dev.portWrite(0, UART_TX, i);
    expect(dev.portRead(0, UART_LSR) & UART_LSR_OE).toBeTruthy();
    // divisor latch
    dev.portWrite(0, UART_LCR, UART_LCR_DLAB);
    dev.portWrite(0, UART_TX, 0x34);
    dev.portWrite(0, UART_IER, 0x12);
    expect(dev.portRead(0, UART_RX)).toBe(0x34);
    expect(dev.portRead(0, UART_IER)).toBe(0x12);
  });

  it("signals MSI or INTx directly; INTx is automasked until unmasked; stopped devices hold interrupts", () => {
    const clock = new Clock();
    const dev = new SerialMdev({ time: clock });
    const got: string[] = [];
    dev.setMsiConsumer((m) => got.push(`msi@${m.time}`));
    dev.setIntxConsumer((m) => got.push(`intx@${m.time}`));
    dev.setIrqMode("msi");
    dev.portWrite(0, UART_IER, UART_IER_RDI);
    dev.portWrite(0, UART_TX, 1);
    expect(got).toEqual(["msi@0"]);
    dev.portRead(0, UART_RX);
    dev.setIrqMode("intx");
    dev.portWrite(0, UART_TX, 2);
    dev.portRead(0, UART_RX);
    dev.portWrite(0, UART_TX, 3);
    expect(got).toEqual(["msi@0", "intx@0"]);
    expect(dev.intxIsMasked).toBe(true);
    dev.unmaskIntx();
    dev.portRead(0, UART_RX);
    dev.stop();
    clock.advance(500);
    dev.receive(0, [9]); // waits on the line while stopped
    dev.portWrite(0, UART_IER, UART_IER_RDI | UART_IER_THRI); // THRI with empty FIFO raises: held
    expect(dev.interruptPending).toBe(true);
    expect(dev.lineDepth(0)).toBe(1);
    clock.advance(500);
    dev.run();
    expect(got).toEqual(["msi@0", "intx@0", "intx@1000"]);
    expect(dev.lineDepth(0)).toBe(0);
    expect(dev.portRead(0, UART_RX)).toBe(9);
  });
});

describe("serial mdev migration", () => {
  it("has all eight states: P2P verbs are no-ops, pre-copy offers only the header", () => {
    const dev = new SerialMdev({ ports: 2 });
    busy(dev, 1);
    dev.quiesceP2P();
    expect(dev.runState).toBe("running-p2p");
    dev.run();
    const s = dev.startSave({ preCopy: true });
    expect(s.initialBytes()).toBe(SERIAL_HEADER_SIZE);
    const head = s.read(10);
    expect(s.initialBytes()).toBe(SERIAL_HEADER_SIZE - 10);
    const head2 = drain(s);
    expect(head.length + head2.length).toBe(SERIAL_HEADER_SIZE);
    expect(s.dirtyBytes()).toBe(0);
    expect(s.read(10)).toHaveLength(0); // temporary end: 0 bytes, as mtty
    dev.quiesceP2P(); // PRE_COPY -> PRE_COPY_P2P
    dev.stop();
    s.finishPreCopy();
    const ports = drain(s);
    expect(ports).toHaveLength(2 * SERIAL_PORT_STATE_SIZE);
    expect(s.complete).toBe(true);
    const image = new Uint8Array(dev.stopCopyLength());
    image.set(head);
    image.set(head2, head.length);
    image.set(ports, SERIAL_HEADER_SIZE);
    expect(image.length).toBe(96);
    const dst = new SerialMdev({ ports: 2 });
    dst.stop();
    const r = dst.startResume();
    feed(r, image, [5]);
    r.finish();
    expect(dst.save()).toEqual(dev.save());
    expect(dst.describe()).toEqual(dev.describe());
  });

  it("resume checks the header, the size and completeness", () => {
    const src = new SerialMdev({ ports: 1 });
    src.stop();
    const image = drain(src.startSave({ preCopy: false }));
    expect(image).toHaveLength(60);
    const two = new SerialMdev({ ports: 2 });
    two.stop();
    expect(() => two.startResume().write(image)).toThrow(expect.objectContaining({ code: "bad-header" }));
    const one = new SerialMdev({ ports: 1 });
    one.stop();
    const r = one.startResume();
    r.write(image.subarray(0, 59));
    expect(() => r.finish()).toThrow(expect.objectContaining({ code: "incomplete" }));
    expect(() => r.write(new Uint8Array(2))).toThrow(expect.objectContaining({ code: "too-big" }));
    r.write(image.subarray(59));
    r.finish();
    expect(() => r.write(new Uint8Array(1))).toThrow(expect.objectContaining({ code: "session-closed" }));
  });

  it("save() then load() gives equal state and equal later behaviour", () => {
    const a = new SerialMdev({ ports: 2 });
    busy(a, 0);
    busy(a, 1);
    a.portRead(1, UART_RX);
    const b = new SerialMdev({ ports: 2 });
    b.load(a.save());
    expect(b.save()).toEqual(a.save());
    const outA: number[] = [];
    const outB: number[] = [];
    for (const [d, out] of [[a, outA], [b, outB]] as const) {
      d.portWrite(0, UART_TX, 0x77);
      d.receive(1, [5, 6]);
      for (let i = 0; i < 4; i++) out.push(d.portRead(0, UART_RX), d.portRead(1, UART_RX), d.portRead(0, UART_LSR));
    }
    expect(outB).toEqual(outA);
    expect(b.save()).toEqual(a.save());
  });

  it("device DMA logging exists but never reports a page (no DMA)", () => {
    const dev = new SerialMdev();
    const log = dev.dmaLog!;
    log.start([{ iova: 0, length: 1 << 20 }], 4096);
    busy(dev);
    const bm = new Uint32Array(8);
    log.report(0, 1 << 20, 4096, bm);
    expect([...bm].every((w) => w === 0)).toBe(true);
    log.stop();
  });

  it("reset returns to running with fresh registers and closes sessions", () => {
    const dev = new SerialMdev();
    busy(dev);
    dev.stop();
    const s = dev.startSave({ preCopy: false });
    dev.reset();
    expect(dev.runState).toBe("running");
    expect(() => s.read(1)).toThrow(expect.objectContaining({ code: "session-closed" }));
    expect(dev.portRead(0, UART_SCR)).toBe(0);
  });
});
