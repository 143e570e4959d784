'use strict';
// @burgee/node against real `burgee serve --demo` processes.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { BurgeeError, Client, Context, Snapshot } = require('@burgee/node');
const { startServer, waitFor, tmpdir } = require('@burgee/test-support');

function options(server, extra = {}) {
  return {
    environment: 'production', project: 'webshop', trustedKeys: [server.publicKey], serverUrl: server.base, sdkKey: server.sdkKey,
    backoffBaseMs: 50, backoffCapMs: 400, requestTimeoutMs: 2000, ...extra,
  };
}
const version = (c) => (c.snapshotInfo() ? c.snapshotInfo().version : 0);
/** A user the demo's 20 % checkout-redesign rollout leaves off. */
function userOff(c) {
  for (let i = 0; i < 500; i++) {
    if (c.getBooleanDetails('checkout-redesign', true, { targetingKey: `user-${i}` }).variant === 'off') return `user-${i}`;
  }
  throw new Error('no user off');
}

test('ready, evaluate, and a change arrives by SSE within a second', async () => {
  const server = await startServer(tmpdir());
  try {
    const client = new Client(options(server));
    const changes = [];
    client.on('change', (e) => changes.push(e));
    assert.equal(await client.waitUntilReady(10000), 'READY');
    const v1 = version(client);
    const user = userOff(client);
    const ctx = new Context({ targetingKey: user, country: 'DE' });
    assert.equal(client.getBooleanValue('checkout-redesign', true, ctx), false);
    await new Promise((r) => setTimeout(r, 300)); // the stream connects
    const published = await server.setDefault('checkout-redesign', 'on');
    const seen = await waitFor(1000, () => version(client) === published);
    assert.ok(seen, `version ${published} not seen within 1 s`);
    assert.equal(client.getBooleanValue('checkout-redesign', false, ctx), true);
    assert.ok(await waitFor(500, () => changes.some((e) => e.newVersion === published)), JSON.stringify(changes));
    assert.deepEqual(changes.find((e) => e.newVersion === published), { kind: 'changed', oldVersion: v1, newVersion: published });
    await client.close();
  } finally {
    await server.kill();
  }
});

test('the client checks its project and the audience of its key; Snapshot.load takes both', async () => {
  const server = await startServer(tmpdir());
  try {
    const serverEnvelope = await server.envelope();
    const clientEnvelope = await server.clientEnvelope();
    const offline = (extra) => new Client({ environment: 'production', trustedKeys: [server.publicKey], ...extra });
    const held = async (c) => {
      const s = c.status();
      const out = [version(c), s.lastErrorCode ?? null];
      await c.close();
      return out;
    };
    const v = Snapshot.load(serverEnvelope, { trustedKeys: [server.publicKey], environment: 'production' }).info.version;
    assert.deepEqual(await held(offline({ project: 'webshop', bootstrap: serverEnvelope })), [v, null]);
    assert.deepEqual(await held(offline({ project: 'blog', bootstrap: serverEnvelope })), [0, 'PROJECT_MISMATCH']);
    // A client-side key reads client snapshots only; an SDK key (or none) server snapshots only.
    assert.deepEqual(await held(offline({ project: 'webshop', sdkKey: server.clientKey, bootstrap: clientEnvelope })), [v, null]);
    assert.deepEqual(await held(offline({ project: 'webshop', sdkKey: server.clientKey, bootstrap: serverEnvelope })), [0, 'AUDIENCE_MISMATCH']);
    assert.deepEqual(await held(offline({ project: 'webshop', sdkKey: server.sdkKey, bootstrap: clientEnvelope })), [0, 'AUDIENCE_MISMATCH']);

    const load = (envelope, extra) => Snapshot.load(envelope, { trustedKeys: [server.publicKey], environment: 'production', ...extra });
    assert.equal(load(clientEnvelope, { project: 'webshop', audience: 'client' }).info.version, v);
    for (const [envelope, extra, code] of [
      [clientEnvelope, {}, 'AUDIENCE_MISMATCH'],
      [serverEnvelope, { audience: 'client' }, 'AUDIENCE_MISMATCH'],
      [serverEnvelope, { project: 'blog' }, 'PROJECT_MISMATCH'],
      [serverEnvelope, { audience: 'browser' }, 'GENERAL'],
    ]) {
      assert.throws(() => load(envelope, extra), (e) => e instanceof BurgeeError && e.code === code, JSON.stringify(extra));
    }
  } finally {
    await server.kill();
  }
});

