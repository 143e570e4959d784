'use strict';
// Test helpers: the repository (spec/vectors, read in place) and real `burgee serve` processes.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

/** The repository root: $BURGEE_REPO (tests copied next to an installed package), else ../../.. */
const REPO = process.env.BURGEE_REPO || path.resolve(__dirname, '../../..');
const VECTORS = path.join(REPO, 'spec/vectors');

function burgeeBin() {
  const bin = process.env.BURGEE_BIN;
  if (!bin || !fs.existsSync(bin)) {
    throw new Error(`BURGEE_BIN must name the burgee binary (cargo build -p burgee-server --bin burgee), got ${bin}`);
  }
  return bin;
}

/** Starts `burgee serve --demo` on `listen` with `dataDir`; resolves once it listens. */
async function startServer(dataDir, listen = '127.0.0.1:0') {
  const env = { ...process.env, RUST_LOG: 'warn' };
  for (const k of ['BURGEE_LISTEN', 'BURGEE_DATA_DIR', 'BURGEE_DATABASE_URL']) delete env[k];
  const proc = spawn(burgeeBin(), ['serve', '--demo', '--listen', listen, '--data-dir', dataDir], {
    env,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout });
    rl.once('line', (l) => resolve(l));
    proc.once('exit', (code) => reject(new Error(`burgee serve exited with ${code}`)));
  });
  const m = /^listening on (http:\/\/\S+)$/.exec(line.trim());
  if (!m) throw new Error(`unexpected first line ${line}`);
  const creds = Object.fromEntries(
    fs.readFileSync(path.join(dataDir, 'credentials.env'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('export '))
      .map((l) => l.slice(7).split(/=(.*)/s).slice(0, 2)),
  );
  const server = {
    proc,
    base: m[1],
    addr: m[1].replace('http://', ''),
    dataDir,
    sdkKey: creds.BURGEE_SDK_KEY_PRODUCTION,
    clientKey: creds.BURGEE_CLIENT_KEY_PRODUCTION,
    admin: creds.BURGEE_ADMIN_TOKEN,
    publicKey: fs.readFileSync(path.join(dataDir, 'keys/production.pub'), 'utf8').trim(),
    /** SIGKILL (a crash). */
    kill() {
      return stop(proc, 'SIGKILL');
    },
    /** SIGTERM, graceful. */
    stop() {
      return stop(proc, 'SIGTERM');
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
