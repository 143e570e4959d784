// A service's configuration in a CDN worker (spec/CONFIG.md): the I/O around the core's
// sans-IO `ConfigEngine`. Verification (signature, payload type, project, environment, service,
// anti-rollback, expiry), override resolution for this instance and the list of changed keys
// all happen inside the WebAssembly core.
import { ConfigEngine } from './burgee_wasm.js';
import { BurgeeError, Emitter, defaultsOf } from './util.js';

/**
 * The configuration of one service, for CDN workers: like `WorkerClient`, no background work.
 * Each request awaits `ready()`, which refetches the config document (conditional GET of
 * `/v1/configs/{environment}/{service}`) when the verified one held is older than
 * `refreshIntervalMs` (clamped to 1 s .. 10 min, default 30 s), sharing one refresh between
 * concurrent requests; a failed or refused refresh keeps serving the document held until it
 * expires.
 *
 * Options: `{serverUrl, key (a server SDK key; only one scoped to this service receives secret
 * entries), environment, trustedKeys, service, project?, instance? (this instance's
 * attributes: targetingKey = instance id, host, zone, version, labels… — overrides resolve
 * against them), refreshIntervalMs?, bootstrap? (a config document envelope, JSON text, for an
 * offline start), storage? (a key-value store with async `get(key)` → text or null and
 * `put(key, text)`, e.g. a Cloudflare KV namespace: the last good document is kept there and
 * re-verified on the next start), minVersion?, maxEnvelopeBytes?, fetch?}`. Times in ms.
 *
 * Events (`on(event, listener)` returns a function that unsubscribes): `'change'`
 * ({oldVersion, newVersion, changes: [{key, old, new}]}, `old`/`new` being `{format, raw,
 * value, revision, overrideId}` or null: the keys whose value for this instance changed — hot
 * reload), `'status'` ({status, errorCode, message}), `'refused'` ({errorCode, message,
 * source}).
 *
 * Throws a `BurgeeError`: `GENERAL` without serverUrl, key or service, `PARSE_ERROR` for a
 * malformed public key or option, `INVALID_CONTEXT` for bad instance attributes.
 */
export class WorkerConfigClient extends Emitter {
  constructor(options) {
    super();
    const o = options || {};
    for (const name of ['serverUrl', 'key', 'service']) {
      if (!o[name]) throw new BurgeeError('GENERAL', `options.${name} is required`);
    }
    this.options = o;
    this.serverUrl = o.serverUrl.replace(/\/+$/, '');
    this.fetch = o.fetch || globalThis.fetch.bind(globalThis);
    this.engine = new ConfigEngine({
      project: o.project,
      environment: o.environment,
      service: o.service,
      trustedKeys: o.trustedKeys,
      instance: o.instance,
      minVersion: o.minVersion,
      maxEnvelopeBytes: o.maxEnvelopeBytes,
    });
    const every = o.refreshIntervalMs ?? defaultsOf().pollIntervalMs;
    this.refreshIntervalMs = Math.min(Math.max(every, 1000), 600000);
    this.storageKey = `burgee:config:${o.project || ''}:${o.environment}:${o.service}`;
    this.checkedAt = -Infinity;
    this.refreshing = null;
    this.restored = !o.storage;
    this.lastStatus = this.engine.status().status;
    if (o.bootstrap) this.applyEnvelope(o.bootstrap, { local: true, source: 'bootstrap' });
  }

  /** Makes sure a fresh enough document is held (on the first call, the stored one is
   * restored first); resolves the status. */
  async ready() {
    if (Date.now() - this.checkedAt >= this.refreshIntervalMs) {
      if (!this.refreshing) {
        this.refreshing = this.refresh().finally(() => {
          this.checkedAt = Date.now();
          this.refreshing = null;
        });
      }
      await this.refreshing;
    }
    return this.status().status;
  }

  async refresh() {
    if (!this.restored) {
      this.restored = true;
      let stored = null;
      try {
        stored = await this.options.storage.get(this.storageKey);
      } catch (e) {
        console.error('burgee: reading the stored config document failed', e);
      }
      if (stored) this.applyEnvelope(stored, { local: true, source: 'storage' });
    }
    await this.fetchDocument();
  }

  /** One conditional GET of the document. */
  async fetchDocument() {
    const o = this.options;
    const project = o.project ? `?project=${encodeURIComponent(o.project)}` : '';
    const url = `${this.serverUrl}/v1/configs/${encodeURIComponent(o.environment)}/${encodeURIComponent(o.service)}${project}`;
    const headers = { Authorization: `Bearer ${o.key}` };
    const etag = this.engine.etag();
    if (etag) headers['If-None-Match'] = etag;
    try {
      const r = await this.fetch(url, { headers, cache: 'no-store' });
      if (r.status === 304) {
        this.engine.notModified();
      } else {
        const text = await r.text();
        if (r.status === 200) {
          await this.applyEnvelope(text, { etag: r.headers.get('etag') });
          return;
        }
        this.engine.fetchFailed(`HTTP ${r.status}: ${text.slice(0, 300)}`);
      }
    } catch (e) {
      this.engine.fetchFailed(`fetch failed: ${e && e.message ? e.message : e}`);
    }
    this.reportStatus();
  }

  /** Feeds an envelope to the engine, stores it when it came from the server and is newer,
   * and emits what happened. Returns the outcome (a promise while storing). */
  applyEnvelope(text, { etag = null, source = 'server', local = false } = {}) {
    const outcome = local ? this.engine.applyLocal(text) : this.engine.apply(text, etag);
    let stored = null;
    if (outcome.outcome === 'updated') {
      if (source === 'server' && this.options.storage) {
        stored = Promise.resolve()
          .then(() => this.options.storage.put(this.storageKey, text))
          .catch((e) => console.error('burgee: storing the config document failed', e));
      }
      this.emit('change', { oldVersion: outcome.oldVersion, newVersion: outcome.newVersion, changes: outcome.changes });
    } else if (outcome.outcome === 'refused') {
      this.emit('refused', { errorCode: outcome.errorCode, message: outcome.message, source });
    }
    this.reportStatus();
    return stored ? stored.then(() => outcome) : outcome;
  }

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

  /** `{project, environment, service, version, issuedAt, expiresAt, secrets, digest, keyid}`
   * of the document held, or null. */
  info() {
    return this.engine.info();
  }

  /** The version of the document held, or null. */
  version() {
    return this.engine.info()?.version ?? null;
  }

  /** `{format, raw, value, revision, overrideId}` of `key` for this instance, or null. */
  getEntry(key) {
    return this.engine.get(key);
  }

  /** The parsed value of `key` (any JSON) for this instance, or `defaultValue` if unknown. */
  get(key, defaultValue = undefined) {
    const e = this.engine.get(key);
    return e === null ? defaultValue : e.value;
  }

  /** The raw text of `key` as authored (YAML, TOML, …), or `defaultValue`. */
  getRaw(key, defaultValue = undefined) {
    const e = this.engine.get(key);
    return e === null ? defaultValue : e.raw;
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
    return Object.fromEntries(Object.entries(this.engine.values()).map(([k, e]) => [k, e.value]));
  }

  /** Every key's `{format, raw, value, revision, overrideId}` for this instance. */
  entries() {
    return this.engine.values();
  }
}
