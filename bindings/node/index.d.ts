// Type declarations of @burgee/node. Times are milliseconds since the Unix epoch.
import { EventEmitter } from 'node:events';

/** Every stable error code (spec/SNAPSHOT.md §6). */
export type ErrorCode =
  | 'PARSE_ERROR'
  | 'SNAPSHOT_TOO_LARGE'
  | 'SIGNATURE_INVALID'
  | 'KEY_UNTRUSTED'
  | 'PAYLOAD_TYPE_MISMATCH'
  | 'PROJECT_MISMATCH'
  | 'ENVIRONMENT_MISMATCH'
  | 'AUDIENCE_MISMATCH'
  | 'SERVICE_MISMATCH'
  | 'SNAPSHOT_ROLLBACK'
  | 'SNAPSHOT_EXPIRED'
  | 'SNAPSHOT_INVALID'
  | 'FLAG_NOT_FOUND'
  | 'TYPE_MISMATCH'
  | 'TARGETING_KEY_MISSING'
  | 'INVALID_CONTEXT'
  | 'GENERAL';
export declare const ErrorCode: Readonly<{ [K in ErrorCode]: K }>;

/** OpenFeature resolution reasons, plus PREREQUISITE_FAILED. */
export type Reason = 'STATIC' | 'DEFAULT' | 'TARGETING_MATCH' | 'SPLIT' | 'DISABLED' | 'PREREQUISITE_FAILED' | 'ERROR';

/** Thrown for bad configuration, refused snapshots and invalid input; never by evaluation. */
export declare class BurgeeError extends Error {
  constructor(code: ErrorCode, message: string);
  readonly name: 'BurgeeError';
  readonly code: ErrorCode;
}
/** A native error (an Error whose `code` property is one of ErrorCode) as a BurgeeError; anything else unchanged. */
export declare function toBurgeeError(e: unknown): unknown;

/** Every code the native core knows, in documentation order. */
export declare function errorCodes(): ErrorCode[];
/** Throws the BurgeeError of `code` with `message`, as the native side does (for tests of the mapping). */
export declare function throwForCode(code: ErrorCode, message: string): never;
/** The OpenFeature error code of a Burgee code: the core's one mapping (GENERAL for snapshot codes). */
export declare function openFeatureErrorCode(code: ErrorCode): 'PARSE_ERROR' | 'FLAG_NOT_FOUND' | 'TYPE_MISMATCH' | 'TARGETING_KEY_MISSING' | 'INVALID_CONTEXT' | 'GENERAL';

/** The default of every option, the one table of every Burgee SDK. Retries use exponential
 * backoff with full jitter: the n-th waits up to min(backoffCapMs, backoffBaseMs * 2^n). */
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
  /** Time close() may spend delivering events, ms (also flush()'s default timeout). */ closeTimeoutMs: number;
  /** waitUntilReady()'s default timeout, ms. */ readyTimeoutMs: number;
}
export declare const DEFAULTS: Readonly<Defaults>;
/** The bucket (0..=9999) of `value` for `salt` and `seed` (spec/SNAPSHOT.md §4). */
export declare function bucket(salt: string, seed: string, value: string): number;
/** ms since epoch from the clock the client uses. */
export declare function now(): number;

/** Attribute values: strings, numbers, booleans, lists of strings. */
export type AttributeValue = string | number | boolean | string[];
/** A plain context object: `{targetingKey: 'user-42', country: 'DE', age: 31}`. */
export type ContextObject = { targetingKey?: string } & Record<string, AttributeValue | undefined>;

/** A context handle: build once, reuse across evaluations (the fastest path). */
export declare class Context {
  /** @throws BurgeeError INVALID_CONTEXT */
  constructor(attributes?: ContextObject);
  readonly targetingKey: string | null;
  toJSON(): ContextObject;
}

/** What an evaluation served (OpenFeature evaluation details). */
export interface EvaluationDetails<T> {
  flagKey: string;
  /** The value served, or the default when `reason` is ERROR. */
  value: T;
  variant?: string | null;
  reason: Reason;
  ruleId?: string | null;
  errorCode?: ErrorCode | null;
  errorMessage?: string | null;
  flagMetadata: Record<string, string | number | boolean>;
}

export interface SnapshotInfo {
  project: string;
  environment: string;
  version: number;
  issuedAt: number;
  expiresAt: number;
  /** `sha256:<hex>` of the payload, when loaded from an envelope. */
  digest?: string | null;
}

/** Who a snapshot is for (spec/SNAPSHOT.md §9): server SDKs read `server` snapshots, browsers
 * and apps (client-side keys, `bgc_...`) `client` snapshots. */
export type Audience = 'server' | 'client';

export interface LoadOptions {
  trustedKeys: string[];
  /** the project the snapshot must be for (PROJECT_MISMATCH otherwise); absent = not checked */
  project?: string;
  environment: string;
  /** the audience read (AUDIENCE_MISMATCH otherwise); default 'server' */
  audience?: Audience;
  /** default: the clock */
  now?: number;
  heldVersion?: number;
  heldDigest?: string;
  minVersion?: number;
  /** bytes, default `DEFAULTS.maxEnvelopeBytes` (8 MiB) */
  maxEnvelopeBytes?: number;
}

export type ValueKind = 'boolean' | 'string' | 'number' | 'integer' | 'object';

