// The example Cloudflare worker ($BURGEE_REPO/examples/cloudflare-worker) served by workerd,
// Cloudflare's runtime (npm `workerd`), with the installed package's modules, against a real
// `burgee serve --demo`: the worker's answers equal `@burgee/wasm/node`'s Snapshot on the same
// envelope, flag changes arrive after the refresh interval (one refetch for concurrent
// requests), OFREP single and bulk shapes, errors and ETags, exposures reach the server, a
// service's configuration (`/config`) equals the Node package's and follows changes, and a
// tampered envelope (a byte flipped by a proxy between worker and server) is refused while the
// last good snapshot keeps serving.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Context, Snapshot, WorkerConfigClient } from '@burgee/wasm/node';
import { defaultExports, kill, startWorkerd, writeConfig } from './workerd.mjs';

const require = createRequire(import.meta.url);
const { startServer, tmpdir } = require('@burgee/test-support');

const API_KEY = 'worker-test-api-key';
const REFRESH_MS = 1000;
const SDK_NAME = 'burgee-cloudflare-worker';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` every 50 ms until it returns a truthy value (resolved) or `timeoutMs` passes
 * (resolves the last value). */
async function poll(timeoutMs, f) {
  const end = Date.now() + timeoutMs;
  let v;
  for (;;) {
    v = await f();
    if (v || Date.now() > end) return v;
    await sleep(50);
  }
}


/** The envelope with one bit of its decoded payload flipped (re-encoded, so still base64). */
function flipPayloadByte(text) {
  const env = JSON.parse(text);
  const payload = Buffer.from(env.payload, 'base64');
  payload[payload.length >> 1] ^= 0x01;
  env.payload = payload.toString('base64');
  return JSON.stringify(env);
}

/** A Node HTTP proxy in front of `target`: forwards everything; in mode `tamper` it flips a
 * byte of every snapshot envelope it passes on. Counts snapshot fetches. */
async function startProxy(target) {
  const state = { mode: 'pass', snapshotFetches: 0, tampered: 0 };
  const server = http.createServer(async (req, res) => {
    try {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const headers = { ...req.headers };
      for (const h of ['host', 'connection', 'content-length', 'accept-encoding', 'keep-alive']) delete headers[h];
      const r = await fetch(target + req.url, {
        method: req.method,
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      let body = Buffer.from(await r.arrayBuffer());
      if (req.url.startsWith('/v1/snapshots/')) {
        state.snapshotFetches += 1;
        if (r.status === 200 && state.mode === 'tamper') {
          body = Buffer.from(flipPayloadByte(body.toString('utf8')));
          state.tampered += 1;
        }
      }
      const out = {};
      r.headers.forEach((v, k) => {
        if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive'].includes(k)) out[k] = v;
      });
      res.writeHead(r.status, out);
      res.end(body);
    } catch (e) {
      res.writeHead(502);
      res.end(String(e));
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  state.base = `http://127.0.0.1:${server.address().port}`;
  state.close = () => new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return state;
}

