'use strict';
/**
 * @burgee/node — Burgee feature flags for Node.js.
 *
 * A thin layer over the native addon (burgee.node, napi-rs over burgee-client and burgee-core):
 * argument order and naming (OpenFeature style), an EventEmitter for status and change
 * events, and `BurgeeError` with the stable code for every failure. Evaluation never throws.
 */
const { EventEmitter } = require('node:events');
const native = require('./burgee.node');

/** Every stable error code (spec/SNAPSHOT.md §6), mapped one to one. */
const ErrorCode = Object.freeze({
  PARSE_ERROR: 'PARSE_ERROR',
  SNAPSHOT_TOO_LARGE: 'SNAPSHOT_TOO_LARGE',
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  KEY_UNTRUSTED: 'KEY_UNTRUSTED',
  PAYLOAD_TYPE_MISMATCH: 'PAYLOAD_TYPE_MISMATCH',
  PROJECT_MISMATCH: 'PROJECT_MISMATCH',
  ENVIRONMENT_MISMATCH: 'ENVIRONMENT_MISMATCH',
  AUDIENCE_MISMATCH: 'AUDIENCE_MISMATCH',
  SERVICE_MISMATCH: 'SERVICE_MISMATCH',
  SNAPSHOT_ROLLBACK: 'SNAPSHOT_ROLLBACK',
  SNAPSHOT_EXPIRED: 'SNAPSHOT_EXPIRED',
  SNAPSHOT_INVALID: 'SNAPSHOT_INVALID',
  FLAG_NOT_FOUND: 'FLAG_NOT_FOUND',
  TYPE_MISMATCH: 'TYPE_MISMATCH',
  TARGETING_KEY_MISSING: 'TARGETING_KEY_MISSING',
  INVALID_CONTEXT: 'INVALID_CONTEXT',
  GENERAL: 'GENERAL',
});

/** An error with a stable `code` (one of `ErrorCode`). */
class BurgeeError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'BurgeeError';
    this.code = code;
  }
}

/** A native error (an `Error` whose `code` property is one of `ErrorCode`) as a BurgeeError
 * with the same code and message; anything else unchanged. */
function toBurgeeError(e) {
  if (e instanceof Error && !(e instanceof BurgeeError) && typeof e.code === 'string' && Object.prototype.hasOwnProperty.call(ErrorCode, e.code)) {
    return new BurgeeError(e.code, e.message);
  }
  return e;
}

/** The default of every option (times in ms): the one table of every Burgee SDK. */
const DEFAULTS = Object.freeze(native.defaults());

function guard(fn) {
  try {
    return fn();
  } catch (e) {
    throw toBurgeeError(e);
  }
}

/**
 * An evaluation context, built once and reused: `new Context({targetingKey: 'user-42',
 * country: 'DE', age: 31})`. Throws BurgeeError INVALID_CONTEXT for nulls, nested objects,
 * non-string list items or a non-string targetingKey.
 */
class Context {
  constructor(attributes = {}) {
    this.native = guard(() => new native.Context(attributes));
    /** The handle of the fast evaluation path. */
    this.h = this.native.handle();
  }
  get targetingKey() {
    return this.native.targetingKey;
  }
  toJSON() {
    return this.native.toJson();
  }
}

const EMPTY = new Context({});

/** A plain context object as `[name1, value1, name2, value2, ...]` (members `for...in`
 * sees), for the pair form of the fast getters; `null` when it has more than 32. */
function pairs(obj) {
  const out = [];
  for (const k in obj) {
    if (out.length === 64) return null;
    out.push(k, obj[k]);
  }
  return out;
}

/** Whether `c` goes through the pair form: a plain (non-array) object. */
const isPlain = (c) => c !== null && typeof c === 'object' && !Array.isArray(c);
const ctx = (c) => (c === undefined ? EMPTY.native : c instanceof Context ? c.native : c);

