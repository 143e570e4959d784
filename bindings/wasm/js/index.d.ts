// Type declarations of @burgee/wasm. Times are milliseconds since the Unix epoch.

export type ErrorCode =
  | 'PARSE_ERROR' | 'SNAPSHOT_TOO_LARGE' | 'SIGNATURE_INVALID' | 'KEY_UNTRUSTED' | 'PAYLOAD_TYPE_MISMATCH'
  | 'PROJECT_MISMATCH' | 'ENVIRONMENT_MISMATCH' | 'AUDIENCE_MISMATCH' | 'SERVICE_MISMATCH' | 'SNAPSHOT_ROLLBACK' | 'SNAPSHOT_EXPIRED'
  | 'SNAPSHOT_INVALID' | 'FLAG_NOT_FOUND' | 'TYPE_MISMATCH' | 'TARGETING_KEY_MISSING' | 'INVALID_CONTEXT' | 'GENERAL';
export declare const ErrorCode: Readonly<{ [K in ErrorCode]: K }>;
export type Reason = 'STATIC' | 'DEFAULT' | 'TARGETING_MATCH' | 'SPLIT' | 'DISABLED' | 'PREREQUISITE_FAILED' | 'ERROR';

/** Thrown errors carry a stable `code`; the message is `"<CODE>: <text>"`. */
export declare class BurgeeError extends Error {
  constructor(code: ErrorCode, message: string);
  readonly name: 'BurgeeError';
  readonly code: ErrorCode;
}

/** Loads the WebAssembly module (browsers: fetched next to the package's JS). Call once. */
export default function init(input?: { module_or_path?: RequestInfo | URL | Response | BufferSource | WebAssembly.Module }): Promise<unknown>;
/** Instantiates synchronously from a compiled module (workers) or bytes (Node). */
export declare function initSync(input: { module: BufferSource | WebAssembly.Module }): unknown;

export declare function bucket(salt: string, seed: string, value: string): number;
export declare function sensitiveDigest(salt: string, value: string): string;
export declare function errorCodes(): ErrorCode[];
/** The OpenFeature error code of a Burgee code (the core's one mapping; GENERAL for snapshot codes). */
export declare function openFeatureErrorCode(code: ErrorCode): 'PARSE_ERROR' | 'FLAG_NOT_FOUND' | 'TYPE_MISMATCH' | 'TARGETING_KEY_MISSING' | 'INVALID_CONTEXT' | 'GENERAL';

/** The default of every client option, shared by every Burgee SDK (the core's one table).
 * Retries: exponential backoff with full jitter, the n-th waiting up to
 * min(backoffCapMs, backoffBaseMs * 2^n). */
export interface Defaults {
  /** Polling period without streaming, ms. */ pollIntervalMs: number;
  /** Timeout of each request, ms. */ requestTimeoutMs: number;
  /** A silent stream is reconnected after this long, ms. */ streamIdleTimeoutMs: number;
  /** Ceiling of the first retry delay, ms. */ backoffBaseMs: number;
  /** Largest retry delay, ms. */ backoffCapMs: number;
  /** Largest envelope accepted, bytes. */ maxEnvelopeBytes: number;
  /** Events are flushed at least this often, ms. */ flushIntervalMs: number;
  /** Events are flushed when this many are queued. */ flushSize: number;
  /** Most events held in memory. */ maxQueuedEvents: number;
  /** Exposure dedupe window, ms. */ dedupeWindowMs: number;
  /** Time closing may spend delivering events, ms. */ closeTimeoutMs: number;
  /** Default wait for the first snapshot, ms. */ readyTimeoutMs: number;
}
export declare function defaults(): Defaults;
/** The longest stream line or event accepted for envelopes up to `maxEnvelopeBytes`: that plus 64 KiB. */
export declare function streamLimit(maxEnvelopeBytes: number): number;

