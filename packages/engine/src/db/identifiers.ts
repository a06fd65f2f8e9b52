/** Quotes a SQL identifier; `schema.table` is split and each part quoted. */
export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}
