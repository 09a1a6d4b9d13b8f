export interface TableOptions {
  /** Spaces before every line. */
  indent?: number;
}

/** Shown for an absent value, as kubectl does. */
export const NONE = '<none>';

/**
 * Columns aligned the way kubectl aligns them (each as wide as its widest cell plus three spaces),
 * headers upper-cased, no trailing spaces. Without headers, just the aligned rows.
 */
export function renderTable(headers: readonly string[] | undefined, rows: readonly (readonly string[])[], options: TableOptions = {}): string {
  const lines = headers ? [headers.map((header) => header.toUpperCase()), ...rows] : [...rows];
  const columns = Math.max(0, ...lines.map((line) => line.length));
  const widths = Array.from({ length: columns }, (_, column) => Math.max(0, ...lines.map((line) => (line[column] ?? '').length)));
  const pad = ' '.repeat(options.indent ?? 0);
  return lines
    .map((line) => pad + widths.map((width, column) => (column === columns - 1 ? line[column] ?? '' : (line[column] ?? '').padEnd(width + 3))).join('').trimEnd())
    .join('\n');
}
