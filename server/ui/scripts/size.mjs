// After `vite build`: the initial JavaScript (index.html's entry script and the chunks it
// preloads) gzipped, checked against the 300 KB budget; every chunk is listed.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const BUDGET = 300 * 1024;
const dist = new URL('../dist/', import.meta.url).pathname;
const html = fs.readFileSync(path.join(dist, 'index.html'), 'utf8');
const initial = [...html.matchAll(/(?:src|href)="\/ui\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
const gz = (f) => zlib.gzipSync(fs.readFileSync(path.join(dist, f)), { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
let total = 0;
for (const f of initial) total += gz(f);
for (const f of fs.readdirSync(path.join(dist, 'assets')).sort()) {
  const mark = initial.includes(`assets/${f}`) ? 'initial' : 'lazy';
  console.log(`${mark.padEnd(8)} ${kb(gz(`assets/${f}`)).padStart(9)} gz  ${f}`);
}
console.log(`initial JavaScript: ${kb(total)} gzipped (budget ${kb(BUDGET)})`);
if (initial.length === 0 || total > BUDGET) {
  console.error(initial.length === 0 ? 'no entry script found in dist/index.html' : 'over budget');
  process.exit(1);
}
