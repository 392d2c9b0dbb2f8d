/** read-table-file.ts for the browser build: a page has no file system to read a table from. */
export function readTableFile(path: string): string {
  throw Object.assign(new Error(`${path}: a page cannot read files; pass the table itself (parseFsmTable(json))`), { code: "ENOSYS" });
}
