// The I/O around the core's sans-IO `Engine`: fetch with ETags, the server-sent event stream
// (parsed by `eventsource-parser`, bounded), localStorage, navigator.sendBeacon and timers.
// Verification, anti-rollback, evaluation, exposure dedupe, batching and retry delays all
// happen inside the WebAssembly core; option defaults are the core's table (`defaults()`).
import { createParser } from 'eventsource-parser';
import { Engine, Context, streamLimit } from './burgee_wasm.js';
import { BurgeeError, Emitter, defaultStorage, defaultsOf, randomHex, randomU32, retryAfterMs, toContext } from './util.js';
import { WorkerConfigClient } from './config.js';

export { ErrorCode, BurgeeError } from './util.js';
export { WorkerConfigClient } from './config.js';

const SDK_NAME = 'burgee-wasm';
const KINDS = ['boolean', 'string', 'number', 'integer', 'object'];

/** Shared by the browser `Client` and the `WorkerClient`: configuration, the engine, typed
 * evaluation, events. `audience` is the snapshots read ('client', or 'server'/undefined: the
 * core's default, server); snapshots of another audience or project are refused.
 *
 * Events (`on(event, listener)`, which returns a function that unsubscribes): `'change'`
 * ({oldVersion, newVersion}), `'status'` ({status, errorCode, message}), `'refused'`
 * ({errorCode, message, source}) or `'eventsStopped'` ({httpStatus, message}: the server
 * refused the key for events with 401/403, and delivery stopped). */
class Base extends Emitter {
  constructor(options, audience) {
    super();
    const o = options || {};
    if (!o.environment) throw new BurgeeError('GENERAL', 'options.environment is required');
    if (!Array.isArray(o.trustedKeys) || o.trustedKeys.length === 0) {
      throw new BurgeeError('GENERAL', 'options.trustedKeys needs at least one base64 Ed25519 public key');
    }
    if (o.serverUrl && !o.key) throw new BurgeeError('GENERAL', 'options.key (the SDK or client-side key) is required with serverUrl');
    this.options = o;
    this.serverUrl = o.serverUrl ? o.serverUrl.replace(/\/+$/, '') : null;
    this.fetch = o.fetch || globalThis.fetch.bind(globalThis);
    this.engine = new Engine({
      project: o.project,
      environment: o.environment,
      audience,
      trustedKeys: o.trustedKeys,
      minVersion: o.minVersion,
      maxEnvelopeBytes: o.maxEnvelopeBytes,
      sdkName: o.sdkName || SDK_NAME,
      sdkVersion: o.sdkVersion,
      sendExposures: o.sendExposures !== false,
      dedupeWindowMs: o.dedupeWindowMs,
      flushSize: o.flushSize,
      flushIntervalMs: o.flushIntervalMs,
      maxEvents: o.maxQueuedEvents,
      backoffBaseMs: o.backoffBaseMs,
      backoffCapMs: o.backoffCapMs,
    });
    this.context = null;
    this.lastStatus = this.engine.status().status;
    /** No event delivery before this time (ms since epoch): the backoff after a failure. */
    this.eventsRetryAt = 0;
    /** Set when the server refused the key for events (401/403): delivery stopped. */
    this.eventsStopped = null;
  }

  /** Feeds an envelope to the engine and reports what happened; `local` copies (bootstrap,
   * storage) do not change the status when refused. Returns the outcome. */
  applyEnvelope(text, { etag = null, source = 'server', local = false } = {}) {
    const outcome = local ? this.engine.applyLocal(text) : this.engine.apply(text, etag);
    if (outcome.outcome === 'updated') {
      if (source !== 'storage') this.persist(text);
      this.emit('change', { oldVersion: outcome.oldVersion, newVersion: outcome.newVersion });
    } else if (outcome.outcome === 'refused') {
      this.emit('refused', { errorCode: outcome.errorCode, message: outcome.message, source });
    }
    this.reportStatus();
    return outcome;
  }

  persist() {}

  reportStatus() {
    const s = this.engine.status();
    if (s.status !== this.lastStatus) {
      this.lastStatus = s.status;
      this.emit('status', { status: s.status, errorCode: s.errorCode, message: s.lastErrorMessage });
    }
  }

  /** `{status, errorCode, lastErrorCode, lastErrorMessage}`; status is NOT_READY, READY,
   * STALE or ERROR. */
  status() {
    return this.engine.status();
  }

  /** The held snapshot's `{project, environment, version, issuedAt, expiresAt, digest, keyid,
   * audience}`, or null. */
  snapshotInfo() {
    const s = this.engine.snapshot();
    return s ? s.info : null;
  }

