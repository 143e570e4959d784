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
  /** A WorkerConfigClient for `service` sharing this client's server, key, environment,
   * project, trusted keys and refresh interval. */
  configClient(service: string, options?: Partial<WorkerConfigClientOptions>): WorkerConfigClient;
}

/** An entry's value for this instance (spec/CONFIG.md). */
export interface ConfigEntry {
  format: 'json' | 'yaml' | 'toml' | 'properties' | 'text';
  /** The text as authored. */
  raw: string;
  /** The text parsed, as JSON. */
  value: unknown;
  revision: number;
  /** The override that served it, or null for the base value. */
  overrideId: string | null;
}
export interface ConfigChange { key: string; old: ConfigEntry | null; new: ConfigEntry | null }
export interface ConfigInfo {
  project: string; environment: string; service: string; version: number;
  /** ms since epoch */
  issuedAt: number;
  /** ms since epoch */
  expiresAt: number;
  /** Whether secret entries are included (only for a key scoped to the service). */
  secrets: boolean; digest: string | null; keyid: string | null;
}
export type ConfigApplyOutcome =
  | { outcome: 'updated'; oldVersion: number | null; newVersion: number; changes: ConfigChange[] }
  | { outcome: 'unchanged' }
  | { outcome: 'refused'; errorCode: ErrorCode; message: string };

/** The core's sans-IO state of a service's configuration (used by WorkerConfigClient). */
export declare class ConfigEngine {
  constructor(options: { project?: string; environment: string; service: string; trustedKeys: string[]; instance?: ContextObject; minVersion?: number; maxEnvelopeBytes?: number });
  apply(envelope: string, etag?: string | null, now?: number): ConfigApplyOutcome;
  applyLocal(envelope: string, now?: number): ConfigApplyOutcome;
  notModified(): void;
  fetchFailed(message: string): void;
  status(): ClientStatus;
  etag(): string | undefined;
  info(): ConfigInfo | null;
  get(key: string, now?: number): ConfigEntry | null;
  values(now?: number): Record<string, ConfigEntry>;
  free(): void;
}

export interface WorkerConfigClientOptions {
  serverUrl: string;
  /** A server SDK key (bgs_...); only a key scoped to the service receives secret entries. */
  key: string;
  environment: string;
  trustedKeys: string[];
  service: string;
  project?: string;
  /** This instance's attributes (targetingKey = instance id, host, zone, version, labels). */
  instance?: ContextObject;
  /** 1000..600000 ms, default 30000. */
  refreshIntervalMs?: number;
  /** A config document envelope (JSON text) for an offline start. */
  bootstrap?: string;
  /** Where the last good document is kept (e.g. a Cloudflare KV namespace). */
  storage?: { get(key: string): Promise<string | null>; put(key: string, value: string): Promise<unknown> } | null;
  minVersion?: number;
  maxEnvelopeBytes?: number;
  fetch?: typeof fetch;
}

/** A service's configuration in a CDN worker, refreshed at most every refreshIntervalMs. */
export declare class WorkerConfigClient {
  constructor(options: WorkerConfigClientOptions);
  readonly engine: ConfigEngine;
  ready(): Promise<Status>;
  on(event: 'change', listener: (e: { oldVersion: number | null; newVersion: number; changes: ConfigChange[] }) => void): () => void;
  on(event: 'status', listener: (e: { status: Status; errorCode: ErrorCode | null; message: string | null }) => void): () => void;
  on(event: 'refused', listener: (e: { errorCode: ErrorCode; message: string; source: 'server' | 'storage' | 'bootstrap' }) => void): () => void;
  status(): ClientStatus;
  info(): ConfigInfo | null;
  version(): number | null;
  getEntry(key: string): ConfigEntry | null;
  get<T = unknown>(key: string, defaultValue?: T): T;
  getRaw(key: string, defaultValue?: string): string | undefined;
  getString(key: string, defaultValue: string): string;
  getNumber(key: string, defaultValue: number): number;
  getBoolean(key: string, defaultValue: boolean): boolean;
  all(): Record<string, unknown>;
  entries(): Record<string, ConfigEntry>;
}
