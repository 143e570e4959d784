'use strict';
// Every file of spec/vectors/, read in place, through the public API of @burgee/node.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Snapshot, Context, BurgeeError, bucket } = require('@burgee/node');
const { VECTORS, readJson, matchesExpected, envelopeOptions } = require('./helpers.js');

test('evaluation vectors (eval/*.json)', () => {
  const dir = path.join(VECTORS, 'eval');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  assert.ok(files.length >= 7);
  let passed = 0;
  const failures = [];
  for (const f of files) {
    const doc = readJson(path.join(dir, f));
    const snap = Snapshot.fromJson(doc.snapshot);
    for (const c of doc.cases) {
      const now = c.now ?? doc.now;
      // A reused handle and a plain object must agree.
      let handle;
      try {
        handle = new Context(c.context);
      } catch (e) {
        assert.ok(e instanceof BurgeeError);
        handle = c.context;
      }
      for (const ctx of [handle, c.context]) {
        const got = c.get ? snap.getDetails(c.get, c.flag, c.default, ctx, now) : snap.evaluate(c.flag, ctx, now);
        const want = c.expected;
        if (matchesExpected(got, want)) passed += 1;
        else failures.push(`${f} / ${c.name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
      }
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(passed >= 300, `only ${passed} evaluations`);
});

test('invalid snapshot vectors', () => {
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
});

test('bucketing vectors', () => {
  const doc = readJson(path.join(VECTORS, 'bucketing.json'));
  assert.ok(doc.cases.length >= 30);
  for (const c of doc.cases) assert.equal(bucket(c.salt, c.seed, c.value), c.bucket, JSON.stringify(c));
});

test('envelope vectors (envelopes/manifest.json)', () => {
  const dir = path.join(VECTORS, 'envelopes');
  const manifest = readJson(path.join(dir, 'manifest.json'));
  assert.ok(manifest.cases.length >= 10);
  const seen = new Set();
  for (const c of manifest.cases) {
    const bytes = fs.readFileSync(path.join(dir, c.file));
    const options = envelopeOptions(c);
    if (c.expected === 'OK') {
      const snap = Snapshot.load(bytes, options);
      assert.equal(snap.info.version, c.version, c.file);
      assert.equal(snap.info.digest, c.digest, c.file);
    } else {
      assert.throws(() => Snapshot.load(bytes, options), (e) => e instanceof BurgeeError && e.code === c.expected, c.file);
    }
    seen.add(c.expected);
  }
  for (const code of ['OK', 'SIGNATURE_INVALID', 'KEY_UNTRUSTED', 'SNAPSHOT_ROLLBACK', 'SNAPSHOT_EXPIRED', 'ENVIRONMENT_MISMATCH', 'SNAPSHOT_TOO_LARGE', 'PARSE_ERROR', 'PAYLOAD_TYPE_MISMATCH']) {
    assert.ok(seen.has(code), `no fixture expects ${code}`);
  }
});