  /** `boolean`, `string`, `integer`, `float`, `object`, or null (unknown flag / no snapshot). */
  flagType(flagKey) {
    const s = this.engine.snapshot();
    return s ? s.flagType(flagKey) ?? null : null;
  }

  /** The context used when a call passes none (OpenFeature's static context in browsers). */
  setContext(context) {
    this.context = context == null ? null : toContext(context);
  }

  /** Runs `f` with a core context: the one given, the client's, or one built from a plain
   * object and freed right after (its WebAssembly memory is not left to the garbage collector). */
  withCtx(context, f) {
    if (context instanceof Context) return f(context);
    if (context == null) return f(this.context || this.emptyContext());
    const c = new Context(context);
    try {
      return f(c);
    } finally {
      c.free();
    }
  }

  emptyContext() {
    if (!this.empty) this.empty = new Context({});
    return this.empty;
  }

  /** Typed evaluation with OpenFeature details; `kind` is boolean, string, number, integer or
   * object. Never throws for flag problems: errors come back as `reason: 'ERROR'` with the
   * default value. The exposure is recorded (deduped) when exposures are on. */
  getDetails(kind, flagKey, defaultValue, context) {
    if (!KINDS.includes(kind)) throw new BurgeeError('GENERAL', `unknown kind ${kind}`);
    return this.withCtx(context, (c) => this.engine.getDetails(kind, flagKey, defaultValue, c));
  }

  getBooleanValue(flagKey, defaultValue, context) {
    return this.withCtx(context, (c) => this.engine.getBooleanValue(flagKey, defaultValue, c));
  }
  getStringValue(flagKey, defaultValue, context) {
    if (typeof defaultValue !== 'string') return this.getDetails('string', flagKey, defaultValue, context).value;
    return this.withCtx(context, (c) => this.engine.getStringValue(flagKey, defaultValue, c));
  }
  getNumberValue(flagKey, defaultValue, context) {
    if (typeof defaultValue !== 'number') return this.getDetails('number', flagKey, defaultValue, context).value;
    return this.withCtx(context, (c) => this.engine.getNumberValue(flagKey, defaultValue, false, c));
  }
  getIntegerValue(flagKey, defaultValue, context) {
    if (!Number.isInteger(defaultValue)) return this.getDetails('integer', flagKey, defaultValue, context).value;
    return this.withCtx(context, (c) => this.engine.getNumberValue(flagKey, defaultValue, true, c));
  }
  getObjectValue(flagKey, defaultValue, context) {
    return this.getDetails('object', flagKey, defaultValue, context).value;
  }
  getBooleanDetails(flagKey, defaultValue, context) {
    return this.getDetails('boolean', flagKey, defaultValue, context);
  }
  getStringDetails(flagKey, defaultValue, context) {
    return this.getDetails('string', flagKey, defaultValue, context);
  }
  getNumberDetails(flagKey, defaultValue, context) {
    return this.getDetails('number', flagKey, defaultValue, context);
  }
  getIntegerDetails(flagKey, defaultValue, context) {
    return this.getDetails('integer', flagKey, defaultValue, context);
  }
  getObjectDetails(flagKey, defaultValue, context) {
    return this.getDetails('object', flagKey, defaultValue, context);
  }

  /** Every flag's details for one context (no exposures), `{flagKey: details}`. */
  evaluateAll(context) {
    return this.withCtx(context, (c) => this.engine.evaluateAll(c));
  }

  /** Queues a metric event for experiment analysis (spec/EVENTS.md §2). Throws a
   * `BurgeeError` naming a bad member. */
  track(key, targetingKey, value, attributes) {
    this.engine.track(key, targetingKey, value ?? undefined, attributes ?? undefined);
  }

  /** `{queued, inBatch, deduplicated, unattributable, dropped, delivered}`. */
  eventStats() {
    return this.engine.eventStats();
  }

  /** Sends queued events now; resolves true when nothing is left queued. Within the backoff
   * after a failed delivery (or once delivery stopped on 401/403) it sends nothing and resolves
   * false, unless `force` (used by `close()`). */
  async flush({ force = false } = {}) {
    if (!this.serverUrl) return this.engine.eventStats().queued === 0;
    if (this.eventsStopped) return false;
    if (!force && Date.now() < this.eventsRetryAt) return false;
    for (;;) {
      const batch = this.engine.nextBatch(randomHex(16));
      if (!batch) return true;
      if (!(await this.send(batch))) return false;
    }
  }

