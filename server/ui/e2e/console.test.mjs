// The console in Chromium against a real `burgee serve --demo`: sign in, create a flag, edit
// its rules and roll it out, see the change reach @burgee/wasm on another page, a conflicting
// edit from a second browser context (412), diff and roll back, a protected toggle, role limits
// (a viewer), axe-core on every main screen, and screenshots of them.
//
// Sign-in is the server's: the admin with the e-mail and one-time password of the first start,
// a second context by exchanging the admin API token, a viewer user created in the console.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  apiSession,
  go,
  launchBrowser,
  seriousViolations,
  setTheme,
  shot,
  signIn,
  startServer,
  startStatics,
} from './harness.mjs';

const FLAG = 'console-e2e';
let viewerPassword; // the viewer user's one-time password (set by the role test)
let server;
let browser;
let statics;
let page; // the admin's page (context A)
let sdk; // the SDK page
const errors = [];

const api = async (method, path, token, body, headers = {}) => {
  const r = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json().catch(() => null), etag: r.headers.get('etag') };
};

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p = await context.newPage();
  p.on('pageerror', (e) => errors.push(e.message));
  p.on('console', (m) => m.type() === 'error' && !m.text().includes('status of 4') && errors.push(m.text()));
  return p;
}

async function checkAxe(p, name) {
  const found = await seriousViolations(p);
  assert.deepEqual(found, [], `axe on ${name}`);
}

async function sdkValue() {
  return sdk.locator('#value').textContent();
}

async function waitSdk(expected) {
  await sdk.waitForFunction((v) => document.getElementById('value')?.textContent === v, expected, {
    timeout: 10000,
  });
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  statics = await startStatics();
  page = await newPage();
});

after(async () => {
  await browser?.close();
  await statics?.close();
  await server?.stop();
});