test('outage keeps the last-known-good snapshot; restart resyncs; persisted file and bootstrap start offline', async () => {
  const dir = tmpdir();
  const lkg = path.join(dir, 'lkg.json');
  let server = await startServer(path.join(dir, 'data'));
  try {
    const client = new Client(options(server, { persistPath: lkg }));
    const statuses = [];
    client.on('status', (e) => statuses.push(e.status));
    assert.equal(await client.waitUntilReady(10000), 'READY');
    const v1 = version(client);
    const user = userOff(client);
    await server.kill();
    assert.ok(await waitFor(5000, () => client.status().status === 'STALE'), JSON.stringify(client.status()));
    assert.equal(version(client), v1);
    assert.equal(client.getBooleanValue('checkout-redesign', true, { targetingKey: user }), false);
    await waitFor(500, () => statuses.includes('STALE'));
    assert.ok(statuses.includes('STALE'), JSON.stringify(statuses));

    // Offline start from what the client persisted, and from a bootstrap string.
    const offline = new Client({ environment: 'production', trustedKeys: [server.publicKey], persistPath: lkg });
    assert.equal(offline.status().status, 'READY');
    assert.equal(version(offline), v1);
    const boot = new Client({ environment: 'production', trustedKeys: [server.publicKey], bootstrap: fs.readFileSync(lkg, 'utf8') });
    assert.equal(boot.getBooleanValue('checkout-redesign', true, { targetingKey: user }), false);

    server = await server.restart();
    const published = await server.setDefault('checkout-redesign', 'on');
    assert.ok(await waitFor(5000, () => version(client) === published), JSON.stringify(client.status()));
    assert.equal(client.getBooleanValue('checkout-redesign', false, { targetingKey: user }), true);
    assert.ok(await waitFor(2000, () => client.status().status === 'READY'));
    await client.close();
  } finally {
    await server.kill();
  }
});

function copyDir(from, to) {
  fs.cpSync(from, to, { recursive: true });
}

test('a rolled-back server is refused: ERROR status, newer snapshot kept', async () => {
  const dir = tmpdir();
  const live = path.join(dir, 'live');
  let server = await startServer(live);
  await server.stop();
  copyDir(live, path.join(dir, 'old'));
  server = await server.restart();
  try {
    await server.setDefault('checkout-redesign', 'on');
    const newest = await server.setDefault('guest-checkout', 'off');
    const client = new Client(options(server));
    assert.equal(await client.waitUntilReady(10000), 'READY');
    assert.equal(version(client), newest);
    const statuses = [];
    client.on('status', (e) => statuses.push(e));
    await server.stop();
    fs.rmSync(live, { recursive: true });
    copyDir(path.join(dir, 'old'), live);
    server = await server.restart();
    assert.ok(await waitFor(5000, () => client.status().status === 'ERROR'), JSON.stringify(client.status()));
    assert.equal(client.status().errorCode, 'SNAPSHOT_ROLLBACK');
    assert.equal(version(client), newest);
    await waitFor(500, () => statuses.some((s) => s.status === 'ERROR'));
    assert.ok(statuses.some((s) => s.status === 'ERROR' && s.errorCode === 'SNAPSHOT_ROLLBACK'), JSON.stringify(statuses));
    await client.close();
  } finally {
    await server.kill();
  }
});

