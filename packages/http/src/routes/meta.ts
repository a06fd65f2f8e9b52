import type { ServiceMetrics } from '../metrics.js';
import { openApiDocument } from '../openapi.js';
import { sendJson, sendText } from '../respond.js';
import type { Router } from '../router.js';

export function registerMetaRoutes(router: Router, metrics: ServiceMetrics): void {
  router.add('GET', '/metrics', async ({ res }) => {
    sendText(res, 200, await metrics.render(), metrics.contentType);
  });
  router.add('GET', '/api/openapi.json', ({ res }) => {
    sendJson(res, 200, openApiDocument);
  });
}
