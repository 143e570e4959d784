'use strict';
// Every file of spec/vectors/, read in place, through the public API of @burgee/node.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Snapshot, Context, BurgeeError, bucket } = require('@burgee/node');
const { VECTORS, readJson, matchesExpected, checkInvalidSnapshots, checkBucketing, checkEnvelopes } = require('@burgee/test-support');

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

const api = { Snapshot, BurgeeError, bucket };
test('invalid snapshot vectors', () => checkInvalidSnapshots(api));
test('bucketing vectors', () => checkBucketing(api));
test('envelope vectors (envelopes/manifest.json)', () => checkEnvelopes(api, (p) => fs.readFileSync(p)));
