/** A decoded iommufd command and how its handler answers (iommufd_ucmd). */
import { copyInSize, copyOut, type IOCTL, type StructDef } from "../../uapi/index.js";
import type { UserAddressSpace } from "../user-memory.js";
import type { IommufdContext } from "./ictx.js";

/** One command in flight. */
export interface Ucmd<T extends Record<string, unknown>> {
  readonly ctx: IommufdContext;
  readonly cmd: T;
  readonly user: UserAddressSpace;
  /** the ioctl's name, for error messages */
  readonly syscall: string;
  /** copy `cmd` with these fields changed back to the caller (iommufd_ucmd_respond) */
  respond(out: Partial<T>): void;
}

export interface IommufdOp {
  readonly name: keyof typeof IOCTL;
  run(ctx: IommufdContext, bytes: Uint8Array): number;
}

/** Declare a command: its struct, and the handler that runs once the size rules passed. */
export function op<T extends Record<string, unknown>>(name: keyof typeof IOCTL, def: StructDef<T>, handler: (u: Ucmd<T>) => number): IommufdOp {
  return {
    name,
    run(ctx, bytes) {
      const { value, size } = copyInSize(def, bytes, name);
      return handler({
        ctx,
        cmd: value,
        user: ctx.kernel.user,
        syscall: name,
        respond: (out) => copyOut(def, bytes, { ...value, ...out }, Math.min(size, def.size)),
      });
    },
  };
}
