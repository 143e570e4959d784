// @burgee/wasm in a real headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core) against a real `burgee serve --demo`. The page (page.html) is served by a
// small static server on another origin, so every call to Burgee is a real cross-origin
// (CORS) request. Checked here:
//   - the page evaluates exactly what Node evaluates from the same client envelope, and its
//     snapshot is the client one (no server-only flags);
//   - a flag changed through the admin API reaches the page over server-sent events;
//   - exposures read in the page arrive at the server through flush() and sendBeacon;
//   - tampered and rolled-back envelopes are refused and the last good snapshot keeps serving,
//     over the network and from localStorage; a good stored copy starts the page offline;
//   - a screenshot to $BURGEE_ARTIFACTS/wasm-browser.png;
//   - benchmark figures measured inside the page (`BENCH browser ...` lines; not asserted).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Snapshot, Context } from '@burgee/wasm/node';

const require = createRequire(import.meta.url);
const { startServer, waitFor, tmpdir } = require('@burgee/test-support');

const PKG_DIR = path.dirname(require.resolve('@burgee/wasm'));
const PAGE_HTML = fs.readFileSync(new URL('./page.html', import.meta.url));
const STORAGE_KEY = 'burgee:envelope::production';
const CLIENT_FLAGS = ['checkout-redesign', 'dark-mode', 'new-search-ui', 'reviews-v2', 'search-autocomplete', 'search-v2-backend'];
const ARTIFACTS = process.env.BURGEE_ARTIFACTS || path.join(os.tmpdir(), 'burgee-artifacts');
const WAIT = { timeout: 10000 };

// The page's own context (page.html) and others that reach each kind of client-snapshot rule:
// an individual target (digested key), a sensitive e-mail list (digested, ignore-case), a
// segment by e-mail domain, a boolean attribute.
const PAGE_ATTRS = { email: 'shopper@example.com', country: 'DE', plan: 'pro', beta_opt_in: false };
const OTHER_CONTEXTS = [
  { targetingKey: 'user-1001' },
  { targetingKey: 'press-1', email: 'Editor@TechPress.example' },
  { targetingKey: 'staff-1', email: 'ana@burgee.dev', country: 'FR' },
  { targetingKey: 'beta-2', beta_opt_in: true },
  { targetingKey: 'user-6666', email: 'ana@burgee.dev' },
  {},
];

/** The envelope with one character of its base64 payload changed: still valid base64 and
 * JSON, so only the signature check can catch it. */
function tamper(envelopeText) {
  const env = JSON.parse(envelopeText);
  const i = env.payload.length >> 1;
  const c = env.payload[i] === 'A' ? 'B' : 'A';
  env.payload = env.payload.slice(0, i) + c + env.payload.slice(i + 1);
  return JSON.stringify(env);
}

/** What Node (the same package, @burgee/wasm/node) evaluates for `contexts` from `envelope`. */
function nodeEvaluateAll(server, envelope, contexts) {
  const snap = Snapshot.load(envelope, { trustedKeys: [server.publicKey], project: 'webshop', environment: 'production', audience: 'client' });
  try {
    return {
      info: snap.info,
      all: contexts.map((c) => {
        const ctx = new Context(c);
        try {
          return snap.evaluateAll(ctx);
        } finally {
          ctx.free();
        }
      }),
      typed: contexts.map((c) => {
        const ctx = new Context(c);
        try {
          return Object.fromEntries(CLIENT_FLAGS.map((f) => [f, snap.getDetails('boolean', f, false, ctx)]));
        } finally {
          ctx.free();
        }
      }),
    };
  } finally {
    snap.free();
  }
}

/** The same in the page, through its `Client` (typed details record exposures, as in an app). */
function pageEvaluateAll(page, contexts) {
  return page.evaluate(
    ({ contexts, flags }) => {
      const c = window.burgee.client;
      return {
        info: c.snapshotInfo(),
        all: contexts.map((ctx) => c.evaluateAll(ctx)),
        typed: contexts.map((ctx) => Object.fromEntries(flags.map((f) => [f, c.getBooleanDetails(f, false, ctx)]))),
      };
    },
    { contexts, flags: CLIENT_FLAGS },
  );
}

