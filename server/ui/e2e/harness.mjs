// The browser suite's fixtures: a real `burgee serve --demo` (waiting for its --ready-file),
// Debian's Chromium through playwright-core, a static server for the SDK page (@burgee/wasm
// from the built package, on its own origin), axe-core, and screenshots.
//   BURGEE_BIN        the burgee binary (default $CARGO_TARGET_DIR/debug/burgee)
//   BURGEE_WASM_PKG   the built @burgee/wasm package (default $CARGO_TARGET_DIR/wasm-pkg)
//   BURGEE_ARTIFACTS  screenshots go to $BURGEE_ARTIFACTS/console/ (default
//                     $CARGO_TARGET_DIR/artifacts); CHROMIUM (default /usr/bin/chromium)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { chromium } from 'playwright-core';

const target = process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/burgee/target');
/** The burgee binary under test. */
export const BIN = process.env.BURGEE_BIN ?? path.join(target, 'debug/burgee');
/** Where screenshots go. */
export const SHOTS = path.join(process.env.BURGEE_ARTIFACTS ?? path.join(target, 'artifacts'), 'console');
const WASM_PKG = process.env.BURGEE_WASM_PKG ?? path.join(target, 'wasm-pkg');
const UI = new URL('..', import.meta.url).pathname;

/** Starts `burgee serve --demo` on a free port; resolves with its ready file's JSON and a stop(). */
export async function startServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'burgee-console-'));
  const ready = path.join(dir, 'ready.json');
  const log = fs.openSync(path.join(dir, 'server.log'), 'w');
  const child = spawn(
    BIN,
    [
      'serve',
      '--demo',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      path.join(dir, 'data'),
      '--ready-file',
      ready,
    ],
    { stdio: ['ignore', log, log] },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (let i = 0; !fs.existsSync(ready); i++) {
    if (child.exitCode !== null || i > 600) {
      throw new Error(
        `burgee serve did not get ready:\n${fs.readFileSync(path.join(dir, 'server.log'), 'utf8')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const info = JSON.parse(fs.readFileSync(ready, 'utf8'));
  return {
    ...info,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Launches Debian's Chromium headless. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** Serves the SDK page (e2e/sdk-page.html), the wasm package at /pkg/ and its dependency. */
export async function startStatics() {
  if (!fs.existsSync(path.join(WASM_PKG, 'burgee_wasm_bg.wasm'))) {
    throw new Error(`no @burgee/wasm build in ${WASM_PKG}: run scripts/build-wasm (or set BURGEE_WASM_PKG)`);
  }
  const roots = {
    '/pkg/': WASM_PKG,
    '/deps/eventsource-parser/': path.join(UI, 'node_modules/eventsource-parser/dist'),
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let file = url.pathname === '/' ? path.join(UI, 'e2e/sdk-page.html') : undefined;
    for (const [prefix, root] of Object.entries(roots)) {
      if (url.pathname.startsWith(prefix)) file = path.join(root, url.pathname.slice(prefix.length));
    }
    if (!file || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Navigates inside the single-page app without reloading the page. */
export async function go(page, path) {
  await page.evaluate((p) => {
    window.history.pushState({}, '', p);
    window.dispatchEvent(new PopStateEvent('popstate'));
  }, path);
}

/** Signs in through the sign-in screen: `{email, password}` or `{token}` (exchanged for a session). */
export async function signIn(page, base, credentials) {
  await page.goto(`${base}/`);
  if (credentials.token) {
    await page.getByRole('tab', { name: 'API token' }).click();
    await page.getByLabel('API token').fill(credentials.token);
  } else {
    await page.getByLabel('E-mail').fill(credentials.email);
    await page.getByLabel('Password').fill(credentials.password);
  }
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Flags' }).waitFor();
}

/** A session made with the API as the console makes it: `{cookie, csrf}`. */
export async function apiSession(base, body) {
  const r = await fetch(`${base}/v1/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`POST /v1/session: ${r.status} ${await r.text()}`);
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0];
  return { cookie, csrf: (await r.json()).csrf_token };
}

/** axe-core over the page: the serious and critical violations (expected: none). */
export async function seriousViolations(page) {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} — ${v.nodes
          .map((n) => n.target.join(' '))
          .slice(0, 3)
          .join(' | ')}`,
    );
}

/** Saves a screenshot as $SHOTS/<name>.png. */
export async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

/** Sets the console's theme with its own toggle (no reload). */
export async function setTheme(page, dark) {
  // The toggle is named for what a press does: "Use dark theme" while light, and back.
  const toggle = page.getByRole('button', { name: dark ? 'Use dark theme' : 'Use light theme' });
  if ((await toggle.count()) > 0) await toggle.click();
  await page.getByRole('button', { name: dark ? 'Use light theme' : 'Use dark theme' }).waitFor();
}

/** The API as the server's first admin (its bootstrap token): `{status, body, etag}`, the body
 * parsed as JSON (null when it is not). */
export async function adminApi(server, method, path, body, headers = {}) {
  const r = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${server.admin_token}`,
      'Content-Type': 'application/json',
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json().catch(() => null), etag: r.headers.get('etag') };
}

/** Chromium with one 1280×800 page; page errors and console errors other than 4xx answers are
 * pushed to `errors` (the tests assert it stays empty). */
export async function openPage(errors) {
  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  page.on(
    'console',
    (m) => m.type() === 'error' && !m.text().includes('status of 4') && errors.push(m.text()),
  );
  return { browser, page };
}
