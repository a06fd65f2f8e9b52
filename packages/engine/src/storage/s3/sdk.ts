/**
 * The AWS SDK is loaded on first use, not when the engine is imported: it costs about half a
 * second of startup, which filesystem users (and every worker thread of theirs) should not pay.
 * Its socket agents (node:http, node:https, which pulls in TLS) come with it, for the same reason
 * (docs/performance.md#start-up).
 * The adapter itself is imported statically by storage/index.ts: piscina workers running from
 * TypeScript sources under tsx load modules through tsx's require hook, where a dynamic import of
 * a `.ts` file fails; a dynamic import of a package (plain JavaScript) works in every mode.
 */
export type S3Module = typeof import('@aws-sdk/client-s3');
export type HttpHandlerModule = typeof import('@smithy/node-http-handler');

export interface S3Sdk {
  readonly s3: S3Module;
  readonly http: HttpHandlerModule;
  readonly HttpAgent: typeof import('node:http').Agent;
  readonly HttpsAgent: typeof import('node:https').Agent;
}

let loading: Promise<S3Sdk> | undefined;

export function loadS3Sdk(): Promise<S3Sdk> {
  loading ??= Promise.all([import('@aws-sdk/client-s3'), import('@smithy/node-http-handler'), import('node:http'), import('node:https')]).then(
    ([s3, http, nodeHttp, nodeHttps]) => ({ s3, http, HttpAgent: nodeHttp.Agent, HttpsAgent: nodeHttps.Agent }),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}
