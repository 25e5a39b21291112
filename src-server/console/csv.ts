/**
 * CSV (RFC 4180) for the audit export. A cell a spreadsheet would read as a formula (starting with =, +, -, @, also
 * after leading whitespace, which spreadsheets skip, or with a tab or carriage return that some programs strip
 * first) gets a leading apostrophe, the OWASP advice against CSV injection: an audit row carries usernames and
 * reasons typed by people outside the helpdesk.
 */
const FORMULA_START = /^[\t\r]|^\s*[=+\-@]/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: readonly (readonly unknown[])[]): string {
  return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
