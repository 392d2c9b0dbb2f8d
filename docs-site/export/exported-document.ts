/** What an exporter produces: the document's text and the files (figures) written beside it. */

export interface ExportedFile {
  /** a bare file name, placed in the document's folder */
  name: string;
  content: string | Buffer;
}

export interface ExportedDocument {
  text: string;
  files: ExportedFile[];
}

/** NAME-fig-N.svg: the N-th figure of the document NAME, numbered from 1 in reading order. */
export function figureFileName(stem: string, n: number, format: string): string {
  return `${stem}-fig-${n}.${format}`;
}
