'use strict';
// @burgee/test-support: the test helpers of the JavaScript SDKs (@burgee/node, @burgee/wasm),
// one copy for both: the repository (spec/vectors, read in place), real `burgee serve`
// processes (started with --ready-file; the harness reads that JSON file, never the server's
// output) and the vector checks that read the same in every JS package.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** The repository root: $BURGEE_REPO (tests copied next to an installed package), else ../.. */
const REPO = process.env.BURGEE_REPO || path.resolve(__dirname, '../..');
const VECTORS = path.join(REPO, 'spec/vectors');
/** How long startServer waits for the ready file. */
const START_TIMEOUT_MS = 60_000;
/** Servers still running: killed when the test process exits, whatever a test left behind. */
const running = new Set();
process.once('exit', () => {
  for (const proc of running) proc.kill('SIGKILL');
});

function burgeeBin() {
  const bin = process.env.BURGEE_BIN;
  if (!bin || !fs.existsSync(bin)) {
    throw new Error(`BURGEE_BIN must name the burgee binary (cargo build -p burgee-server --bin burgee), got ${bin}`);
  }
  return bin;
}

/** Starts `burgee serve --demo --ready-file DATA_DIR/ready.json` and resolves the process and
 * the parsed ready file once the server wrote it (it listens then); rejects if it exits first. */
