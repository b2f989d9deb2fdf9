/** A fixed-width table, one row a line; a line longer than `width` is cut there (its last column is the long one). */
export function fixedWidthTable(header: string[], cells: string[][], width = 160): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [header, ...cells].map((c) => {
    const line = c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]))).join('  ');
    return line.length > width ? `${line.slice(0, width - 1)}…` : line;
  });
}
