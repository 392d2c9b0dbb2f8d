/** The messages between a page's live runner (live-runner.ts) and its worker (worker.ts). */

/** An output as nbformat saves it (execute_result, display_data, stream, error). */
export type CellOutput =
  | { output_type: "stream"; name: "stdout" | "stderr"; text: string }
  | { output_type: "display_data" | "update_display_data"; data: Record<string, unknown>; metadata: Record<string, unknown>; transient?: { display_id: string } }
  | { output_type: "execute_result"; execution_count: number; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

export interface WorkerRequest {
  id: number;
  code: string;
  executionCount: number;
  /** where the worker fetches the TypeScript compiler (typescript.js) from, on its first cell */
  typescriptUrl: string;
  /** the emulator's browser build (vfio-workbench.js), which `import … from "vfio-workbench"` gets */
  libraryUrl: string;
}

export interface WorkerReply {
  id: number;
  ok: boolean;
  outputs: CellOutput[];
}
