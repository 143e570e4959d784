// Compile-time check of index.d.ts and openfeature.d.ts (tsc --noEmit --strict): the API as a
// TypeScript user writes it. Not run; scripts/sdk-node type-checks it against the installed package.
import { Client, Context, Snapshot, BurgeeError, ErrorCode, errorCodes, bucket, type EvaluationDetails, type Status } from '@burgee/node';
import { BurgeeProvider, OPENFEATURE_ERROR_CODES } from '@burgee/node/openfeature';
import { OpenFeature } from '@openfeature/server-sdk';

async function main(): Promise<void> {
  const client = new Client({ environment: 'production', project: 'webshop', trustedKeys: ['key'], serverUrl: 'http://127.0.0.1:8080', sdkKey: 'bgs_x', flushIntervalMs: 1000 });
  const status: Status = await client.waitUntilReady(5000);
  const user = new Context({ targetingKey: 'user-42', country: 'DE', age: 31, groups: ['staff'] });
  const on: boolean = client.getBooleanValue('checkout-redesign', false, user);
  const variant: string = client.getStringValue('pricing', 'control', { targetingKey: 'u', country: 'DE' });
  const n: number = client.getNumberValue('threshold', 49.0) + client.getIntegerValue('max', 1, user);
  const cfg: { retries: number } = client.getObjectValue('config', { retries: 3 }, user);
  const d: EvaluationDetails<boolean> = client.getBooleanDetails('checkout-redesign', false, user);
  const reason: string = d.reason;
  client.on('change', (e) => console.log(e.oldVersion, e.newVersion));
  client.on('status', (e) => console.log(e.status, e.errorCode));
  client.track('purchase', 'user-42', 59.9, { currency: 'EUR' });
  const delivered: boolean = await client.close();
  const snap = Snapshot.load('{}', { trustedKeys: ['key'], project: 'webshop', environment: 'production', audience: 'client', now: 0 });
  const v: number = snap.info.version + bucket('s', 'f', 'u');
  const codes: ErrorCode[] = errorCodes();
  try {
    new Context({ targetingKey: 'u' });
  } catch (e) {
    if (e instanceof BurgeeError) console.log(e.code satisfies ErrorCode, ErrorCode.PARSE_ERROR);
  }
  await OpenFeature.setProviderAndWait(new BurgeeProvider({ client, readyTimeoutMs: 100 }));
  await OpenFeature.setProviderAndWait(new BurgeeProvider({ environment: 'production', trustedKeys: ['key'] }));
  console.log(status, on, variant, n, cfg, reason, delivered, v, codes, OPENFEATURE_ERROR_CODES.GENERAL);
}
void main;