/** A static file server for the page and the installed package (its own origin). */
function startStatic() {
  const types = { '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json', '.ts': 'text/plain; charset=utf-8' };
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://static');
    const send = (status, type, body) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'text/plain', 'method not allowed');
    if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', PAGE_HTML);
    // The package's dependency, as an import map in the page names it (a bundler would inline it).
    const dep = /^\/deps\/eventsource-parser\/([A-Za-z0-9_.-]+\.js)$/.exec(url.pathname);
    if (dep) {
      const file = path.join(path.dirname(require.resolve('eventsource-parser', { paths: [PKG_DIR] })), dep[1]);
      return fs.readFile(file, (err, body) => (err ? send(404, 'text/plain', 'not found') : send(200, types['.js'], body)));
    }
    const m = /^\/pkg\/([A-Za-z0-9_.-]+)$/.exec(url.pathname);
    const type = m && types[path.extname(m[1])];
    if (!type) return send(404, 'text/plain', 'not found');
    fs.readFile(path.join(PKG_DIR, m[1]), (err, body) => (err ? send(404, 'text/plain', 'not found') : send(200, type, body)));
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve({ srv, base: `http://127.0.0.1:${srv.address().port}` }));
  });
}

let server;
let statics;
let context;
let profileDir;
const pageErrors = [];

