import { badRequest } from './errors.js';

/** A field of a request body or query: its type and bounds. */
export type FieldSpec =
  | { readonly type: 'string'; readonly required?: boolean; readonly maxLength: number; readonly pattern?: RegExp; readonly hint?: string }
  | { readonly type: 'boolean'; readonly required?: boolean }
  | { readonly type: 'integer'; readonly required?: boolean; readonly min: number; readonly max: number };

export type Fields = Readonly<Record<string, FieldSpec>>;

/**
 * Strict checks for a JSON body: unknown fields, wrong types and bounds are 400s that name the
 * field (a typo like `dryrun` must not silently start a real run).
 */
export function checkBody(body: Record<string, unknown>, fields: Fields): Record<string, unknown> {
  for (const key of Object.keys(body)) {
    if (!Object.hasOwn(fields, key)) throw badRequest(`body.${key}: unknown field; expected ${describeFields(fields)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(fields)) {
    const value = body[name];
    if (value === undefined) {
      if (spec.required) throw badRequest(`body.${name}: required`);
      continue;
    }
    out[name] = checkValue(`body.${name}`, value, spec);
  }
  return out;
}

/** Query parameters: known names only, each at most once, converted to the field's type. */
export function checkQuery(params: URLSearchParams, fields: Fields): Record<string, unknown> {
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (!Object.hasOwn(fields, key)) throw badRequest(`query.${key}: unknown parameter; expected ${describeFields(fields)}`);
    if (seen.has(key)) throw badRequest(`query.${key}: given more than once`);
    seen.add(key);
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(fields)) {
    const raw = params.get(name);
    if (raw === null) {
      if (spec.required) throw badRequest(`query.${name}: required`);
      continue;
    }
    out[name] = checkValue(`query.${name}`, fromQuery(name, raw, spec), spec);
  }
  return out;
}

function fromQuery(name: string, raw: string, spec: FieldSpec): unknown {
  if (spec.type === 'boolean') {
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw badRequest(`query.${name}: expected true or false, got ${JSON.stringify(raw)}`);
  }
  if (spec.type === 'integer') {
    if (!/^-?\d{1,15}$/.test(raw)) throw badRequest(`query.${name}: expected an integer from ${spec.min} to ${spec.max}, got ${JSON.stringify(raw)}`);
    return Number(raw);
  }
  return raw;
}

function checkValue(field: string, value: unknown, spec: FieldSpec): unknown {
  switch (spec.type) {
    case 'boolean':
      if (typeof value !== 'boolean') throw badRequest(`${field}: expected true or false, got ${JSON.stringify(value)}`);
      return value;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < spec.min || value > spec.max) {
        throw badRequest(`${field}: expected an integer from ${spec.min} to ${spec.max}, got ${JSON.stringify(value)}`);
      }
      return value;
    case 'string':
      if (typeof value !== 'string') throw badRequest(`${field}: expected a string, got ${typeof value}`);
      if (value.includes('\u0000')) throw badRequest(`${field}: must not contain NUL bytes`);
      if (spec.required && value.trim() === '') throw badRequest(`${field}: must not be empty`);
      if (value.length > spec.maxLength) throw badRequest(`${field}: longer than ${spec.maxLength} characters`);
      if (spec.pattern && !spec.pattern.test(value)) throw badRequest(`${field}: expected ${spec.hint ?? spec.pattern.source}, got ${JSON.stringify(value.slice(0, 80))}`);
      return value;
  }
}

function describeFields(fields: Fields): string {
  const names = Object.keys(fields);
  return names.length === 0 ? 'none' : names.join(', ');
}
