// The package's Client and WorkerClient in Node against real `burgee serve` processes: the
// client snapshot (no server-only flags), live updates over the stream, exposures delivered,
// last-known-good storage re-verified, bootstrap, tampering and rollback refused.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Client, WorkerClient, Snapshot, Context, BurgeeError } from '@burgee/wasm/node';

const require = createRequire(import.meta.url);
const { startServer, waitFor, tmpdir } = require('@burgee/test-support');

/** A Storage-like object (localStorage itself is exercised in Chromium by browser.test.mjs). */
function memoryStorage() {
  const m = new Map();
  return {
    map: m,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
  };
}

/** The envelope with one character of its base64 payload changed (signature no longer valid). */
function tamper(envelopeText) {
  const env = JSON.parse(envelopeText);
  const i = 40;
  const c = env.payload[i] === 'A' ? 'B' : 'A';
  env.payload = env.payload.slice(0, i) + c + env.payload.slice(i + 1);
  return JSON.stringify(env);
}

test('browser client: client snapshot, live updates, exposures, storage, tampering', async (t) => {
  const server = await startServer(tmpdir());
  t.after(() => server.stop());
  const storage = memoryStorage();
  const options = {
    serverUrl: server.base,
    key: server.clientKey,
    environment: 'production',
    trustedKeys: [server.publicKey],
    storage,
    flushIntervalMs: 60000,
  };
  const client = new Client({ ...options, context: { targetingKey: 'user-42', email: 'x@example.com' } });
  t.after(() => client.close());
  assert.equal(await client.waitUntilReady(5000), 'READY');
  const info = client.snapshotInfo();
  assert.equal(info.audience, 'client');
  assert.equal(client.flagType('payments-kill-switch'), null, 'server-only flags are not in the client snapshot');
  assert.equal(client.flagType('dark-mode'), 'boolean');

  // The same answers as evaluating the envelope directly.
  const snap = Snapshot.load(await server.clientEnvelope(), { trustedKeys: [server.publicKey], environment: 'production', audience: 'client' });
  const ctx = new Context({ targetingKey: 'user-42', email: 'x@example.com' });
  for (const key of snap.flagKeys()) {
    const direct = snap.evaluate(key, ctx);
    const viaClient = client.evaluateAll()[key];
    assert.deepEqual(viaClient, direct, key);
  }
  const missing = client.getBooleanDetails('payments-kill-switch', true);
  assert.equal(missing.errorCode, 'FLAG_NOT_FOUND');
  assert.equal(missing.value, true);
  const mismatch = client.getStringDetails('dark-mode', 'x');
  assert.equal(mismatch.errorCode, 'TYPE_MISMATCH');

  // A flag changed through the API arrives over the stream.
  const changes = [];
  client.on('change', (e) => changes.push(e));
  const before = client.getBooleanValue('dark-mode', true);
  const version = await server.setDefault('dark-mode', before ? 'off' : 'on');
  assert.ok(await waitFor(5000, () => changes.some((c) => c.newVersion === version)), 'update over SSE');
  assert.equal(client.getBooleanValue('dark-mode', true), !before);
  assert.equal(storage.getItem('burgee:envelope::production') !== null, true, 'last good envelope stored');

  // Exposures: deduped per (flag, variant, user, snapshot), delivered on flush.
  for (const user of ['u-1', 'u-2', 'u-3']) {
    for (let i = 0; i < 3; i++) client.getBooleanValue('dark-mode', false, { targetingKey: user });
  }
  client.track('purchase', 'u-1', 12.5);
  assert.equal(client.eventStats().deduplicated >= 6, true);
  assert.equal(await client.flush(), true);
  assert.ok(await waitFor(5000, async () => {
    const events = await server.recentEvents();
    const exposed = new Set(events.filter((e) => e.kind === 'exposure' && e.flag === 'dark-mode').map((e) => e.targeting_key));
    return ['u-1', 'u-2', 'u-3'].every((u) => exposed.has(u)) && events.some((e) => e.kind === 'track' && e.sdk === 'burgee-wasm');
  }), 'exposures and track events stored by the server');

  // A tampered envelope is refused; the last good snapshot keeps serving.
  const refused = [];
  client.on('refused', (e) => refused.push(e));
  const good = client.snapshotInfo().version;
  const outcome = client.applyEnvelope(tamper(await server.clientEnvelope()));
  assert.equal(outcome.outcome, 'refused');
  assert.equal(outcome.errorCode, 'SIGNATURE_INVALID');
  assert.equal(refused.length, 1);
  assert.equal(client.snapshotInfo().version, good);
  assert.equal(client.getBooleanValue('dark-mode', before), !before);

  // Offline start from the stored copy (re-verified); a tampered stored copy is refused and removed.
  await server.stop();
  const offline = new Client({ ...options, serverUrl: 'http://127.0.0.1:9', storage });
  t.after(() => offline.close());
  assert.equal(offline.snapshotInfo().version, good);
  assert.equal(offline.getBooleanValue('dark-mode', before, { targetingKey: 'user-42' }), !before);
  const bad = memoryStorage();
  bad.setItem('burgee:envelope::production', tamper(storage.getItem('burgee:envelope::production')));
  const c2 = new Client({ ...options, serverUrl: undefined, key: undefined, storage: bad });
  assert.equal(c2.snapshotInfo(), null, 'a tampered stored copy is never used');
  assert.equal(bad.getItem('burgee:envelope::production'), null, 'and is removed');
  assert.equal(c2.getBooleanDetails('dark-mode', false).errorCode, 'GENERAL');
});