async function spawnReady(dataDir, listen) {
  const readyPath = path.join(dataDir, 'ready.json');
  fs.rmSync(readyPath, { force: true });
  const env = { ...process.env };
  for (const k of ['BURGEE_LISTEN', 'BURGEE_DATA_DIR', 'BURGEE_DATABASE_URL', 'BURGEE_NATS_URL', 'BURGEE_READY_FILE']) delete env[k];
  const args = ['serve', '--demo', '--listen', listen, '--data-dir', dataDir, '--ready-file', readyPath];
  const proc = spawn(burgeeBin(), args, { env, stdio: 'ignore' });
  running.add(proc);
  let exited = null;
  proc.once('exit', (code, signal) => {
    running.delete(proc);
    exited = `code ${code}, signal ${signal}`;
  });
  proc.once('error', (e) => { exited = String(e); });
  const start = Date.now();
  for (;;) {
    // Written atomically (renamed into place): present means complete.
    if (fs.existsSync(readyPath)) return { proc, ready: JSON.parse(fs.readFileSync(readyPath, 'utf8')) };
    if (exited) throw new Error(`burgee serve exited before it was ready: ${exited}`);
    if (Date.now() - start > START_TIMEOUT_MS) {
      proc.kill('SIGKILL');
      throw new Error(`burgee serve wrote no ready file within ${START_TIMEOUT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts `burgee serve --demo` with `dataDir` on a free port; resolves once it listens.
 * `restart()` starts it again on the same address and directory, keeping the first start's
 * credentials (the ready file holds them only then). */
async function startServer(dataDir, listen = '127.0.0.1:0', first = null) {
  const { proc, ready } = await spawnReady(dataDir, listen);
  const creds = first ?? ready;
  const server = {
    proc,
    ready,
    base: ready.url,
    addr: ready.url.replace('http://', ''),
    dataDir,
    sdkKey: creds.sdk_keys.production,
    clientKey: creds.client_keys.production,
    admin: creds.admin_token,
    publicKey: ready.public_keys.production,
    /** SIGKILL (a crash). */
    kill() {
      return stop(proc, 'SIGKILL');
    },
    /** SIGTERM, graceful. */
    stop() {
      return stop(proc, 'SIGTERM');
    },
    /** Kills it if it still runs, then starts it again on the same address and data directory. */
    async restart() {
      await stop(proc, 'SIGKILL');
      return startServer(dataDir, server.addr, creds);
    },
    /** Sets production's default serve of `flag` through the authoring API; resolves the version. */
    async setDefault(flag, variant) {
      const url = `${server.base}/v1/projects/webshop/environments/production/flags/${flag}`;
      const headers = { Authorization: `Bearer ${server.admin}` };
      const t = await (await fetch(url, { headers })).json();
      t.default = { variant };
      delete t.revision;
      delete t.updated_at;
      const r = await fetch(url, {
        method: 'PUT',
        headers: { ...headers, 'Content-Type': 'application/json', 'If-Match': '*' },
        body: JSON.stringify(t),
      });
      const body = await r.json();
      if (r.status !== 200) throw new Error(`PUT ${flag}: ${r.status} ${JSON.stringify(body)}`);
      return body.published[0].version;
    },
    async recentEvents() {
      const r = await fetch(`${server.base}/v1/projects/webshop/environments/production/events/recent?limit=1000`, {
        headers: { Authorization: `Bearer ${server.admin}` },
      });
      if (r.status !== 200) throw new Error(`recent events: ${r.status}`);
      return r.json();
    },
    async envelope() {
      const r = await fetch(`${server.base}/v1/snapshots/production`, { headers: { Authorization: `Bearer ${server.sdkKey}` } });
      return r.text();
    },
    /** The production client snapshot (audience client), read with the client-side key. */
    async clientEnvelope() {
      const r = await fetch(`${server.base}/v1/client/snapshots/production`, { headers: { Authorization: `Bearer ${server.clientKey}` } });
      if (r.status !== 200) throw new Error(`client snapshot: ${r.status}`);
      return r.text();
    },
  };
  return server;
}

function stop(proc, signal) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}

/** Polls `f` every 5 ms until truthy or `timeoutMs`; resolves true, or false on timeout. */
async function waitFor(timeoutMs, f) {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

function tmpdir() {
  return fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'burgee-node-'));
}

const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

/** JSON equality where numbers compare by value. */
function jsonEq(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEq(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && jsonEq(a[k], b[k]));
  }
  return a === b;
}

/** Whether SDK details (`{value, variant, reason, ruleId, errorCode, errorMessage,
 * flagMetadata}`) match a vector's `expected`: the five fields, metadata when the vector has
 * it, and an error message exactly when there is an error code. */
function matchesExpected(got, want) {
  const observed = {
    value: got.value,
    variant: got.variant ?? null,
    reason: got.reason,
    rule_id: got.ruleId ?? null,
    error_code: got.errorCode ?? null,
  };
  let ok = ['value', 'variant', 'reason', 'rule_id', 'error_code'].every((k) => jsonEq(observed[k], want[k] ?? null));
  if (want.metadata !== undefined) ok &&= jsonEq(got.flagMetadata, want.metadata);
  return ok && (got.errorCode == null) === (got.errorMessage == null);
}

/** The load options of an envelopes/manifest.json case (camelCase SDK form). */
function envelopeOptions(c) {
  const options = { trustedKeys: c.trusted_keys, environment: c.environment, now: c.now };
  if (c.project !== undefined) options.project = c.project;
  if (c.audience !== undefined) options.audience = c.audience;
  if (c.held_version !== undefined) {
    options.heldVersion = c.held_version;
    options.heldDigest = c.held_digest ?? '';
  }
  if (c.max_envelope_bytes !== undefined) options.maxEnvelopeBytes = c.max_envelope_bytes;
  return options;
}

/** The vector checks that read the same in every JS package: `api` is the package's
 * `{Snapshot, BurgeeError, bucket}`, `readEnvelope(path)` gives what its `Snapshot.load` takes
 * (bytes or text). Each check throws an AssertionError naming the failing case. */
function checkInvalidSnapshots({ Snapshot, BurgeeError }) {
  const assert = require('node:assert/strict');
  const doc = readJson(path.join(VECTORS, 'invalid-snapshots.json'));
  assert.ok(doc.cases.length >= 30);
  for (const c of doc.cases) {
    const text = c.snapshot_text ?? JSON.stringify(c.snapshot);
    assert.throws(
      () => Snapshot.fromJson(text),
      (e) => e instanceof BurgeeError && e.code === c.error_code && e.message.includes(c.message_contains),
      c.name,
    );
  }
}

function checkBucketing({ bucket }) {
  const assert = require('node:assert/strict');
  const doc = readJson(path.join(VECTORS, 'bucketing.json'));
  assert.ok(doc.cases.length >= 30);
  for (const c of doc.cases) assert.equal(bucket(c.salt, c.seed, c.value), c.bucket, JSON.stringify(c));
}

function checkEnvelopes({ Snapshot, BurgeeError }, readEnvelope) {
  const assert = require('node:assert/strict');
  const dir = path.join(VECTORS, 'envelopes');
  const manifest = readJson(path.join(dir, 'manifest.json'));
  assert.ok(manifest.cases.length >= 10);
  const seen = new Set();
  for (const c of manifest.cases) {
    const envelope = readEnvelope(path.join(dir, c.file));
    const options = envelopeOptions(c);
    if (c.expected === 'OK') {
      const snap = Snapshot.load(envelope, options);
      assert.equal(snap.info.version, c.version, c.file);
      assert.equal(snap.info.digest, c.digest, c.file);
    } else {
      assert.throws(() => Snapshot.load(envelope, options), (e) => e instanceof BurgeeError && e.code === c.expected, c.file);
    }
    seen.add(c.expected);
  }
  for (const code of ['OK', 'SIGNATURE_INVALID', 'KEY_UNTRUSTED', 'SNAPSHOT_ROLLBACK', 'SNAPSHOT_EXPIRED', 'PROJECT_MISMATCH',
    'ENVIRONMENT_MISMATCH', 'AUDIENCE_MISMATCH', 'SNAPSHOT_TOO_LARGE', 'PARSE_ERROR', 'PAYLOAD_TYPE_MISMATCH']) {
    assert.ok(seen.has(code), `no fixture expects ${code}`);
  }
}

module.exports = {
  REPO, VECTORS, startServer, waitFor, tmpdir, readJson, jsonEq, matchesExpected,
  checkInvalidSnapshots, checkBucketing, checkEnvelopes,
};
