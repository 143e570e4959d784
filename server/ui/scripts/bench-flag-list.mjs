// How fast the flag list of a big project becomes interactive, in Debian's Chromium against a
// real `burgee serve` (not part of CI: creating the flags one by one through the API takes
// minutes, since every create publishes a signed snapshot).
//   node scripts/bench-flag-list.mjs [FLAGS=1000] [URL TOKEN]
// Without URL and TOKEN it starts `burgee serve --demo` (BURGEE_BIN) and creates project `bulk`
// (one environment) with FLAGS flags; with them it uses that server's existing `bulk` project.
// Prints the time from navigation to every row rendered with its switch enabled (median of 5
// loads), and the time to apply a search.
import { apiSession, launchBrowser, startServer } from '../e2e/harness.mjs';

const n = Number(process.argv[2] ?? 1000);
let [url, token] = process.argv.slice(3);
let server;
if (!url) {
  server = await startServer();
  ({ url, admin_token: token } = server);
}
const call = (method, path, body) =>
  fetch(`${url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
if (server) {
  await call('POST', '/v1/projects', {
    key: 'bulk',
    name: 'Bulk',
    environments: [{ key: 'production', name: 'Production' }],
  });
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    const r = await call('POST', '/v1/projects/bulk/flags', {
      key: `flag-${String(i).padStart(4, '0')}`,
      type: 'boolean',
      variants: { on: true, off: false },
      tags: [`team-${i % 7}`],
      owner: `owner-${i % 5}`,
      description: `Bulk flag number ${i}`,
    });
    if (!r.ok) throw new Error(`create ${i}: ${r.status} ${await r.text()}`);
  }
  console.log(`created ${n} flags in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

const session = await apiSession(url, { token });
const browser = await launchBrowser();
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const [name, value] = session.cookie.split('=');
await context.addCookies([{ name, value, url }]);
const page = await context.newPage();
const loads = [];
const api = []; // when the flag list's API answer arrived, ms after navigation start
for (let i = 0; i < 5; i++) {
  const start = Date.now();
  await page.goto(`${url}/ui/p/bulk/e/production/flags`);
  await page.waitForFunction(
    (count) => {
      const rows = document.querySelectorAll('table.flags tbody tr');
      return rows.length === count && !rows[count - 1].querySelector('[role=switch]').disabled;
    },
    n,
    { timeout: 60000, polling: 'raf' },
  );
  loads.push(Date.now() - start);
  api.push(
    await page.evaluate(() =>
      Math.round(
        performance.getEntriesByType('resource').find((e) => e.name.includes('/v1/projects/bulk/flags'))
          ?.responseEnd ?? 0,
      ),
    ),
  );
}
const start = Date.now();
await page.getByRole('searchbox', { name: 'Search' }).fill('number 999');
await page.waitForFunction(() => document.querySelectorAll('table.flags tbody tr').length === 1, null, {
  polling: 'raf',
});
const search = Date.now() - start;
loads.sort((a, b) => a - b);
console.log(
  `flag list of ${n} flags interactive in ${loads[2]} ms (median of 5: ${loads.join(', ')} ms; the API answered at ${api.join(', ')} ms); search ${search} ms`,
);
await browser.close();
await server?.stop();
