/**
 * The notebook `vfio-workbench new NAME` writes: the opening section every notebook of this
 * project has (what the reader learns, what it assumes, the uAPI identifiers it covers), the one
 * cell that chooses the backend, and a first claim with its source. It runs as it stands, so a
 * new notebook passes `check` before its author writes a line.
 */
import { NBFORMAT_MINOR, splitLines, type Cell, type Notebook } from "./notebook.js";

/** A notebook's name: lower-case words of letters and digits joined by hyphens, e.g. "10-sriov-reset". */
export const NOTEBOOK_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const MAX_NAME = 64;

/** Why `name` cannot name a notebook, or null when it can. */
export function notebookNameProblem(name: string): string | null {
  if (name.endsWith(".ipynb")) return `give the name without .ipynb, e.g. "${name.slice(0, -".ipynb".length)}"`;
  if (name.includes("/") || name.includes("\\")) return `"${name}" is a path; give a name and, for another folder, --dir`;
  if (name.length > MAX_NAME) return `"${name}" is longer than ${MAX_NAME} characters`;
  if (!NOTEBOOK_NAME.test(name)) return `"${name}" is not a notebook name: use lower-case letters, digits and single hyphens, e.g. 10-sriov-reset`;
  return null;
}

/** "10-sriov-reset" → "Sriov reset": the heading until the author writes a better one. */
export function titleFromName(name: string): string {
  const words = name.split("-").filter((w) => !/^\d+$/.test(w));
  const text = (words.length > 0 ? words : [name]).join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function cell(id: string, type: "markdown" | "code", text: string): Cell {
  const c: Cell = { id, cell_type: type, metadata: {}, source: splitLines(text) };
  if (type === "code") {
    c.outputs = [];
    c.execution_count = null;
  }
  return c;
}

const opening = (title: string) => `# ${title}

One paragraph: what this notebook shows, and why a reader who writes, reviews or learns the VFIO
migration uAPI needs it.

**You will learn**
- the first thing the reader can do or explain after reading;
- the second.

**Assumes** [00-first-migration](00-first-migration.ipynb) (a device opened and migrated once).

**uAPI identifiers covered:** \`VFIO_GROUP_SET_CONTAINER\`, \`VFIO_SET_IOMMU\`,
\`VFIO_GROUP_GET_DEVICE_FD\`.

**Where the cells run.** The cells use only the uAPI unless they are tagged \`emulator-only\`: those
use the emulator's lab or a device model that only the emulator has. Linux sources were read in
v6.12.118; name the version that changed a behaviour where it matters.
`;

const backend = (name: string) => `import { createEmuBackend, Container, Group, claim, expectErrno, table } from "vfio-workbench";

// the backend is chosen here, once: one emulated host with a NIC-like VF (mlx5 is the model)
// (on a real host: const sys = createNativeBackend(), with the device bound to vfio-pci beforehand)
const host = createEmuBackend({ seed: 1, name: ${JSON.stringify(name)}, devices: [{ model: "nic" }] });
const sys = host.sys;
table(host.devices.map((d) => ({ device: d.name, address: d.address, "IOMMU group": d.group })))
`;

const claimText = `## A first claim

Every sentence about behaviour is checked by a \`claim()\` in the cell after it, with where the
fact lives in Linux or QEMU (file and symbol, or patch title and commit, and the version). Here:
a container becomes an IOMMU context only once a group has joined it, so \`VFIO_SET_IOMMU\` on an
empty container fails with \`EINVAL\` (\`vfio_ioctl_set_iommu()\`, drivers/vfio/container.c). The
group joins with \`VFIO_GROUP_SET_CONTAINER\`, then the IOMMU type is set, and the device fd comes
from \`VFIO_GROUP_GET_DEVICE_FD\`.
`;

const firstClaim = `claim("VFIO_SET_IOMMU on a container that no group has joined fails with EINVAL",
  () => expectErrno(() => Container.open(sys).setIommu(), "EINVAL"),
  { source: "drivers/vfio/container.c, vfio_ioctl_set_iommu(): list_empty(&container->group_list) (v6.12.118)" });

const container = Container.open(sys);
const group = Group.open(sys, host.devices[0].group);
group.setContainer(container); // the group joins first ...
container.setIommu();          // ... then the IOMMU type (type1v2) is set
const device = group.device(host.devices[0].address);
claim("With the group in the container, VFIO_GROUP_GET_DEVICE_FD gives a device fd",
  () => device.fd >= 0,
  { source: "drivers/vfio/group.c, vfio_group_ioctl_get_device_fd() (v6.12.118)" });
`;

/** The notebook `new` writes for `name`, titled `title` (default: from the name). */
export function notebookTemplate(name: string, title = titleFromName(name)): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: NBFORMAT_MINOR,
    metadata: {
      kernelspec: { name: "vfio-workbench", display_name: "TypeScript (vfio-workbench)", language: "typescript" },
      language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
    },
    cells: [cell("intro", "markdown", opening(title)), cell("backend", "code", backend(name)), cell("first-claim-text", "markdown", claimText), cell("first-claim", "code", firstClaim)],
  };
}
