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
 * @example byteMap(vfio_device_feature_mig_state, vfio_device_feature_mig_state.encode({ device_state: 2, data_fd: -1 }))
 */
export function byteMap<T extends Record<string, unknown>>(def: StructDef<T>, bytes: Uint8Array, options: ByteMapOptions = {}): MimeBundle {
  return byteMapOf(annotate(def as unknown as StructDef<Record<string, unknown>>, bytes), bytes, options);
}
