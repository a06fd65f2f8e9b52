import { completionRecord, listErasureRequests, requireErasureRequest, submitErasureRequest, type ErasureRequest, type TargetKind } from '@lethe/engine';
import { callerOf } from '../auth.js';
import type { BackgroundErasures } from '../background-erasures.js';
import { fromEngineError, HttpError, HttpErrorCodes } from '../errors.js';
import { adminErrors, bodyErrors, errorResponse, json, readSecurity, writeSecurity } from '../openapi.js';
import type { ResolvedHttpOptions } from '../options.js';
import { actorHeader, fields, integer, text } from '../request-schemas.js';
import type { RouteSpec } from '../route-spec.js';
import { ADMIN_PREFIX } from './admin-control.js';

const ERASURES = `${ADMIN_PREFIX}/erasures`;
/** The engine's reference rule (requests/request.ts): the ticket id, letters, digits and . _ : / # -, up to 128. */
const REFERENCE = '^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$';
const reference = (what: string) =>
  text(128, { pattern: REFERENCE, description: `${what} (letters, digits and . _ : / # -, up to 128), like "DPO-2026-0142"` });
const oneOf = (values: readonly string[]) => ({ type: 'string', enum: [...values], description: `one of ${values.join(', ')}` });

/** The engine names fields as `lethe erase` does; over HTTP the message names the body's field. */
const BODY_FIELD: Readonly<Record<string, string>> = {
  reference: 'body.reference',
  target: 'body.target.kind',
  job: 'body.target.values',
  key: 'body.target.values',
  principal: 'body.target',
  'requested-by': 'body.requested_by',
  why: 'body.reason',
  due: 'body.due_at',
  by: 'x-lethe-actor',
};

interface SubmitBody {
  readonly reference: string;
  readonly target: { readonly kind: TargetKind; readonly values: readonly string[] };
  readonly requested_by: string;
  readonly reason: 'request' | 'consent-withdrawn';
  readonly due_at?: string;
  readonly note?: string;
}

/**
 * Erasure on request over HTTP (docs/rights.md#over-http), as `lethe erase` and `lethe requests`:
 * submit (idempotent by reference), list, show with the completion record. In mode `immediate` a
 * submission starts the request's run in the background (background-erasures.ts) and answers at
 * once with the stored request; the location shows it until it is completed.
 */
