// The browser Client's I/O edges, against scripted HTTP servers holding real signed client
// envelopes (from a real `burgee serve`): the event stream split at awkward places (a CRLF
// across two network writes, a leading byte-order mark, lone CRs) and a line longer than the
// bound; event delivery answered 429 with Retry-After, then 401.
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { Client, streamLimit } from '@burgee/wasm/node';

const require = createRequire(import.meta.url);
const { startServer, waitFor, tmpdir } = require('@burgee/test-support');

async function clientEnvelope(server) {
  const r = await fetch(`${server.base}/v1/client/snapshots/production`, { headers: { Authorization: `Bearer ${server.clientKey}` } });
  assert.equal(r.status, 200);
  return r.text();
}

/** An HTTP server calling `handler(req, res, body)` for every request; resolves its URL. */
async function scripted(t, handler) {
  const sockets = new Set();
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString()));
  });
  srv.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => srv.close(r));
  });
  return `http://127.0.0.1:${srv.address().port}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Writes `parts` one network write at a time, apart, so the client reads separate chunks. */
async function sendApart(res, parts) {
  for (const p of parts) {
    if (res.destroyed) return;
    res.write(p);
    await sleep(40);
  }
}

function unavailable(res) {
  res.writeHead(503, { 'Content-Type': 'application/json' });
  res.end('{"code":"UNAVAILABLE","message":"scripted"}');
}

test('stream: a BOM, CRLFs split across chunks and lone CRs parse as the standard says', async (t) => {
  const server = await startServer(tmpdir());
  t.after(() => server.stop());
  const envelope = await clientEnvelope(server);
  const base = await scripted(t, async (req, res) => {
    if (!req.url.startsWith('/v1/client/stream/production')) return unavailable(res);
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    // The BOM as raw bytes split in two; every CRLF split between CR and LF; then lone CRs.
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    await sendApart(res, [bom.subarray(0, 2), Buffer.concat([bom.subarray(2), Buffer.from(': hello\r')]), '\nevent: snapshot\r', `\ndata: ${envelope}\r`, '\n\r', '\n', ': lone\revent: other\rdata: x\r\r']);
  });
  const client = new Client({ serverUrl: base, key: server.clientKey, environment: 'production', trustedKeys: [server.publicKey], storage: null, backoffBaseMs: 50, backoffCapMs: 200 });
  t.after(() => client.close());
  // The snapshot GET answers 503: a snapshot can only come from the stream's event.
  assert.ok(await waitFor(5000, () => client.snapshotInfo() !== null), `no snapshot from the stream: ${JSON.stringify(client.status())}`);
  assert.equal(client.status().status, 'READY');
});

test('stream: a line longer than the bound ends the connection; the client reconnects and keeps its snapshot', async (t) => {
  const server = await startServer(tmpdir());
  t.after(() => server.stop());
  const envelope = await clientEnvelope(server);
  const maxEnvelopeBytes = envelope.length + 100;
  const bound = streamLimit(maxEnvelopeBytes);
  let connections = 0;
  const base = await scripted(t, async (req, res) => {
    if (!req.url.startsWith('/v1/client/stream/production')) return unavailable(res);
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    connections += 1;
    if (connections > 1) return; // later connections stay open and silent
    res.write(`event: snapshot\ndata: ${envelope}\n\n`);
    await sleep(100);
    // One line past the bound, in pieces; the connection is left open.
    const piece = 'a'.repeat(16 * 1024);
    res.write('data: ');
    for (let n = 0; n <= bound; n += piece.length) res.write(piece);
  });
  const client = new Client({ serverUrl: base, key: server.clientKey, environment: 'production', trustedKeys: [server.publicKey], storage: null, maxEnvelopeBytes, backoffBaseMs: 50, backoffCapMs: 200 });
  t.after(() => client.close());
  const statuses = [];
  client.on('status', (e) => statuses.push(e));
  assert.ok(await waitFor(5000, () => client.snapshotInfo() !== null), JSON.stringify(client.status()));
  const version = client.snapshotInfo().version;
  assert.ok(await waitFor(5000, () => connections >= 2), `no reconnection after the over-long line: ${JSON.stringify(client.status())}`);
  assert.ok(
    statuses.some((s) => s.message && s.message.includes(`longer than ${bound} characters`)),
    JSON.stringify(statuses),
  );
  assert.equal(client.snapshotInfo().version, version, 'the snapshot held keeps serving');
});

test('events: 429 with Retry-After is waited out, 401 stops delivery and is reported', async (t) => {
  const server = await startServer(tmpdir());
  t.after(() => server.stop());
  const envelope = await clientEnvelope(server);
  const posts = [];
  const base = await scripted(t, (req, res, body) => {
    if (req.method !== 'POST' || !req.url.startsWith('/v1/events')) return unavailable(res);
    posts.push({ at: performance.now(), body });
    if (posts.length === 1) {
      res.writeHead(429, { 'Retry-After': '1', 'Content-Type': 'application/json' });
      res.end('{"code":"RATE_LIMITED","message":"slow down"}');
    } else {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end('{"code":"UNAUTHENTICATED","message":"bad key"}');
    }
  });
  const client = new Client({
    serverUrl: base,
    key: server.clientKey,
    environment: 'production',
    trustedKeys: [server.publicKey],
    storage: null,
    bootstrap: envelope,
    streaming: false,
    pollIntervalMs: 600000,
    flushIntervalMs: 50,
    flushSize: 1,
  });
  t.after(() => client.close());
  const stopped = [];
  client.on('eventsStopped', (e) => stopped.push(e));
  client.getBooleanValue('dark-mode', false, { targetingKey: 'user-1' });
  assert.ok(await waitFor(5000, () => posts.length >= 1), 'the exposure is sent');
  assert.ok(await waitFor(5000, () => posts.length >= 2), 'the batch is retried');
  const waited = posts[1].at - posts[0].at;
  assert.ok(waited >= 950, `the retry came ${waited} ms after a 429 with Retry-After: 1`);
  assert.equal(posts[1].body, posts[0].body, 'the same batch (same id) is retried');
  assert.ok(await waitFor(2000, () => stopped.length === 1), 'the 401 is reported');
  assert.equal(stopped[0].httpStatus, 401);
  // Nothing more is sent, by the timer or by an explicit flush.
  client.getBooleanValue('dark-mode', false, { targetingKey: 'user-2' });
  assert.equal(await client.flush(), false);
  await sleep(1500);
  assert.equal(posts.length, 2, 'no delivery after 401');
});
