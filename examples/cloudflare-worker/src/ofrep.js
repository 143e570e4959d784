// The OpenFeature Remote Evaluation Protocol (OFREP, github.com/open-feature/protocol,
// service/openapi.yaml) on top of the isolate's `WorkerClient`, for thin clients (OFREP
// providers of the OpenFeature SDKs) that do not run Burgee themselves:
//
//   POST /ofrep/v1/evaluate/flags/{key}  {"context": {...}}  one flag (records an exposure)
//   POST /ofrep/v1/evaluate/flags        {"context": {...}}  every flag, with an ETag
//   GET  /ofrep/v1/configuration                             what this endpoint supports
//
// This file only maps HTTP onto the client: evaluation, its reasons and error codes come from
// `@burgee/wasm` unchanged.
import { Context } from '@burgee/wasm';
import { json } from './flags.js';

/** Burgee flag type → the typed getter's kind and a default of that kind. OFREP requests carry
 * no type (the flag's own type answers), so the default is never served: any evaluation error
 * becomes an OFREP error response instead. */
const KIND_OF_TYPE = {
  boolean: ['boolean', false],
  string: ['string', ''],
  integer: ['integer', 0],
  float: ['number', 0],
  object: ['object', {}],
};

/** The error codes OFREP's evaluationFailure names; any other evaluation error is GENERAL. */
const REQUEST_ERRORS = new Set(['PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT']);

/**
 * Reads an OFREP request body, `{"context": {...}}` (an empty body is an empty context), into a
 * Burgee `Context`. JSON `null` attributes are left out (OpenFeature: absent). Resolves
 * `{context}` or `{errorCode, errorDetails}` with `PARSE_ERROR` (not a JSON object) or
 * `INVALID_CONTEXT` (an attribute Burgee cannot evaluate, such as a nested object).
 */
export async function readContext(request) {
  const text = await request.text();
  let body = {};
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch (e) {
      return { errorCode: 'PARSE_ERROR', errorDetails: `the request body is not JSON: ${e.message}` };
    }
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { errorCode: 'PARSE_ERROR', errorDetails: 'the request body must be a JSON object {"context": {...}}' };
  }
  const raw = body.context ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { errorCode: 'INVALID_CONTEXT', errorDetails: 'context must be a JSON object' };
  }
  const attributes = {};
  for (const [name, value] of Object.entries(raw)) if (value !== null) attributes[name] = value;
  try {
    return { context: new Context(attributes) };
  } catch (e) {
    return { errorCode: REQUEST_ERRORS.has(e.code) ? e.code : 'INVALID_CONTEXT', errorDetails: e.message };
  }
}

/** OFREP's evaluationSuccess for Burgee details: `{key, value, reason, variant?, metadata}`.
 * A null value (nothing to serve) is left out: OFREP's "use the code default". */
export function successBody(details) {
  const out = { key: details.flagKey };
  if (details.value !== null && details.value !== undefined) out.value = details.value;
  out.reason = details.reason;
  if (details.variant != null) out.variant = details.variant;
  out.metadata = details.flagMetadata;
  return out;
}

/** OFREP's evaluationFailure (or flagNotFound) for Burgee details with an error code. */
export function failureBody(details) {
  const code = details.errorCode === 'FLAG_NOT_FOUND' || REQUEST_ERRORS.has(details.errorCode) ? details.errorCode : 'GENERAL';
  return { key: details.flagKey, errorCode: code, errorDetails: details.errorMessage || details.errorCode };
}

/** 500 with OFREP's generalErrorResponse when no verified snapshot is held (yet). */
export function noSnapshot(client) {
  const s = client.status();
  const why = s.lastErrorMessage ? `: ${s.lastErrorMessage}` : '';
  return json({ errorDetails: `no verified Burgee snapshot held (status ${s.status}${why})` }, 500);
}

/**
 * `POST /ofrep/v1/evaluate/flags/{key}`: 200 evaluationSuccess; 404 flagNotFound; 400
 * evaluationFailure (`PARSE_ERROR`, `INVALID_CONTEXT`, `TARGETING_KEY_MISSING`, `GENERAL`);
 * 500 without a snapshot. A successful evaluation records an exposure (deduped by the client),
 * as a server-side provider calls this at the moment it uses the value.
 */
export async function evaluateFlag(client, request, flagKey) {
  const parsed = await readContext(request);
  if (parsed.errorCode) return json({ key: flagKey, errorCode: parsed.errorCode, errorDetails: parsed.errorDetails }, 400);
  try {
    const info = client.snapshotInfo();
    if (!info) return noSnapshot(client);
    const type = client.flagType(flagKey);
    if (!type) {
      return json({
        key: flagKey,
        errorCode: 'FLAG_NOT_FOUND',
        errorDetails: `flag "${flagKey}" is not in snapshot version ${info.version} of ${info.environment}`,
      }, 404);
    }
    const [kind, fallback] = KIND_OF_TYPE[type];
    const details = client.getDetails(kind, flagKey, fallback, parsed.context);
    if (!details.errorCode) return json(successBody(details));
    return json(failureBody(details), details.errorCode === 'FLAG_NOT_FOUND' ? 404 : 400);
  } finally {
    parsed.context.free();
  }
}

/**
 * `POST /ofrep/v1/evaluate/flags`: 200 `{flags: [evaluationSuccess | evaluationFailure],
 * metadata: {environment, snapshotVersion}}` with an `ETag` (a digest of the body, so it
 * changes exactly when this context's answers or the snapshot version do); 304 when
 * `If-None-Match` names it; 400 bulkEvaluationFailure for a bad request; 500 without a
 * snapshot. No exposures: a bulk fetch fills a thin client's cache, which is not a use of
 * every flag.
 */
export async function evaluateAllFlags(client, request) {
  const parsed = await readContext(request);
  if (parsed.errorCode) return json({ errorCode: parsed.errorCode, errorDetails: parsed.errorDetails }, 400);
  let body;
  try {
    const info = client.snapshotInfo();
    if (!info) return noSnapshot(client);
    const all = client.evaluateAll(parsed.context);
    const flags = Object.values(all).map((d) => (d.errorCode ? failureBody(d) : successBody(d)));
    body = JSON.stringify({ flags, metadata: { environment: info.environment, snapshotVersion: info.version } });
  } finally {
    parsed.context.free();
  }
  const etag = `"${(await sha256Hex(body)).slice(0, 32)}"`;
  if (etagMatches(request.headers.get('if-none-match'), etag)) {
    return new Response(null, { status: 304, headers: { ETag: etag } });
  }
  return new Response(body, { headers: { 'Content-Type': 'application/json; charset=utf-8', ETag: etag } });
}

/** `GET /ofrep/v1/configuration`: the name and capabilities, for providers that ask. */
export function configuration(client) {
  return json({
    name: 'burgee',
    capabilities: {
      cacheInvalidation: { polling: { enabled: true, minPollingIntervalMs: client.refreshIntervalMs } },
      flagEvaluation: { supportedTypes: ['boolean', 'string', 'int', 'float', 'object'] },
    },
  });
}

/** Lowercase hex SHA-256 of a string's UTF-8 bytes (Web Crypto). */
export async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Whether an `If-None-Match` header value names `etag` (weak comparison, `*` matches). */
export function etagMatches(header, etag) {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}
