/**
 * JSON Schemas of request bodies and queries, one helper per field kind. They are what fastify
 * validates (ajv: no coercion, no removal: an unknown field is a 400, a typo like `dryrun` must not
 * silently start a real run) and what @fastify/swagger writes into the OpenAPI document.
 * validation-errors.ts turns a failure back into a message that names the field.
 */

/** No NUL byte anywhere (Postgres text refuses them; a key with one is never a real key). */
const NO_NUL = '^[^\\u0000]*$';
/** No NUL byte, and at least one character that is not white space. */
const NOT_BLANK = '^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$';

export interface TextField {
  readonly type: 'string';
  readonly maxLength: number;
  readonly minLength?: number;
  readonly pattern: string;
  readonly description?: string;
}

/** A string; `nonEmpty` refuses "" and white space only. `pattern`/`description` say what else is expected. */
export function text(maxLength: number, o: { nonEmpty?: boolean; pattern?: string; description?: string } = {}): TextField {
  return {
    type: 'string',
    ...(o.nonEmpty ? { minLength: 1 } : {}),
    maxLength,
    pattern: o.pattern ?? (o.nonEmpty ? NOT_BLANK : NO_NUL),
    ...(o.description === undefined ? {} : { description: o.description }),
  };
}

export function flag(description?: string) {
  return { type: 'boolean', default: false, ...(description === undefined ? {} : { description }) } as const;
}

export function integer(minimum: number, maximum: number, defaultValue: number) {
  return { type: 'integer', minimum, maximum, default: defaultValue } as const;
}

/** A JSON object with exactly these fields (no others). */
export function fields(properties: Record<string, object>, required: readonly string[] = []) {
  return { type: 'object', additionalProperties: false, properties, ...(required.length > 0 ? { required: [...required] } : {}) } as const;
}

/** Who is calling, recorded in audit_logs as `http:<actor>` (checked by auth.ts callerOf). */
export const actorHeader = {
  type: 'object',
  properties: { 'x-lethe-actor': { type: 'string', maxLength: 100, description: 'Who is calling (recorded in audit_logs as "http:<actor>").' } },
} as const;
