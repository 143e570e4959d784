'use strict';
// ns per evaluation from JS through @burgee/node, on the flag set of core/benches/evaluate.rs:
// 100 flags, each with one rule `environment in [production, staging]` ∧ `country in [5]` ∧
// `age >= 18` serving a 50/50 rollout (even flags, boolean) or a 33/33/34 split (odd flags,
// string); a pool of 1024 users. The snapshot is signed with `burgee keygen` + `burgee sign`
// and loaded by a Client from a bootstrap string (offline: no exposures are sent).
//
// Run (release addon): see BENCHMARKS.md. Needs BURGEE_BIN (any build of the burgee binary).
const { Client, Context } = require('@burgee/node');

const { signedEnvelope, users, measure } = require('./flagset.js');

const { envelope, key } = signedEnvelope();
const client = new Client({ environment: 'production', trustedKeys: [key], bootstrap: envelope });
if (client.status().status !== 'READY') throw new Error(JSON.stringify(client.status()));
const pool = users();
const handles = pool.map((u) => new Context(u));
const boolKeys = Array.from({ length: 50 }, (_, i) => `flag-${2 * i}`);
const strKeys = Array.from({ length: 50 }, (_, i) => `flag-${2 * i + 1}`);
const N = 1_000_000;
let sink = 0;

measure('getBooleanValue, reused Context handle', N, (n) => {
  for (let i = 0; i < n; i++) if (client.getBooleanValue(boolKeys[i % 50], false, handles[(i * 7) & 1023])) sink++;
});
measure('getStringValue, reused Context handle', N, (n) => {
  for (let i = 0; i < n; i++) sink += client.getStringValue(strKeys[i % 50], 'control', handles[(i * 7) & 1023]).length;
});
measure('getBooleanValue, fresh 3-attribute object per call', N, (n) => {
  for (let i = 0; i < n; i++) {
    if (client.getBooleanValue(boolKeys[i % 50], false, { targetingKey: `user-${i & 1023}`, environment: 'production', country: 'DE', age: 30 })) sink++;
  }
});
measure('getBooleanValue, new Context(3 attributes) per call', N, (n) => {
  for (let i = 0; i < n; i++) {
    if (client.getBooleanValue(boolKeys[i % 50], false, new Context({ targetingKey: `user-${i & 1023}`, environment: 'production', country: 'DE', age: 30 }))) sink++;
  }
});
measure('getBooleanDetails, reused Context handle', N / 4, (n) => {
  for (let i = 0; i < n; i++) sink += client.getBooleanDetails(boolKeys[i % 50], false, handles[(i * 7) & 1023]).reason.length;
});
// The same with exposure recording on: a server is configured (an unused local port, so
// batches stay queued and bounded), and every evaluation goes through the exposure dedupe.
const recording = new Client({ environment: 'production', trustedKeys: [key], bootstrap: envelope,
  serverUrl: 'http://127.0.0.1:9', sdkKey: 'bgs_bench', streaming: false, pollIntervalMs: 3600000, backoffCapMs: 3600000 });
measure('getBooleanValue, reused handle, exposures recorded (deduped)', N, (n) => {
  for (let i = 0; i < n; i++) if (recording.getBooleanValue(boolKeys[i % 50], false, handles[(i * 7) & 1023])) sink++;
});
console.log(`(checksum ${sink}; exposures deduplicated: ${recording.eventStats().deduplicated})`);
client.close();
recording.close();
