'use strict';
// @burgee/node ConfigClient against real `burgee serve --demo` processes: a change made through
// the seed API (/api/v1/config) is hot-reloaded within a second with the keys that changed; a
// tampered config document is refused and the last good one kept; only a key scoped to the
// service reads its secrets; overrides resolve for this instance; an offline start works from
// the persisted document.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { BurgeeError, ConfigClient } = require('@burgee/node');
const { startServer, waitFor, tmpdir } = require('@burgee/test-support');

async function api(server, method, url, body) {
  const r = await fetch(`${server.base}${url}`, {
    method,
    headers: { Authorization: `Bearer ${server.admin}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A server with service `checkout` in production and an SDK key scoped to it. */
async function setUp() {
  const server = await startServer(tmpdir());
  await api(server, 'POST', '/api/v1/config', { key: 'pool', value: { size: 5 }, environment: 'production', service_name: 'checkout' });
  await api(server, 'POST', '/api/v1/config', { key: 'db_password', value: 'hunter2', format: 'text', secret: true, environment: 'production', service_name: 'checkout' });
  const scoped = await api(server, 'POST', '/v1/tokens', { kind: 'sdk', project: 'webshop', environment: 'production', service: 'checkout' });
  return { server, scoped: scoped.token };
}

function options(server, sdkKey, extra = {}) {
  return {
    environment: 'production', project: 'webshop', trustedKeys: [server.publicKey], serverUrl: server.base, sdkKey,
    service: 'checkout', instance: { targetingKey: 'i-1', zone: 'eu-1' },
    backoffBaseMs: 50, backoffCapMs: 400, requestTimeoutMs: 2000, ...extra,
  };
}

test('a change through the seed API is hot-reloaded within a second, with the keys that changed', async () => {
  const { server, scoped } = await setUp();
  try {
    const config = new ConfigClient(options(server, scoped));
    assert.equal(await config.waitUntilReady(10000), 'READY');
    assert.deepEqual(config.get('pool'), { size: 5 });
    assert.equal(config.getString('db_password', ''), 'hunter2', 'the scoped server key reads secrets');
    assert.equal(config.getNumber('pool', 7), 7, 'typed getters fall back on another type');
    assert.equal(config.get('missing', 'dflt'), 'dflt');
    const changes = [];
    config.on('change', (e) => changes.push(e));
    await new Promise((r) => setTimeout(r, 300)); // the stream connects
    const started = Date.now();
    await api(server, 'PUT', '/api/v1/config/pool', { value: { size: 8 }, environment: 'production', service_name: 'checkout' });
    // Only changes after the first document (whose event lists every key as new) count.
    const later = () => changes.filter((c) => c.oldVersion !== null);
    assert.ok(await waitFor(1000, () => later().length > 0), 'no change event within 1 s');
    const elapsed = Date.now() - started;
    const e = later()[0];
    assert.equal(e.kind, 'changed');
    assert.deepEqual(e.changes.map((c) => [c.key, c.old.value, c.new.value]), [['pool', { size: 5 }, { size: 8 }]]);
    assert.deepEqual(config.get('pool'), { size: 8 });
    assert.ok(elapsed < 1000, `${elapsed} ms`);
    config.close();
  } finally {
    await server.kill();
  }
});

test('only a server-side key scoped to the service reads secrets; another service is refused', async () => {
  const { server } = await setUp();
  try {
    const unscoped = new ConfigClient(options(server, server.sdkKey));
    assert.equal(await unscoped.waitUntilReady(10000), 'READY');
    assert.deepEqual(unscoped.get('pool'), { size: 5 });
    assert.equal(unscoped.get('db_password'), undefined);
    unscoped.close();
    await api(server, 'PUT', '/v1/projects/webshop/services/billing', { description: '' });
    const other = await api(server, 'POST', '/v1/tokens', { kind: 'sdk', project: 'webshop', environment: 'production', service: 'billing' });
    const refused = new ConfigClient(options(server, other.token));
    assert.equal(await refused.waitUntilReady(1500), 'NOT_READY');
    assert.match(refused.status().lastErrorMessage, /403/);
    refused.close();
    assert.throws(() => new ConfigClient(options(server, server.sdkKey, { trustedKeys: ['nope'] })), (err) => err instanceof BurgeeError && err.code === 'PARSE_ERROR');
  } finally {
    await server.kill();
  }
});

test('overrides resolve for this instance (condition and percentage)', async () => {
  const { server, scoped } = await setUp();
  try {
    await api(server, 'PUT', '/v1/projects/webshop/environments/production/services/checkout/configs/timeout_ms', {
      value: '250', overrides: [{ id: 'eu', when: { attribute: 'zone', op: 'equals', value: 'eu-1' }, value: '400' }],
    });
    const eu = new ConfigClient(options(server, scoped));
    const us = new ConfigClient(options(server, scoped, { instance: { targetingKey: 'i-2', zone: 'us-1' } }));
    assert.equal(await eu.waitUntilReady(10000), 'READY');
    assert.equal(await us.waitUntilReady(10000), 'READY');
    assert.equal(eu.get('timeout_ms'), 400);
    assert.equal(eu.getEntry('timeout_ms').overrideId, 'eu');
    assert.equal(us.get('timeout_ms'), 250);
    eu.close();
    us.close();
  } finally {
    await server.kill();
  }
});

test('a tampered config document is refused and the last good one kept; offline start from the persisted one', async () => {
  const { server, scoped } = await setUp();
  try {
    const r = await fetch(`${server.base}/v1/configs/production/checkout`, { headers: { Authorization: `Bearer ${scoped}` } });
    const good = await r.text();
    const env = JSON.parse(good);
    const doc = JSON.parse(Buffer.from(env.payload, 'base64').toString());
    doc.version += 100;
    doc.entries.find((e) => e.key === 'pool').value = { size: 999 };
    env.payload = Buffer.from(JSON.stringify(doc)).toString('base64');
    let body = good;
    const fake = http.createServer((req, res) => {
      if (req.url.startsWith('/v1/configs/production/checkout') && !req.url.includes('/stream')) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
      } else {
        res.writeHead(404).end('{"code":"NOT_FOUND","message":"no"}');
      }
    });
    await new Promise((r2) => fake.listen(0, '127.0.0.1', r2));
    const persist = path.join(tmpdir(), 'checkout.config.json');
    const config = new ConfigClient(options(server, scoped, { serverUrl: `http://127.0.0.1:${fake.address().port}`, pollIntervalMs: 50, persistPath: persist }));
    assert.equal(await config.waitUntilReady(10000), 'READY');
    const v = config.version();
    body = JSON.stringify(env);
    assert.ok(await waitFor(5000, () => config.status().status === 'ERROR'), JSON.stringify(config.status()));
    assert.equal(config.status().errorCode, 'SIGNATURE_INVALID');
    assert.equal(config.version(), v);
    assert.deepEqual(config.get('pool'), { size: 5 });
    config.close();
    fake.close();
    // Offline: the persisted (good) document is re-verified and served.
    assert.ok(fs.existsSync(persist));
    const offline = new ConfigClient({ environment: 'production', project: 'webshop', trustedKeys: [server.publicKey], service: 'checkout', persistPath: persist });
    assert.equal(offline.status().status, 'READY');
    assert.deepEqual(offline.get('pool'), { size: 5 });
    // A document of another service is refused (SERVICE_MISMATCH) as a bootstrap.
    const wrong = new ConfigClient({ environment: 'production', project: 'webshop', trustedKeys: [server.publicKey], service: 'billing', bootstrap: good });
    assert.equal(wrong.status().lastErrorCode, 'SERVICE_MISMATCH');
    assert.equal(wrong.version(), null);
  } finally {
    await server.kill();
  }
});
