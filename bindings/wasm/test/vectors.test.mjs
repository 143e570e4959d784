// Every file of spec/vectors/, read in place, through the public API of @burgee/wasm in Node.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Snapshot, Context, BurgeeError, ErrorCode, bucket, errorCodes, sensitiveDigest } from '@burgee/wasm/node';

const require = createRequire(import.meta.url);
const { VECTORS, readJson, matchesExpected, checkInvalidSnapshots, checkBucketing, checkEnvelopes } = require('./helpers.js');

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
  assert.equal(all.length, 16);
  assert.deepEqual(Object.keys(ErrorCode), all);
  for (const code of all) assert.equal(ErrorCode[code], code);
  const { OPENFEATURE_ERROR_CODES } = await import('@burgee/wasm/openfeature-server');
  assert.deepEqual(Object.keys(OPENFEATURE_ERROR_CODES).sort(), [...all].sort());
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
