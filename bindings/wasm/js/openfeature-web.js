// OpenFeature provider for `@openfeature/web-sdk` (browsers: static context, synchronous
// evaluation):
//
//   import { OpenFeature } from '@openfeature/web-sdk';
//   import { BurgeeWebProvider } from '@burgee/wasm/openfeature-web';
//   await OpenFeature.setContext({ targetingKey: 'user-1', plan: 'pro' });
//   await OpenFeature.setProviderAndWait(new BurgeeWebProvider({ serverUrl, key, environment, trustedKeys }));
//   OpenFeature.getClient().getBooleanValue('dark-mode', false);
//
// Evaluation runs locally in WebAssembly on the signed client snapshot; the context only
// changes which values are served (no network round trip on setContext).
import { OpenFeatureEventEmitter, ProviderEvents } from '@openfeature/web-sdk';
import { Context } from './burgee_wasm.js';
import { Client } from './client.js';
import { defaultsOf } from './util.js';
import { burgeeContext, connect, noSnapshotError, numberDetails, resolution } from './openfeature-common.js';

export class BurgeeWebProvider {
  /** `options`: a `Client` as `{client}`, or the options of a new `Client` (plus
   * `readyTimeoutMs`, default `defaults().readyTimeoutMs`). */
  constructor(options) {
    this.metadata = { name: 'burgee' };
    this.runsOn = 'client';
    this.hooks = [];
    this.events = new OpenFeatureEventEmitter();
    const { readyTimeoutMs, ...clientOptions } = options || {};
    this.readyTimeoutMs = readyTimeoutMs || defaultsOf().readyTimeoutMs;
    this.client = connect(this, clientOptions, ProviderEvents, Client);
    this.initialized = false;
    this.ctx = new Context({});
  }

  async initialize(context) {
    this.onContextChange(undefined, context);
    await this.client.waitUntilReady(this.readyTimeoutMs);
    if (!this.client.snapshotInfo()) throw noSnapshotError(this.client);
    this.initialized = true;
  }

  /** Builds the (hashed, reusable) Burgee context once per OpenFeature context change. */
  onContextChange(_old, next) {
    this.ctx = new Context(burgeeContext(next));
  }

  async onClose() {
    await this.client.close();
  }

  resolveBooleanEvaluation(flagKey, defaultValue) {
    return resolution(this.client, this.client.getDetails('boolean', flagKey, defaultValue, this.ctx));
  }
  resolveStringEvaluation(flagKey, defaultValue) {
    return resolution(this.client, this.client.getDetails('string', flagKey, defaultValue, this.ctx));
  }
  resolveNumberEvaluation(flagKey, defaultValue) {
    return resolution(this.client, numberDetails(this.client, flagKey, defaultValue, this.ctx));
  }
  resolveObjectEvaluation(flagKey, defaultValue) {
    return resolution(this.client, this.client.getDetails('object', flagKey, defaultValue, this.ctx));
  }
}
export { openFeatureErrorCode } from './openfeature-common.js';
