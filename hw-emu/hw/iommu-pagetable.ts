/**
 * An IO page table: a 4-level radix tree of 512-entry tables over a 48-bit IOVA space,
 * shaped like x86's second-stage tables. Leaves may sit at level 1 (1 GiB), 2 (2 MiB) or
 * 3 (4 KiB). An entry is a number: 0 when empty, otherwise the 4 KiB-aligned target
 * address plus flag bits in its low 12 bits (exact, since targets stay below 2^52).
 */

export const PERM_READ = 1;
export const PERM_WRITE = 2;
export const PERM_RW = 3;
const LEAF = 4;
const TABLE = 8;

export const PAGE_4K = 4096;
export const PAGE_2M = 2 * 1024 * 1024;
export const PAGE_1G = 1024 * 1024 * 1024;

/** bit shift of the span of one entry at each level (level 0 is the root) */
const SHIFT = [39, 30, 21, 12] as const;
const SPAN = SHIFT.map((s) => 2 ** s);

interface Node {
  e: Float64Array;
  c: (Node | undefined)[] | null;
  n: number; // non-empty entries, so empty tables can be released
}

function newNode(level: number): Node {
  return { e: new Float64Array(512), c: level < 3 ? new Array<Node | undefined>(512) : null, n: 0 };
}

function levelOfSize(size: number): number {
  switch (size) {
    case PAGE_1G:
      return 1;
    case PAGE_2M:
      return 2;
    case PAGE_4K:
      return 3;
    default:
      throw new RangeError(`unsupported IO page size ${size}`);
  }
}

/** The 512 leaves one level below the leaf entry `e` at `level`, with its target and flags. */
function childTable(e: number, level: number): Node {
  const flags = e % 4096;
  const gpa = e - flags;
  const sub = SPAN[level + 1]!;
  const child = newNode(level + 1);
  for (let k = 0; k < 512; k++) child.e[k] = gpa + k * sub + flags;
  child.n = 512;
  return child;
}

/** A leaf mapping found in the table. */
export interface IoLeaf {
  /** IOVA of the start of the leaf */
  iova: number;
  /** target address of the start of the leaf */
  gpa: number;
  /** leaf size: 4 KiB, 2 MiB or 1 GiB */
  size: number;
  /** PERM_READ | PERM_WRITE */
  perm: number;
}

/** Mutable result of `walk`, reused to keep lookups allocation-free. */
export interface WalkResult {
  leafIova: number;
  leafGpa: number;
  leafSize: number;
  perm: number;
}

export class IoPageTable {
  private readonly root = newNode(0);
  private bytes = 0;

  /** total bytes mapped */
  get mappedBytes(): number {
    return this.bytes;
  }

  /** Find the leaf covering `iova`; returns false when none is present. */
  walk(iova: number, out: WalkResult): boolean {
    let node = this.root;
    for (let level = 0; level < 4; level++) {
      const span = SPAN[level]!;
      const i = Math.floor(iova / span) % 512;
      const e = node.e[i]!;
      if (e === 0) return false;
      const flags = e % 4096;
      if (flags & LEAF) {
        out.leafIova = iova - (iova % span);
        out.leafGpa = e - flags;
        out.leafSize = span;
        out.perm = flags & PERM_RW;
        return true;
      }
      node = node.c![i]!;
    }
    return false;
  }

  /** whether any leaf intersects [start, end) */
  anyMapped(start: number, end: number): boolean {
    return this.anyIn(this.root, 0, 0, start, end);
  }

  /** Install one leaf; the range must be free (checked by the caller with anyMapped). */
  install(iova: number, gpa: number, size: number, perm: number): void {
    const leafLevel = levelOfSize(size);
    let node = this.root;
    for (let level = 0; level < leafLevel; level++) {
      const i = Math.floor(iova / SPAN[level]!) % 512;
      if (node.e[i] === 0) {
        node.e[i] = TABLE;
        node.c![i] = newNode(level + 1);
        node.n++;
      }
      node = node.c![i]!;
    }
    const i = Math.floor(iova / size) % 512;
    node.e[i] = gpa + (perm | LEAF);
    node.n++;
    this.bytes += size;
  }

  /**
   * Replace the huge leaf that maps `iova` by a table of 512 leaves of the next smaller size,
   * with the same targets and permissions, in one store: a walk sees either the old leaf or
   * the new table, never an empty slot. Returns the leaf that was split.
   */
  splitLeaf(iova: number): IoLeaf {
    const slot = this.hugeLeafSlot(iova);
    const e = slot.node.e[slot.i]!;
    slot.node.c![slot.i] = childTable(e, slot.level);
    slot.node.e[slot.i] = TABLE;
    return slot.leaf;
  }

  /**
   * Empty the slot of the huge leaf that maps `iova` (the "break" of break-before-make):
   * until `installSplit` fills it, walks over the leaf's range find nothing. Returns the leaf.
   */
  clearLeaf(iova: number): IoLeaf {
    const slot = this.hugeLeafSlot(iova);
    slot.node.e[slot.i] = 0;
    slot.node.n--;
    this.bytes -= slot.leaf.size;
    return slot.leaf;
  }

