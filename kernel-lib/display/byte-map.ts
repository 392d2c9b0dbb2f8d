/**
 * Struct byte maps: which field owns each byte of an encoded uAPI struct, and
 * what its value means, as text, HTML and SVG in one bundle.
 */
import { annotate, type Annotation, type StructDef } from "../../hw-emu/uapi/index.js";
import { byteMapHtml } from "./byte-map-html.js";
import { buildModel, type ByteMapOptions } from "./byte-map-model.js";
import { byteMapSvg } from "./byte-map-svg.js";
import { byteMapText } from "./byte-map-text.js";
import { mimeBundle, type MimeBundle } from "./mime-bundle.js";
import { finishSvg } from "./svg-ids.js";

export type { ByteMapOptions } from "./byte-map-model.js";

/**
 * The byte map of an annotation already made (e.g. of one capability in a
 * chain). `bytes` are the bytes that were annotated; padding is read from them.
 */
export function byteMapOf(annotation: Annotation, bytes: Uint8Array, options: ByteMapOptions = {}): MimeBundle {
  const perRow = options.bytesPerRow ?? 8;
  if (!Number.isInteger(perRow) || perRow < 1 || perRow > 64) throw new Error(`bytesPerRow must be an integer from 1 to 64, got ${perRow}`);
  const model = buildModel(annotation, bytes, options);
  return mimeBundle({
    "image/svg+xml": finishSvg(byteMapSvg(model, perRow), "bytes"),
    "text/html": byteMapHtml(model, perRow),
    "text/plain": byteMapText(model),
  });
}

/**
 * Decode `bytes` as struct `def` and draw every field (and any padding and
 * trailing bytes) with its decoded value.
 *
 * `options.payload` names the struct held by the bytes past `def` (a feature payload).
 *
 * @example byteMap(vfio_device_feature_mig_state, vfio_device_feature_mig_state.encode({ device_state: 2, data_fd: -1 }))
 * @example byteMap(vfio_device_feature, argBytes, { payload: vfio_device_feature_mig_state })
 */
export function byteMap<T extends Record<string, unknown>>(def: StructDef<T>, bytes: Uint8Array, options: ByteMapOptions = {}): MimeBundle {
  const head = def as unknown as StructDef<Record<string, unknown>>;
  const annotation = options.payload ? annotateWithPayload(head, options.payload, bytes) : annotate(head, bytes);
  return byteMapOf(annotation, bytes, options);
}

/**
 * One annotation for a header struct followed by the struct its trailing bytes hold (an
 * ioctl argument such as vfio_device_feature + vfio_device_feature_mig_state). Payload
 * fields are named after the header's flexible member ("data.device_state") and placed
 * at their offsets in the whole argument.
 */
function annotateWithPayload(head: StructDef<Record<string, unknown>>, payload: StructDef<Record<string, unknown>>, bytes: Uint8Array): Annotation {
  const need = head.size + payload.size;
  if (bytes.byteLength < need) {
    throw new Error(`byteMap: ${bytes.byteLength} bytes cannot hold struct ${head.name} (${head.size} bytes) followed by struct ${payload.name} (${payload.size} bytes)`);
  }
  const outer = annotate(head, bytes.subarray(0, head.size));
  const inner = annotate(payload, bytes.subarray(head.size));
  const prefix = head.flexible ? `${head.flexible.name}.` : `${payload.name}.`;
  const out: Annotation = {
    struct: `${head.name} + struct ${payload.name}`,
    size: need,
    fields: [...outer.fields, ...inner.fields.map((f) => ({ ...f, name: prefix + f.name, offset: head.size + f.offset }))],
  };
  if (inner.tail) out.tail = { ...inner.tail, offset: head.size + inner.tail.offset };
  return out;
}