test('bootstrap, anti-rollback and bad options', async (t) => {
  const server = await startServer(tmpdir());
  t.after(() => server.stop());
  const first = await server.clientEnvelope();
  await server.setDefault('reviews-v2', 'on');
  const second = await server.clientEnvelope();
  const base = { environment: 'production', trustedKeys: [server.publicKey], storage: null };
  const c = new Client({ ...base, bootstrap: second });
  const v2 = c.snapshotInfo().version;
  assert.equal(c.getBooleanValue('reviews-v2', false, { targetingKey: 'anyone' }), true);
  const back = c.applyEnvelope(first);
  assert.equal(back.outcome, 'refused');
  assert.equal(back.errorCode, 'SNAPSHOT_ROLLBACK');
  assert.equal(c.snapshotInfo().version, v2);
  assert.equal(c.applyEnvelope(second).outcome, 'unchanged');
  // Another environment's trusted key, a wrong environment, no keys: precise errors.
  const other = new Client({ ...base, environment: 'staging', bootstrap: second });
  assert.equal(other.snapshotInfo(), null);
  assert.equal(other.status().lastErrorCode, 'ENVIRONMENT_MISMATCH');
  // Another project's snapshot, and a server snapshot in the browser client: refused.
  assert.equal(new Client({ ...base, project: 'webshop', bootstrap: second }).snapshotInfo().version, v2);
  const blog = new Client({ ...base, project: 'blog', bootstrap: second });
  assert.deepEqual([blog.snapshotInfo(), blog.status().lastErrorCode], [null, 'PROJECT_MISMATCH']);
  const serverSnapshot = await server.envelope();
  const leaked = new Client({ ...base, project: 'webshop', bootstrap: serverSnapshot });
  assert.deepEqual([leaked.snapshotInfo(), leaked.status().lastErrorCode], [null, 'AUDIENCE_MISMATCH']);
  assert.throws(() => new Client({ environment: 'production', trustedKeys: [] }), (e) => e instanceof BurgeeError && e.code === 'GENERAL');
  assert.throws(() => new Client({ ...base, trustedKeys: ['not base64!'] }), (e) => e instanceof BurgeeError && e.code === 'PARSE_ERROR');
  assert.throws(() => c.track('', 'u'), (e) => e instanceof BurgeeError && /key/.test(e.message));
  assert.throws(() => new Context({ targetingKey: 'u', nested: { a: 1 } }), (e) => e instanceof BurgeeError && e.code === 'INVALID_CONTEXT');
});