/** A verified snapshot, evaluated with an explicit `now` (tests, tools, offline use). */
class Snapshot {
  constructor(inner) {
    this.native = inner;
  }
  /** Verifies a DSSE envelope (string or Buffer); throws BurgeeError with the failing check's code. */
  static load(envelope, options) {
    return new Snapshot(guard(() => native.Snapshot.load(envelope, options)));
  }
  /** Compiles an unsigned snapshot document (no signature checks). */
  static fromJson(document) {
    const text = typeof document === 'string' ? document : JSON.stringify(document);
    return new Snapshot(guard(() => native.Snapshot.fromJson(text)));
  }
  get info() {
    return this.native.info;
  }
  flagKeys() {
    return this.native.flagKeys();
  }
  evaluate(flagKey, context, now) {
    return this.native.evaluate(flagKey, ctx(context), now);
  }
  getDetails(kind, flagKey, defaultValue, context, now) {
    return guard(() => this.native.getDetails(kind, flagKey, ctx(context), defaultValue, now));
  }
}

/** Clients not closed yet (weakly held): closed at `beforeExit`, so queued exposures and
 * events are delivered when a program ends without calling `close()`. */
const open = new Set();
process.on('beforeExit', () => {
  for (const ref of open) {
    const client = ref.deref();
    if (client) client.close();
  }
  open.clear();
});

/**
 * The client: keeps the environment's snapshot current in the background and evaluates
 * synchronously. Events: `'status'` ({status, errorCode?, message?}) and `'change'`
 * ({oldVersion?, newVersion}).
 */
class Client extends EventEmitter {
  constructor(options) {
    super();
    this.native = guard(() => new native.Client(options));
    /** The fast value getters, bound to this client. */
    this.fast = this.native.bind();
    this.native.onEvent((e) => {
      if (e.kind === 'status') this.emit('status', e);
      else this.emit('change', e);
    });
    this.ref = new WeakRef(this);
    open.add(this.ref);
  }
  /** Resolves with the status: READY/STALE (snapshot held), ERROR (refused), NOT_READY (timeout). */
  waitUntilReady(timeoutMs = DEFAULTS.readyTimeoutMs) {
    return this.native.waitUntilReady(timeoutMs);
  }
  status() {
    return this.native.status();
  }
  snapshotInfo() {
    return this.native.snapshotInfo();
  }
  /** The flag's type in the snapshot held ('boolean' | 'string' | 'integer' | 'float' | 'object'), or null. */
  flagType(flagKey) {
    return this.native.flagType(flagKey);
  }
  getBooleanValue(flagKey, defaultValue, context = EMPTY) {
    if (context instanceof Context) return this.fast.boolean(flagKey, context.h, defaultValue);
    const p = isPlain(context) ? pairs(context) : null;
    if (p !== null) return this.fast.booleanPairs(flagKey, defaultValue, ...p);
    return this.fast.boolean(flagKey, context, defaultValue);
  }
  getStringValue(flagKey, defaultValue, context = EMPTY) {
    if (context instanceof Context) return this.fast.string(flagKey, context.h, defaultValue);
    const p = isPlain(context) ? pairs(context) : null;
    if (p !== null) return this.fast.stringPairs(flagKey, defaultValue, ...p);
    return this.fast.string(flagKey, context, defaultValue);
  }
  getNumberValue(flagKey, defaultValue, context = EMPTY) {
    if (context instanceof Context) return this.fast.number(flagKey, context.h, defaultValue);
    const p = isPlain(context) ? pairs(context) : null;
    if (p !== null) return this.fast.numberPairs(flagKey, defaultValue, ...p);
    return this.fast.number(flagKey, context, defaultValue);
  }
  getIntegerValue(flagKey, defaultValue, context = EMPTY) {
    if (context instanceof Context) return this.fast.integer(flagKey, context.h, defaultValue);
    const p = isPlain(context) ? pairs(context) : null;
    if (p !== null) return this.fast.integerPairs(flagKey, defaultValue, ...p);
    return this.fast.integer(flagKey, context, defaultValue);
  }
  getObjectValue(flagKey, defaultValue, context) {
    return guard(() => this.native.getObjectValue(flagKey, ctx(context), defaultValue));
  }
  getBooleanDetails(flagKey, defaultValue, context = EMPTY) {
    return this.fast.booleanDetails(flagKey, context instanceof Context ? context.h : context, defaultValue);
  }
  getStringDetails(flagKey, defaultValue, context = EMPTY) {
    return this.fast.stringDetails(flagKey, context instanceof Context ? context.h : context, defaultValue);
  }
  getNumberDetails(flagKey, defaultValue, context = EMPTY) {
    return this.fast.numberDetails(flagKey, context instanceof Context ? context.h : context, defaultValue);
  }
  getIntegerDetails(flagKey, defaultValue, context = EMPTY) {
    return this.fast.integerDetails(flagKey, context instanceof Context ? context.h : context, defaultValue);
  }
  getObjectDetails(flagKey, defaultValue, context) {
    return guard(() => this.native.getObjectDetails(flagKey, ctx(context), defaultValue));
  }
  /** Queues a metric event; throws BurgeeError GENERAL when it breaks spec/EVENTS.md §2. */
  track(key, targetingKey, value, attributes) {
    return guard(() => this.native.track(key, targetingKey, value, attributes));
  }
  eventStats() {
    return this.native.eventStats();
  }
  /** Sends queued events now; resolves true when all were delivered in time. */
  flush(timeoutMs = DEFAULTS.closeTimeoutMs) {
    return this.native.flush(timeoutMs);
  }
  /** Stops syncing and delivers queued events; evaluation keeps the last snapshot. Called at
   * `beforeExit` for clients still open. */
  close() {
    open.delete(this.ref);
    return this.native.close();
  }
}