/** A verified snapshot evaluated with an explicit `now` (tests, tools, offline). */
export declare class Snapshot {
  /** @throws BurgeeError with the code of the first failing check (spec/SNAPSHOT.md §5.3) */
  static load(envelope: string | Buffer, options: LoadOptions): Snapshot;
  /** Unsigned document (no signature checks). @throws BurgeeError PARSE_ERROR / SNAPSHOT_INVALID */
  static fromJson(document: string | object): Snapshot;
  readonly info: SnapshotInfo;
  flagKeys(): string[];
  evaluate(flagKey: string, context?: Context | ContextObject, now?: number): EvaluationDetails<unknown>;
  getDetails<T>(kind: ValueKind, flagKey: string, defaultValue: T, context?: Context | ContextObject, now?: number): EvaluationDetails<T>;
}

export interface ClientOptions {
  environment: string;
  /** base64 Ed25519 public keys (`keys/<env>.pub`) */
  trustedKeys: string[];
  /** e.g. http://127.0.0.1:8080; absent = offline */
  serverUrl?: string;
  /** `bgs_...` (a client-side key, `bgc_...`, reads client snapshots), required with serverUrl */
  sdkKey?: string;
  /** the project every snapshot must be for (PROJECT_MISMATCH otherwise; also sent as
   * `?project=`); absent = not checked: set it whenever the project is known */
  project?: string;
  /** envelope JSON to start from */
  bootstrap?: string;
  /** file with an envelope to start from */
  bootstrapFile?: string;
  /** last-known-good file (re-verified at start) */
  persistPath?: string;
  /** default true */
  streaming?: boolean;
  /** ms, default `DEFAULTS.pollIntervalMs` */
  pollIntervalMs?: number;
  /** ms, default `DEFAULTS.requestTimeoutMs` */
  requestTimeoutMs?: number;
  /** ms, default `DEFAULTS.streamIdleTimeoutMs` */
  streamIdleTimeoutMs?: number;
  /** ms, default `DEFAULTS.backoffBaseMs` */
  backoffBaseMs?: number;
  /** ms, default `DEFAULTS.backoffCapMs` */
  backoffCapMs?: number;
  minVersion?: number;
  /** default true */
  sendExposures?: boolean;
  /** ms, default `DEFAULTS.flushIntervalMs` */
  flushIntervalMs?: number;
  /** default `DEFAULTS.flushSize` (at most 1000) */
  flushSize?: number;
  /** default `DEFAULTS.maxQueuedEvents` */
  maxQueuedEvents?: number;
  /** ms, default `DEFAULTS.dedupeWindowMs` */
  dedupeWindowMs?: number;
  /** ms, default `DEFAULTS.closeTimeoutMs` */
  closeTimeoutMs?: number;
}

export type Status = 'NOT_READY' | 'READY' | 'STALE' | 'ERROR';
export interface ClientStatus {
  status: Status;
  /** the refused envelope's code, with ERROR */
  errorCode?: ErrorCode | null;
  lastErrorCode?: ErrorCode | null;
  lastErrorMessage?: string | null;
}
export interface StatusEvent { kind: 'status'; status: Status; errorCode?: ErrorCode | null; message?: string | null }
export interface ChangeEvent { kind: 'changed'; oldVersion?: number | null; newVersion: number }
export interface EventStats { queued: number; inBatch: number; deduplicated: number; unattributable: number; dropped: number; delivered: number }

/** Syncs the snapshot in the background; evaluates synchronously; records exposures. */
export declare class Client extends EventEmitter {
  /** @throws BurgeeError PARSE_ERROR (bad key) or GENERAL (bad configuration) */
  constructor(options: ClientOptions);
  /** READY/STALE once a snapshot is held, ERROR if an envelope was refused, NOT_READY on timeout. */
  waitUntilReady(timeoutMs?: number): Promise<Status>;
  status(): ClientStatus;
  snapshotInfo(): SnapshotInfo | null;
  /** The flag's type in the snapshot held, or null when unknown. */
  flagType(flagKey: string): 'boolean' | 'string' | 'integer' | 'float' | 'object' | null;
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
  /** @throws BurgeeError GENERAL when the event breaks spec/EVENTS.md §2 */
  track(key: string, targetingKey: string, value?: number, attributes?: Record<string, string | number | boolean>): void;
  eventStats(): EventStats;
  flush(timeoutMs?: number): Promise<boolean>;
  close(): Promise<boolean>;
  on(event: 'status', listener: (e: StatusEvent) => void): this;
  on(event: 'change', listener: (e: ChangeEvent) => void): this;
}

/** An entry's value for this instance. */
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
/** A new config document: the keys whose value changed for this instance. */
export interface ConfigChangeEvent {
  kind: 'changed';
  oldVersion: number | null;
  newVersion: number;
  changes: { key: string; old: ConfigEntry | null; new: ConfigEntry | null }[];
}
/** Options of `new ConfigClient(...)`: the client options (persistPath and bootstrap hold the
 * config document) plus the service and this instance's attributes. */
export interface ConfigClientOptions extends ClientOptions {
  service: string;
  /** targetingKey: the instance id; host, zone, version, labels... */
  instance?: ContextObject;
}
/** A service's configuration, verified and kept current; resolved for this instance. */
export declare class ConfigClient extends EventEmitter {
  /** @throws BurgeeError PARSE_ERROR (bad key) or GENERAL (bad configuration) */
  constructor(options: ConfigClientOptions);
  waitUntilReady(timeoutMs?: number): Promise<Status>;
  status(): ClientStatus;
  version(): number | null;
  get<T = unknown>(key: string, defaultValue?: T): T;
  getRaw(key: string, defaultValue?: string): string | undefined;
  getEntry(key: string): ConfigEntry | null;
  getString(key: string, defaultValue: string): string;
  getNumber(key: string, defaultValue: number): number;
  getBoolean(key: string, defaultValue: boolean): boolean;
  all(): Record<string, unknown>;
  close(): void;
  on(event: 'status', listener: (e: StatusEvent) => void): this;
  on(event: 'change', listener: (e: ConfigChangeEvent) => void): this;
}
