import type { ServiceMetrics } from '../metrics.js';
import { errorResponse } from '../openapi.js';
import type { RouteSpec } from '../route-spec.js';

/** Prometheus metrics and the OpenAPI document (generated from the route schemas by @fastify/swagger). */
export function metaRoutes(metrics: ServiceMetrics, openApiDocument: () => unknown): RouteSpec[] {
  return [
    {
      method: 'GET',
      url: '/metrics',
      access: 'public',
      schema: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (text exposition format 0.0.4).',
        response: { 200: { description: 'Metrics.', content: { 'text/plain': { schema: { type: 'string' } } } }, 500: errorResponse('Internal error.') },
      },
      handler: async (_request, reply) => {
        const text = await metrics.render();
        return reply
          .type(metrics.contentType)
          .serializer((s: unknown) => String(s))
          .send(text);
      },
    },
    {
      method: 'GET',
      url: '/api/openapi.json',
      access: 'public',
      schema: { operationId: 'openapi', summary: 'This document.', response: { 200: { description: 'OpenAPI 3.1.', type: 'object' } } },
      handler: async (_request, reply) => reply.send(openApiDocument()),
    },
  ];
}
