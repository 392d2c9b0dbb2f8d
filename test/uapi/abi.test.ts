import { describe, expect, it } from "vitest";
import { IOCTL, STRUCTS, abiJson, constantTable, IO, decodeRequest } from "../../hw-emu/uapi/index.js";
import { EXPECTED_CONSTANTS, EXPECTED_IOCTLS, EXPECTED_STRUCTS } from "./linux-6.12-abi.js";

describe("ABI against Linux 6.12", () => {
  it("every request number is _IO(';', nr) with the kernel's nr", () => {
    for (const [name, req] of Object.entries(EXPECTED_IOCTLS)) {
      expect({ name, req: (IOCTL as Record<string, number>)[name] }).toEqual({ name, req });
      const d = decodeRequest(req);
      expect(d.dir).toBe(0);
      expect(d.size).toBe(0);
      expect(d.type).toBe(0x3b);
    }
    expect(Object.keys(IOCTL).sort()).toEqual(Object.keys(EXPECTED_IOCTLS).sort());
    expect(IO(0x3b, 100)).toBe(0x3b64);
  });

  it("every constant has the kernel's value", () => {
    const table = constantTable();
    for (const [name, value] of Object.entries(EXPECTED_CONSTANTS)) {
      expect({ name, value: table[name] }).toEqual({ name, value });
    }
  });

  it("every struct has the kernel's size, minimum size and field layout", () => {
    const json = abiJson();
    for (const [name, layout] of Object.entries(EXPECTED_STRUCTS)) {
      const def = STRUCTS[name];
      expect(def, `struct ${name} is defined`).toBeDefined();
      expect({ name, size: def!.size }).toEqual({ name, size: layout.size });
      if (layout.minsz !== undefined) expect({ name, minsz: def!.minsz }).toEqual({ name, minsz: layout.minsz });
      expect({ name, fields: json.structs[name]!.fields }).toEqual({ name, fields: layout.fields });
    }
  });

  it("abiJson has exactly the documented shape", () => {
    const json = abiJson();
    expect(Object.keys(json).sort()).toEqual(["constants", "ioctls", "structs"]);
    for (const v of Object.values(json.ioctls)) expect(typeof v).toBe("number");
    for (const v of Object.values(json.constants)) expect(typeof v).toBe("number");
    for (const s of Object.values(json.structs)) {
      expect(Object.keys(s).sort()).toEqual(["fields", "size"]);
      for (const f of Object.values(s.fields)) expect(f).toHaveLength(2);
    }
    // struct names carry no "struct " prefix
    for (const name of Object.keys(json.structs)) expect(name.startsWith("struct")).toBe(false);
  });
});
