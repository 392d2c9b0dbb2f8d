/**
 * A copy of the v2 migration FSM's states and direct arcs (Linux's
 * vfio_mig_get_next_state and the drivers' step functions), in the plain shape
 * fsmDiagram takes. Notebooks pass the emulated kernel's own tables instead.
 */
import type { FsmDescription } from "../../kernel-lib/display/index.js";

export const V2_FSM: FsmDescription = {
  states: ["ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P"],
  arcs: [
    { from: "STOP", to: "STOP_COPY", requires: [] },
    { from: "STOP_COPY", to: "STOP", requires: [] },
    { from: "STOP", to: "RESUMING", requires: [] },
    { from: "RESUMING", to: "STOP", requires: [] },
    { from: "RUNNING", to: "STOP", requires: [], unless: ["P2P"] },
    { from: "STOP", to: "RUNNING", requires: [], unless: ["P2P"] },
    { from: "RUNNING", to: "RUNNING_P2P", requires: ["P2P"] },
    { from: "RUNNING_P2P", to: "RUNNING", requires: ["P2P"] },
    { from: "RUNNING_P2P", to: "STOP", requires: ["P2P"] },
    { from: "STOP", to: "RUNNING_P2P", requires: ["P2P"] },
    { from: "RUNNING", to: "PRE_COPY", requires: ["PRE_COPY"] },
    { from: "PRE_COPY", to: "RUNNING", requires: ["PRE_COPY"] },
    { from: "PRE_COPY", to: "STOP_COPY", requires: ["PRE_COPY"], unless: ["P2P"] },
    { from: "RUNNING_P2P", to: "PRE_COPY_P2P", requires: ["P2P", "PRE_COPY"] },
    { from: "PRE_COPY_P2P", to: "RUNNING_P2P", requires: ["P2P", "PRE_COPY"] },
    { from: "PRE_COPY", to: "PRE_COPY_P2P", requires: ["P2P", "PRE_COPY"] },
    { from: "PRE_COPY_P2P", to: "PRE_COPY", requires: ["P2P", "PRE_COPY"] },
    { from: "PRE_COPY_P2P", to: "STOP_COPY", requires: ["P2P", "PRE_COPY"] },
  ],
};
