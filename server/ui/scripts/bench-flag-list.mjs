// How fast the flag list of a big project becomes interactive, in Debian's Chromium against a
// real `burgee serve` (not part of CI: creating the flags one by one through the API takes
// minutes, since every create publishes a signed snapshot).
//   node scripts/bench-flag-list.mjs [FLAGS=1000] [URL TOKEN]
// PAGE_SIZE (default 100, the console's default page; 1000 shows every flag on one page)
// is the list's page size.
// Without URL and TOKEN it starts `burgee serve --demo` (BURGEE_BIN) and creates project `bulk`
// (one environment) with FLAGS flags; with them it uses that server's existing `bulk` project.
// Prints the time from navigation to the list being interactive (median of 5 loads): the count
// says the first page of FLAGS flags is loaded, the first screen of rows is rendered with its switches
// enabled, and that frame is painted with the main thread free again (the rest of the rows follow
// in later frames, without blocking input); then the time
// until every row of the page is in the document, and the time to apply a search.
import { apiSession, launchBrowser, startServer } from '../e2e/harness.mjs';

const n = Number(process.argv[2] ?? 1000);
const size = Number(process.env.PAGE_SIZE ?? 100);
const shown = Math.min(n, size);
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
const complete = []; // every row in the document
const api = []; // when the flag list's API answer arrived, ms after navigation start
for (let i = 0; i < 5; i++) {
  const start = Date.now();
  await page.goto(`${url}/ui/p/bulk/e/production/flags?size=${size}`);
  await page.waitForFunction(
    ([count, total]) => {
      const rows = document.querySelectorAll('table.flags tbody tr');
      const screen = Math.min(count, 15);
      return (
        document.querySelector('.count')?.textContent === `1–${count} of ${total} flags` &&
        rows.length >= screen &&
        !rows[screen - 1].querySelector('[role=switch]').disabled
      );
    },
    [shown, n],
    { timeout: 60000, polling: 'raf' },
  );
  // Then that frame painted and the main thread free again (a task after the next frame): what
  // was committed is on the screen and a click or key press would be handled now.
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0))));
  loads.push(Date.now() - start);
  await page.waitForFunction(
    (count) => document.querySelectorAll('table.flags tbody tr').length === count,
    shown,
    { timeout: 60000, polling: 'raf' },
  );
  complete.push(Date.now() - start);
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
const after = loads.map((l, i) => l - (api[i] ?? 0)).sort((a, b) => a - b); // the page's own share
loads.sort((a, b) => a - b);
complete.sort((a, b) => a - b);
console.log(
  `flag list of ${n} flags (pages of ${size}) interactive in ${loads[2]} ms (median of 5: ${loads.join(', ')} ms; the API answered at ${api.join(', ')} ms, the list was interactive ${after[2]} ms after that); all ${shown} rows of the page in the document after ${complete[2]} ms (median); search ${search} ms`,
);
await browser.close();
await server?.stop();
