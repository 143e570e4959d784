// OpenFeature provider for `@openfeature/server-sdk` in CDN workers (dynamic context, one
// evaluation per request) on a `WorkerClient`:
//
//   import { OpenFeature } from '@openfeature/server-sdk';
//   import { BurgeeWorkerProvider } from '@burgee/wasm/openfeature-server';
//   const provider = new BurgeeWorkerProvider({ serverUrl, key, environment, trustedKeys });
//   await OpenFeature.setProviderAndWait(provider);
//   // per request:
//   await provider.client.ready();
//   await OpenFeature.getClient().getBooleanValue('dark-mode', false, { targetingKey: user });
//
// Each resolve also awaits `client.ready()`, so a snapshot older than the refresh interval is
// refetched (conditionally) inside the request that needs it.
import { OpenFeatureEventEmitter, ProviderEvents } from '@openfeature/server-sdk';
import { WorkerClient } from './client.js';
import { burgeeContext, connect, noSnapshotError, numberDetails, resolution } from './openfeature-common.js';

export class BurgeeWorkerProvider {
  /** `options`: a `WorkerClient` as `{client}`, or the options of a new `WorkerClient`. */
  constructor(options) {
    this.metadata = { name: 'burgee' };
    this.runsOn = 'server';
    this.hooks = [];
    this.events = new OpenFeatureEventEmitter();
    this.client = connect(this, options, ProviderEvents, WorkerClient);
    this.initialized = false;
  }

  async initialize() {
    await this.client.ready();
    if (!this.client.snapshotInfo()) throw noSnapshotError(this.client);
    this.initialized = true;
  }

  async onClose() {
    await this.client.flush();
  }

  async details(kind, flagKey, defaultValue, context) {
    await this.client.ready();
    const ctx = burgeeContext(context);
    const d = kind === 'number'
      ? numberDetails(this.client, flagKey, defaultValue, ctx)
      : this.client.getDetails(kind, flagKey, defaultValue, ctx);
    return resolution(this.client, d);
  }

  resolveBooleanEvaluation(flagKey, defaultValue, context) {
    return this.details('boolean', flagKey, defaultValue, context);
  }
  resolveStringEvaluation(flagKey, defaultValue, context) {
    return this.details('string', flagKey, defaultValue, context);
  }
  resolveNumberEvaluation(flagKey, defaultValue, context) {
    return this.details('number', flagKey, defaultValue, context);
  }
  resolveObjectEvaluation(flagKey, defaultValue, context) {
    return this.details('object', flagKey, defaultValue, context);
  }
}
export { openFeatureErrorCode } from './openfeature-common.js';
