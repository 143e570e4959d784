'use strict';
// The public API without a server: error codes, contexts, typed getters and details.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Snapshot, Context, Client, BurgeeError, ErrorCode, errorCodes, toBurgeeError, throwForCode, openFeatureErrorCode, DEFAULTS } = require('@burgee/node');
// The native addon itself (not an export of the package), to see the errors it throws.
const native = require(require('node:path').join(require('node:path').dirname(require.resolve('@burgee/node')), 'burgee.node'));
const { OPENFEATURE_ERROR_CODES } = require('@burgee/node/openfeature');

test('every native error code is mapped, both ways, and to OpenFeature', () => {
  const all = errorCodes();
  assert.equal(all.length, 17);
  assert.deepEqual(Object.keys(ErrorCode).sort(), [...all].sort());
  const openFeature = new Set(['PARSE_ERROR', 'FLAG_NOT_FOUND', 'TYPE_MISMATCH', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL']);
  for (const code of all) {
    assert.equal(ErrorCode[code], code);
    assert.ok(openFeature.has(OPENFEATURE_ERROR_CODES[code]), code);
    // The native side throws an Error whose `code` property is the code (no message prefix
    // to parse); the package turns it into a BurgeeError with the same code and message.
    assert.throws(() => native.throwForCode(code, 'boom'), (e) => e instanceof Error && !(e instanceof BurgeeError) && e.code === code && e.message === 'boom', code);
    assert.throws(() => throwForCode(code, 'boom'), (e) => e instanceof BurgeeError && e.code === code && e.message === 'boom', code);
    const e = toBurgeeError(Object.assign(new Error('boom'), { code }));
    assert.ok(e instanceof BurgeeError);
    assert.equal(e.code, code);
    assert.equal(e.message, 'boom');
    assert.equal(openFeatureErrorCode(code), OPENFEATURE_ERROR_CODES[code]);
  }
  const plain = new Error('no code here');
  assert.equal(toBurgeeError(plain), plain);
  assert.throws(() => throwForCode('NOT_A_CODE', 'x'), (e) => e instanceof BurgeeError && e.code === 'GENERAL');
  // A message that merely looks like a code is not taken apart.
  assert.equal(toBurgeeError(new Error('FLAG_NOT_FOUND: boom')).code, undefined);
});

test('the option defaults are the core table', () => {
  assert.equal(DEFAULTS.maxEnvelopeBytes, 8 * 1024 * 1024);
  assert.equal(DEFAULTS.backoffBaseMs, 500);
  assert.equal(DEFAULTS.backoffCapMs, 30000);
  assert.equal(DEFAULTS.pollIntervalMs, 30000);
  assert.ok(Object.isFrozen(DEFAULTS));
});

const DOC = {
  format: 1, project: 'p', environment: 'production', version: 3, issued_at: 0, expires_at: Date.now() + 86_400_000, salt: 's',
  flags: [
    { key: 'dark-mode', type: 'boolean', variants: { on: true, off: false }, enabled: true, off_variant: 'off',
      rules: [{ id: 'de', when: { attribute: 'country', op: 'in', values: ['DE'] }, serve: { variant: 'on' } }],
      default: { variant: 'off' }, metadata: { owner: 'team-ui' } },
    { key: 'title', type: 'string', variants: { a: 'Hello', b: 'Hi' }, enabled: true, off_variant: 'a',
      default: { rollout: { weights: [{ variant: 'a', weight: 5000 }, { variant: 'b', weight: 5000 }] } } },
    { key: 'limit', type: 'integer', variants: { small: 5, big: 500 }, enabled: true, off_variant: 'small', default: { variant: 'big' } },
    { key: 'ratio', type: 'float', variants: { x: 0.25 }, enabled: true, off_variant: 'x', default: { variant: 'x' } },
    { key: 'config', type: 'object', variants: { v: { retries: 3 } }, enabled: false, off_variant: 'v', default: { variant: 'v' } },
  ],
};

test('typed details through a reused context handle and plain objects', () => {
  const snap = Snapshot.fromJson(DOC);
  assert.equal(snap.info.version, 3);
  assert.deepEqual(snap.flagKeys(), ['dark-mode', 'title', 'limit', 'ratio', 'config']);
  const de = new Context({ targetingKey: 'u1', country: 'DE' });
  assert.equal(de.targetingKey, 'u1');
  const d = snap.getDetails('boolean', 'dark-mode', false, de, 1);
  assert.equal(d.value, true);
  assert.equal(d.variant, 'on');
  assert.equal(d.reason, 'TARGETING_MATCH');
  assert.equal(d.ruleId, 'de');
  assert.deepEqual(d.flagMetadata, { owner: 'team-ui' });
  assert.equal(snap.getDetails('boolean', 'dark-mode', true, { targetingKey: 'u1', country: 'FR' }, 1).reason, 'DEFAULT');
  assert.equal(snap.getDetails('integer', 'limit', 1, de, 1).value, 500);
  assert.equal(snap.getDetails('number', 'ratio', 1, de, 1).value, 0.25);
  const cfg = snap.getDetails('object', 'config', {}, de, 1);
  assert.deepEqual([cfg.value, cfg.reason], [{ retries: 3 }, 'DISABLED']);
  // Errors come back as details with the caller's default, never as exceptions.
  const missing = snap.getDetails('boolean', 'nope', true, de, 1);
  assert.deepEqual([missing.value, missing.reason, missing.errorCode], [true, 'ERROR', 'FLAG_NOT_FOUND']);
  const mismatch = snap.getDetails('string', 'dark-mode', 'x', de, 1);
  assert.deepEqual([mismatch.value, mismatch.errorCode], ['x', 'TYPE_MISMATCH']);
  const anonymous = snap.getDetails('string', 'title', 'dflt', {}, 1);
  assert.deepEqual([anonymous.value, anonymous.errorCode], ['dflt', 'TARGETING_KEY_MISSING']);
  const badCtx = snap.getDetails('string', 'title', 'dflt', { targetingKey: 'u', nested: { a: 1 } }, 1);
  assert.deepEqual([badCtx.value, badCtx.errorCode], ['dflt', 'INVALID_CONTEXT']);
  assert.equal(snap.getDetails('string', 'title', 'dflt', { targetingKey: 'u', country: undefined }, 1).reason, 'SPLIT');
});

test('contexts refuse what the core refuses', () => {
  for (const bad of [{ a: null }, { a: { b: 1 } }, { a: [1] }, { targetingKey: 5 }]) {
    assert.throws(() => new Context(bad), (e) => e instanceof BurgeeError && e.code === 'INVALID_CONTEXT', JSON.stringify(bad));
  }
  assert.deepEqual(new Context({ targetingKey: 'k', groups: ['a', 'b'], beta: true, age: 3 }).toJSON(),
    { targetingKey: 'k', groups: ['a', 'b'], beta: true, age: 3 });
});

test('configuration errors are BurgeeErrors with stable codes', () => {
  assert.throws(() => new Client({ environment: 'production', trustedKeys: ['not base64!'] }),
    (e) => e instanceof BurgeeError && e.code === 'PARSE_ERROR');
  assert.throws(() => new Client({ environment: 'production', trustedKeys: [] }),
    (e) => e instanceof BurgeeError && e.code === 'GENERAL');
  assert.throws(() => new Client({ environment: 'production', trustedKeys: ['11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='], serverUrl: 'http://127.0.0.1:1' }),
    (e) => e instanceof BurgeeError && e.code === 'GENERAL' && /SDK key/.test(e.message));
  assert.throws(() => Snapshot.fromJson('{'), (e) => e instanceof BurgeeError && e.code === 'PARSE_ERROR');
});

test('an unreachable server leaves the client NOT_READY; evaluation serves defaults', async () => {
  const c = new Client({
    environment: 'production', trustedKeys: ['11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='],
    serverUrl: 'http://127.0.0.1:1', sdkKey: 'bgs_x', backoffBaseMs: 10, backoffCapMs: 50,
  });
  assert.equal(await c.waitUntilReady(200), 'NOT_READY');
  assert.equal(c.getBooleanValue('any', true, { targetingKey: 'u' }), true);
  const d = c.getStringDetails('any', 'dflt', new Context({ targetingKey: 'u' }));
  assert.deepEqual([d.value, d.reason, d.errorCode], ['dflt', 'ERROR', 'GENERAL']);
  assert.match(d.errorMessage, /NOT_READY/);
  const s = c.status();
  assert.equal(s.status, 'NOT_READY');
  assert.equal(s.lastErrorCode, 'GENERAL');
  assert.throws(() => c.track('', 'u'), (e) => e instanceof BurgeeError && e.code === 'GENERAL');
  await c.close();
});