export type AttributeValue = string | number | boolean | string[];
export type ContextObject = { targetingKey?: string } & Record<string, AttributeValue | undefined>;

/** An evaluation context; build once per user and reuse (attributes are hashed on build). */
export declare class Context {
  constructor(attributes?: ContextObject | null);
  readonly targetingKey: string | undefined;
  free(): void;
}

export interface EvaluationDetails<T> {
  flagKey: string;
  value: T;
  variant: string | null;
  reason: Reason;
  ruleId: string | null;
  errorCode: ErrorCode | null;
  errorMessage: string | null;
  flagMetadata: Record<string, string | number | boolean>;
}

export interface SnapshotInfo {
  project: string;
  environment: string;
  version: number;
  issuedAt: number;
  expiresAt: number;
  digest: string | null;
  keyid: string | null;
  audience: Audience;
}

/** Who a snapshot is for (spec/SNAPSHOT.md §9): server SDKs and trusted workers read `server`
 * snapshots, browsers (client-side keys, `bgc_...`) `client` snapshots. */
export type Audience = 'server' | 'client';

export interface LoadOptions {
  trustedKeys: string[];
  /** The project the snapshot must be for (PROJECT_MISMATCH otherwise); absent: not checked. */
  project?: string;
  environment: string;
  /** The audience read (AUDIENCE_MISMATCH otherwise); default 'server'. */
  audience?: Audience;
  now?: number;
  heldVersion?: number;
  heldDigest?: string;
  minVersion?: number;
  maxEnvelopeBytes?: number;
}

export type ValueKind = 'boolean' | 'string' | 'number' | 'integer' | 'object';

export declare class Snapshot {
  static load(envelope: string, options: LoadOptions): Snapshot;
  static fromJson(document: string): Snapshot;
  readonly info: SnapshotInfo;
  flagKeys(): string[];
  flagType(flagKey: string): 'boolean' | 'string' | 'integer' | 'float' | 'object' | undefined;
  evaluate(flagKey: string, context: Context, now?: number): EvaluationDetails<unknown>;
  getDetails<T>(kind: ValueKind, flagKey: string, defaultValue: T, context: Context, now?: number): EvaluationDetails<T>;
  getBooleanValue(flagKey: string, defaultValue: boolean, context: Context, now?: number): boolean;
  evaluateAll(context: Context, now?: number): Record<string, EvaluationDetails<unknown>>;
  free(): void;
}

export type Status = 'NOT_READY' | 'READY' | 'STALE' | 'ERROR';
export interface ClientStatus { status: Status; errorCode: ErrorCode | null; lastErrorCode: ErrorCode | null; lastErrorMessage: string | null }
export interface EventStats { queued: number; inBatch: number; deduplicated: number; unattributable: number; dropped: number; delivered: number }
export type ApplyOutcome =
  | { outcome: 'updated'; oldVersion: number | null; newVersion: number }
  | { outcome: 'unchanged' }
  | { outcome: 'refused'; errorCode: ErrorCode; message: string };

/** The core's sans-IO client state (used by Client and WorkerClient). */
export declare class Engine {
  constructor(options: { project?: string; environment: string; audience?: Audience; trustedKeys: string[]; [option: string]: unknown });
  apply(envelope: string, etag?: string | null, now?: number): ApplyOutcome;
  applyLocal(envelope: string, now?: number): ApplyOutcome;
  status(): ClientStatus;
  snapshot(): Snapshot | undefined;
  /** Ms to wait before the next fetch or stream attempt. */
  nextRetryDelay(random: number): number;
  /** A delivery failed: the batch is kept; returns the ms to wait (backoff or Retry-After). */
  batchFailed(id: string, random: number, retryAfterMs?: number): number;
  free(): void;
}

