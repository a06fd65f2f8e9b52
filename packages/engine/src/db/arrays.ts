// SQL array parameters: one literal a column, so a batch of any size is one round trip
// (`= ANY($1::text[])`, `unnest($1::text[], $2::float8[])`; DESIGN "Speed").

/**
 * A PostgreSQL array literal, written exactly as node-postgres writes a JS array parameter (every
 * element quoted, backslashes and double quotes escaped, null as NULL), but without its two regex
 * replaces per element when there is nothing to escape: pg's `escapeElement` was the main thread's
 * largest self time when a 50k-file run was profiled (docs/performance.md). arrays.test.ts checks
 * it against pg's own encoding.
 */
export function textArray(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) out += 'NULL';
    else if (!v.includes('"') && !v.includes('\\')) out += `"${v}"`;
    else out += `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }
  return `${out}}`;
}

/** `{1,2.5,NULL}`: a float8[] literal (JS number text is valid float8 input); NaN and infinities are written as NULL (unknown). */
export function numberArray(values: readonly (number | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // NaN / Infinity (a row with no policy or no usable created_at) is recorded as unknown.
    out += `${i > 0 ? ',' : ''}${v === null || v === undefined || !Number.isFinite(v) ? 'NULL' : v}`;
  }
  return `${out}}`;
}

/**
 * The two parallel array parameters that carry a policy set into SQL as
 * `unnest($p::text[], $i::interval[]) AS p(purpose, iv)`: purposes and their retention intervals,
 * in the same order (the re-check, the shared-key rule, request targets and plan counts).
 */
export function policyArrays(policies: readonly { readonly purpose: string; readonly interval: string }[]): [purposes: string[], intervals: string[]] {
  return [policies.map((p) => p.purpose), policies.map((p) => p.interval)];
}
