/**
 * Jupyter counts cursor positions in Unicode code points (protocol 5.2+); JavaScript strings
 * and the TypeScript services count UTF-16 code units. These convert between the two.
 */

export function codePointsToUtf16(text: string, codePoints: number): number {
  let units = 0;
  for (let seen = 0; seen < codePoints && units < text.length; seen++) {
    units += (text.codePointAt(units) ?? 0) > 0xffff ? 2 : 1;
  }
  return units;
}

export function utf16ToCodePoints(text: string, units: number): number {
  let points = 0;
  for (let i = 0; i < units && i < text.length; points++) {
    i += (text.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
  }
  return points;
}
