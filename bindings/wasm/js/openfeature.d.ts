// Types of @burgee/wasm/openfeature-web and @burgee/wasm/openfeature-server.
import type { Client, ClientOptions, WorkerClient } from './index.js';

export declare const OPENFEATURE_ERROR_CODES: Readonly<Record<string, string>>;

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
