// Burgee feature flags in a Cloudflare module worker.
//
//   GET  /flags?user=…  (or header x-user-id)    every flag for that user, as JSON
//   POST /ofrep/v1/evaluate/flags/{key}          OFREP: one flag (thin OpenFeature clients)
//   POST /ofrep/v1/evaluate/flags                OFREP: every flag, with an ETag
//   GET  /ofrep/v1/configuration                 OFREP: capabilities
//   GET  /status                                 the client's status, snapshot and event counts
//   GET  /config                                 the configuration of BURGEE_SERVICE (if set)
//
// One `WorkerClient` per isolate holds the verified snapshot (signature, environment,
// anti-rollback and expiry checked inside the WebAssembly core) and refetches it conditionally
// at most every BURGEE_REFRESH_INTERVAL_MS; exposures are sent after the response with
// `ctx.waitUntil(client.flush())`. See README.md for the bindings.
import wasm from '@burgee/wasm/burgee_wasm_bg.wasm';
import { Context, initSync } from '@burgee/wasm';
import { clientFor, configFor, errorBody, json, requestContext, snapshotSummary } from './flags.js';
import { configuration, evaluateAllFlags, evaluateFlag } from './ofrep.js';

// Workers refuse to compile WebAssembly from bytes at run time: the module is imported (the
// bundler, or workerd's config, hands over a compiled WebAssembly.Module) and instantiated here.
initSync({ module: wasm });

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'ETag',
};
const PREFLIGHT = {
  ...CORS,
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-None-Match, X-API-Key, X-User-Id',
  'Access-Control-Max-Age': '86400',
};
const OFREP_FLAG = /^\/ofrep\/v1\/evaluate\/flags\/(.+)$/;

export default {
  /** The worker's fetch handler: maps HTTP onto the isolate's `WorkerClient`. */
  async fetch(request, env, ctx) {
    if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: PREFLIGHT });
    if (env.API_KEY && !authorized(request, env.API_KEY)) {
      return withCors(new Response(null, { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } }));
    }
    let client;
    try {
      client = clientFor(env);
    } catch (e) {
      return withCors(json(errorBody(e), 500));
    }
    // A conditional refetch when the snapshot is older than the refresh interval (requests
    // arriving meanwhile share it). Awaited, not left to waitUntil: workerd drops the
    // continuations of a request whose waitUntil waits on another request's fetch.
    await client.ready();
    try {
      return withCors(await route(request, client, env));
    } catch (e) {
      return withCors(json(errorBody(e), 500));
    } finally {
      ctx.waitUntil(client.flush()); // exposures recorded by this request, after the response
    }
  },
};

/** Dispatches one request to its handler; resolves the response (without CORS headers). */
async function route(request, client, env) {
  const { pathname } = new URL(request.url);
  const method = request.method;
  if (pathname === '/ofrep/v1/evaluate/flags') {
    return method === 'POST' ? evaluateAllFlags(client, request) : notAllowed('POST');
  }
  const single = OFREP_FLAG.exec(pathname);
  if (single) {
    if (method !== 'POST') return notAllowed('POST');
    let key = single[1];
    try {
      key = decodeURIComponent(key);
    } catch {
      // a malformed %-escape: looked up as written (and not found)
    }
    return evaluateFlag(client, request, key);
  }
  if (pathname === '/ofrep/v1/configuration') return method === 'GET' ? configuration(client) : notAllowed('GET');
  if (pathname === '/flags') return method === 'GET' ? allFlags(client, request) : notAllowed('GET');
  if (pathname === '/config') return method === 'GET' ? serviceConfig(env) : notAllowed('GET');
  if (pathname === '/status') {
    if (method !== 'GET') return notAllowed('GET');
    return json({ ...client.status(), snapshot: snapshotSummary(client), events: client.eventStats() });
  }
  return json({ code: 'NOT_FOUND', message: `no route ${method} ${pathname}` }, 404);
}

/** `GET /flags`: `{context, snapshot, flags: {key: details}}` for the request's user (see
 * `requestContext`); details are the package's (value, variant, reason, ruleId, errorCode,
 * errorMessage, flagMetadata). 400 for an unusable context, 503 without a snapshot. */
function allFlags(client, request) {
  const attributes = requestContext(request);
  if (!client.snapshotInfo()) {
    const s = client.status();
    return json({ code: s.errorCode || 'GENERAL', message: `no verified snapshot held (status ${s.status}): ${s.lastErrorMessage || ''}` }, 503);
  }
  let context;
  try {
    context = new Context(attributes);
  } catch (e) {
    return json(errorBody(e), 400);
  }
  try {
    const flags = client.evaluateAll(context);
    return json({ context: attributes, snapshot: snapshotSummary(client), flags }, 200, { 'Cache-Control': 'private, no-store' });
  } finally {
    context.free();
  }
}

/** `GET /config`: `{service, version, values: {key: value}}`, the configuration of
 * `BURGEE_SERVICE` for this worker's instance (refetched at most every refresh interval); 404
 * when no service is configured, 503 while no verified document is held. */
async function serviceConfig(env) {
  const config = configFor(env);
  if (!config) return json({ code: 'NOT_FOUND', message: 'BURGEE_SERVICE is not set' }, 404);
  await config.ready();
  const info = config.info();
  if (!info) {
    const s = config.status();
    return json({ code: s.errorCode || 'GENERAL', message: `no verified config document held (status ${s.status}): ${s.lastErrorMessage || ''}` }, 503);
  }
  return json({ service: info.service, version: info.version, values: config.all() }, 200, { 'Cache-Control': 'private, no-store' });
}

/** 405 naming the method the route takes. */
function notAllowed(allow) {
  return json({ code: 'METHOD_NOT_ALLOWED', message: `use ${allow}` }, 405, { Allow: allow });
}

/** Adds the CORS headers (any origin; ETag readable) to one of this worker's responses. */
function withCors(response) {
  for (const [k, v] of Object.entries(CORS)) response.headers.set(k, v);
  return response;
}

/** `Authorization: Bearer <API_KEY>` or `X-API-Key: <API_KEY>` (OFREP's two schemes), compared
 * in constant time. */
function authorized(request, key) {
  const auth = request.headers.get('authorization') || '';
  const given = auth.startsWith('Bearer ') ? auth.slice(7) : request.headers.get('x-api-key') || '';
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(key);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}
