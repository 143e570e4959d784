'use strict';
/**
 * OpenFeature provider for `@openfeature/server-sdk`, backed by the Burgee client.
 *
 *   const { OpenFeature } = require('@openfeature/server-sdk');
 *   const { BurgeeProvider } = require('@burgee/node/openfeature');
 *   await OpenFeature.setProviderAndWait(new BurgeeProvider({ environment, trustedKeys, serverUrl, sdkKey }));
 *
 * Reasons are OpenFeature's (plus PREREQUISITE_FAILED); Burgee error codes map onto
 * OpenFeature error codes with `OPENFEATURE_ERROR_CODES`. Provider events: PROVIDER_READY
 * (from the SDK after initialize), PROVIDER_CONFIGURATION_CHANGED on every new snapshot,
 * PROVIDER_STALE when the server is unreachable, PROVIDER_ERROR when an envelope is refused,
 * PROVIDER_READY again on recovery.
 */
const { OpenFeatureEventEmitter, ProviderEvents } = require('@openfeature/server-sdk');
const { Client, Context, DEFAULTS, errorCodes, openFeatureErrorCode } = require('./index.js');

/** Burgee code → OpenFeature ErrorCode for every Burgee code: the core's one mapping
 * (`openFeatureErrorCode`; snapshot codes never come from an evaluation and map to GENERAL). */
const OPENFEATURE_ERROR_CODES = Object.freeze(Object.fromEntries(errorCodes().map((c) => [c, openFeatureErrorCode(c)])));

/** An OpenFeature evaluation context as a Burgee context object: `Date`s become RFC 3339
 * strings (usable with before/after), `null`/`undefined` are left out; nested objects stay
 * and are refused by the core as INVALID_CONTEXT. */
function burgeeContext(context) {
  const out = {};
  for (const [k, v] of Object.entries(context || {})) {
    if (v === null || v === undefined) continue;
    out[k] = v instanceof Date ? v.toISOString() : v;
  }
  return out;
}

class BurgeeProvider {
  /**
   * @param options a `Client` to use, as `{client}`, or the options of a new `Client`
   *   (plus `readyTimeoutMs`, default `DEFAULTS.readyTimeoutMs`, for initialize).
   */
  constructor(options) {
    this.metadata = { name: 'burgee' };
    this.runsOn = 'server';
    this.hooks = [];
    this.events = new OpenFeatureEventEmitter();
    this.options = options;
    this.client = options && options.client instanceof Client ? options.client : null;
    this.initialized = false;
  }

  async initialize() {
    if (!this.client) {
      const { readyTimeoutMs, ...clientOptions } = this.options;
      this.readyTimeoutMs = readyTimeoutMs;
      this.client = new Client(clientOptions);
    }
    this.client.on('status', (e) => {
      if (!this.initialized) return;
      if (e.status === 'READY') this.events.emit(ProviderEvents.Ready, { message: 'snapshot source reachable' });
      else if (e.status === 'STALE') this.events.emit(ProviderEvents.Stale, { message: e.message });
      else if (e.status === 'ERROR') this.events.emit(ProviderEvents.Error, { message: e.message, errorCode: 'GENERAL' });
    });
    this.client.on('change', (e) => {
      if (!this.initialized || e.oldVersion === undefined || e.oldVersion === null) return;
      this.events.emit(ProviderEvents.ConfigurationChanged, {
        message: `snapshot version ${e.oldVersion} -> ${e.newVersion}`,
        metadata: { oldVersion: e.oldVersion, newVersion: e.newVersion },
      });
    });
    await this.client.waitUntilReady(this.readyTimeoutMs || DEFAULTS.readyTimeoutMs);
    if (!this.client.snapshotInfo()) {
      const s = this.client.status();
      throw new Error(`no snapshot (status ${s.status}${s.lastErrorMessage ? `: ${s.lastErrorMessage}` : ''})`);
    }
    this.initialized = true;
  }

  async onClose() {
    if (this.client) await this.client.close();
  }

  resolve(details) {
    const r = {
      value: details.value,
      reason: details.reason,
      flagMetadata: details.flagMetadata,
    };
    if (details.variant != null) r.variant = details.variant;
    if (details.errorCode != null) {
      r.errorCode = OPENFEATURE_ERROR_CODES[details.errorCode] || 'GENERAL';
      r.errorMessage = details.errorMessage;
    }
    return r;
  }

  async resolveBooleanEvaluation(flagKey, defaultValue, context) {
    return this.resolve(this.client.getBooleanDetails(flagKey, defaultValue, burgeeContext(context)));
  }
  async resolveStringEvaluation(flagKey, defaultValue, context) {
    return this.resolve(this.client.getStringDetails(flagKey, defaultValue, burgeeContext(context)));
  }
  async resolveNumberEvaluation(flagKey, defaultValue, context) {
    // OpenFeature numbers cover Burgee's integer and float flags.
    const ctx = burgeeContext(context);
    if (this.client.flagType(flagKey) === 'integer' && Number.isInteger(defaultValue)) {
      return this.resolve(this.client.getIntegerDetails(flagKey, defaultValue, ctx));
    }
    return this.resolve(this.client.getNumberDetails(flagKey, defaultValue, ctx));
  }
  async resolveObjectEvaluation(flagKey, defaultValue, context) {
    return this.resolve(this.client.getObjectDetails(flagKey, defaultValue, burgeeContext(context)));
  }
}

module.exports = { BurgeeProvider, OPENFEATURE_ERROR_CODES, burgeeContext, Context };
