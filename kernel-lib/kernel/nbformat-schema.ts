/**
 * The on-disk notebook format, nbformat 4.5, as a JSON Schema (draft-07) for ajv. Written from the
 * format's documentation (nbformat.readthedocs.io, "The Notebook file format"); a test holds it to
 * Debian's python3-nbformat, which is the reference validator.
 *
 * 4.5 is the minor version that made a unique `id` on every cell mandatory. Uniqueness itself is
 * not expressible in JSON Schema and is checked beside it (nbformat-validate.ts).
 */

const multilineString = { anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] } as const;

/** mime type -> content; JSON types (application/json, application/…+json) may hold any value */
const mimeBundle = {
  type: "object",
  patternProperties: { "^application/(.*\\+)?json$": true },
  additionalProperties: multilineString,
} as const;

const tags = { type: "array", uniqueItems: true, items: { type: "string", pattern: "^[^,]+$" } } as const;
const cellName = { type: "string", minLength: 1 } as const;
const executionCount = { anyOf: [{ type: "integer", minimum: 0 }, { type: "null" }] } as const;
const attachments = { type: "object", additionalProperties: mimeBundle } as const;

const cellId = { type: "string", pattern: "^[a-zA-Z0-9-_]+$", minLength: 1, maxLength: 64 } as const;

function cellMetadata(extra: Record<string, unknown> = {}) {
  return {
    type: "object",
    properties: {
      name: cellName,
      tags,
      jupyter: { type: "object", properties: { source_hidden: { type: "boolean" }, outputs_hidden: { type: "boolean" } } },
      ...extra,
    },
  };
}

const outputs = {
  execute_result: {
    type: "object",
    additionalProperties: false,
    required: ["output_type", "data", "metadata", "execution_count"],
    properties: { output_type: { const: "execute_result" }, execution_count: executionCount, data: mimeBundle, metadata: { type: "object" } },
  },
  display_data: {
    type: "object",
    additionalProperties: false,
    required: ["output_type", "data", "metadata"],
    properties: { output_type: { const: "display_data" }, data: mimeBundle, metadata: { type: "object" } },
  },
  stream: {
    type: "object",
    additionalProperties: false,
    required: ["output_type", "name", "text"],
    properties: { output_type: { const: "stream" }, name: { type: "string" }, text: multilineString },
  },
  error: {
    type: "object",
    additionalProperties: false,
    required: ["output_type", "ename", "evalue", "traceback"],
    properties: { output_type: { const: "error" }, ename: { type: "string" }, evalue: { type: "string" }, traceback: { type: "array", items: { type: "string" } } },
  },
} as const;

const cells = {
  raw: {
    type: "object",
    additionalProperties: false,
    required: ["id", "cell_type", "metadata", "source"],
    properties: { id: cellId, cell_type: { const: "raw" }, metadata: cellMetadata({ format: { type: "string" } }), attachments, source: multilineString },
  },
  markdown: {
    type: "object",
    additionalProperties: false,
    required: ["id", "cell_type", "metadata", "source"],
    properties: { id: cellId, cell_type: { const: "markdown" }, metadata: cellMetadata(), attachments, source: multilineString },
  },
  code: {
    type: "object",
    additionalProperties: false,
    required: ["id", "cell_type", "metadata", "source", "outputs", "execution_count"],
    properties: {
      id: cellId,
      cell_type: { const: "code" },
      metadata: cellMetadata({
        collapsed: { type: "boolean" },
        scrolled: { enum: [true, false, "auto"] },
        execution: { type: "object", additionalProperties: { type: "string" } },
      }),
      source: multilineString,
      outputs: {
        type: "array",
        // the output_type picks the branch, so an error names the right kind of output
        items: {
          type: "object",
          required: ["output_type"],
          properties: { output_type: { enum: Object.keys(outputs) } },
          allOf: Object.entries(outputs).map(([kind, schema]) => ({ if: { properties: { output_type: { const: kind } } }, then: schema })),
        },
      },
      execution_count: executionCount,
    },
  },
} as const;

export const NBFORMAT_4_5_SCHEMA = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "Jupyter notebook, nbformat 4.5",
  type: "object",
  additionalProperties: false,
  required: ["metadata", "nbformat_minor", "nbformat", "cells"],
  properties: {
    nbformat: { const: 4 },
    nbformat_minor: { type: "integer", minimum: 5 },
    metadata: {
      type: "object",
      properties: {
        kernelspec: { type: "object", required: ["name", "display_name"], properties: { name: { type: "string" }, display_name: { type: "string" } } },
        language_info: {
          type: "object",
          required: ["name"],
          properties: {
            name: { type: "string" },
            codemirror_mode: { anyOf: [{ type: "string" }, { type: "object" }] },
            file_extension: { type: "string" },
            mimetype: { type: "string" },
            pygments_lexer: { type: "string" },
          },
        },
        orig_nbformat: { type: "integer", minimum: 1 },
        title: { type: "string" },
        authors: { type: "array" },
      },
    },
    cells: {
      type: "array",
      items: {
        type: "object",
        required: ["cell_type"],
        properties: { cell_type: { enum: Object.keys(cells) } },
        allOf: Object.entries(cells).map(([kind, schema]) => ({ if: { properties: { cell_type: { const: kind } } }, then: schema })),
      },
    },
  },
} as const;
