import type { Command } from "commander";
import { registerAbi } from "./abi.js";
import { registerKernel } from "./kernel.js";
import { registerRun } from "./run.js";
import { registerBench } from "./bench.js";
import { registerBuild } from "./build.js";
import { registerFsm } from "./fsm.js";
import { registerConform } from "./conform.js";
import { registerCheck } from "./check.js";
import { registerExport } from "./export.js";
import { registerNew } from "./new.js";
import { registerServe } from "./serve.js";

/**
 * Every subcommand of `vfio-workbench`. Each file in this folder registers one
 * subcommand (with its help text) on the program; add new ones here.
 */
export const commands: ReadonlyArray<(program: Command) => void> = [registerAbi, registerBench, registerBuild, registerCheck, registerConform, registerExport, registerFsm, registerKernel, registerNew, registerRun, registerServe];
