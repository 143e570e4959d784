'use strict';
// The OpenFeature provider through the real @openfeature/server-sdk, against a real server.
const test = require('node:test');
const assert = require('node:assert/strict');
const { OpenFeature, ProviderEvents, ErrorCode: OFErrorCode, StandardResolutionReasons } = require('@openfeature/server-sdk');
const { BurgeeProvider, burgeeContext } = require('@burgee/node/openfeature');
const { startServer, waitFor, tmpdir } = require('@burgee/test-support');

test('OpenFeature: details, reasons, error codes, READY and CONFIGURATION_CHANGED events, hooks', async () => {
  const server = await startServer(tmpdir());
  try {
    const events = [];
    for (const ev of [ProviderEvents.Ready, ProviderEvents.ConfigurationChanged, ProviderEvents.Error, ProviderEvents.Stale]) {
      OpenFeature.addHandler(ev, (d) => events.push([ev, d]));
    }
    const provider = new BurgeeProvider({
      environment: 'production', trustedKeys: [server.publicKey], serverUrl: server.base, sdkKey: server.sdkKey,
      backoffBaseMs: 50, backoffCapMs: 400, closeTimeoutMs: 500,
    });
    await OpenFeature.setProviderAndWait(provider);
    assert.equal(OpenFeature.getClient().providerStatus, 'READY');
    assert.ok(await waitFor(1000, () => events.some(([e]) => e === ProviderEvents.Ready)));

    const client = OpenFeature.getClient();
    const calls = [];
    client.addHooks({
      before: (hc) => { calls.push(['before', hc.flagKey]); },
      after: (hc, details) => { calls.push(['after', hc.flagKey, details.reason]); },
      error: (hc, err) => { calls.push(['error', hc.flagKey, err.code]); },
      finally: (hc) => { calls.push(['finally', hc.flagKey]); },
    });

    // A user off in the 20 % rollout, found through the provider.
    let user;
    for (let i = 0; i < 500 && !user; i++) {
      const d = await client.getBooleanDetails('checkout-redesign', true, { targetingKey: `user-${i}` });
      if (d.variant === 'off') user = `user-${i}`;
    }
    const d = await client.getBooleanDetails('checkout-redesign', true, { targetingKey: user });
    assert.equal(d.value, false);
    assert.equal(d.variant, 'off');
    assert.equal(d.reason, StandardResolutionReasons.SPLIT);
    assert.equal(d.flagKey, 'checkout-redesign');
    assert.equal(typeof d.flagMetadata.owner, 'string');
    assert.equal(d.errorCode, undefined);

    assert.equal(await client.getNumberValue('max-cart-items', 1, { targetingKey: user, plan: 'business' }), 500);
    const rate = await client.getObjectDetails('rate-limits', {}, { targetingKey: user });
    assert.equal(typeof rate.value, 'object');
    assert.equal(rate.reason, StandardResolutionReasons.DEFAULT); // rate-limits has rules
    const disabled = await client.getBooleanDetails('legacy-payment-provider', true, { targetingKey: user });
    assert.deepEqual([disabled.value, disabled.reason], [false, StandardResolutionReasons.DISABLED]);
    // Dates in the OpenFeature context become RFC 3339 strings.
    assert.deepEqual(burgeeContext({ targetingKey: 'u', at: new Date(0), gone: null }), { targetingKey: 'u', at: '1970-01-01T00:00:00.000Z' });

    // Error codes through the SDK: default value, reason ERROR, OpenFeature code, error hook.
    const missing = await client.getBooleanDetails('no-such-flag', true, { targetingKey: user });
    assert.deepEqual([missing.value, missing.reason, missing.errorCode], [true, 'ERROR', OFErrorCode.FLAG_NOT_FOUND]);
    const mismatch = await client.getStringDetails('checkout-redesign', 'x', { targetingKey: user });
    assert.deepEqual([mismatch.value, mismatch.errorCode], ['x', OFErrorCode.TYPE_MISMATCH]);
    const noKey = await client.getStringDetails('pricing-experiment', 'control', { country: 'DE' });
    assert.deepEqual([noKey.value, noKey.errorCode], ['control', OFErrorCode.TARGETING_KEY_MISSING]);
    const badCtx = await client.getBooleanDetails('checkout-redesign', true, { targetingKey: user, nested: { a: 1 } });
    assert.equal(badCtx.errorCode, OFErrorCode.INVALID_CONTEXT);

    assert.deepEqual(calls.filter(([k, f]) => f === 'no-such-flag'), [
      ['before', 'no-such-flag'], ['error', 'no-such-flag', 'FLAG_NOT_FOUND'], ['finally', 'no-such-flag'],
    ]);
    assert.deepEqual(calls.filter(([, f]) => f === 'legacy-payment-provider'), [
      ['before', 'legacy-payment-provider'], ['after', 'legacy-payment-provider', 'DISABLED'], ['finally', 'legacy-payment-provider'],
    ]);

    // A publish reaches the provider as PROVIDER_CONFIGURATION_CHANGED and changes the value.
    const published = await server.setDefault('checkout-redesign', 'on');
    assert.ok(await waitFor(2000, () => events.some(([e]) => e === ProviderEvents.ConfigurationChanged)), JSON.stringify(events));
    const changed = events.find(([e]) => e === ProviderEvents.ConfigurationChanged)[1];
    assert.equal(changed.metadata.newVersion, published);
    assert.equal(await client.getBooleanValue('checkout-redesign', false, { targetingKey: user }), true);

    // An outage reaches it as PROVIDER_STALE.
    await server.kill();
    assert.ok(await waitFor(5000, () => events.some(([e]) => e === ProviderEvents.Stale)), JSON.stringify(events));
    assert.equal(await client.getBooleanValue('checkout-redesign', false, { targetingKey: user }), true);
    await OpenFeature.close();
  } finally {
    await server.kill();
  }
});