describe('console', () => {
  it('serves the app with strict headers and redirects / to /ui/', async () => {
    const root = await fetch(`${server.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 308);
    assert.equal(root.headers.get('location'), '/ui/');
    const index = await fetch(`${server.url}/ui/flags/deep/link`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    assert.doesNotMatch(index.headers.get('content-security-policy'), /unsafe-inline/);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, 'index.html names its script');
    const js = await fetch(`${server.url}${asset}`);
    assert.match(js.headers.get('cache-control'), /immutable/);
    const again = await fetch(`${server.url}${asset}`, {
      headers: { 'If-None-Match': js.headers.get('etag') },
    });
    assert.equal(again.status, 304);
  });

  it('signs in with the e-mail and password of the first start and lists the demo flags', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Sign in to Burgee' }).waitFor();
    await checkAxe(page, 'sign-in');
    for (const [width, height] of [
      [1280, 800],
      [390, 844],
    ]) {
      await page.setViewportSize({ width, height });
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme });
        await shot(page, `signin-${width}-${scheme}`);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 800 });
    await signIn(page, server.url, { email: 'nobody@localhost', password: 'wrong-password-1' }).catch(
      () => {},
    );
    await page.getByRole('alert').filter({ hasText: 'UNAUTHORIZED' }).waitFor();
    await signIn(page, server.url, { email: server.admin_email, password: server.admin_password });
    await page.getByText('Administrator').waitFor();
    const rows = page.locator('table.flags tbody tr');
    await rows.first().waitFor();
    assert.ok((await rows.count()) >= 5, 'the demo project has flags');
    // Search is server-side (q=).
    await page.getByRole('searchbox', { name: 'Search' }).fill('checkout');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('table.flags tbody tr')].every((r) =>
        r.dataset.flag.includes('checkout'),
      ),
    );
    await page.getByRole('searchbox', { name: 'Search' }).fill('');
    await checkAxe(page, 'flag list');
  });

  it('creates a client-visible flag, which the SDK page then sees (off)', async () => {
    await page.getByRole('link', { name: 'New flag' }).click();
    await page.getByRole('heading', { name: 'New flag' }).waitFor();
    await page.getByLabel('Key', { exact: true }).fill(FLAG);
    await page.getByLabel('Description').fill('Made by the console suite');
    await page.getByLabel('Tags (comma-separated)').fill('e2e');
    await page.getByLabel('Visible to client-side SDKs').check();
    await checkAxe(page, 'new flag');
    await page.getByRole('button', { name: 'Create flag' }).click();
    await page.getByRole('heading', { name: new RegExp(`^${FLAG}`) }).waitFor();
    assert.match(page.url(), new RegExp(`/ui/p/${server.project}/e/development/flags/${FLAG}$`));

    const q = new URLSearchParams({
      server: server.url,
      key: server.client_keys.development,
      pub: server.public_keys.development,
      env: 'development',
      user: 'user-1',
      country: 'DE',
      flag: FLAG,
    });
    sdk = await (await browser.newContext()).newPage();
    sdk.on('pageerror', (e) => errors.push(`sdk page: ${e.message}`));
    await sdk.goto(`${statics.base}/?${q}`);
    await sdk.waitForFunction(() => window.sdkReady === true, null, { timeout: 10000 });
    assert.equal(await sdkValue(), 'false');
    assert.equal(await sdk.locator('#reason').textContent(), 'DISABLED');
  });

  it('edits rules, rolls out, shows the diff, saves, and the SDK page receives it', async () => {
    await page.getByRole('switch', { name: `${FLAG} enabled in development` }).click();
    await page.getByRole('button', { name: '+ Rule' }).click();
    const rule = page.getByRole('listitem', { name: 'Rule rule-1' });
    await rule.getByRole('button', { name: '+ Condition' }).click();
    await rule.getByLabel('Attribute').fill('country');
    await rule.getByLabel('Operator').selectOption('in');
    await rule.getByLabel('Values, separated by commas').fill('DE, AT');
    await rule.getByLabel('Rule rule-1 serves').selectOption('on');
    // The default: a rollout whose weights must total 100 %.
    await page.getByLabel('Default serves').selectOption({ label: 'a percentage rollout…' });
    await page.getByLabel('Default: on percent').fill('30');
    await page.getByLabel('Default: on percent').press('Enter');
    await page.getByText('Weights total 80 %: 20 % left to assign').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Review and save' }).isDisabled(), true);
    await page.getByLabel('Default: off percent').fill('70');
    await page.getByLabel('Default: off percent').press('Enter');
    await page.getByText('Weights total 100 %').waitFor();
    await checkAxe(page, 'flag editor');
    await shot(page, 'editor-rules-1280-light');

    await page.getByRole('button', { name: 'Review and save' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Targeting in development').waitFor();
    const diff = await dialog.locator('.diff .add').allTextContents();
    assert.ok(diff.join('').includes('"enabled": true'), `the diff shows enabling: ${diff.join('')}`);
    assert.ok(diff.join('').includes('"country"'), 'the diff shows the rule');
    await checkAxe(page, 'review dialog');
    await shot(page, 'editor-review-1280-light');
    await dialog.getByRole('button', { name: 'Save and publish' }).click();
    await page.getByText(/Saved and published development version \d+/).waitFor();

    await waitSdk('true');
    assert.equal(await sdk.locator('#reason').textContent(), 'TARGETING_MATCH');
    const stored = await api('GET', `/v1/projects/${server.project}/flags/${FLAG}`, server.admin_token);
    const t = stored.body.environments.development;
    assert.equal(t.enabled, true);
    assert.deepEqual(t.rules[0].when, { all: [{ attribute: 'country', op: 'in', values: ['DE', 'AT'] }] });
    assert.deepEqual(t.default, {
      rollout: {
        weights: [
          { variant: 'on', weight: 3000 },
          { variant: 'off', weight: 7000 },
        ],
      },
    });
  });

  it('refuses a conflicting edit from a second browser context with a 412 and reloads', async () => {
    const other = await newPage();
    await signIn(other, server.url, { token: server.admin_token });
    const path = `/ui/p/${server.project}/e/development/flags/${FLAG}`;
    await go(other, path);
    await other.getByRole('heading', { name: new RegExp(`^${FLAG}`) }).waitFor();

    // A changes the description and saves first.
    await page.getByLabel('Description').fill('Changed by A');
    await page.getByRole('button', { name: 'Review and save' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Save and publish' }).click();
    await page.getByText(/Saved and published/).waitFor();

    // B, still on what it opened, changes the description too.
    await other.getByLabel('Description').fill('Changed by B');
    await other.getByRole('button', { name: 'Review and save' }).click();
    await other.getByRole('dialog').getByRole('button', { name: 'Save and publish' }).click();
    await other.getByText(`${FLAG} changed since you opened it.`).waitFor();
    await other.getByText(/Last publish: flag\.update console-e2e by Administrator/).waitFor();
    await checkAxe(other, 'conflict');
    await shot(other, 'editor-conflict-1280-light');
    await other.getByRole('button', { name: 'Reload' }).click();
    await other.waitForFunction(
      () =>
        document.querySelector('input[value="Changed by A"]') !== null ||
        [...document.querySelectorAll('input')].some((i) => i.value === 'Changed by A'),
    );
    await other.context().close();
  });

  it('shows a 422 at the field the server names', async () => {
    // A rule whose regex Rust refuses: the builder cannot know, the server's compile does.
    await page.getByRole('button', { name: '+ Rule' }).click();
    const rule = page.getByRole('listitem', { name: 'Rule rule-2' });
    await rule.getByRole('button', { name: '+ Condition' }).click();
    await rule.getByLabel('Attribute').fill('email');
    await rule.getByLabel('Operator').selectOption('matches');
    await rule.getByLabel('Value').fill('(?<=x)y');
    await page.getByRole('button', { name: 'Review and save' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Save and publish' }).click();
    await rule.getByRole('alert').waitFor();
    assert.match(await rule.getByRole('alert').textContent(), /regex/i);
    await page.getByRole('button', { name: 'Discard changes' }).click();
  });

  it('edits an object variant in the JSON editor, refusing JSON that is not an object', async () => {
    await go(page, `/ui/p/${server.project}/e/development/flags/maintenance-banner`);
    await page.getByRole('heading', { name: /^maintenance-banner/ }).waitFor();
    const editor = page.getByRole('textbox', { name: 'Value of scheduled' });
    await editor.waitFor();
    await editor.click();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.insertText('{"message": "Down for maintenance", ');
    await page.getByText('Not a valid JSON object').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Review and save' }).isDisabled(), true);
    await checkAxe(page, 'JSON editor');
    await shot(page, 'editor-json-1280-light');
    await editor.click();
    await page.keyboard.press('ControlOrMeta+End');
    await page.keyboard.insertText('"severity": "warning"}');
    await page.getByText('Not a valid JSON object').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Review and save' }).click();
    await page.getByRole('dialog').getByText('Down for maintenance').first().waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Discard changes' }).click();
    await go(page, `/ui/p/${server.project}/e/development/flags/${FLAG}`);
    await page.getByRole('heading', { name: new RegExp(`^${FLAG}`) }).waitFor();
  });

  it('edits a segment with the condition builder', async () => {
    await page.getByRole('link', { name: 'Segments' }).click();
    await page.getByRole('button', { name: 'beta-testers' }).click();
    const editor = page.getByRole('region', { name: 'Segment beta-testers' });
    await editor.waitFor();
    assert.equal(
      await editor.getByRole('option', { name: 'is in segment' }).count(),
      0,
      'segment rules cannot use segments',
    );
    await checkAxe(page, 'segment editor');
    await shot(page, 'segment-editor-1280-light');
    await editor.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('link', { name: 'Flags' }).click();
    await go(page, `/ui/p/${server.project}/e/development/flags/${FLAG}`);
    await page.getByRole('heading', { name: new RegExp(`^${FLAG}`) }).waitFor();
  });

  it('diffs two versions and rolls back; the SDK page follows', async () => {
    await page.getByRole('link', { name: 'History' }).click();
    const rows = page.locator('tbody tr[data-version]');
    await rows.first().waitFor();
    const versions = (await rows.evaluateAll((r) => r.map((x) => Number(x.dataset.version)))).sort(
      (a, b) => b - a,
    );
    // Newest: the description change; before it: the rules; before that: the creation (off).
    const [, rules, created] = versions;
    await page.getByLabel('From version', { exact: true }).selectOption(String(created));
    await page.getByLabel('To version', { exact: true }).selectOption(String(rules));
    await page.getByRole('button', { name: 'Show diff' }).click();
    const diff = page.getByRole('region', { name: 'Diff' });
    await diff.getByText(FLAG).waitFor();
    assert.match(await diff.textContent(), /changed flag console-e2e \(.*enabled.*\)/);
    await page.locator(`tr[data-version="${created}"]`).getByRole('button', { name: 'Envelope' }).click();
    await page.getByRole('heading', { name: `Signed envelope of version ${created}` }).waitFor();
    assert.match(await page.locator('pre.code').textContent(), /"payloadType"/);
    await checkAxe(page, 'history');
    await page
      .locator(`tr[data-version="${created}"]`)
      .getByRole('button', { name: `Roll back to ${created}` })
      .click();
    await page.getByRole('dialog').getByRole('button', { name: 'Roll back' }).click();
    await page.getByText(`Rolled back to version ${created}`).waitFor();
    await waitSdk('false');
  });

  it('asks before toggling in a protected environment', async () => {
    await page.getByRole('link', { name: 'Flags' }).click();
    const toggle = page.getByRole('switch', { name: `${FLAG} in production` });
    await toggle.waitFor();
    assert.equal(await toggle.getAttribute('aria-checked'), 'false');
    await toggle.click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('is a protected environment').waitFor();
    await checkAxe(page, 'protected toggle');
    await dialog.getByRole('button', { name: 'Turn on' }).click();
    await page.waitForFunction(
      (name) => document.querySelector(`[aria-label="${name}"]`)?.getAttribute('aria-checked') === 'true',
      `${FLAG} in production`,
    );
    const t = await api(
      'GET',
      `/v1/projects/${server.project}/environments/production/flags/${FLAG}`,
      server.admin_token,
    );
    assert.equal(t.body.enabled, true);
  });

  it('limits a viewer: no save in the console, and the server refuses', async () => {
    await page.getByRole('link', { name: 'Access' }).click();
    // A viewer user, added in the console; its one-time password is shown once.
    const users = page.getByRole('form', { name: 'Add a user' });
    await users.getByLabel('E-mail').fill('viewer@example.com');
    await users.getByLabel('Display name').fill('Vera Viewer');
    await users.locator('select[name="user-role"]').selectOption('viewer');
    await users.getByRole('button', { name: 'Add user' }).click();
    const password = await page.getByLabel("New user's password").inputValue();
    viewerPassword = password;
    assert.ok(password.length >= 12);
    // An API token shown once too.
    await page.getByLabel('Name', { exact: true }).fill('console-viewer');
    await page.locator('select[name="role"]').selectOption('viewer');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    assert.match(await page.getByLabel('New secret').inputValue(), /^bga_/);
    await checkAxe(page, 'access');
    await shot(page, 'access-created-1280-light');

    const viewer = await newPage();
    await signIn(viewer, server.url, { email: 'viewer@example.com', password });
    await viewer.getByText('Vera Viewer').waitFor();
    assert.equal(await viewer.getByRole('link', { name: 'New flag' }).count(), 0);
    assert.equal(await viewer.getByRole('switch', { name: `${FLAG} in development` }).isDisabled(), true);
    await go(viewer, `/ui/p/${server.project}/e/development/flags/${FLAG}`);
    await viewer.getByText('Your role (viewer) can view this flag but not change it').waitFor();
    assert.equal(await viewer.getByRole('button', { name: 'Review and save' }).count(), 0);
    assert.equal(await viewer.getByRole('button', { name: '+ Rule' }).count(), 0);
    await checkAxe(viewer, 'viewer editor');
    await shot(viewer, 'editor-viewer-1280-light');
    await viewer.context().close();

    // The server refuses the same write from this user's session (cookie and CSRF token).
    const session = await apiSession(server.url, { email: 'viewer@example.com', password });
    const path = `/v1/projects/${server.project}/environments/development/flags/${FLAG}`;
    const read = await fetch(`${server.url}${path}`, { headers: { Cookie: session.cookie } });
    assert.equal(read.status, 200);
    const { revision: _r, updated_at: _u, ...targeting } = await read.json();
    const put = await fetch(`${server.url}${path}`, {
      method: 'PUT',
      headers: {
        Cookie: session.cookie,
        'X-CSRF-Token': session.csrf,
        'If-Match': read.headers.get('etag'),
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ ...targeting, enabled: false }),
    });
    assert.equal(put.status, 403);
  });

  it('names the user in the audit log', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Action').fill('flag.create');
    const row = page.locator('table.audit tbody tr').filter({ hasText: `flag:${FLAG}` });
    await row.waitFor();
    assert.match(await row.textContent(), /Administrator/);
    await page.getByLabel('Action').fill('');
  });

  it('works from the keyboard: skip link, navigation, a switch', async () => {
    // A reload keeps the session (the cookie); focus starts at the top of the page.
    await page.goto(`${server.url}/ui/p/${server.project}/e/development/flags`);
    await page.getByRole('heading', { name: 'Flags' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    // Tab reaches the section links; Enter follows one.
    let guard = 0;
    while ((await page.evaluate(() => document.activeElement?.textContent)) !== 'History' && guard++ < 20) {
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'History of development' }).waitFor();
    await page.getByRole('link', { name: 'Flags' }).focus();
    await page.keyboard.press('Enter');
    const toggle = page.getByRole('switch', { name: `${FLAG} in development` });
    const before = await toggle.getAttribute('aria-checked');
    await toggle.focus();
    await page.keyboard.press('Space');
    await page.waitForFunction(
      ([name, was]) => document.querySelector(`[aria-label="${name}"]`)?.getAttribute('aria-checked') !== was,
      [`${FLAG} in development`, before],
    );
  });

  it('has no serious accessibility violations on any screen, in both themes, and saves screenshots', async () => {
    const screens = [
      ['flags', `/ui/p/${server.project}/e/development/flags`, 'Flags'],
      ['editor', `/ui/p/${server.project}/e/development/flags/checkout-redesign`, 'checkout-redesign'],
      ['experiments', `/ui/p/${server.project}/e/development/experiments`, 'Experiments'],
      [
        'experiment',
        `/ui/p/${server.project}/e/staging/experiments/checkout-redesign`,
        'Experiment checkout-redesign',
      ],
      ['segments', `/ui/p/${server.project}/e/development/segments`, 'Segments in development'],
      ['history', `/ui/p/${server.project}/e/development/history`, 'History of development'],
      ['audit', `/ui/p/${server.project}/e/development/audit`, 'Audit log'],
      ['access', `/ui/p/${server.project}/e/development/access`, 'Access'],
      ['new-flag', `/ui/p/${server.project}/e/development/flags/new`, 'New flag'],
    ];
    for (const dark of [false, true]) {
      await setTheme(page, dark);
      for (const [width, height] of [
        [1280, 800],
        [390, 844],
      ]) {
        await page.setViewportSize({ width, height });
        for (const [name, path, heading] of screens) {
          await go(page, path);
          await page
            .getByRole('heading', { name: new RegExp(`^${heading}`) })
            .first()
            .waitFor();
          await page.waitForLoadState('networkidle');
          if (width === 1280) await checkAxe(page, `${name} (${dark ? 'dark' : 'light'})`);
          await shot(page, `${name}-${width}-${dark ? 'dark' : 'light'}`);
        }
      }
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    await setTheme(page, false);
    assert.deepEqual(errors, [], 'no page errors');
  });

  it('signs out everywhere: the other session of the same user ends too', async () => {
    const one = await newPage();
    const two = await newPage();
    for (const p of [one, two])
      await signIn(p, server.url, { email: 'viewer@example.com', password: viewerPassword });
    await one.getByRole('button', { name: 'Sign out everywhere' }).click();
    await one.getByRole('heading', { name: 'Sign in to Burgee' }).waitFor();
    // The other page learns it at its next request.
    await two.getByRole('link', { name: 'History' }).click();
    await two.getByRole('heading', { name: 'Sign in to Burgee' }).waitFor();
    await one.context().close();
    await two.context().close();
  });
});
