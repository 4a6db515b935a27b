// Markdown tables and number formatting shared by the suites.

/**
 * Prints a GitHub-flavoured markdown table.
 * @param {string} title printed as a `###` heading
 * @param {string[]} columns header cells; a leading '>' right-aligns the column ('>' is stripped)
 * @param {(string|number)[][]} rows
 * @param {string[]} [notes] lines printed under the table
 */
export function printTable(title, columns, rows, notes = []) {
  const align = columns.map((c) => c.startsWith('>'));
  const head = columns.map((c) => (c.startsWith('>') ? c.slice(1) : c));
  const cells = [head, ...rows.map((r) => r.map((c) => String(c ?? '')))];
  const width = head.map((_, j) => Math.max(3, ...cells.map((r) => (r[j] ?? '').length)));
  const line = (r) => '| ' + r.map((c, j) => (align[j] ? (c ?? '').padStart(width[j]) : (c ?? '').padEnd(width[j]))).join(' | ') + ' |';
  const rule = '| ' + width.map((w, j) => (align[j] ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ') + ' |';
  const out = ['', `### ${title}`, '', line(cells[0]), rule, ...cells.slice(1).map(line)];
  if (notes.length) out.push('', ...notes);
  console.log(out.join('\n'));
}

/** 3 significant digits, without exponent for the ranges a benchmark prints. */
export function sig(x, digits = 3) {
  if (x == null || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const mag = Math.floor(Math.log10(Math.abs(x)));
  const decimals = Math.max(0, digits - 1 - mag);
  return x.toFixed(Math.min(decimals, 6));
}

export const ms = (x) => (x == null ? '—' : sig(x));
export const ratio = (x) => (x == null || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}×`);
export const pct = (x) => (x == null || !Number.isFinite(x) ? '—' : `±${x.toFixed(1)}%`);
export const sci = (x) => (x == null ? '—' : x === 0 ? '0' : x.toExponential(1));

/** Median of a list of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
