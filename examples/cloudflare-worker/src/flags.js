// What the routes share: the one `WorkerClient` of this isolate (built from the worker's
// bindings on first use), the evaluation context of a plain HTTP request, and JSON responses.
// All flag logic (verification, refresh, evaluation, exposures) is in `@burgee/wasm`.
import { BurgeeError, WorkerClient } from '@burgee/wasm';

let client = null;
let config = null;

/**
 * The `WorkerClient` of this isolate, built from `env` on the first call and kept for the
 * isolate's life (it caches the verified snapshot between requests).
 *
 * Bindings (wrangler `[vars]` or secrets, all strings):
 * - `BURGEE_SERVER_URL` (required): the Burgee server, e.g. `https://flags.example.com`.
 * - `BURGEE_SDK_KEY` (required, a secret): the environment's server SDK key (`bgs_…`), or a
 *   client-side key (`bgc_…`) with `BURGEE_AUDIENCE = "client"`.
 * - `BURGEE_PUBLIC_KEY` (required): the environment's trusted Ed25519 public key(s), base64;
 *   several separated by commas or whitespace while keys rotate.
 * - `BURGEE_ENVIRONMENT` (default `production`), `BURGEE_PROJECT` (optional).
 * - `BURGEE_REFRESH_INTERVAL_MS` (default 30000): at most one conditional refetch of the
 *   snapshot per interval and isolate; the package clamps it to 1 s .. 10 min.
 * - `BURGEE_AUDIENCE` (optional): `client` serves the client snapshot (client-visible flags
 *   only) instead of the full server snapshot.
 *
 * Throws a `BurgeeError` (code `GENERAL`) naming a missing or malformed binding; nothing is
 * cached then, so the next request tries again.
 */
export function clientFor(env) {
  if (client) return client;
  const interval = env.BURGEE_REFRESH_INTERVAL_MS === undefined ? 30000 : Number(env.BURGEE_REFRESH_INTERVAL_MS);
  if (!Number.isFinite(interval)) {
    throw new BurgeeError('GENERAL', `BURGEE_REFRESH_INTERVAL_MS is not a number: ${env.BURGEE_REFRESH_INTERVAL_MS}`);
  }
  client = new WorkerClient({
    serverUrl: env.BURGEE_SERVER_URL,
    key: env.BURGEE_SDK_KEY,
    environment: env.BURGEE_ENVIRONMENT || 'production',
    project: env.BURGEE_PROJECT || undefined,
    trustedKeys: String(env.BURGEE_PUBLIC_KEY || '').split(/[\s,]+/).filter(Boolean),
    refreshIntervalMs: interval,
    audience: env.BURGEE_AUDIENCE || undefined,
    sdkName: 'burgee-cloudflare-worker',
  });
  return client;
}

/**
 * The `WorkerConfigClient` of this isolate for the service named by `BURGEE_SERVICE` (the
 * configuration `GET /config` serves), or null when that binding is unset. It shares the flag
 * client's server, key, environment, project, trusted keys and refresh interval; overrides
 * resolve for the instance `BURGEE_INSTANCE_ID` (default `cloudflare-worker`). Secret entries
 * come only with an SDK key scoped to the service.
 *
 * Throws as `clientFor`.
 */
export function configFor(env) {
  if (!env.BURGEE_SERVICE) return null;
  if (!config) {
    config = clientFor(env).configClient(env.BURGEE_SERVICE, {
      instance: { targetingKey: env.BURGEE_INSTANCE_ID || 'cloudflare-worker' },
    });
  }
  return config;
}

/**
 * The evaluation context of a plain HTTP request (`GET /flags`):
 * - `targetingKey`: the `x-user-id` header, else the `user` query parameter;
 * - every other query parameter as a string attribute (repeated: an array of strings);
 * - `country` and `continent` from Cloudflare's `request.cf` (the `cf-ipcountry` header when
 *   `cf` is absent). These are set by the edge, so they win over query parameters of the
 *   same name.
 *
 * Typed attributes (numbers, booleans) come through OFREP, whose context is JSON.
 */
export function requestContext(request) {
  const url = new URL(request.url);
  const ctx = {};
  for (const name of new Set(url.searchParams.keys())) {
    if (name === 'user') continue;
    const values = url.searchParams.getAll(name);
    ctx[name] = values.length === 1 ? values[0] : values;
  }
  const user = request.headers.get('x-user-id') || url.searchParams.get('user');
  if (user) ctx.targetingKey = user;
  const cf = request.cf || {};
  const country = cf.country || request.headers.get('cf-ipcountry');
  if (country && country !== 'XX') ctx.country = country; // XX: Cloudflare could not tell
  if (cf.continent) ctx.continent = cf.continent;
  return ctx;
}

/** A JSON response (`body` serialised) with `status` and extra `headers`. */
export function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers },
  });
}

/** Burgee's error shape `{code, message}` (the server's too) for `error`, a thrown value. */
export function errorBody(error) {
  const code = error && typeof error.code === 'string' ? error.code : 'GENERAL';
  const message = error && error.message ? String(error.message) : String(error);
  return { code, message };
}

/** The held snapshot's summary for responses, or null: `{version, issuedAt, expiresAt,
 * digest}`. */
export function snapshotSummary(c) {
  const info = c.snapshotInfo();
  return info ? { version: info.version, issuedAt: info.issuedAt, expiresAt: info.expiresAt, digest: info.digest } : null;
}
