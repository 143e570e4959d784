// Types of @burgee/wasm/openfeature-web and @burgee/wasm/openfeature-server.
import type { Client, ClientOptions, WorkerClient } from './index.js';

import type { ErrorCode } from './index.js';
/** The OpenFeature error code of a Burgee code (the core's one mapping). */
export declare function openFeatureErrorCode(code: ErrorCode): string;

/** Provider for @openfeature/web-sdk (static context, synchronous resolution). */
export declare class BurgeeWebProvider {
  constructor(options: (ClientOptions & { readyTimeoutMs?: number }) | { client: Client; readyTimeoutMs?: number });
  readonly client: Client;
  readonly metadata: { name: 'burgee' };
  readonly runsOn: 'client';
}

/** Provider for @openfeature/server-sdk in CDN workers. */
export declare class BurgeeWorkerProvider {
  constructor(options: (ClientOptions & { refreshIntervalMs?: number; audience?: 'server' | 'client' }) | { client: WorkerClient });
  readonly client: WorkerClient;
  readonly metadata: { name: 'burgee' };
  readonly runsOn: 'server';
}
