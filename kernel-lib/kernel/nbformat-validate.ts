import { Ajv, type ErrorObject } from "ajv";
import { NBFORMAT_4_5_SCHEMA } from "./nbformat-schema.js";

/**
 * Validates a notebook file's JSON against nbformat 4.5, as Jupyter's own validator would: the
 * schema, then the rule the schema cannot state (cell ids are unique). Each problem comes back as
 * one line naming where it is ("cell 3 (code): must have required property 'id'").
 */

const ajv = new Ajv({ allErrors: true, strict: false });
const validateSchema = ajv.compile(NBFORMAT_4_5_SCHEMA);

/** "/cells/3/outputs/0/text" -> "cell 4 (code), output 1: text" (1-based, as a reader counts) */
function where(raw: unknown, pointer: string): string {
  const parts = pointer.split("/").slice(1);
  const words: string[] = [];
  let rest: string[] = [];
  if (parts[0] === "cells" && parts[1] !== undefined) {
    const index = Number(parts[1]);
    const cell = (raw as { cells?: Array<{ cell_type?: unknown }> }).cells?.[index];
    words.push(`cell ${index + 1}${typeof cell?.cell_type === "string" ? ` (${cell.cell_type})` : ""}`);
    rest = parts.slice(2);
    if (rest[0] === "outputs" && rest[1] !== undefined) {
      words.push(`output ${Number(rest[1]) + 1}`);
      rest = rest.slice(2);
    }
  } else {
    rest = parts;
  }
  const field = rest.join(".");
  return [words.join(", "), field].filter(Boolean).join(": ") || "the notebook";
}

function describe(raw: unknown, error: ErrorObject): string | null {
  // if/then branches report once more as "must match then schema"; the specific error is already listed
  if (error.keyword === "if") return null;
  if (error.keyword === "additionalProperties") {
    return `${where(raw, error.instancePath)}: unknown property "${String(error.params.additionalProperty)}"`;
  }
  return `${where(raw, error.instancePath)}: ${error.message ?? error.keyword}${error.keyword === "enum" ? ` (${(error.params.allowedValues as unknown[]).join(", ")})` : ""}`;
}

/** The nbformat 4.5 problems of a parsed notebook file; empty when it is valid. */
export function nbformatProblems(raw: unknown): string[] {
  const problems: string[] = [];
  if (!validateSchema(raw)) {
    for (const error of validateSchema.errors ?? []) {
      const line = describe(raw, error);
      if (line !== null && !problems.includes(line)) problems.push(line);
    }
  }
  const cells = (raw as { cells?: unknown }).cells;
  if (Array.isArray(cells)) {
    const seen = new Map<string, number>();
    cells.forEach((cell, index) => {
      const id = (cell as { id?: unknown })?.id;
      if (typeof id !== "string") return;
      const first = seen.get(id);
      if (first !== undefined) problems.push(`cell ${index + 1}: id "${id}" is already the id of cell ${first + 1} (cell ids must be unique)`);
      else seen.set(id, index);
    });
  }
  return problems;
}