export function erasureRoutes(o: ResolvedHttpOptions, background: BackgroundErasures | null): RouteSpec[] {
  const engineOf = () => {
    if (!o.engine) throw new HttpError(503, HttpErrorCodes.UNAVAILABLE, 'this service cannot take erasure requests (no engine configured)');
    return o.engine;
  };
  const answer = (error: unknown, field?: (name: string) => string | undefined): never => {
    throw fromEngineError(error, field) ?? error;
  };
  return [
    {
      method: 'POST',
      url: ERASURES,
      access: 'admin-write',
      schema: {
        operationId: 'submitErasureRequest',
        summary:
          'Store an erasure request (docs/rights.md#submitting), idempotent by reference; in mode immediate its run starts in the background (runbook REQ-001).',
        security: writeSecurity,
        headers: actorHeader,
        body: fields(
          {
            reference: reference('the ticket id'),
            target: {
              ...fields(
                {
                  kind: oneOf(['job', 'key', 'principal']),
                  values: {
                    type: 'array',
                    minItems: 1,
                    maxItems: 10_000,
                    items: text(1024, { nonEmpty: true }),
                    description: '1 to 10000 job ids, file keys or principal identifiers',
                  },
                },
                ['kind', 'values'],
              ),
              description: 'an object {kind: job|key|principal, values: [...]}',
            },
            requested_by: text(500, { nonEmpty: true, description: 'who asked (the data principal or their nominee, as the ticket names them)' }),
            reason: oneOf(['request', 'consent-withdrawn']),
            due_at: text(40, { nonEmpty: true, description: 'a date like 2027-01-31 or an ISO instant' }),
            note: text(2000),
          },
          ['reference', 'target', 'requested_by', 'reason'],
        ),
        response: {
          201: json('ErasureSubmitted', 'Stored; `run` says whether its run started.'),
          200: json(
            'ErasureSubmitted',
            'The reference was already stored with the same target: that request, unchanged (a run is started again if it is open and mode is immediate).',
          ),
          409: errorResponse('LETHE_E_REQUEST_CONFLICT: the reference is stored for another target (a reference names one request: use a new one).'),
          503: errorResponse('This service cannot take erasure requests (no engine configured), or the database is not migrated.'),
          ...bodyErrors,
          ...adminErrors,
        },
      },
      handler: async (request, reply) => {
        const caller = callerOf(request, request.authenticated);
        const engine = engineOf();
        const b = request.body as SubmitBody;
        let submitted;
        try {
          submitted = await submitErasureRequest(engine, {
            reference: b.reference,
            target: { kind: b.target.kind, values: b.target.values },
            requestedBy: b.requested_by,
            reason: b.reason,
            submittedBy: caller.label,
            ...(b.due_at === undefined ? {} : { dueAt: b.due_at }),
            ...(b.note === undefined ? {} : { note: b.note }),
          });
        } catch (error) {
          return answer(error, (name) => BODY_FIELD[name]);
        }
        const { created, ...stored } = submitted;
        const run = stored.state === 'completed' ? 'none' : engine.options.erasure.mode === 'immediate' && background ? 'started' : 'next-run';
        if (run === 'started') background!.start(stored.reference, caller.label);
        o.logger.warn(
          { by: caller.label, remote: caller.remote, reference: stored.reference, created, run },
          created ? 'admin: erasure request stored' : 'admin: erasure request submitted again',
        );
        const location = locationOf(stored);
        return reply
          .code(created ? 201 : 200)
          .header('location', location)
          .send({ created, request: stored, run, location });
      },
    },
    {
      method: 'GET',
      url: ERASURES,
      access: 'admin-read',
      schema: {
        operationId: 'listErasureRequests',
        summary: 'Erasure requests with their state and time left, most urgent first (runbook REQ-002, REQ-003).',
        security: readSecurity,
        querystring: fields({ state: { ...oneOf(['open', 'completed', 'overdue', 'all']), default: 'open' }, limit: integer(1, 10_000, 500) }),
        response: { 200: json('ErasureRequestList', 'The requests.'), 400: errorResponse('Bad query parameter.'), ...adminErrors },
      },
      handler: async (request, reply) => {
        const q = request.query as { state?: 'open' | 'completed' | 'overdue' | 'all'; limit?: number };
        try {
          const requests = await listErasureRequests(engineOf(), { state: q.state ?? 'open', limit: q.limit ?? 500 });
          return await reply.send({ requests });
        } catch (error) {
          return answer(error, (name) => `query.${name}`);
        }
      },
    },
    {
      method: 'GET',
      url: `${ERASURES}/:ref`,
      access: 'admin-read',
      schema: {
        operationId: 'getErasureRequest',
        summary: 'One erasure request with its completion record: what was erased, when, what was kept and why (docs/rights.md#the-reply, runbook REQ-002).',
        security: readSecurity,
        params: { type: 'object', required: ['ref'], properties: { ref: reference('a request reference, percent-encoded') } },
        querystring: fields({}),
        response: { 200: json('ErasureRequestDetail', 'The request and its record.'), 400: errorResponse('Not a reference.'), ...adminErrors },
      },
      handler: async (request, reply) => {
        const { ref } = request.params as { ref: string };
        const engine = engineOf();
        try {
          const stored = await requireErasureRequest(engine.pool, ref);
          return await reply.send({ request: stored, record: await completionRecord(engine, stored) });
        } catch (error) {
          return answer(error, (name) => (name === 'reference' ? 'ref' : undefined));
        }
      },
    },
  ];
}

function locationOf(r: ErasureRequest): string {
  return `${ERASURES}/${encodeURIComponent(r.reference)}`;
}
