// What the web and the server OpenFeature providers share: the mapping of Burgee results
// onto OpenFeature resolution details and provider events. SDK-free (each provider file
// imports its own OpenFeature SDK).
import { Client, WorkerClient } from './client.js';
import { openFeatureErrorCode } from './burgee_wasm.js';

/** Burgee code → OpenFeature ErrorCode: the core's one mapping (`GENERAL` for snapshot codes,
 * which never come from an evaluation). */
export { openFeatureErrorCode };

/** An OpenFeature evaluation context as a Burgee context object: Dates become RFC 3339
 * strings (usable with before/after); null and undefined are left out; nested objects stay
 * and are refused by the core as INVALID_CONTEXT. */
export function burgeeContext(context) {
  const out = {};
  for (const [k, v] of Object.entries(context || {})) {
    if (v === null || v === undefined) continue;
    out[k] = v instanceof Date ? v.toISOString() : v;
  }
  return out;
}

/** Burgee details → OpenFeature ResolutionDetails; no snapshot yet → PROVIDER_NOT_READY. */
export function resolution(client, details) {
  const r = { value: details.value, reason: details.reason, flagMetadata: details.flagMetadata };
  if (details.variant != null) r.variant = details.variant;
  if (details.errorCode != null) {
    r.errorCode = client.snapshotInfo() ? openFeatureErrorCode(details.errorCode) : 'PROVIDER_NOT_READY';
    r.errorMessage = details.errorMessage;
  }
  return r;
}

/** Resolves a number flag: Burgee's integer and float flags are both OpenFeature numbers. */
export function numberDetails(client, flagKey, defaultValue, context) {
  const kind = client.flagType(flagKey) === 'integer' && Number.isInteger(defaultValue) ? 'integer' : 'number';
  return client.getDetails(kind, flagKey, defaultValue, context);
}

/** Builds the client (or takes `options.client`) and forwards its events to `events` with the
 * SDK's `ProviderEvents`: ConfigurationChanged on every new snapshot after the first, Stale
 * when the server is unreachable, Error when an envelope is refused, Ready on recovery. */
export function connect(provider, options, ProviderEvents, Kind) {
  const client = options && (options.client instanceof Client || options.client instanceof WorkerClient)
    ? options.client
    : new Kind(options);
  client.on('status', (e) => {
    if (!provider.initialized) return;
    if (e.status === 'READY') provider.events.emit(ProviderEvents.Ready, { message: 'snapshot source reachable' });
    else if (e.status === 'STALE') provider.events.emit(ProviderEvents.Stale, { message: e.message });
    else if (e.status === 'ERROR') provider.events.emit(ProviderEvents.Error, { message: e.message, errorCode: 'GENERAL' });
  });
  client.on('change', (e) => {
    if (!provider.initialized || e.oldVersion == null) return;
    provider.events.emit(ProviderEvents.ConfigurationChanged, {
      message: `snapshot version ${e.oldVersion} -> ${e.newVersion}`,
      metadata: { oldVersion: e.oldVersion, newVersion: e.newVersion },
    });
  });
  return client;
}

export function noSnapshotError(client) {
  const s = client.status();
  return new Error(`no snapshot (status ${s.status}${s.lastErrorMessage ? `: ${s.lastErrorMessage}` : ''})`);
}
