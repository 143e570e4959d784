// Single sign-on in Chromium: `burgee serve --demo --oidc-*` against a real OpenID provider on
// loopback (testing/oidc-provider, `oidc-provider`; `scripts/setup oidc-provider` installs it).
// The sign-in page offers "Sign in with Test IdP" (axe-clean); a publisher signs in through the
// provider's login form and lands on the flag list with its role; a person no rule matches
// comes back to the sign-in page with the refusal explained and no session.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { BIN, launchBrowser, seriousViolations, shot } from './harness.mjs';

const PROVIDER = new URL('../../../testing/oidc-provider/provider.mjs', import.meta.url).pathname;
const SECRET = 'burgee-test-secret';

/** A free loopback port (the provider's, known before burgee starts). */
async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** `burgee serve --demo` with single sign-on against `issuer`; resolves with its ready file's JSON and a stop(). */
async function startBurgee(issuer) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'burgee-oidc-'));
  const ready = path.join(dir, 'ready.json');
  const log = fs.openSync(path.join(dir, 'server.log'), 'w');
  const args = ['serve', '--demo', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'data')];
  args.push('--ready-file', ready, '--oidc-issuer', issuer, '--oidc-client-id', 'burgee');
  args.push('--oidc-groups-scope', 'groups', '--oidc-display-name', 'Test IdP');
  args.push('--oidc-role', 'group:release=publisher', '--oidc-role', 'domain:example.org=viewer');
  const child = spawn(BIN, args, {
    stdio: ['ignore', log, log],
    env: { ...process.env, BURGEE_OIDC_CLIENT_SECRET: SECRET },
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (let i = 0; !fs.existsSync(ready); i++) {
    if (child.exitCode !== null || i > 600) {
      throw new Error(
        `burgee serve did not get ready:\n${fs.readFileSync(path.join(dir, 'server.log'), 'utf8')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    ...JSON.parse(fs.readFileSync(ready, 'utf8')),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The provider on `port` for burgee at `base`; resolves once it prints its issuer. */
async function startProvider(port, base) {
  const child = spawn(
    process.execPath,
    [PROVIDER, '--port', String(port), '--redirect-uri', `${base}/v1/session/oidc/callback`],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = readline.createInterface({ input: child.stdout });
  for await (const line of lines) {
    if (line.startsWith('issuer ')) break;
  }
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

let server;
let provider;
let browser;

before(async () => {
  const port = await freePort();
  server = await startBurgee(`http://127.0.0.1:${port}`);
  provider = await startProvider(port, server.url);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await provider?.stop();
  await server?.stop();
});

/** A fresh browser context's page; the provider's page asks for no web fonts. */
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.route(/fonts\.googleapis\.com/, (route) => route.abort());
  return context.newPage();
}

/** From the console's sign-in page through the provider's login form, as `login`. */
async function signInWithProvider(page, login) {
  await page.goto(`${server.url}/`);
  await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
}

describe('single sign-on', () => {
  it('offers the provider on the sign-in page', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/`);
    const button = page.getByRole('link', { name: 'Sign in with Test IdP' });
    await button.waitFor();
    assert.equal(await button.getAttribute('href'), '/v1/session/oidc/start');
    assert.deepEqual(await seriousViolations(page), [], 'axe on the sign-in page with SSO');
    await shot(page, 'signin-sso');
    await page.context().close();
  });

  it('signs a mapped publisher in through the provider', async () => {
    const page = await newPage();
    await signInWithProvider(page, 'pat');
    await page.getByRole('heading', { name: 'Flags' }).waitFor();
    assert.equal(new URL(page.url()).pathname.startsWith('/ui/'), true, page.url());
    const me = await page.evaluate(async () => (await fetch('/v1/session')).json());
    assert.equal(me.email, 'pat@example.com');
    assert.equal(me.role, 'publisher');
    await page.context().close();
  });

  it('refuses a person no rule matches, and says why', async () => {
    const page = await newPage();
    await signInWithProvider(page, 'nobody');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.textContent(), /no role mapping matches/);
    assert.match(page.url(), /sso_error=FORBIDDEN/);
    const status = await page.evaluate(async () => (await fetch('/v1/session')).status);
    assert.equal(status, 401);
    await shot(page, 'signin-sso-refused');
    await page.context().close();
  });
});