/** One request to a worker; resolves `{status, headers, body (parsed JSON or null), text}`. */
async function call(base, pathname, { method = 'GET', body, headers = {}, key = API_KEY } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(base + pathname, {
    method,
    headers: h,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: the test that expected JSON fails on `body`
  }
  return { status: r.status, headers: r.headers, body: parsed, text };
}

/** What OFREP should say for Burgee details computed by the Node package. */
function expectedOfrep(d) {
  if (d.errorCode) {
    const code = ['FLAG_NOT_FOUND', 'PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT'].includes(d.errorCode) ? d.errorCode : 'GENERAL';
    return { key: d.flagKey, errorCode: code, errorDetails: d.errorMessage };
  }
  const out = { key: d.flagKey, value: d.value, reason: d.reason };
  if (d.variant != null) out.variant = d.variant;
  out.metadata = d.flagMetadata;
  return out;
}

/** `v` as JSON would carry it (what the worker's responses hold). */
const plain = (v) => JSON.parse(JSON.stringify(v));

test('example Cloudflare worker in workerd: evaluation, refresh, OFREP, exposures, tampering', { timeout: 120000 }, async (t) => {
  // Cleanups run last-in first-out, each even when an earlier one failed.
  const cleanups = [];
  t.after(async () => {
    for (const f of cleanups.reverse()) {
      try {
        await f();
      } catch (e) {
        console.error('cleanup failed:', e);
      }
    }
  });
  const data = tmpdir();
  cleanups.push(() => fs.rmSync(data, { recursive: true, force: true }));
  const server = await startServer(data);
  cleanups.push(() => server.kill());
  const proxy = await startProxy(server.base);
  cleanups.push(() => proxy.close());

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'burgee-workerd-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const common = {
    BURGEE_SDK_KEY: server.sdkKey,
    BURGEE_PUBLIC_KEY: server.publicKey,
    BURGEE_ENVIRONMENT: 'production',
    BURGEE_REFRESH_INTERVAL_MS: REFRESH_MS,
    API_KEY,
  };
  const config = writeConfig(dir, [
    { name: 'direct', bindings: { ...common, BURGEE_SERVER_URL: server.base } },
    { name: 'via-proxy', bindings: { ...common, BURGEE_SERVER_URL: proxy.base } },
    // Port 9 (discard) refuses connections: the server is unreachable from the start.
    { name: 'unreachable', bindings: { ...common, BURGEE_SERVER_URL: 'http://127.0.0.1:9', BURGEE_SERVICE: 'checkout' } },
    { name: 'config', bindings: { ...common, BURGEE_SERVER_URL: server.base, BURGEE_SERVICE: 'checkout', BURGEE_INSTANCE_ID: 'edge-1' } },
    { name: 'misconfigured', bindings: { ...common, BURGEE_SERVER_URL: server.base, BURGEE_PUBLIC_KEY: '' } },
  ], await defaultExports());
  const workerd = await startWorkerd(config, 5);
  cleanups.push(() => kill(workerd.proc));
  process.once('exit', () => workerd.proc.kill('SIGKILL'));
  const direct = `http://127.0.0.1:${workerd.ports.direct}`;
  const viaProxy = `http://127.0.0.1:${workerd.ports['via-proxy']}`;
  const diag = () => `\nworkerd log:\n${workerd.log()}`;

  const load = async () => Snapshot.load(await server.envelope(), { trustedKeys: [server.publicKey], environment: 'production' });

  await t.test('all flags for a user equal the Node package on the same envelope', async () => {
    const users = [
      { headers: { 'x-user-id': 'user-1001' }, context: { targetingKey: 'user-1001' } },
      { headers: { 'x-user-id': 'user-42', 'cf-blob': JSON.stringify({ country: 'DE', continent: 'EU' }) }, context: { targetingKey: 'user-42', country: 'DE', continent: 'EU' } },
      { query: '?user=alice&email=alice@burgee.dev', context: { targetingKey: 'alice', email: 'alice@burgee.dev' } },
      {
        query: '?user=user-7&plan=business&platform=ios&app_version=4.6.0&groups=a&groups=b',
        headers: { 'cf-ipcountry': 'US' },
        context: { targetingKey: 'user-7', plan: 'business', platform: 'ios', app_version: '4.6.0', groups: ['a', 'b'], country: 'US' },
      },
      { query: '', context: {} }, // no user: rollouts report TARGETING_KEY_MISSING
    ];
    const r0 = await call(direct, '/flags?user=warm-up');
    assert.equal(r0.status, 200, r0.text + diag());
    const snap = await load();
    for (const u of users) {
      const r = await call(direct, `/flags${u.query ?? ''}`, { headers: u.headers });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.context, u.context, 'context from header, query and cf');
      assert.equal(r.body.snapshot.version, snap.info.version);
      assert.equal(r.body.snapshot.digest, snap.info.digest);
      assert.deepStrictEqual(r.body.flags, plain(snap.evaluateAll(new Context(u.context))), JSON.stringify(u.context));
      assert.equal(r.headers.get('cache-control'), 'private, no-store');
    }
    const first = plain(snap.evaluateAll(new Context({})));
    assert.ok(Object.values(first).some((d) => d.errorCode === 'TARGETING_KEY_MISSING'), 'some flag needs a targeting key');
  });

  await t.test('OFREP single evaluation: shapes, errors, exposures', async () => {
    const snap = await load();
    const context = { targetingKey: 'ofrep-user-1', country: 'DE', plan: 'pro', lifetime_value: 1500, beta_opt_in: true };
    const ctx = new Context(context);
    const exposed = new Map();
    for (const key of snap.flagKeys()) {
      const d = snap.evaluate(key, ctx);
      const r = await call(direct, `/ofrep/v1/evaluate/flags/${encodeURIComponent(key)}`, { method: 'POST', body: { context } });
      assert.equal(r.status, d.errorCode ? 400 : 200, `${key}: ${r.text}`);
      assert.deepStrictEqual(r.body, plain(expectedOfrep(d)), key);
      if (!d.errorCode && d.variant) exposed.set(key, d.variant);
    }
    assert.ok(exposed.size >= 10, 'most flags evaluate for this context');
    const types = new Set(snap.flagKeys().map((k) => snap.flagType(k)));
    for (const ty of ['boolean', 'string', 'integer', 'float', 'object']) assert.ok(types.has(ty), `the demo has a ${ty} flag`);

    const missing = await call(direct, '/ofrep/v1/evaluate/flags/no-such-flag', { method: 'POST', body: { context } });
    assert.equal(missing.status, 404);
    assert.deepEqual(Object.keys(missing.body).sort(), ['errorCode', 'errorDetails', 'key']);
    assert.equal(missing.body.key, 'no-such-flag');
    assert.equal(missing.body.errorCode, 'FLAG_NOT_FOUND');
    assert.equal(typeof missing.body.errorDetails, 'string');

    const needsKey = snap.flagKeys().find((k) => snap.evaluate(k, new Context({})).errorCode === 'TARGETING_KEY_MISSING');
    const noKey = await call(direct, `/ofrep/v1/evaluate/flags/${needsKey}`, { method: 'POST', body: { context: {} } });
    assert.equal(noKey.status, 400);
    assert.equal(noKey.body.key, needsKey);
    assert.equal(noKey.body.errorCode, 'TARGETING_KEY_MISSING');

    const nested = await call(direct, '/ofrep/v1/evaluate/flags/dark-mode', { method: 'POST', body: { context: { targetingKey: 'u', address: { city: 'Berlin' } } } });
    assert.equal(nested.status, 400);
    assert.equal(nested.body.errorCode, 'INVALID_CONTEXT');
    assert.equal(nested.body.key, 'dark-mode');
    const notJson = await call(direct, '/ofrep/v1/evaluate/flags/dark-mode', { method: 'POST', body: '{"context":' });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.errorCode, 'PARSE_ERROR');
    const nulls = await call(direct, '/ofrep/v1/evaluate/flags/dark-mode', { method: 'POST', body: { context: { targetingKey: 'u', plan: null } } });
    assert.equal(nulls.status, 200, 'null attributes are absent');

    const noAuth = await call(direct, '/ofrep/v1/evaluate/flags/dark-mode', { method: 'POST', body: { context }, key: null });
    assert.equal(noAuth.status, 401);
    const pre = await fetch(`${direct}/ofrep/v1/evaluate/flags`, { method: 'OPTIONS' });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    const cfg = await call(direct, '/ofrep/v1/configuration');
    assert.equal(cfg.body.name, 'burgee');
    assert.equal(cfg.body.capabilities.cacheInvalidation.polling.minPollingIntervalMs, REFRESH_MS);

    // Exposures recorded by the single evaluations went out with ctx.waitUntil(client.flush()).
    const events = await poll(10000, async () => {
      const all = (await server.recentEvents()).filter((e) => e.kind === 'exposure' && e.targeting_key === 'ofrep-user-1');
      return all.length >= exposed.size ? all : null;
    });
    assert.ok(events, `exposures of ofrep-user-1 reached the server${diag()}`);
    assert.deepEqual(new Map(events.map((e) => [e.flag, e.variant])), exposed);
    assert.ok(events.every((e) => e.sdk === SDK_NAME && e.snapshot_version === snap.info.version), JSON.stringify(events[0]));
  });

  await t.test('OFREP bulk evaluation: shape, ETag, 304, no exposures', async () => {
    const snap = await load();
    const context = { targetingKey: 'bulk-user-1', country: 'FR', email: 'bulk@burgee.dev' };
    const r = await call(direct, '/ofrep/v1/evaluate/flags', { method: 'POST', body: { context } });
    assert.equal(r.status, 200, r.text);
    const expected = Object.values(snap.evaluateAll(new Context(context))).map(expectedOfrep);
    assert.deepStrictEqual(r.body.flags, plain(expected));
    assert.deepEqual(r.body.metadata, { environment: 'production', snapshotVersion: snap.info.version });
    const etag = r.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    assert.equal(r.headers.get('access-control-expose-headers'), 'ETag');

    const again = await call(direct, '/ofrep/v1/evaluate/flags', { method: 'POST', body: { context }, headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('etag'), etag);
    assert.equal(again.text, '');
    const other = await call(direct, '/ofrep/v1/evaluate/flags', { method: 'POST', body: { context: { targetingKey: 'bulk-user-1' } }, headers: { 'If-None-Match': etag } });
    assert.equal(other.status, 200, 'another context, other answers, another ETag');
    assert.notEqual(other.headers.get('etag'), etag);

    const bad = await call(direct, '/ofrep/v1/evaluate/flags', { method: 'POST', body: { context: { targetingKey: 'u', nested: { a: 1 } } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errorCode, 'INVALID_CONTEXT');
    assert.equal(typeof bad.body.errorDetails, 'string');
    const wrongMethod = await call(direct, '/ofrep/v1/evaluate/flags');
    assert.equal(wrongMethod.status, 405);

    // Bulk answers fill a thin client's cache: not exposures (GET /flags neither).
    await call(direct, '/flags?user=bulk-user-1');
    await call(direct, '/ofrep/v1/evaluate/flags/dark-mode', { method: 'POST', body: { context: { targetingKey: 'single-after-bulk' } } });
    assert.ok(await poll(10000, async () => (await server.recentEvents()).some((e) => e.targeting_key === 'single-after-bulk')));
    assert.equal((await server.recentEvents()).filter((e) => e.targeting_key === 'bulk-user-1').length, 0);
  });

  await t.test('a flag changed through the API shows after the refresh interval', async () => {
    const user = { 'x-user-id': 'user-change-1' };
    // After the interval, this request refetches (and waits for it): the snapshot is fresh.
    await sleep(REFRESH_MS + 50);
    const before = (await call(direct, '/flags', { headers: user })).body;
    const refreshed = Date.now();
    const was = before.flags['payments-kill-switch'].value;
    const bulk = await call(direct, '/ofrep/v1/evaluate/flags', { method: 'POST', body: { context: { targetingKey: 'user-change-1' } } });
    const version = await server.setDefault('payments-kill-switch', was ? 'off' : 'on');
    const soon = await call(direct, '/flags', { headers: user });
    if (Date.now() - refreshed < REFRESH_MS - 200) {
      assert.equal(soon.body.snapshot.version, before.snapshot.version, 'cached within the refresh interval');
    }
    const after = await poll(REFRESH_MS * 8, async () => {
      const r = await call(direct, '/flags', { headers: user });
      return r.body.snapshot.version === version ? r.body : null;
    });
    assert.ok(after, `worker reached version ${version}${diag()}`);
    assert.ok(Date.now() - refreshed >= REFRESH_MS - 100, 'not refetched before the interval passed');
    assert.equal(after.flags['payments-kill-switch'].value, !was);
    assert.deepStrictEqual(after.flags, plain((await load()).evaluateAll(new Context({ targetingKey: 'user-change-1' }))));
    const changed = await call(direct, '/ofrep/v1/evaluate/flags', {
      method: 'POST',
      body: { context: { targetingKey: 'user-change-1' } },
      headers: { 'If-None-Match': bulk.headers.get('etag') },
    });
    assert.equal(changed.status, 200, 'a new snapshot, a new ETag');
    assert.equal(changed.body.flags.find((f) => f.key === 'payments-kill-switch').value, !was);
  });

  await t.test('concurrent requests share one refetch; a tampered envelope is refused and the last good snapshot serves', async () => {
    const user = { 'x-user-id': 'user-tamper-1' };
    // The isolate's first requests, concurrently: they wait for one fetch between them.
    const cold = await Promise.all(Array.from({ length: 8 }, () => call(viaProxy, '/flags', { headers: user })));
    assert.ok(cold.every((r) => r.status === 200), cold.map((r) => r.text).join('\n') + diag());
    assert.equal(proxy.snapshotFetches, 1, 'one fetch for the first concurrent requests');
    const good = (await load()).info.version;
    assert.ok(cold.every((r) => r.body.snapshot.version === good));
    const was = cold[0].body.flags['payments-kill-switch'].value;

    // Again after the refresh interval: one conditional refetch (304) between them.
    await sleep(REFRESH_MS + 100);
    const burst = await Promise.all(Array.from({ length: 8 }, () => call(viaProxy, '/flags', { headers: user })));
    assert.ok(burst.every((r) => r.status === 200 && r.body.snapshot.version === good));
    assert.equal(proxy.snapshotFetches, 2, 'one refetch for concurrent requests');

    // A new version comes through the proxy with one bit flipped: refused.
    proxy.mode = 'tamper';
    const version = await server.setDefault('payments-kill-switch', was ? 'off' : 'on');
    const refused = await poll(REFRESH_MS * 8, async () => {
      const s = (await call(viaProxy, '/status')).body;
      return s.lastErrorCode === 'SIGNATURE_INVALID' ? s : null;
    });
    assert.ok(refused, `the worker refused the tampered envelope${diag()}`);
    assert.ok(proxy.tampered >= 1);
    assert.equal(refused.snapshot.version, good, 'the last good snapshot is kept');
    const still = await call(viaProxy, '/flags', { headers: user });
    assert.equal(still.status, 200);
    assert.equal(still.body.snapshot.version, good);
    assert.equal(still.body.flags['payments-kill-switch'].value, was, 'answers from the last good snapshot');
    const single = await call(viaProxy, '/ofrep/v1/evaluate/flags/payments-kill-switch', { method: 'POST', body: { context: { targetingKey: 'user-tamper-1' } } });
    assert.equal(single.status, 200);
    assert.equal(single.body.value, was);

    // The proxy stops tampering: the next refresh takes the new version.
    proxy.mode = 'pass';
    const recovered = await poll(REFRESH_MS * 8, async () => {
      const r = await call(viaProxy, '/flags', { headers: user });
      return r.body.snapshot.version === version ? r.body : null;
    });
    assert.ok(recovered, `recovered to version ${version}${diag()}`);
    assert.equal(recovered.flags['payments-kill-switch'].value, !was);
  });

  await t.test('service configuration: the same values as the Node package, changes after the refresh interval', async () => {
    const viaWorker = `http://127.0.0.1:${workerd.ports.config}`;
    const node = new WorkerConfigClient({ serverUrl: server.base, key: server.sdkKey, environment: 'production', trustedKeys: [server.publicKey], service: 'checkout', instance: { targetingKey: 'edge-1' } });
    assert.equal(await node.ready(), 'READY');
    const r = await call(viaWorker, '/config');
    assert.equal(r.status, 200, r.text + diag());
    assert.deepEqual(r.body, { service: 'checkout', version: node.version(), values: plain(node.all()) });
    assert.ok(Object.keys(r.body.values).length > 0, 'the demo service has entries');
    const url = `${server.base}/api/v1/config/worker.greeting`;
    const created = await fetch(`${server.base}/api/v1/config`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ key: 'worker.greeting', value: 'hello from the edge', format: 'text', environment: 'production', service_name: 'checkout' }),
    });
    assert.equal(created.status, 201, `${url}: ${await created.text()}`);
    const changed = await poll(REFRESH_MS * 8, async () => (await call(viaWorker, '/config')).body.values['worker.greeting']);
    assert.equal(changed, 'hello from the edge', diag());
    assert.equal((await call(direct, '/config')).status, 404, 'no BURGEE_SERVICE: 404');
    assert.equal((await call(`http://127.0.0.1:${workerd.ports.unreachable}`, '/config')).status, 503);
  });

  await t.test('no snapshot yet, bad configuration: errors, not answers', async () => {
    const unreachable = `http://127.0.0.1:${workerd.ports.unreachable}`;
    const flags = await call(unreachable, '/flags?user=u-1');
    assert.equal(flags.status, 503);
    assert.equal(typeof flags.body.message, 'string');
    const single = await call(unreachable, '/ofrep/v1/evaluate/flags/dark-mode', { method: 'POST', body: { context: { targetingKey: 'u-1' } } });
    assert.equal(single.status, 500);
    assert.deepEqual(Object.keys(single.body), ['errorDetails']);
    const bulk = await call(unreachable, '/ofrep/v1/evaluate/flags', { method: 'POST', body: {} });
    assert.equal(bulk.status, 500);
    assert.match(bulk.body.errorDetails, /no verified Burgee snapshot/);
    const status = await call(unreachable, '/status');
    assert.equal(status.body.snapshot, null);
    assert.notEqual(status.body.status, 'READY');

    const misconfigured = await call(`http://127.0.0.1:${workerd.ports.misconfigured}`, '/flags?user=u-1');
    assert.equal(misconfigured.status, 500);
    assert.equal(misconfigured.body.code, 'GENERAL');
    assert.match(misconfigured.body.message, /trustedKeys/);
  });

  // Nothing went wrong inside the runtime (uncaught errors, dropped continuations, hangs).
  assert.doesNotMatch(workerd.log(), /uncaught|dropped queued|hung|canceled/i, diag());
});
