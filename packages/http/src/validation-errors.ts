import type { FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { badRequest, type HttpError } from './errors.js';

type Schema = Record<string, unknown>;

/** Where a value came from, as messages name it: `body.reason`, `query.limit`, `id`, `x-lethe-actor`. */
const PREFIX: Readonly<Record<string, string>> = { body: 'body.', querystring: 'query.', params: '', headers: '' };

/**
 * fastify's `schemaErrorFormatter`: the first ajv error (allErrors is off) as a 400 that names the
 * field and what was expected. ajv runs with `verbose`, so each error carries the value and the
 * field's schema; the message is derived from them in a fixed order (type, NUL, empty, length,
 * pattern), whatever keyword ajv tripped over first.
 */
export function formatValidationErrors(errors: FastifySchemaValidationError[], dataVar: string): HttpError {
  const e = errors[0] as (FastifySchemaValidationError & { data?: unknown; parentSchema?: Schema }) | undefined;
  const prefix = PREFIX[dataVar] ?? `${dataVar}.`;
  if (!e) return badRequest(`${prefix || dataVar}: invalid`);
  const schema = e.parentSchema ?? {};
  const field = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  // A nested object's own field (`body.target.kind`), not the top level's.
  const within = field === '' ? prefix : `${prefix}${field}.`;
  if (e.keyword === 'required') return badRequest(`${within}${String(e.params.missingProperty)}: required`);
  if (e.keyword === 'additionalProperties') {
    const names = Object.keys((schema.properties as Schema | undefined) ?? {});
    const what = dataVar === 'querystring' ? 'parameter' : 'field';
    return badRequest(`${within}${String(e.params.additionalProperty)}: unknown ${what}; expected ${names.length === 0 ? 'none' : names.join(', ')}`);
  }
  if (field === '') return badRequest(`${dataVar}: expected a JSON object, got ${kindOf(e.data)}`);
  return badRequest(`${prefix}${field}: ${expectation(e.data, schema)}`);
}

function expectation(value: unknown, s: Schema): string {
  switch (s.type) {
    case 'boolean':
      return `expected true or false, got ${JSON.stringify(value)}`;
    case 'integer':
      return `expected an integer from ${String(s.minimum)} to ${String(s.maximum)}, got ${JSON.stringify(value)}`;
    case 'string': {
      if (typeof value !== 'string') return `expected a string, got ${kindOf(value)}`;
      if (value.includes('\u0000')) return 'must not contain NUL bytes';
      if (typeof s.minLength === 'number' && s.minLength > 0 && value.trim() === '') return 'must not be empty';
      if (typeof s.maxLength === 'number' && value.length > s.maxLength) return `longer than ${s.maxLength} characters`;
      return `expected ${typeof s.description === 'string' ? s.description : `a value matching ${String(s.pattern ?? s.format)}`}, got ${JSON.stringify(value.slice(0, 80))}`;
    }
    default:
      return `expected ${typeof s.description === 'string' ? s.description : JSON.stringify(s.type)}, got ${kindOf(value)}`;
  }
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value;
}

/**
 * A query string is text: ajv does not coerce, so integer and boolean parameters are converted
 * here, strictly (`limit=10`, `include_dry_runs=true`; "1e3" or "yes" stay text and fail the
 * schema with a message). A known parameter given twice is a 400, never "the last one wins".
 */
export function convertQuery(request: FastifyRequest): void {
  const properties = (request.routeOptions.schema?.querystring as { properties?: Record<string, Schema> } | undefined)?.properties;
  if (!properties) return;
  const query = request.query as Record<string, unknown>;
  for (const [name, spec] of Object.entries(properties)) {
    const raw = query[name];
    if (Array.isArray(raw)) throw badRequest(`query.${name}: given more than once`);
    if (typeof raw !== 'string') continue;
    if (spec.type === 'boolean' && (raw === 'true' || raw === 'false')) query[name] = raw === 'true';
    if (spec.type === 'integer' && /^-?\d{1,15}$/.test(raw)) query[name] = Number(raw);
  }
}
