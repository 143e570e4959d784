// The OpenFeature providers through the real SDKs: @openfeature/web-sdk (BurgeeWebProvider,
// static context) and @openfeature/server-sdk (BurgeeWorkerProvider), against a real server.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import '@burgee/wasm/node';
import { OpenFeature as WebOpenFeature, ProviderEvents as WebEvents } from '@openfeature/web-sdk';
import { OpenFeature as ServerOpenFeature, ProviderEvents as ServerEvents } from '@openfeature/server-sdk';
import { BurgeeWebProvider } from '@burgee/wasm/openfeature-web';
import { BurgeeWorkerProvider } from '@burgee/wasm/openfeature-server';

const require = createRequire(import.meta.url);
const { startServer, waitFor, tmpdir } = require('@burgee/test-support');

test('web provider: details, reasons, error codes, configuration-changed events', async (t) => {
  const server = await startServer(tmpdir());
  t.after(() => server.stop());
  const provider = new BurgeeWebProvider({
    serverUrl: server.base,
    key: server.clientKey,
    environment: 'production',
    trustedKeys: [server.publicKey],
    storage: null,
  });
  await WebOpenFeature.setContext({ targetingKey: 'user-1001', email: 'Editor@TechPress.example' });
  await WebOpenFeature.setProviderAndWait(provider);
  t.after(() => WebOpenFeature.close());
  const client = WebOpenFeature.getClient();

  // reviews-v2 targets user-1001 individually (a digested key in the client snapshot).
  const d = client.getBooleanDetails('reviews-v2', false);
  assert.equal(d.value, true);
  assert.equal(d.reason, 'TARGETING_MATCH');
  assert.equal(d.variant, 'on');
  assert.equal(d.flagMetadata.owner, 'team-web');
  // The context changes locally; the sensitive e-mail rule matches through its digest.
  await WebOpenFeature.setContext({ targetingKey: 'someone-else', email: 'Editor@TechPress.example' });
  const press = client.getBooleanDetails('reviews-v2', false);
  assert.equal(press.value, true);
  assert.equal(press.reason, 'TARGETING_MATCH');
  await WebOpenFeature.setContext({ targetingKey: 'someone-else' });
  assert.equal(client.getBooleanDetails('reviews-v2', true).reason, 'DEFAULT');

  const missing = client.getBooleanDetails('payments-kill-switch', true);
  assert.equal(missing.value, true);
  assert.equal(missing.reason, 'ERROR');
  assert.equal(missing.errorCode, 'FLAG_NOT_FOUND');
  const mismatch = client.getNumberDetails('dark-mode', 3);
  assert.equal(mismatch.errorCode, 'TYPE_MISMATCH');
  assert.equal(mismatch.value, 3);

  const changed = [];
  client.addHandler(WebEvents.ConfigurationChanged, (e) => changed.push(e));
  const current = client.getBooleanValue('dark-mode', false);
  const version = await server.setDefault('dark-mode', current ? 'off' : 'on');
  assert.ok(await waitFor(5000, () => changed.some((e) => e.metadata && e.metadata.newVersion === version)), 'PROVIDER_CONFIGURATION_CHANGED');
  assert.equal(client.getBooleanValue('dark-mode', current), !current);
});

test('worker provider (server SDK): dynamic context, details, stale event', async (t) => {
  const server = await startServer(tmpdir());
  const provider = new BurgeeWorkerProvider({
    serverUrl: server.base,
    key: server.sdkKey,
    environment: 'production',
    trustedKeys: [server.publicKey],
    refreshIntervalMs: 1000,
  });
  await ServerOpenFeature.setProviderAndWait(provider);
  t.after(() => ServerOpenFeature.close());
  const client = ServerOpenFeature.getClient();
  const kill = await client.getBooleanDetails('payments-kill-switch', true, { targetingKey: 'w-7' });
  assert.equal(kill.errorCode, undefined);
  assert.equal(typeof kill.value, 'boolean');
  const timeout = await client.getNumberDetails('api-timeout-ms', 1, { targetingKey: 'w-7' });
  assert.equal(Number.isInteger(timeout.value), true);
  assert.notEqual(timeout.reason, 'ERROR');
  const bad = await client.getBooleanDetails('dark-mode', false, { targetingKey: 'w-7', nested: { a: 1 } });
  assert.equal(bad.errorCode, 'INVALID_CONTEXT');
  const missingKey = await client.getStringDetails('no-such-flag', 'd', { targetingKey: 'w-7' });
  assert.equal(missingKey.errorCode, 'FLAG_NOT_FOUND');

  const stale = [];
  client.addHandler(ServerEvents.Stale, (e) => stale.push(e));
  await server.stop();
  await new Promise((r) => setTimeout(r, 1100));
  const after = await client.getBooleanDetails('payments-kill-switch', true, { targetingKey: 'w-7' });
  assert.equal(after.value, kill.value, 'the cached snapshot keeps serving');
  assert.ok(await waitFor(2000, () => stale.length > 0), 'PROVIDER_STALE');
});
