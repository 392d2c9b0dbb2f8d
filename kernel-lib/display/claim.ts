/**
 * claim(): a sentence of a notebook's prose, checked by the cell that states it. The check runs
 * at once; when it holds, the cell shows the sentence as checked, with where in Linux or QEMU the
 * fact lives (or a label saying it is the emulator model's own choice). When it does not hold the
 * claim throws, so the notebook, `check` and the site build fail, naming the sentence.
 */
import { display } from "./display-channel.js";
import { escapeMarkdown, escapeMarkup } from "./escape.js";
import { mimeBundle, type MimeBundle } from "./mime-bundle.js";

export const CLAIM_MIME = "application/vnd.vfio-workbench.claim+json";

export interface ClaimOptions {
  /** where the fact lives: file and symbol, or patch title and commit, with the version */
  source?: string;
  /** the behaviour is the emulator model's own (a cost, a latency, an outcome Linux leaves open) */
  model?: boolean;
}

/** What the claim+json output holds. */
export interface ClaimRecord {
  claim: string;
  source: string | null;
  model: boolean;
  status: "checked";
}

export class ClaimError extends Error {
  override name = "ClaimError";
  constructor(
    readonly claim: string,
    readonly source: string | null,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`claim failed: ${claim}${source ? ` (${source})` : ""}: ${reason}`, options);
  }
}

function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  return String(value);
}

/** The bundle a checked claim shows. */
export function claimBundle(text: string, options: ClaimOptions): MimeBundle {
  const source = options.source ?? null;
  const model = options.model === true;
  const label = source ?? "the emulator's model";
  const record: ClaimRecord = { claim: text, source, model, status: "checked" };
  const html =
    `<div class="vw-claim" data-status="checked"${model ? ' data-model="true"' : ""}>` +
    `<span class="vw-claim-mark" role="img" aria-label="checked">✔</span> ` +
    `<span class="vw-claim-text">${escapeMarkup(text)}</span> ` +
    `<cite class="vw-claim-source">${escapeMarkup(model && source ? `model: ${source}` : label)}</cite></div>`;
  return mimeBundle(
    {
      [CLAIM_MIME]: record,
      "text/html": html,
      "text/markdown": `✔ **Checked:** ${escapeMarkdown(text)} — *${escapeMarkdown(model && source ? `model: ${source}` : label)}*`,
      "text/plain": `✔ ${text} [${model && source ? `model: ${source}` : label}]`,
    },
    { "vfio-workbench": { claim: true, model } },
  );
}

function validate(text: string, options: ClaimOptions | undefined): ClaimOptions {
  if (typeof text !== "string" || text.trim() === "") throw new TypeError("claim() needs the sentence it checks as its first argument");
  const source = options?.source;
  if (source !== undefined && (typeof source !== "string" || source.trim() === "")) throw new TypeError(`claim "${text}": source must be a non-empty string`);
  if (source === undefined && options?.model !== true) {
    throw new TypeError(
      `claim "${text}": say where the fact lives ({ source: "file, symbol (version)" }) or mark it as the emulator model's own ({ model: true })`,
    );
  }
  return options!;
}

function settle(text: string, options: ClaimOptions, outcome: unknown): void {
  if (outcome === true) {
    display(claimBundle(text, options));
    return;
  }
  throw new ClaimError(text, options.source ?? null, outcome === false ? "the check returned false" : `the check returned ${describeValue(outcome)}, not true`);
}

function failed(text: string, options: ClaimOptions, err: unknown): never {
  if (err instanceof ClaimError) throw err;
  const reason = err instanceof Error ? `${err.name}: ${err.message}` : `threw ${describeValue(err)}`;
  throw new ClaimError(text, options.source ?? null, reason, { cause: err });
}

/**
 * States `text` and checks it with `check`, which must return true (or a promise of true). On
 * success the claim is shown as checked; otherwise it throws a ClaimError naming the sentence.
 */
export function claim(text: string, check: () => boolean, options: ClaimOptions): void;
export function claim(text: string, check: () => Promise<boolean>, options: ClaimOptions): Promise<void>;
export function claim(text: string, check: () => boolean | Promise<boolean>, options: ClaimOptions): void | Promise<void> {
  const opts = validate(text, options);
  if (typeof check !== "function") throw new TypeError(`claim "${text}": the check must be a function returning true when the claim holds`);
  let outcome: boolean | Promise<boolean>;
  try {
    outcome = check();
  } catch (err) {
    failed(text, opts, err);
  }
  if (outcome instanceof Promise) {
    return outcome.then(
      (value) => settle(text, opts, value),
      (err: unknown) => failed(text, opts, err),
    );
  }
  settle(text, opts, outcome);
}
