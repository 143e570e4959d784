// What the clients share that is not I/O: the error type and codes, the core's option
// defaults, randomness for batch ids and backoff jitter, Retry-After, contexts, storage.
import { Context, defaults } from './burgee_wasm.js';

/** The stable error codes (spec/SNAPSHOT.md §6), as `ErrorCode.FLAG_NOT_FOUND === 'FLAG_NOT_FOUND'`. */
export const ErrorCode = Object.freeze(
  Object.fromEntries(
    [
      'PARSE_ERROR', 'SNAPSHOT_TOO_LARGE', 'SIGNATURE_INVALID', 'KEY_UNTRUSTED', 'PAYLOAD_TYPE_MISMATCH',
      'PROJECT_MISMATCH', 'ENVIRONMENT_MISMATCH', 'AUDIENCE_MISMATCH', 'SERVICE_MISMATCH', 'SNAPSHOT_ROLLBACK', 'SNAPSHOT_EXPIRED',
      'SNAPSHOT_INVALID', 'FLAG_NOT_FOUND', 'TYPE_MISMATCH', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL',
    ].map((c) => [c, c]),
  ),
);

/** An error with a stable `code` (message `"<CODE>: <text>"`). The WebAssembly core throws
 * plain `Error`s named `BurgeeError` with a `code`; `instanceof BurgeeError` accepts those too. */
export class BurgeeError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'BurgeeError';
    this.code = code;
  }

  static [Symbol.hasInstance](e) {
    return e instanceof Error && e.name === 'BurgeeError' && typeof e.code === 'string';
  }
}

let DEFAULTS = null;
/** The core's option defaults (times in ms), read once the WebAssembly module is ready. */
export function defaultsOf() {
  if (!DEFAULTS) DEFAULTS = Object.freeze(defaults());
  return DEFAULTS;
}

export function randomHex(bytes) {
  const a = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function randomU32() {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** `Retry-After` in ms (delay-seconds or an HTTP date), or undefined. */
export function retryAfterMs(value) {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export function toContext(ctx) {
  if (ctx instanceof Context) return ctx;
  return new Context(ctx ?? {});
}

export function defaultStorage() {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // e.g. storage disabled for the page
  }
}


/** Listeners by event name. Events emitted while the constructor runs (a stored copy, a
 * bootstrap) are held until the next microtask, so listeners attached right after `new` hear
 * them. A listener that throws is logged and does not stop the others. */
export class Emitter {
  constructor() {
    this.listeners = new Map();
    this.deferred = [];
    queueMicrotask(() => {
      const events = this.deferred;
      this.deferred = null;
      for (const [event, payload] of events) this.emit(event, payload);
    });
  }

  /** Subscribes `listener` to `event`; returns a function that unsubscribes. */
  on(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(listener);
    return () => this.listeners.get(event)?.delete(listener);
  }

  emit(event, payload) {
    if (this.deferred) {
      this.deferred.push([event, payload]);
      return;
    }
    for (const l of this.listeners.get(event) || []) {
      try {
        l(payload);
      } catch (e) {
        console.error('burgee: listener failed', e);
      }
    }
  }
}