export interface ClientOptions {
  environment: string;
  trustedKeys: string[];
  serverUrl?: string;
  /** Client-side key (bgc_...) in browsers; an SDK key (bgs_...) in trusted workers. */
  key?: string;
  /** The project every snapshot must be for (PROJECT_MISMATCH otherwise; also sent as
   * `?project=`); absent: not checked. Set it whenever the project is known. */
  project?: string;
  bootstrap?: string;
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  streaming?: boolean;
  pollIntervalMs?: number;
  streamIdleTimeoutMs?: number;
  sendExposures?: boolean;
  flushIntervalMs?: number;
  flushSize?: number;
  maxQueuedEvents?: number;
  dedupeWindowMs?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  minVersion?: number;
  maxEnvelopeBytes?: number;
  context?: Context | ContextObject;
  fetch?: typeof fetch;
  sdkName?: string;
  sdkVersion?: string;
}

declare class BaseClient {
  readonly engine: Engine;
  on(event: 'change', listener: (e: { oldVersion: number | null; newVersion: number }) => void): () => void;
  on(event: 'status', listener: (e: { status: Status; errorCode: ErrorCode | null; message: string | null }) => void): () => void;
  on(event: 'refused', listener: (e: { errorCode: ErrorCode; message: string; source: 'server' | 'stream' | 'storage' | 'bootstrap' }) => void): () => void;
  /** The server refused the key for events (401/403): delivery stopped. */
  on(event: 'eventsStopped', listener: (e: { httpStatus: number; message: string }) => void): () => void;
  applyEnvelope(text: string, options?: { etag?: string | null; source?: string; local?: boolean }): ApplyOutcome;
  status(): ClientStatus;
  snapshotInfo(): SnapshotInfo | null;
  flagType(flagKey: string): 'boolean' | 'string' | 'integer' | 'float' | 'object' | null;
  setContext(context: Context | ContextObject | null): void;
  getDetails<T>(kind: ValueKind, flagKey: string, defaultValue: T, context?: Context | ContextObject): EvaluationDetails<T>;
  getBooleanValue(flagKey: string, defaultValue: boolean, context?: Context | ContextObject): boolean;
  getStringValue(flagKey: string, defaultValue: string, context?: Context | ContextObject): string;
  getNumberValue(flagKey: string, defaultValue: number, context?: Context | ContextObject): number;
  getIntegerValue(flagKey: string, defaultValue: number, context?: Context | ContextObject): number;
  getObjectValue<T extends object>(flagKey: string, defaultValue: T, context?: Context | ContextObject): T;
  getBooleanDetails(flagKey: string, defaultValue: boolean, context?: Context | ContextObject): EvaluationDetails<boolean>;
  getStringDetails(flagKey: string, defaultValue: string, context?: Context | ContextObject): EvaluationDetails<string>;
  getNumberDetails(flagKey: string, defaultValue: number, context?: Context | ContextObject): EvaluationDetails<number>;
  getIntegerDetails(flagKey: string, defaultValue: number, context?: Context | ContextObject): EvaluationDetails<number>;
  getObjectDetails<T extends object>(flagKey: string, defaultValue: T, context?: Context | ContextObject): EvaluationDetails<T>;
  evaluateAll(context?: Context | ContextObject): Record<string, EvaluationDetails<unknown>>;
  track(key: string, targetingKey: string, value?: number, attributes?: Record<string, string | number | boolean>): void;
  eventStats(): EventStats;
  /** Sends queued events; false while backing off after a failure or once delivery stopped. */
  flush(options?: { force?: boolean }): Promise<boolean>;
}

/** Browsers: live updates over server-sent events, localStorage last-known-good copy, exposures. */
export declare class Client extends BaseClient {
  constructor(options: ClientOptions);
  waitUntilReady(timeoutMs?: number): Promise<Status>;
  close(): Promise<void>;
}

/** CDN workers: a cached verified snapshot refreshed at most every refreshIntervalMs. */
export declare class WorkerClient extends BaseClient {
  constructor(options: ClientOptions & { refreshIntervalMs?: number; audience?: Audience });
  ready(): Promise<Status>;
}