  /**
   * Fill the empty slot that `leaf` occupied with a table of 512 leaves of the next smaller
   * size covering it (the "make" after `clearLeaf`).
   */
  installSplit(leaf: IoLeaf): void {
    const leafLevel = levelOfSize(leaf.size);
    if (leafLevel === 3) throw new RangeError("installSplit: a 4 KiB leaf has nothing below it");
    if (this.anyMapped(leaf.iova, leaf.iova + leaf.size)) throw new RangeError(`installSplit: 0x${leaf.iova.toString(16)} is mapped again`);
    let node = this.root;
    for (let level = 0; level < leafLevel; level++) {
      const i = Math.floor(leaf.iova / SPAN[level]!) % 512;
      if (node.e[i] === 0) {
        node.e[i] = TABLE;
        node.c![i] = newNode(level + 1);
        node.n++;
      }
      node = node.c![i]!;
    }
    const i = Math.floor(leaf.iova / leaf.size) % 512;
    node.c![i] = childTable(leaf.gpa + (leaf.perm | LEAF), leafLevel);
    node.e[i] = TABLE;
    node.n++;
    this.bytes += leaf.size;
  }

  /**
   * Remove every mapping inside [start, end). A huge leaf that straddles an edge is split
   * into smaller leaves first, so exactly the requested range goes away.
   * Returns the number of bytes unmapped.
   */
  remove(start: number, end: number): number {
    const before = this.bytes;
    this.removeIn(this.root, 0, 0, start, end);
    return before - this.bytes;
  }

  /** Calls `fn` for each leaf in IOVA order (within [start, end) when given). */
  forEachLeaf(fn: (leaf: IoLeaf) => void, start = 0, end = 2 ** 48): void {
    this.leavesIn(this.root, 0, 0, start, end, fn);
  }

  /** The slot of the huge (2 MiB or 1 GiB) leaf that maps `iova`; throws when there is none. */
  private hugeLeafSlot(iova: number): { node: Node; i: number; level: number; leaf: IoLeaf } {
    let node = this.root;
    for (let level = 0; level < 4; level++) {
      const span = SPAN[level]!;
      const i = Math.floor(iova / span) % 512;
      const e = node.e[i]!;
      if (e === 0) break;
      const flags = e % 4096;
      if (flags & LEAF) {
        if (level === 3) throw new RangeError(`0x${iova.toString(16)} is mapped by a 4 KiB leaf: there is nothing to split`);
        return { node, i, level, leaf: { iova: iova - (iova % span), gpa: e - flags, size: span, perm: flags & PERM_RW } };
      }
      node = node.c![i]!;
    }
    throw new RangeError(`no leaf maps 0x${iova.toString(16)}`);
  }

  private anyIn(node: Node, level: number, base: number, start: number, end: number): boolean {
    const span = SPAN[level]!;
    const i0 = Math.max(0, Math.floor((start - base) / span));
    const i1 = Math.min(511, Math.floor((end - 1 - base) / span));
    for (let i = i0; i <= i1; i++) {
      const e = node.e[i]!;
      if (e === 0) continue;
      if ((e % 4096) & LEAF) return true;
      if (this.anyIn(node.c![i]!, level + 1, base + i * span, start, end)) return true;
    }
    return false;
  }

  private removeIn(node: Node, level: number, base: number, start: number, end: number): void {
    const span = SPAN[level]!;
    const i0 = Math.max(0, Math.floor((start - base) / span));
    const i1 = Math.min(511, Math.floor((end - 1 - base) / span));
    for (let i = i0; i <= i1; i++) {
      const e = node.e[i]!;
      if (e === 0) continue;
      const eBase = base + i * span;
      const covered = start <= eBase && eBase + span <= end;
      const flags = e % 4096;
      if (flags & LEAF) {
        if (covered) {
          node.e[i] = 0;
          node.n--;
          this.bytes -= span;
          continue;
        }
        node.c![i] = childTable(e, level);
        node.e[i] = TABLE;
      }
      const child = node.c![i]!;
      this.removeIn(child, level + 1, eBase, start, end);
      if (child.n === 0) {
        node.e[i] = 0;
        node.c![i] = undefined;
        node.n--;
      }
    }
  }

  private leavesIn(node: Node, level: number, base: number, start: number, end: number, fn: (leaf: IoLeaf) => void): void {
    const span = SPAN[level]!;
    const i0 = Math.max(0, Math.floor((start - base) / span));
    const i1 = Math.min(511, Math.floor((end - 1 - base) / span));
    for (let i = i0; i <= i1; i++) {
      const e = node.e[i]!;
      if (e === 0) continue;
      const flags = e % 4096;
      if (flags & LEAF) fn({ iova: base + i * span, gpa: e - flags, size: span, perm: flags & PERM_RW });
      else this.leavesIn(node.c![i]!, level + 1, base + i * span, start, end, fn);
    }
  }
}