test('a tampered envelope is refused and the previous kept (polling fallback when there is no stream)', async () => {
  const server = await startServer(tmpdir());
  try {
    const good = await server.envelope();
    const env = JSON.parse(good);
    const payload = JSON.parse(Buffer.from(env.payload, 'base64').toString());
    payload.version += 100;
    env.payload = Buffer.from(JSON.stringify(payload)).toString('base64');
    let body = good;
    const fake = http.createServer((req, res) => {
      if (req.url.startsWith('/v1/snapshots/production')) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
      } else {
        res.writeHead(404).end('{"code":"NOT_FOUND","message":"no"}');
      }
    });
    await new Promise((r) => fake.listen(0, '127.0.0.1', r));
    const client = new Client(options(server, { serverUrl: `http://127.0.0.1:${fake.address().port}`, pollIntervalMs: 50 }));
    assert.equal(await client.waitUntilReady(10000), 'READY');
    const v = version(client);
    body = JSON.stringify(env);
    assert.ok(await waitFor(5000, () => client.status().status === 'ERROR'), JSON.stringify(client.status()));
    assert.equal(client.status().errorCode, 'SIGNATURE_INVALID');
    assert.equal(version(client), v);
    await client.close();
    fake.close();
  } finally {
    await server.kill();
  }
});

test('exposures and track events arrive at the server', async () => {
  const server = await startServer(tmpdir());
  try {
    const client = new Client(options(server, { flushIntervalMs: 60000 }));
    assert.equal(await client.waitUntilReady(10000), 'READY');
    for (let round = 0; round < 2; round++) {
      for (const user of ['alice', 'bob', 'carol']) {
        client.getStringValue('pricing-experiment', 'control', new Context({ targetingKey: user, country: 'DE' }));
      }
    }
    client.track('purchase', 'alice', 59.9, { currency: 'EUR' });
    const stats = client.eventStats();
    assert.equal(stats.queued, 4);
    assert.equal(stats.deduplicated, 3);
    assert.equal(await client.close(), true);
    const recent = await server.recentEvents();
    const exposures = recent.filter((e) => e.kind === 'exposure');
    assert.equal(exposures.length, 3, JSON.stringify(recent));
    const digest = client.snapshotInfo().digest;
    for (const e of exposures) {
      assert.equal(e.flag, 'pricing-experiment');
      assert.equal(e.snapshot_digest, digest);
      assert.equal(e.sdk, 'burgee-node');
    }
    const tracks = recent.filter((e) => e.kind === 'track');
    assert.equal(tracks.length, 1);
    assert.deepEqual([tracks[0].key, tracks[0].value, tracks[0].attributes], ['purchase', 59.9, { currency: 'EUR' }]);
  } finally {
    await server.kill();
  }
});