test('worker client: the audience it asks for, the project it is configured for', async (t) => {
  const server = await startServer(tmpdir());
  t.after(() => server.stop());
  const serverSnapshot = await server.envelope();
  const clientSnapshot = await server.clientEnvelope();
  // Unreachable server: only the bootstrap copy is verified.
  const base = { serverUrl: 'http://127.0.0.1:9', key: server.sdkKey, environment: 'production', trustedKeys: [server.publicKey] };
  const worker = (extra) => {
    const w = new WorkerClient({ ...base, ...extra });
    return [w.snapshotInfo()?.audience ?? null, w.status().lastErrorCode];
  };
  assert.deepEqual(worker({ project: 'webshop', bootstrap: serverSnapshot }), ['server', null]);
  assert.deepEqual(worker({ project: 'webshop', bootstrap: clientSnapshot }), [null, 'AUDIENCE_MISMATCH']);
  assert.deepEqual(worker({ project: 'webshop', audience: 'client', key: server.clientKey, bootstrap: clientSnapshot }), ['client', null]);
  assert.deepEqual(worker({ project: 'webshop', audience: 'client', key: server.clientKey, bootstrap: serverSnapshot }), [null, 'AUDIENCE_MISMATCH']);
  assert.deepEqual(worker({ project: 'blog', bootstrap: serverSnapshot }), [null, 'PROJECT_MISMATCH']);
  assert.throws(() => new WorkerClient({ ...base, audience: 'browser' }), (e) => e instanceof BurgeeError && e.code === 'PARSE_ERROR');

  // Snapshot.load takes the same two options.
  const load = (envelope, extra) => Snapshot.load(envelope, { trustedKeys: [server.publicKey], environment: 'production', ...extra });
  assert.equal(load(clientSnapshot, { project: 'webshop', audience: 'client' }).info.audience, 'client');
  for (const [envelope, extra, code] of [
    [clientSnapshot, {}, 'AUDIENCE_MISMATCH'],
    [serverSnapshot, { audience: 'client' }, 'AUDIENCE_MISMATCH'],
    [serverSnapshot, { project: 'blog' }, 'PROJECT_MISMATCH'],
  ]) {
    assert.throws(() => load(envelope, extra), (e) => e instanceof BurgeeError && e.code === code, JSON.stringify(extra));
  }
});

test('worker client: server snapshot, bounded refresh, keeps the last good one', async (t) => {
  const server = await startServer(tmpdir());
  t.after(() => server.stop());
  const worker = new WorkerClient({
    serverUrl: server.base,
    key: server.sdkKey,
    environment: 'production',
    trustedKeys: [server.publicKey],
    refreshIntervalMs: 1000,
  });
  assert.equal(await worker.ready(), 'READY');
  assert.equal(worker.snapshotInfo().audience, 'server');
  assert.equal(worker.flagType('payments-kill-switch'), 'boolean', 'workers are trusted: full snapshot');
  // The typed value getters agree with the details getters for every flag of every type.
  const getters = { boolean: ['getBooleanValue', false], string: ['getStringValue', 'dflt'], integer: ['getIntegerValue', 7], float: ['getNumberValue', 0.5], object: ['getObjectValue', {}] };
  const kinds = { boolean: 'boolean', string: 'string', integer: 'integer', float: 'number', object: 'object' };
  const wctx = { targetingKey: 'user-1001', country: 'DE', plan: 'pro', platform: 'web' };
  let typed = 0;
  for (const key of worker.engine.snapshot().flagKeys()) {
    const type = worker.flagType(key);
    const [getter, dflt] = getters[type];
    assert.deepEqual(worker[getter](key, dflt, wctx), worker.getDetails(kinds[type], key, dflt, wctx).value, key);
    typed += 1;
  }
  assert.ok(typed >= 25);
  assert.equal(worker.getIntegerValue('api-timeout-ms', 1.5, wctx), 1.5, 'a fractional default is a TYPE_MISMATCH: default served');
  assert.equal(worker.getStringValue('payments-kill-switch', 'x', wctx), 'x');
  const before = worker.getBooleanValue('payments-kill-switch', true, { targetingKey: 'w-1' });
  const version = await server.setDefault('payments-kill-switch', before ? 'off' : 'on');
  await worker.ready();
  // Within the refresh interval the cached snapshot serves; after it, the new version.
  assert.ok(await waitFor(4000, async () => {
    await worker.ready();
    return worker.snapshotInfo().version === version;
  }), 'refetched after the refresh interval');
  assert.equal(worker.getBooleanValue('payments-kill-switch', true, { targetingKey: 'w-1' }), !before);
  assert.equal(await worker.flush(), true);
  assert.ok(await waitFor(5000, async () => (await server.recentEvents()).some((e) => e.targeting_key === 'w-1' && e.kind === 'exposure')));
  // Server gone: the cached snapshot keeps serving (status STALE).
  await server.stop();
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(await worker.ready(), 'STALE');
  assert.equal(worker.snapshotInfo().version, version);
  assert.equal(worker.getBooleanValue('payments-kill-switch', true, { targetingKey: 'w-1' }), !before);
});
