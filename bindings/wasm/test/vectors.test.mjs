// Every file of spec/vectors/, read in place, through the public API of @burgee/wasm in Node.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Snapshot, Context, BurgeeError, ErrorCode, bucket, errorCodes, sensitiveDigest, defaults, streamLimit } from '@burgee/wasm/node';

const require = createRequire(import.meta.url);
const { VECTORS, readJson, matchesExpected, checkInvalidSnapshots, checkBucketing, checkEnvelopes } = require('@burgee/test-support');

test('evaluation vectors (eval/*.json)', () => {
  const dir = path.join(VECTORS, 'eval');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  assert.ok(files.length >= 8);
  let passed = 0;
  const failures = [];
  for (const f of files) {
    const doc = readJson(path.join(dir, f));
    const snap = Snapshot.fromJson(JSON.stringify(doc.snapshot));
    for (const c of doc.cases) {
      const now = c.now ?? doc.now;
      let ctx;
      try {
        ctx = new Context(c.context);
      } catch (e) {
        // A context the core refuses is an INVALID_CONTEXT evaluation in every binding.
        assert.ok(e instanceof BurgeeError, `${f} / ${c.name}: ${e}`);
        if (c.expected.error_code === e.code) passed += 1;
        else failures.push(`${f} / ${c.name}: context refused with ${e.code}, expected ${JSON.stringify(c.expected)}`);
        continue;
      }
      const got = c.get ? snap.getDetails(c.get, c.flag, c.default, ctx, now) : snap.evaluate(c.flag, ctx, now);
      const want = c.expected;
      let ok = matchesExpected(got, want);
      if (c.get === 'boolean' && got.errorCode == null) ok &&= snap.getBooleanValue(c.flag, c.default, ctx, now) === got.value;
      if (ok) passed += 1;
      else failures.push(`${f} / ${c.name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(passed >= 200, `only ${passed} evaluations`);
  console.log(`${passed} evaluation cases passed in ${files.length} files`);
});

test('every stable code is in ErrorCode and mapped to OpenFeature, in the core order', async () => {
  const all = errorCodes();
  assert.equal(all.length, 17);
  assert.deepEqual(Object.keys(ErrorCode), all);
  for (const code of all) assert.equal(ErrorCode[code], code);
  // The OpenFeature mapping is the core's (openFeatureErrorCode), the same for every SDK: each
  // code maps, OpenFeature's own codes onto themselves, snapshot codes onto GENERAL.
  const { openFeatureErrorCode } = await import('@burgee/wasm/openfeature-server');
  const openFeature = ['PARSE_ERROR', 'FLAG_NOT_FOUND', 'TYPE_MISMATCH', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL'];
  for (const code of all) {
    const of = openFeatureErrorCode(code);
    assert.ok(openFeature.includes(of), `${code} → ${of}`);
    if (openFeature.includes(code)) assert.equal(of, code);
    const e = new BurgeeError(code, 'm');
    assert.ok(e instanceof BurgeeError && e.code === code && e.message === `${code}: m`, code);
  }
  assert.throws(() => openFeatureErrorCode('NOT_A_CODE'), (e) => e instanceof BurgeeError && e.code === 'GENERAL');
});

test('defaults are the core table', () => {
  const d = defaults();
  assert.deepEqual(Object.keys(d).sort(), ['backoffBaseMs', 'backoffCapMs', 'closeTimeoutMs', 'dedupeWindowMs', 'flushIntervalMs', 'flushSize', 'maxEnvelopeBytes', 'maxQueuedEvents', 'pollIntervalMs', 'readyTimeoutMs', 'requestTimeoutMs', 'streamIdleTimeoutMs']);
  assert.equal(d.maxEnvelopeBytes, 8 * 1024 * 1024);
  assert.equal(d.backoffBaseMs, 500);
  assert.equal(d.backoffCapMs, 30000);
  assert.equal(streamLimit(d.maxEnvelopeBytes), d.maxEnvelopeBytes + 64 * 1024);
});

const api = { Snapshot, BurgeeError, bucket };
test('invalid snapshot vectors', () => checkInvalidSnapshots(api));
test('bucketing vectors', () => checkBucketing(api));
test('envelope vectors (envelopes/manifest.json)', () => checkEnvelopes(api, (p) => fs.readFileSync(p, 'utf8')));

test('client snapshot derivation (client-view.json): digests as the independent implementation', () => {
  const doc = readJson(path.join(VECTORS, 'client-view.json'));
  const client = Snapshot.fromJson(JSON.stringify(doc.client));
  assert.equal(client.info.audience, 'client');
  const segment = doc.client.segments.find((s) => s.key === 'beta-testers');
  assert.equal(segment.included[0], sensitiveDigest(doc.server.salt, 'user-7'));
});