test('the fast value getters agree with the details for handles, plain objects and bad contexts', async () => {
  const server = await startServer(tmpdir());
  try {
    const client = new Client(options(server));
    assert.equal(await client.waitUntilReady(10000), 'READY');
    const wide = { targetingKey: 'user-7', country: 'DE', plan: 'business' };
    for (let i = 0; i < 40; i++) wide[`extra${i}`] = i; // more than the 32 the pair form takes
    const contexts = [
      { targetingKey: 'user-1', country: 'DE', platform: 'ios', app_version: '4.6.0' },
      { targetingKey: 'user-2', country: 'AU', groups: ['staff', 'beta'], beta: true, plan: 'business' },
      { targetingKey: 'user-3' },
      wide,
    ];
    const cases = [
      ['Boolean', 'express-checkout', false], ['Boolean', 'gift-wrapping', false],
      ['String', 'pricing-experiment', 'dflt'], ['Integer', 'max-cart-items', 1], ['Number', 'free-shipping-threshold', 1.5],
    ];
    // The reference: the same snapshot through Snapshot.getDetails (the napi-derive path).
    const snap = Snapshot.load(await server.envelope(), { trustedKeys: [server.publicKey], environment: 'production' });
    assert.equal(snap.info.version, client.snapshotInfo().version);
    const kinds = { Boolean: 'boolean', String: 'string', Integer: 'integer', Number: 'number' };
    for (const obj of contexts) {
      const handle = new Context(obj);
      for (const [T, flag, dflt] of cases) {
        const details = client[`get${T}Details`](flag, dflt, obj);
        assert.equal(details.errorCode ?? null, null, `${flag} ${JSON.stringify(details)}`);
        assert.deepEqual(client[`get${T}Details`](flag, dflt, handle), details);
        const want = snap.getDetails(kinds[T], flag, dflt, obj);
        for (const k of ['flagKey', 'value', 'variant', 'reason', 'ruleId', 'errorCode', 'flagMetadata']) {
          assert.deepEqual(details[k] ?? null, want[k] ?? null, `${T} ${flag} ${k}`);
        }
        assert.deepEqual(client[`get${T}Value`](flag, dflt, handle), details.value, `${T} ${flag} handle`);
        assert.deepEqual(client[`get${T}Value`](flag, dflt, obj), details.value, `${T} ${flag} object`);
      }
    }
    // Errors serve the default: bad contexts, unknown flags, wrong types, anonymous rollouts.
    assert.equal(client.getBooleanValue('checkout-redesign', true, { targetingKey: 'u', nested: { a: 1 } }), true);
    assert.equal(client.getBooleanValue('checkout-redesign', true, { targetingKey: 'u', bad: null }), true);
    assert.equal(client.getBooleanValue('checkout-redesign', true, { targetingKey: 5 }), true);
    assert.equal(client.getBooleanValue('checkout-redesign', true, null), true);
    assert.equal(client.getStringValue('no-such-flag', 'd', { targetingKey: 'u' }), 'd');
    assert.equal(client.getStringValue('checkout-redesign', 'd', new Context({ targetingKey: 'u' })), 'd');
    assert.equal(client.getStringValue('pricing-experiment', 'd', { country: 'DE' }), 'd');
    assert.equal(client.getNumberValue('max-cart-items', 2.5, {}), 2.5); // integer flag, number getter
    const mismatch = client.getNumberDetails('max-cart-items', 2.5, {});
    assert.deepEqual([mismatch.value, mismatch.reason, mismatch.errorCode], [2.5, 'ERROR', 'TYPE_MISMATCH']);
    const badCtx = client.getBooleanDetails('checkout-redesign', true, { targetingKey: 'u', nested: { a: 1 } });
    assert.deepEqual([badCtx.value, badCtx.errorCode], [true, 'INVALID_CONTEXT']);
    const wrongDefault = client.getStringDetails('pricing-experiment', 5, { targetingKey: 'u' });
    assert.deepEqual([wrongDefault.value, wrongDefault.errorCode], [5, 'TYPE_MISMATCH']);
    await client.close();
  } finally {
    await server.kill();
  }
});

test('a program that never calls close() still delivers its exposures at exit', async () => {
  const server = await startServer(tmpdir());
  try {
    const script = `
      const { Client, Context } = require('@burgee/node');
      const c = new Client(${JSON.stringify(options(server, { flushIntervalMs: 3600000 }))});
      c.waitUntilReady(10000).then(() => c.getStringValue('pricing-experiment', 'control', new Context({ targetingKey: 'exit-user', country: 'DE' })));
    `;
    const { execFileSync } = require('node:child_process');
    execFileSync(process.execPath, ['-e', script], { cwd: __dirname, timeout: 20000 });
    const recent = await server.recentEvents();
    assert.ok(recent.some((e) => e.kind === 'exposure' && e.targeting_key === 'exit-user'), JSON.stringify(recent));
  } finally {
    await server.kill();
  }
});