/** Opens the page for targeting key `user`; `routes(page)` may intercept requests first. */
async function openPage(user, routes) {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${user}: ${e.message}`));
  page.on('console', (m) => {
    if (m.text().startsWith('BENCH ')) console.log(m.text());
    else if (m.type() === 'error') pageErrors.push(`${user}: console: ${m.text()}`);
  });
  if (routes) await routes(page);
  const q = new URLSearchParams({ server: server.base, key: server.clientKey, pub: server.publicKey, user });
  await page.goto(`${statics.base}/?${q}`);
  await page.waitForFunction(() => window.burgee && window.burgee.ready, null, WAIT);
  return page;
}

/** Requests to the Burgee server from now on fail like a server that is down. */
async function offline(page) {
  await page.route((u) => u.href.startsWith(`${server.base}/`), (route) => route.abort('connectionrefused'));
}

const state = { user: `browser-${crypto.randomBytes(4).toString('hex')}` };

before(async () => {
  server = await startServer(tmpdir());
  statics = await startStatic();
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'burgee-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1100, height: 720 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  // Each step on its own: a failure in one must not leave the others running.
  const steps = [
    () => context?.close(),
    () => server?.stop(),
    () => {
      if (!statics) return undefined;
      const closed = new Promise((r) => statics.srv.close(r));
      statics.srv.closeAllConnections();
      return closed;
    },
  ];
  for (const step of steps) {
    try {
      await step();
    } catch (e) {
      console.error('cleanup:', e);
    }
  }
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  if (server) fs.rmSync(server.dataDir, { recursive: true, force: true });
});

test('the page evaluates the verified client snapshot exactly as Node does, over CORS', async () => {
  const requests = [];
  const page = await openPage(state.user, (p) => p.on('request', (r) => requests.push({ url: r.url(), method: r.method() })));
  state.page = page;
  state.requests = requests;
  const env0 = await server.clientEnvelope();
  state.env0 = env0;
  const contexts = [{ targetingKey: state.user, ...PAGE_ATTRS }, ...OTHER_CONTEXTS];
  const inPage = await pageEvaluateAll(page, contexts);
  const inNode = nodeEvaluateAll(server, env0, contexts);
  assert.equal(inPage.info.audience, 'client');
  assert.deepEqual(inPage.info, inNode.info, 'same snapshot (version, digest, keyid)');
  assert.deepEqual(inPage.all, inNode.all);
  assert.deepEqual(inPage.typed, inNode.typed);
  // Bit-identical: the same JSON text, member order included.
  assert.equal(JSON.stringify(inPage.all), JSON.stringify(inNode.all));
  assert.equal(JSON.stringify(inPage.typed), JSON.stringify(inNode.typed));
  // The rules really differ between these contexts (the comparison is not of defaults only).
  assert.equal(inNode.all[1]['reviews-v2'].reason, 'TARGETING_MATCH');
  assert.equal(inNode.all[2]['reviews-v2'].ruleId, 'press-reviewers');
  assert.equal(inNode.all[3]['dark-mode'].ruleId, 'beta-testers');
  assert.equal(inNode.all[5]['dark-mode'].value, false, 'user-6666 is excluded from beta-testers');

  // Client snapshot only: the server-only flags exist on the server but never reach the page.
  assert.deepEqual(Object.keys(inPage.all[0]).sort(), CLIENT_FLAGS);
  const serverFlags = Snapshot.load(await server.envelope(), { trustedKeys: [server.publicKey], environment: 'production' }).flagKeys();
  assert.ok(serverFlags.includes('payments-kill-switch') && serverFlags.length > CLIENT_FLAGS.length);
  const hidden = await page.evaluate(() => {
    const c = window.burgee.client;
    return { type: c.flagType('payments-kill-switch'), details: c.getBooleanDetails('payments-kill-switch', true), stored: localStorage.getItem('burgee:envelope::production') };
  });
  assert.equal(hidden.type, null);
  assert.deepEqual([hidden.details.value, hidden.details.reason, hidden.details.errorCode], [true, 'ERROR', 'FLAG_NOT_FOUND']);
  const storedPayload = Buffer.from(JSON.parse(hidden.stored).payload, 'base64').toString();
  assert.ok(!storedPayload.includes('payments-kill-switch'), 'the envelope the page received has no server-only flag');

  // The DOM shows what the page's context evaluates to.
  const dom = await page.$$eval('#flags tbody tr', (rows) => rows.map((r) => [r.dataset.flag, r.querySelector('[data-value]').dataset.value]));
  assert.deepEqual(dom, Object.entries(inNode.all[0]).map(([k, d]) => [k, JSON.stringify(d.value)]));
  assert.equal(await page.textContent('#audience'), 'client');
  assert.equal(await page.textContent('#version'), String(inNode.info.version));
  assert.equal(await page.textContent('#status'), 'READY');
  // Cross-origin for real: the page's origin is not the server's.
  assert.notEqual(new URL(page.url()).origin, new URL(server.base).origin);
  assert.ok(requests.some((r) => r.url.startsWith(`${server.base}/v1/client/snapshots/production`)));
  await waitFor(5000, () => requests.some((r) => r.url.startsWith(`${server.base}/v1/client/stream/production`)));
  assert.ok(requests.some((r) => r.url.startsWith(`${server.base}/v1/client/stream/production`)), 'the page opened the event stream');
});

test('a flag changed through the admin API reaches the page over server-sent events', async () => {
  const { page, requests } = state;
  const v0 = Number(await page.textContent('#version'));
  const fetchesBefore = requests.filter((r) => r.url.includes('/v1/client/snapshots/')).length;
  assert.equal(await page.$eval('tr[data-flag="dark-mode"] [data-value]', (td) => td.dataset.value), 'false');
  const v1 = await server.setDefault('dark-mode', 'on');
  assert.ok(v1 > v0);
  await page.waitForFunction((v) => document.getElementById('version').textContent === String(v), v1, WAIT);
  assert.equal(await page.$eval('tr[data-flag="dark-mode"] [data-value]', (td) => td.dataset.value), 'true');
  assert.equal(await page.evaluate(() => document.body.classList.contains('dark')), true, 'the page re-rendered in dark mode');
  const events = await page.evaluate(() => window.burgee.events);
  assert.ok(events.some((e) => e.type === 'change' && e.oldVersion === v0 && e.newVersion === v1), JSON.stringify(events));
  // Pushed, not fetched: no snapshot request since the page started.
  assert.equal(requests.filter((r) => r.url.includes('/v1/client/snapshots/')).length, fetchesBefore);
  const env1 = await server.clientEnvelope();
  const ctx = [{ targetingKey: state.user, ...PAGE_ATTRS }];
  assert.equal(JSON.stringify((await pageEvaluateAll(page, ctx)).all), JSON.stringify(nodeEvaluateAll(server, env1, ctx).all));
  Object.assign(state, { v0, v1, env1 });
});

test('rolled-back and tampered envelopes are refused; the last good snapshot keeps serving', async () => {
  const { page, env0, env1, v1 } = state;
  const ctx = [{ targetingKey: state.user, ...PAGE_ATTRS }, ...OTHER_CONTEXTS];
  const before = await pageEvaluateAll(page, ctx);
  const r = await page.evaluate(
    ({ old, bad }) => {
      const c = window.burgee.client;
      return { rollback: c.applyEnvelope(old), tampered: c.applyEnvelope(bad), status: c.status() };
    },
    { old: env0, bad: tamper(env1) },
  );
  assert.equal(r.rollback.outcome, 'refused');
  assert.equal(r.rollback.errorCode, 'SNAPSHOT_ROLLBACK');
  assert.equal(r.tampered.outcome, 'refused');
  assert.equal(r.tampered.errorCode, 'SIGNATURE_INVALID');
  assert.deepEqual([r.status.status, r.status.errorCode], ['ERROR', 'SIGNATURE_INVALID']);
  const afterwards = await pageEvaluateAll(page, ctx);
  assert.equal(afterwards.info.version, v1);
  assert.deepEqual(afterwards, before, 'the same snapshot and answers');
  const refused = (await page.evaluate(() => window.burgee.events)).filter((e) => e.type === 'refused');
  assert.deepEqual(refused.map((e) => e.errorCode), ['SNAPSHOT_ROLLBACK', 'SIGNATURE_INVALID']);
  assert.equal(await page.evaluate(() => localStorage.getItem('burgee:envelope::production')), env1, 'storage keeps the last good envelope');

  // The next good snapshot from the server clears the error.
  const v2 = await server.setDefault('reviews-v2', 'on');
  await page.waitForFunction((v) => document.getElementById('version').textContent === String(v), v2, WAIT);
  assert.equal(await page.textContent('#status'), 'READY');
  assert.equal(await page.$eval('tr[data-flag="reviews-v2"] [data-value]', (td) => td.dataset.value), 'true');
  state.env2 = await server.clientEnvelope();
  state.v2 = v2;

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const shot = path.join(ARTIFACTS, 'wasm-browser.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(fs.statSync(shot).size > 10000);
});

test('exposures read in the page reach the server through flush() and navigator.sendBeacon', async () => {
  const { page, user } = state;
  const info = await page.evaluate(() => window.burgee.client.snapshotInfo());
  // The renders read every flag with getBooleanValue for the page's user.
  const flushed = await page.evaluate(async () => {
    const c = window.burgee.client;
    const before = c.eventStats();
    return { before, ok: await c.flush(), after: c.eventStats() };
  });
  assert.ok(flushed.before.queued >= CLIENT_FLAGS.length, JSON.stringify(flushed));
  assert.equal(flushed.ok, true);
  assert.equal(flushed.after.queued, 0);
  const mine = (events, key) => events.filter((e) => e.kind === 'exposure' && e.targeting_key === key);
  let recent = [];
  await waitFor(10000, async () => mine((recent = await server.recentEvents()), user).some((e) => e.snapshot_version === info.version));
  const exposures = mine(recent, user);
  const latest = exposures.filter((e) => e.snapshot_version === info.version);
  assert.deepEqual([...new Set(latest.map((e) => e.flag))].sort(), CLIENT_FLAGS, JSON.stringify(exposures));
  for (const e of latest) {
    assert.equal(e.snapshot_digest, info.digest);
    assert.equal(e.sdk, 'burgee-wasm');
  }
  assert.ok(exposures.some((e) => e.flag === 'dark-mode' && e.variant === 'on' && e.snapshot_version === state.v1));
  assert.ok(exposures.some((e) => e.flag === 'dark-mode' && e.variant === 'off' && e.snapshot_version === state.v0));

  // The page is hidden: what is queued goes to navigator.sendBeacon (key in the URL,
  // text/plain). Nothing else sends here (no flush(); the flush interval is 10 minutes), so
  // the events reaching the server came by beacon. (Playwright does not report beacons.)
  const beaconUser = `${user}-beacon`;
  const stats = await page.evaluate((u) => {
    const c = window.burgee.client;
    c.getBooleanValue('checkout-redesign', false, { targetingKey: u });
    c.getBooleanValue('reviews-v2', false, { targetingKey: u });
    const queued = c.eventStats().queued;
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
    delete document.visibilityState; // back to the real (visible) state
    return { queued, after: c.eventStats() };
  }, beaconUser);
  assert.equal(stats.queued, 2);
  assert.equal(stats.after.queued, 0);
  assert.ok(await waitFor(10000, async () => mine(await server.recentEvents(), beaconUser).length === 2), 'the beacon batch was stored');

  // `pagehide` comes while visibilityState is still 'visible' (as Chromium does on close and
  // navigation); some browsers give no other signal, so it must send too.
  const pagehideUser = `${user}-pagehide`;
  const ph = await page.evaluate((u) => {
    const c = window.burgee.client;
    c.getBooleanValue('dark-mode', false, { targetingKey: u });
    const queued = c.eventStats().queued;
    window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: false }));
    return { visibility: document.visibilityState, queued, after: c.eventStats().queued };
  }, pagehideUser);
  assert.deepEqual(ph, { visibility: 'visible', queued: 1, after: 0 });
  assert.ok(await waitFor(10000, async () => mine(await server.recentEvents(), pagehideUser).length === 1), 'the pagehide beacon was stored');

  // Closing the tab: the page-hide handlers hand the queue to sendBeacon, which outlives the page.
  const closeUser = `${user}-close`;
  await page.evaluate((u) => window.burgee.client.getBooleanValue('dark-mode', false, { targetingKey: u }), closeUser);
  await page.close();
  assert.ok(await waitFor(10000, async () => mine(await server.recentEvents(), closeUser).length === 1), 'the exposure queued at close was delivered');
});

test('a tampered envelope from the server (fetch and stream) is refused; the stored copy keeps serving', async () => {
  const { env2, v2 } = state;
  const hits = { snapshot: 0, stream: 0 };
  const page = await openPage(`${state.user}-tampered`, async (p) => {
    // The real response with one byte of the payload changed.
    await p.route(
      (u) => u.href.startsWith(`${server.base}/v1/client/snapshots/`),
      async (route) => {
        hits.snapshot += 1;
        // Unconditional (the page sends If-None-Match for its stored copy; a 304 has no body).
        const real = await route.fetch({ headers: { authorization: `Bearer ${server.clientKey}` } });
        assert.equal(real.status(), 200);
        const headers = { ...real.headers(), 'access-control-allow-origin': '*' };
        delete headers['content-encoding'];
        delete headers['content-length'];
        await route.fulfill({ status: real.status(), headers, body: tamper(await real.text()) });
      },
    );
    // The first stream connection delivers a tampered event; later ones reach the server.
    await p.route(
      (u) => u.href.startsWith(`${server.base}/v1/client/stream/`),
      async (route) => {
        hits.stream += 1;
        if (hits.stream > 1) return route.continue();
        await route.fulfill({
          status: 200,
          headers: { 'content-type': 'text/event-stream', 'access-control-allow-origin': '*' },
          body: `id: ${v2}\nevent: snapshot\ndata: ${tamper(env2)}\n\n`,
        });
      },
    );
  });
  await page.waitForFunction(() => window.burgee.events.filter((e) => e.type === 'refused').length >= 2, null, WAIT);
  const r = await page.evaluate(() => ({
    events: window.burgee.events,
    storageLog: window.burgee.storageLog,
    stored: localStorage.getItem('burgee:envelope::production'),
    status: window.burgee.client.status(),
  }));
  const refused = r.events.filter((e) => e.type === 'refused');
  assert.deepEqual(refused.map((e) => [e.source, e.errorCode]), [['server', 'SIGNATURE_INVALID'], ['stream', 'SIGNATURE_INVALID']]);
  assert.equal(hits.snapshot, 1);
  assert.equal(r.stored, env2, 'the tampered envelope was never stored');
  assert.deepEqual(r.storageLog[0], ['get', STORAGE_KEY, true]);
  assert.ok(!r.storageLog.some((e) => e[0] === 'remove'), JSON.stringify(r.storageLog));
  assert.deepEqual([r.status.status, r.status.errorCode], ['ERROR', 'SIGNATURE_INVALID']);
  const ctx = [{ targetingKey: `${state.user}-tampered`, ...PAGE_ATTRS }, ...OTHER_CONTEXTS];
  const inPage = await pageEvaluateAll(page, ctx);
  assert.equal(inPage.info.version, v2);
  assert.equal(JSON.stringify(inPage), JSON.stringify(nodeEvaluateAll(server, env2, ctx)));
  assert.equal(await page.textContent('#version'), String(v2));
  await page.close();
});

test('offline start: a good stored copy is verified and used; a tampered one is refused and removed', async () => {
  const { env2, v2 } = state;
  const user = `${state.user}-offline`;
  const good = await openPage(user, offline);
  const r = await good.evaluate(() => ({
    storageLog: window.burgee.storageLog,
    stored: localStorage.getItem('burgee:envelope::production'),
    status: window.burgee.client.status(),
  }));
  assert.deepEqual(r.storageLog[0], ['get', STORAGE_KEY, true]);
  assert.ok(!r.storageLog.some((e) => e[0] === 'remove'), JSON.stringify(r.storageLog));
  assert.equal(r.stored, env2);
  assert.equal(r.status.status === 'READY' || r.status.status === 'STALE', true, JSON.stringify(r.status));
  // Ready at once from the verified copy; stale once the fetch has failed.
  await good.waitForFunction(() => window.burgee.client.status().status === 'STALE', null, WAIT);
  assert.equal(await good.textContent('#status'), 'STALE');
  const ctx = [{ targetingKey: user, ...PAGE_ATTRS }, ...OTHER_CONTEXTS];
  const inPage = await pageEvaluateAll(good, ctx);
  assert.equal(inPage.info.version, v2);
  assert.equal(JSON.stringify(inPage), JSON.stringify(nodeEvaluateAll(server, env2, ctx)));
  assert.equal(await good.textContent('#version'), String(v2));

  // The stored copy altered on disk: refused at start (not used), removed, defaults served.
  await good.evaluate(({ k, v }) => localStorage.setItem(k, v), { k: STORAGE_KEY, v: tamper(env2) });
  await good.close();
  const bad = await openPage(`${user}-2`, offline);
  const s = await bad.evaluate(() => {
    const c = window.burgee.client;
    return {
      storageLog: window.burgee.storageLog,
      stored: localStorage.getItem('burgee:envelope::production'),
      info: c.snapshotInfo(),
      status: c.status(),
      all: c.evaluateAll(),
      details: c.getBooleanDetails('dark-mode', false),
    };
  });
  assert.deepEqual(s.storageLog, [['get', STORAGE_KEY, true], ['remove', STORAGE_KEY]]);
  assert.equal(s.stored, null);
  assert.equal(s.info, null);
  assert.equal(s.status.status, 'NOT_READY');
  assert.deepEqual(s.all, {});
  assert.deepEqual([s.details.value, s.details.reason], [false, 'ERROR']);
  assert.equal(await bad.textContent('#version'), '-');
  assert.equal(await bad.$$eval('#flags tbody tr', (rows) => rows.length), 0);
  await bad.close();
});

test('benchmarks in Chromium (printed as BENCH lines, not asserted)', async () => {
  // A 1000-flag snapshot shaped as core/benches/evaluate.rs builds it, signed here with a fresh
  // Ed25519 key (node:crypto, DSSE PAE as spec/SNAPSHOT.md §5.1), so the page times a real
  // verified load as well as the unsigned Snapshot.fromJson.
  const now = Date.now();
  const when = {
    all: [
      { attribute: 'environment', op: 'in', values: ['production', 'staging'] },
      { attribute: 'country', op: 'in', values: ['DE', 'FR', 'NL', 'US', 'GB'] },
      { attribute: 'age', op: 'gte', value: 18 },
    ],
  };
  const flag = (i) =>
    i % 2 === 0
      ? { key: `flag-${i}`, type: 'boolean', variants: { on: true, off: false }, enabled: true, off_variant: 'off',
          rules: [{ id: 'r1', when, serve: { rollout: { weights: [{ variant: 'on', weight: 5000 }, { variant: 'off', weight: 5000 }] } } }],
          default: { variant: 'off' } }
      : { key: `flag-${i}`, type: 'string', variants: { control: 'control', a: 'variant-a', b: 'variant-b' }, enabled: true, off_variant: 'control',
          rules: [{ id: 'r1', when, serve: { rollout: { weights: [{ variant: 'control', weight: 3300 }, { variant: 'a', weight: 3300 }, { variant: 'b', weight: 3400 }] } } }],
          default: { variant: 'control' } };
  const doc = JSON.stringify({ format: 1, project: 'bench', environment: 'production', version: 1, issued_at: now - 1000,
    expires_at: now + 86400000, salt: '0123456789abcdef', flags: Array.from({ length: 1000 }, (_, i) => flag(i)) });
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const type = 'application/vnd.burgee.snapshot+json; version=1';
  const payload = Buffer.from(doc);
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);
  const envelope = JSON.stringify({
    payloadType: type,
    payload: payload.toString('base64'),
    signatures: [{ keyid: crypto.createHash('sha256').update(raw).digest().subarray(0, 16).toString('hex'), sig: crypto.sign(null, pae, privateKey).toString('base64') }],
  });
  const pub = raw.toString('base64');
  // The envelope signed by node:crypto verifies in the core (an independent signer).
  const check = Snapshot.load(envelope, { trustedKeys: [pub], environment: 'production' });
  assert.equal(check.flagKeys().length, 1000);
  check.free();

  const page = await openPage(`${state.user}-bench`);
  const browser = context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent.match(/Chrome\/([\d.]+)/)?.[1]));
  const figures = await page.evaluate(
    async ({ doc, envelope, pub, browser }) => {
      const { Snapshot, Context } = await import('/pkg/index.js');
      const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
      const time = (f) => {
        const t = performance.now();
        f();
        return performance.now() - t;
      };
      const out = {};
      const line = (s) => console.log(`BENCH browser chromium/${browser} ${s}`);
      const kib = Math.round(envelope.length / 1024);
      const opts = { trustedKeys: [pub], environment: 'production' };
      // Warm-up first (V8 compiles WebAssembly with its baseline tier and optimises hot
      // functions later), then the two loads interleaved so both see the same conditions.
      const timedLoad = (f) => {
        let s;
        const ms = time(() => (s = f()));
        s.free();
        return ms;
      };
      const unsigned = [];
      const signed = [];
      for (let i = 0; i < 20; i++) {
        const a = timedLoad(() => Snapshot.fromJson(doc));
        const b = timedLoad(() => Snapshot.load(envelope, opts));
        if (i >= 5) {
          unsigned.push(a);
          signed.push(b);
        }
      }
      out.fromJson = median(unsigned);
      out.load = median(signed);
      line(`Snapshot.fromJson/1000_flags (unsigned document, ${Math.round(doc.length / 1024)} KiB: parse + compile): median ${out.fromJson.toFixed(2)} ms (15 runs after 5 warm-up)`);
      line(`Snapshot.load/1000_flags (signed envelope, ${kib} KiB: Ed25519 + parse + compile): median ${out.load.toFixed(2)} ms (15 runs after 5 warm-up)`);

      const snap = Snapshot.load(envelope, opts);
      // The user pool and (flag, user) pairs of core/benches/evaluate.rs.
      const envs = ['production', 'staging', 'development'];
      const countries = ['DE', 'FR', 'NL', 'US', 'GB', 'IT', 'ES', 'JP'];
      const pool = Array.from({ length: 1024 }, (_, i) => {
        const m = Math.imul(i, 2654435761) >>> 0;
        const r = ((m << 7) | (m >>> 25)) >>> 0;
        return new Context({ targetingKey: `user-${i}`, environment: envs[r % 3], country: countries[(r >>> 4) % 8], age: 10 + ((r >>> 8) % 60) });
      });
      const keys = Array.from({ length: 1000 }, (_, i) => `flag-${i}`);
      const pairs = Array.from({ length: 4096 }, (_, i) => [keys[i % 1000], pool[(i * 7) % 1024]]);
      const N = 20000;
      const RUNS = 7;
      const perCall = (body) => {
        body(N); // warm-up
        return median(Array.from({ length: RUNS }, () => (time(() => body(N)) * 1e6) / N));
      };
      let sink = 0;
      out.evaluate = perCall((n) => {
        for (let i = 0; i < n; i++) {
          const [f, c] = pairs[i & 4095];
          if (snap.evaluate(f, c).variant === 'on') sink++;
        }
      });
      line(`Snapshot.evaluate/1000_flags reused Context (details object): median ${out.evaluate.toFixed(0)} ns/call (${RUNS} runs x ${N} calls)`);
      out.bool = perCall((n) => {
        for (let i = 0; i < n; i++) {
          const [f, c] = pairs[(i * 2) & 4095]; // even flags are the boolean ones
          if (snap.getBooleanValue(f, false, c)) sink++;
        }
      });
      line(`Snapshot.getBooleanValue/1000_flags reused Context: median ${out.bool.toFixed(0)} ns/call (${RUNS} runs x ${N} calls)`);
      out.fresh = perCall((n) => {
        for (let i = 0; i < n; i++) {
          const c = new Context({ targetingKey: `user-${i % 1024}`, environment: 'production', country: 'DE', age: 30 });
          if (snap.evaluate(keys[i % 1000], c).variant === 'on') sink++;
          c.free();
        }
      });
      line(`Snapshot.evaluate/1000_flags fresh 3-attribute Context per call (new Context + evaluate + free): median ${out.fresh.toFixed(0)} ns/call (${RUNS} runs x ${N} calls)`);
      // What an app calls: the Client's typed getter on the demo client snapshot, exposure
      // recording on (deduped after the first call per flag and user).
      const client = window.burgee.client;
      const demo = ['checkout-redesign', 'dark-mode', 'new-search-ui', 'reviews-v2', 'search-autocomplete', 'search-v2-backend'];
      out.client = perCall((n) => {
        for (let i = 0; i < n; i++) if (client.getBooleanValue(demo[i % 6], false)) sink++;
      });
      line(`Client.getBooleanValue demo client snapshot (6 flags), page context, exposures on (dedupe steady state): median ${out.client.toFixed(0)} ns/call (${RUNS} runs x ${N} calls)`);
      pool.forEach((c) => c.free());
      snap.free();
      out.sink = sink;
      return out;
    },
    { doc, envelope, pub, browser },
  );
  for (const k of ['fromJson', 'load', 'evaluate', 'bool', 'fresh', 'client']) assert.ok(Number.isFinite(figures[k]) && figures[k] > 0, k);
  await page.close();
});

test('no errors in the pages', () => {
  assert.deepEqual(pageErrors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED|ERR_FAILED/.test(e)), []);
});