/**
 * A service's configuration (spec/CONFIG.md), verified like snapshots and kept current in the
 * background (SSE, ETag polling, `persistPath`, `bootstrap`), resolved for this instance:
 * `new ConfigClient({...clientOptions, service: 'checkout', instance: {targetingKey: 'i-1',
 * zone: 'eu-1'}})`. Events: `'change'` ({oldVersion, newVersion, changes: [{key, old, new}]},
 * old/new `{format, raw, value, revision, overrideId}` or null) for hot reload, `'status'`.
 * Only a server-side SDK key scoped to the service receives secret entries.
 */
class ConfigClient extends EventEmitter {
  constructor(options) {
    super();
    const { service, instance, ...clientOptions } = options;
    this.native = guard(() => new native.ConfigClient(clientOptions, service, instance ?? {}));
    this.native.onEvent((e) => {
      if (e.kind === 'status') this.emit('status', e);
      else this.emit('change', e);
    });
  }
  /** Resolves with the status: READY/STALE (document held), ERROR (refused), NOT_READY (timeout). */
  waitUntilReady(timeoutMs = DEFAULTS.readyTimeoutMs) {
    return this.native.waitUntilReady(timeoutMs);
  }
  status() {
    return this.native.status();
  }
  /** The version of the document held, or null. */
  version() {
    return this.native.version();
  }
  /** The parsed value of `key` (any JSON) for this instance, or `defaultValue` if unknown. */
  get(key, defaultValue = undefined) {
    const e = this.native.get(key);
    return e === null ? defaultValue : e.value;
  }
  /** The raw text of `key` as authored (YAML, TOML, ...), or `defaultValue`. */
  getRaw(key, defaultValue = undefined) {
    const e = this.native.get(key);
    return e === null ? defaultValue : e.raw;
  }
  /** `{format, raw, value, revision, overrideId}` of `key`, or null. */
  getEntry(key) {
    return this.native.get(key);
  }
  /** The value of `key` when it is a string, else `defaultValue`. */
  getString(key, defaultValue) {
    const v = this.get(key);
    return typeof v === 'string' ? v : defaultValue;
  }
  /** The value of `key` when it is a number, else `defaultValue`. */
  getNumber(key, defaultValue) {
    const v = this.get(key);
    return typeof v === 'number' ? v : defaultValue;
  }
  /** The value of `key` when it is a boolean, else `defaultValue`. */
  getBoolean(key, defaultValue) {
    const v = this.get(key);
    return typeof v === 'boolean' ? v : defaultValue;
  }
  /** Every key's parsed value for this instance: `{key: value}`. */
  all() {
    return Object.fromEntries(Object.entries(this.native.values()).map(([k, e]) => [k, e.value]));
  }
  /** Stops syncing; the document held keeps serving. */
  close() {
    this.native.close();
  }
}

module.exports = {
  Client,
  ConfigClient,
  Context,
  Snapshot,
  BurgeeError,
  ErrorCode,
  toBurgeeError,
  DEFAULTS,
  errorCodes: native.errorCodes,
  openFeatureErrorCode: (code) => guard(() => native.openFeatureErrorCode(code)),
  /** Throws the BurgeeError of `code` the way the native side does (tests of the mapping). */
  throwForCode: (code, message) => guard(() => native.throwForCode(code, message)),
  bucket: native.bucket,
  now: native.now,
};
