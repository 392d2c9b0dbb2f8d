/**
 * A small read-only sysfs/devfs tree so userspace discovers devices the way it
 * does on Linux: /sys/bus/pci/devices/<bdf>/{vendor,device,class,iommu_group,driver,vfio-dev/vfioN},
 * /sys/kernel/iommu_groups/<n>/devices/<bdf>, /dev/vfio/<n>, /dev/vfio/devices/vfioN.
 */
import { Errno } from "../uapi/index.js";

type Node =
  | { type: "dir"; children: Map<string, Node> }
  | { type: "file"; content: () => string }
  | { type: "link"; target: string };

function split(path: string): string[] {
  if (!path.startsWith("/")) throw new Errno("ENOENT", `${path}: paths must be absolute`);
  return path.split("/").filter((p) => p.length > 0);
}

export class VirtualTree {
  private readonly root: Node = { type: "dir", children: new Map() };

  private dirAt(parts: string[], create: boolean, syscall: string): Map<string, Node> {
    let node = this.root;
    for (const p of parts) {
      if (node.type !== "dir") throw new Errno("ENOTDIR", `${p}: not a directory`, syscall);
      let next = node.children.get(p);
      if (!next) {
        if (!create) throw new Errno("ENOENT", `/${parts.join("/")}: no such directory`, syscall);
        next = { type: "dir", children: new Map() };
        node.children.set(p, next);
      }
      if (next.type === "link") next = this.lookup(next.target, syscall);
      node = next;
    }
    if (node.type !== "dir") throw new Errno("ENOTDIR", `/${parts.join("/")}: not a directory`, syscall);
    return node.children;
  }

  mkdir(path: string): void {
    this.dirAt(split(path), true, "mkdir");
  }

  addFile(path: string, content: () => string): void {
    const parts = split(path);
    this.dirAt(parts.slice(0, -1), true, "mkdir").set(parts.at(-1)!, { type: "file", content });
  }

  addLink(path: string, target: string): void {
    const parts = split(path);
    this.dirAt(parts.slice(0, -1), true, "mkdir").set(parts.at(-1)!, { type: "link", target });
  }

  remove(path: string): void {
    const parts = split(path);
    this.dirAt(parts.slice(0, -1), false, "unlink").delete(parts.at(-1)!);
  }

  exists(path: string): boolean {
    try {
      this.lookup(path, "stat");
      return true;
    } catch {
      return false;
    }
  }

  private lookup(path: string, syscall: string): Node {
    const parts = split(path);
    const parent = this.dirAt(parts.slice(0, -1), false, syscall);
    const node = parts.length ? parent.get(parts.at(-1)!) : this.root;
    if (!node) throw new Errno("ENOENT", `${path}: no such file or directory`, syscall);
    return node;
  }

  private resolve(path: string, syscall: string): Node {
    let node = this.lookup(path, syscall);
    for (let hops = 0; node.type === "link"; hops++) {
      if (hops > 8) throw new Errno("ENOENT", `${path}: too many links`, syscall);
      node = this.lookup(node.target, syscall);
    }
    return node;
  }

  readdir(path: string): string[] {
    const node = this.resolve(path, "readdir");
    if (node.type !== "dir") throw new Errno("ENOTDIR", `${path}: not a directory`, "readdir");
    return [...node.children.keys()].sort();
  }

  readlink(path: string): string {
    const node = this.lookup(path, "readlink");
    if (node.type !== "link") throw new Errno("EINVAL", `${path}: not a symbolic link`, "readlink");
    return node.target;
  }

  readFile(path: string): string {
    const node = this.resolve(path, "read");
    if (node.type !== "file") throw new Errno("EISDIR", `${path}: is a directory`, "read");
    return node.content();
  }
}
