'use strict';
// The SDK benchmarks' flag set and users (shared by bindings/node/bench/evaluate.js and
// bindings/wasm/bench/evaluate.mjs): the flag set of core/benches/evaluate.rs, 100 flags with
// one rule `environment in [production, staging]` ∧ `country in [5]` ∧ `age >= 18` serving a
// 50/50 rollout (even flags, boolean) or a 33/33/34 split (odd flags, string), signed with
// `burgee keygen` + `burgee sign` (BURGEE_BIN); a pool of 1024 users; a median-of-5 timer.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const NOW = Date.now();
function flag(i) {
  const when = { all: [
    { attribute: 'environment', op: 'in', values: ['production', 'staging'] },
    { attribute: 'country', op: 'in', values: ['DE', 'FR', 'NL', 'US', 'GB'] },
    { attribute: 'age', op: 'gte', value: 18 },
  ] };
  return i % 2 === 0
    ? { key: `flag-${i}`, type: 'boolean', variants: { on: true, off: false }, enabled: true, off_variant: 'off',
        rules: [{ id: 'r1', when, serve: { rollout: { weights: [{ variant: 'on', weight: 5000 }, { variant: 'off', weight: 5000 }] } } }],
        default: { variant: 'off' } }
    : { key: `flag-${i}`, type: 'string', variants: { control: 'control', a: 'variant-a', b: 'variant-b' }, enabled: true,
        off_variant: 'control',
        rules: [{ id: 'r1', when, serve: { rollout: { weights: [{ variant: 'control', weight: 3300 }, { variant: 'a', weight: 3300 }, { variant: 'b', weight: 3400 }] } } }],
        default: { variant: 'control' } };
}

/** Signs a snapshot of `count` flags (default 100) with a fresh key: `{envelope, key}`. */
function signedEnvelope(count = 100) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'burgee-bench-'));
  const bin = process.env.BURGEE_BIN;
  execFileSync(bin, ['keygen', '--out', path.join(dir, 'keys')]);
  const doc = { format: 1, project: 'bench', environment: 'production', version: 1, issued_at: NOW - 1000,
    expires_at: NOW + 86_400_000, salt: '0123456789abcdef', flags: Array.from({ length: count }, (_, i) => flag(i)) };
  fs.writeFileSync(path.join(dir, 'payload.json'), JSON.stringify(doc));
  execFileSync(bin, ['sign', '--key', path.join(dir, 'keys/signing.key'), '--payload', path.join(dir, 'payload.json'), '--out', path.join(dir, 'envelope.json')]);
  return { envelope: fs.readFileSync(path.join(dir, 'envelope.json'), 'utf8'), key: fs.readFileSync(path.join(dir, 'keys/signing.pub'), 'utf8').trim() };
}

function users() {
  const envs = ['production', 'staging', 'development'];
  const countries = ['DE', 'FR', 'NL', 'US', 'GB', 'IT', 'ES', 'JP'];
  return Array.from({ length: 1024 }, (_, i) => {
    let r = Math.imul(i, 2654435761) >>> 0;
    r = ((r << 7) | (r >>> 25)) >>> 0; // rotate_left(7), as the Rust bench
    return { targetingKey: `user-${i}`, environment: envs[r % 3], country: countries[(r >>> 4) % 8], age: 10 + ((r >>> 8) % 60) };
  });
}

function measure(name, n, body) {
  body(Math.min(n, 200_000)); // warm up (JIT, caches)
  const runs = [];
  for (let k = 0; k < 5; k++) {
    const t0 = process.hrtime.bigint();
    body(n);
    runs.push(Number(process.hrtime.bigint() - t0) / n);
  }
  runs.sort((a, b) => a - b);
  console.log(`${name.padEnd(58)} ${runs[2].toFixed(0).padStart(5)} ns/eval (median of 5 × ${n}; best ${runs[0].toFixed(0)})`);
}

module.exports = { signedEnvelope, users, measure };