  /** POSTs one batch; resolves whether it left the queue (delivered or refused for good).
   * A failure (network, 408, 429, 5xx) keeps the batch and sets the next attempt's time: the
   * core's delivery backoff (exponential, full jitter) or the server's `Retry-After`, whichever
   * is later. 401/403 stop delivery and emit `'eventsStopped'`. */
  async send(batch) {
    let r;
    try {
      r = await this.fetch(`${this.serverUrl}/v1/events`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${this.options.key}`, 'Content-Type': 'application/json' },
        body: batch.body,
        keepalive: batch.body.length < 60000,
      });
    } catch {
      this.deliveryFailed(batch);
      return false;
    }
    if (r.status >= 200 && r.status < 300) {
      this.engine.batchDelivered(batch.id);
      return true;
    }
    const text = await r.text().catch(() => '');
    if (r.status === 401 || r.status === 403) {
      this.engine.batchFailed(batch.id, randomU32());
      this.eventsStopped = { httpStatus: r.status, message: `event delivery stopped: HTTP ${r.status} ${text.slice(0, 300)}` };
      console.error(`burgee: ${this.eventsStopped.message}`);
      this.emit('eventsStopped', this.eventsStopped);
      return false;
    }
    if (r.status === 408 || r.status === 429 || r.status >= 500) {
      this.deliveryFailed(batch, retryAfterMs(r.headers.get('retry-after')));
      return false;
    }
    console.error(`burgee: the server refused event batch ${batch.id}: HTTP ${r.status} ${text.slice(0, 300)}`);
    this.engine.batchRejected(batch.id);
    return true;
  }

  deliveryFailed(batch, retryAfter) {
    const delay = this.engine.batchFailed(batch.id, randomU32(), retryAfter);
    this.eventsRetryAt = Date.now() + delay;
  }

  snapshotUrl(path) {
    const project = this.options.project ? `?project=${encodeURIComponent(this.options.project)}` : '';
    return `${this.serverUrl}${path}/${encodeURIComponent(this.options.environment)}${project}`;
  }

  /** One conditional GET of the snapshot; resolves the outcome (or null after a failure). */
  async fetchSnapshot(path, signal) {
    const headers = { Authorization: `Bearer ${this.options.key}` };
    const etag = this.engine.etag();
    if (etag) headers['If-None-Match'] = etag;
    try {
      const r = await this.fetch(this.snapshotUrl(path), { headers, signal, cache: 'no-store' });
      if (r.status === 304) {
        this.engine.notModified();
        this.reportStatus();
        return { outcome: 'unchanged' };
      }
      const text = await r.text();
      if (r.status !== 200) {
        this.engine.fetchFailed(`HTTP ${r.status}: ${text.slice(0, 300)}`);
        this.reportStatus();
        return null;
      }
      return this.applyEnvelope(text, { etag: r.headers.get('etag') });
    } catch (e) {
      if (signal && signal.aborted) return null;
      this.engine.fetchFailed(`fetch failed: ${e && e.message ? e.message : e}`);
      this.reportStatus();
      return null;
    }
  }
}

/**
 * The browser client: verifies and evaluates locally, keeps the snapshot current over
 * server-sent events (read with fetch streaming, so the key travels in a header), stores the
 * last good envelope in localStorage (re-verified on the next start), and sends exposures
 * and track events in batches, with `navigator.sendBeacon` when the page is hidden.
 *
 * Only client snapshots are accepted (a server snapshot is refused with AUDIENCE_MISMATCH).
 *
 * Options: `{environment, trustedKeys, serverUrl?, key? (client-side key, bgc_...),
 * project? (every snapshot must be this project's, PROJECT_MISMATCH otherwise; also sent as
 * `?project=`; absent: not checked), bootstrap? (envelope JSON text, e.g. rendered by the server), storage?
 * (localStorage by default; null disables), streaming? (default true), pollIntervalMs?
 * (without streaming), streamIdleTimeoutMs?, sendExposures?, flushIntervalMs?, flushSize?,
 * maxQueuedEvents?, dedupeWindowMs?, backoffBaseMs?, backoffCapMs?, maxEnvelopeBytes?,
 * minVersion?, context?}`. Times in ms; absent numbers take the core's `defaults()` (the same
 * table as every other Burgee SDK).
 */
export class Client extends Base {
  constructor(options) {
    super(options, 'client');
    const o = this.options;
    this.storage = o.storage === undefined ? defaultStorage() : o.storage;
    this.storageKey = `burgee:envelope:${o.project || ''}:${o.environment}`;
    this.streaming = o.streaming !== false;
    this.closed = false;
    this.abort = null;
    this.timers = new Set();
    if (o.context) this.setContext(o.context);
    // Local copies first: the stored last-known-good one and the bootstrap, both re-verified
    // (signature, environment, expiry, anti-rollback between them).
    const stored = this.readStorage();
    if (stored) {
      const r = this.applyEnvelope(stored, { local: true, source: 'storage' });
      if (r.outcome === 'refused') this.removeStorage();
    }
    if (o.bootstrap) this.applyEnvelope(o.bootstrap, { local: true, source: 'bootstrap' });
    this.ready = this.serverUrl ? this.start() : Promise.resolve();
    // `pagehide` fires while visibilityState is still 'visible' (HTML's unload steps update it
    // afterwards; so does Chromium), and is the only signal some browsers give on unload.
    this.onHidden = (e) => {
      if (e?.type === 'pagehide' || (typeof document !== 'undefined' && document.visibilityState === 'hidden')) this.beacon();
    };
    if (typeof document !== 'undefined' && this.serverUrl) {
      document.addEventListener('visibilitychange', this.onHidden);
      globalThis.addEventListener?.('pagehide', this.onHidden);
    }
  }

  readStorage() {
    try {
      return this.storage ? this.storage.getItem(this.storageKey) : null;
    } catch {
      return null;
    }
  }

  removeStorage() {
    try {
      this.storage?.removeItem(this.storageKey);
    } catch {
      // storage unavailable: nothing to remove
    }
  }

  persist(text) {
    try {
      this.storage?.setItem(this.storageKey, text);
    } catch {
      // quota or privacy mode: the next start fetches instead
    }
  }

  later(ms, f) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    this.timers.add(t);
    return t;
  }

  async start() {
    await this.fetchSnapshot('/v1/client/snapshots');
    if (this.closed) return;
    if (this.streaming) this.stream();
    else this.poll();
    this.flushLoop();
  }

  poll() {
    this.later(this.options.pollIntervalMs || defaultsOf().pollIntervalMs, async () => {
      if (this.closed) return;
      await this.fetchSnapshot('/v1/client/snapshots');
      this.poll();
    });
  }

  flushLoop() {
    const every = Math.min(this.options.flushIntervalMs || defaultsOf().flushIntervalMs, 1000);
    this.later(every, async () => {
      if (this.closed) return;
      if (this.engine.shouldFlush()) await this.flush();
      this.flushLoop();
    });
  }

  /** Reads the client stream until it ends, then reconnects after a backoff delay. */
  async stream() {
    while (!this.closed) {
      this.abort = new AbortController();
      const ok = await this.readStream(this.abort.signal);
      if (this.closed) return;
      if (!ok) {
        const delay = this.engine.nextRetryDelay(randomU32());
        await new Promise((r) => this.later(delay, r));
      }
    }
  }

  /** One stream connection; resolves true when it ended cleanly after delivering an event
   * (a stream that closes at once counts as a failure, so reconnects back off). */
  async readStream(signal) {
    const headers = { Authorization: `Bearer ${this.options.key}`, Accept: 'text/event-stream' };
    const info = this.snapshotInfo();
    if (info) headers['Last-Event-ID'] = String(info.version);
    const idleMs = this.options.streamIdleTimeoutMs || defaultsOf().streamIdleTimeoutMs;
    let idle = null;
    const touch = () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => this.abort?.abort(), idleMs);
    };
    try {
      touch();
      const r = await this.fetch(this.snapshotUrl('/v1/client/stream'), { headers, signal, cache: 'no-store' });
      if (r.status !== 200 || !r.body) {
        this.engine.fetchFailed(`stream: HTTP ${r.status}`);
        this.reportStatus();
        return false;
      }
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      // Bounded: a line or an event (characters buffered since the last one) over the
      // envelope limit plus headroom ends this connection; the stream reconnects after a
      // backoff delay and the snapshot held keeps serving.
      const limit = streamLimit(this.options.maxEnvelopeBytes || defaultsOf().maxEnvelopeBytes);
      let events = 0;
      let overflow = null;
      const parser = createParser({
        maxBufferSize: limit,
        onEvent: (ev) => {
          events += 1;
          if (ev.event === 'snapshot') this.applyEnvelope(ev.data, { source: 'stream' });
        },
        onError: (e) => {
          if (e.type === 'max-buffer-size-exceeded') overflow = e;
        },
      });
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return events > 0;
        touch();
        parser.feed(value);
        if (overflow) {
          await reader.cancel().catch(() => {});
          this.engine.fetchFailed(`stream: a line or event longer than ${limit} characters`);
          this.reportStatus();
          return false;
        }
      }
    } catch (e) {
      if (!this.closed) {
        this.engine.fetchFailed(`stream: ${e && e.message ? e.message : e}`);
        this.reportStatus();
      }
      return false;
    } finally {
      if (idle) clearTimeout(idle);
    }
  }

  /** Resolves the status once a snapshot is held (or the first fetch failed), at most
   * `timeoutMs` later. */
  async waitUntilReady(timeoutMs = defaultsOf().readyTimeoutMs) {
    if (this.engine.snapshot()) return this.status().status;
    let timer;
    await Promise.race([this.ready, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    return this.status().status;
  }

  /** Hands every queued event to `navigator.sendBeacon` (page hidden or unloading): the key
   * goes in the URL (beacons carry no headers; client-side keys are public) and the body is
   * text/plain, which needs no CORS preflight. */
  beacon() {
    if (!this.serverUrl || this.eventsStopped || typeof navigator === 'undefined' || !navigator.sendBeacon) return;
    const url = `${this.serverUrl}/v1/events?key=${encodeURIComponent(this.options.key)}`;
    for (;;) {
      const batch = this.engine.nextBatch(randomHex(16));
      if (!batch) return;
      const queued = navigator.sendBeacon(url, new Blob([batch.body], { type: 'text/plain' }));
      if (queued) this.engine.batchDelivered(batch.id);
      else {
        this.engine.batchFailed(batch.id, randomU32());
        return;
      }
    }
  }

  /** Stops syncing, sends what is queued (best effort) and releases timers. */
  async close() {
    if (this.closed) return;
    this.closed = true;
    this.abort?.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (typeof document !== 'undefined') {
      document.removeEventListener('visibilitychange', this.onHidden);
      globalThis.removeEventListener?.('pagehide', this.onHidden);
    }
    await this.flush({ force: true });
  }
}

/**
 * The CDN-worker client: no background work (a worker may only work inside a request). Each
 * request awaits `ready()`, which refetches the snapshot (conditional GET) when the cached,
 * verified one is older than `refreshIntervalMs` (clamped to 1 s .. 10 min, default 30 s),
 * sharing one refresh between concurrent requests; a failed refresh keeps serving the cached
 * snapshot until it expires. Events go out with `flush()`, e.g. `ctx.waitUntil(c.flush())`.
 *
 * Options: as `Client` (`key` is a server SDK key or a client-side key), plus
 * `refreshIntervalMs` and `audience` (`'server'`, default: the full snapshot, or `'client'`:
 * the client snapshot, for a client-side key); snapshots of the other audience are refused
 * with AUDIENCE_MISMATCH.
 */
export class WorkerClient extends Base {
  constructor(options) {
    super(options, options?.audience);
    if (!this.serverUrl) throw new BurgeeError('GENERAL', 'options.serverUrl is required');
    const every = this.options.refreshIntervalMs ?? defaultsOf().pollIntervalMs;
    this.refreshIntervalMs = Math.min(Math.max(every, 1000), 600000);
    this.path = this.options.audience === 'client' ? '/v1/client/snapshots' : '/v1/snapshots';
    this.checkedAt = -Infinity;
    this.refreshing = null;
    if (this.options.bootstrap) this.applyEnvelope(this.options.bootstrap, { local: true, source: 'bootstrap' });
  }

  /** A `WorkerConfigClient` for `service` with this client's server, key, environment,
   * project, trusted keys, fetch and refresh interval; `options` adds or overrides any of its
   * options (`instance`, `bootstrap`, `storage`…). */
  configClient(service, options = {}) {
    const o = this.options;
    return new WorkerConfigClient({
      serverUrl: o.serverUrl,
      key: o.key,
      environment: o.environment,
      project: o.project,
      trustedKeys: o.trustedKeys,
      fetch: o.fetch,
      refreshIntervalMs: o.refreshIntervalMs,
      maxEnvelopeBytes: o.maxEnvelopeBytes,
      ...options,
      service,
    });
  }

  /** Makes sure a fresh enough snapshot is held; resolves the status. */
  async ready() {
    if (Date.now() - this.checkedAt >= this.refreshIntervalMs) {
      if (!this.refreshing) {
        this.refreshing = this.fetchSnapshot(this.path).finally(() => {
          this.checkedAt = Date.now();
          this.refreshing = null;
        });
      }
      await this.refreshing;
    }
    return this.status().status;
  }
}
