// ns per evaluation from JS through @burgee/wasm (WebAssembly in Node), on the SDK benchmarks'
// flag set (bindings/node/bench/flagset.js: the core benchmark's 100 flags and 1024 users),
// loaded by a Client from a signed bootstrap string (offline: nothing is sent). Also the load
// time of a signed 1000-flag envelope. Run by scripts/bench-sdk from a directory where the
// packed @burgee/wasm is installed; needs BURGEE_REPO and BURGEE_BIN.
import { createRequire } from 'node:module';
import path from 'node:path';
import { Client, Context, Snapshot } from '@burgee/wasm/node';

const require = createRequire(import.meta.url);
const { signedEnvelope, users, measure } = require(path.join(process.env.BURGEE_REPO, 'bindings/node/bench/flagset.js'));

const { envelope, key } = signedEnvelope();
const client = new Client({ environment: 'production', trustedKeys: [key], bootstrap: envelope, storage: null, sendExposures: false });
if (client.status().status !== 'READY') throw new Error(JSON.stringify(client.status()));
const handles = users().map((u) => new Context(u));
const boolKeys = Array.from({ length: 50 }, (_, i) => `flag-${2 * i}`);
const strKeys = Array.from({ length: 50 }, (_, i) => `flag-${2 * i + 1}`);
const N = 1_000_000;
let sink = 0;

measure('getBooleanValue, reused Context', N, (n) => {
  for (let i = 0; i < n; i++) if (client.getBooleanValue(boolKeys[i % 50], false, handles[(i * 7) & 1023])) sink++;
});
measure('getStringValue, reused Context', N / 4, (n) => {
  for (let i = 0; i < n; i++) sink += client.getStringValue(strKeys[i % 50], 'control', handles[(i * 7) & 1023]).length;
});
measure('getBooleanValue, fresh 3-attribute object per call', N / 4, (n) => {
  for (let i = 0; i < n; i++) {
    if (client.getBooleanValue(boolKeys[i % 50], false, { targetingKey: `user-${i & 1023}`, environment: 'production', country: 'DE', age: 30 })) sink++;
  }
});
measure('getBooleanDetails, reused Context', N / 4, (n) => {
  for (let i = 0; i < n; i++) sink += client.getBooleanDetails(boolKeys[i % 50], false, handles[(i * 7) & 1023]).reason.length;
});
const recording = new Client({ environment: 'production', trustedKeys: [key], bootstrap: envelope, storage: null });
measure('getBooleanValue, reused Context, exposures recorded (deduped)', N, (n) => {
  for (let i = 0; i < n; i++) if (recording.getBooleanValue(boolKeys[i % 50], false, handles[(i * 7) & 1023])) sink++;
});

const big = signedEnvelope(1000);
const loads = [];
for (let k = 0; k < 15; k++) {
  const t0 = process.hrtime.bigint();
  Snapshot.load(big.envelope, { trustedKeys: [big.key], environment: 'production' }).free();
  loads.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
loads.sort((a, b) => a - b);
console.log(`${'Snapshot.load, signed 1000-flag envelope'.padEnd(58)} ${loads[7].toFixed(2)} ms (median of 15; ${(big.envelope.length / 1024).toFixed(0)} KiB)`);
console.log(`(checksum ${sink})`);
