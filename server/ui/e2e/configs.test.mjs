// The console's configuration centre in Chromium against a real `burgee serve --demo`: a
// service created, a YAML entry created after the server refused text that does not parse (the
// 422 shown at the value with its line and column, the caret put there) and a value that breaks
// the entry's JSON Schema (the JSON pointer), edited with an override after a review of the diff,
// its history with the diff of two revisions, a rollback, the entry list with a secret's value
// masked and the prefix filter, a 412 after a concurrent change, deletion and a rollback that
// brings the entry back; the demo's checkout service in production, and an environment switch
// that keeps the service. axe-core on each screen; screenshots in light and dark, wide and
// narrow.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  adminApi,
  go,
  openPage,
  seriousViolations,
  setTheme,
  shot,
  signIn,
  startServer,
} from './harness.mjs';

const SERVICE = 'checkout-api';
let server;
let browser;
let page;
const errors = [];

const api = (method, path, body, headers) => adminApi(server, method, path, body, headers);

const configs = () => `/v1/projects/${server.project}/environments/development/services/${SERVICE}/configs`;
const entryUrl = (key) => `/ui/p/${server.project}/e/development/configs/${SERVICE}/entries/${key}`;

async function checkAxe(p, name) {
  assert.deepEqual(await seriousViolations(p), [], `axe on ${name}`);
}

/** Replaces the text of the text area labelled `label` (in `scope`). */
async function typeInto(scope, label, text) {
  const area = scope.getByLabel(label, { exact: true });
  await area.fill(text);
  return area;
}

before(async () => {
  server = await startServer();
  ({ browser, page } = await openPage(errors));
  await signIn(page, server.url, { email: server.admin_email, password: server.admin_password });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('console configuration', () => {
  it('creates a service from the Configuration section', async () => {
    await page
      .getByRole('navigation', { name: 'Sections' })
      .getByRole('link', { name: 'Configuration' })
      .click();
    await page.getByRole('heading', { name: 'Configuration', level: 1 }).waitFor();
    const form = page.getByRole('form', { name: 'Create a service' });
    await form.getByLabel('Service name').fill(SERVICE);
    await form.getByLabel('Description').fill('Checkout backend: payment and cart settings');
    await form.getByRole('button', { name: 'Create service' }).click();
    await page.getByRole('heading', { name: /^checkout-api in development/ }).waitFor();
    await page.getByText('checkout-api has no entries in development yet.').waitFor();
    const services = await api('GET', `/v1/projects/${server.project}/services`);
    assert.equal(
      services.body.find((s) => s.key === SERVICE)?.description,
      'Checkout backend: payment and cart settings',
    );
    // A second one, and the list.
    assert.equal(
      (await api('PUT', `/v1/projects/${server.project}/services/search-api`, { description: 'Search' }))
        .status,
      200,
    );
    await page.getByRole('link', { name: 'Configuration' }).first().click();
    await page.locator('tr[data-service="search-api"]').waitFor();
    // The demo's own service and the two made here.
    const listed = await page.locator('tr[data-service]').evaluateAll((r) => r.map((x) => x.dataset.service));
    assert.deepEqual(
      listed.filter((k) => k !== 'checkout'),
      [SERVICE, 'search-api'],
    );
    await checkAxe(page, 'services');
    await shot(page, 'configs-services-1280-light');
  });

  it('creates a YAML entry after the server refuses text that does not parse and a schema violation', async () => {
    await page.locator(`tr[data-service="${SERVICE}"]`).getByRole('link', { name: SERVICE }).click();
    await page.getByRole('link', { name: 'New entry' }).click();
    await page.getByRole('heading', { name: `New entry of ${SERVICE}` }).waitFor();
    await page.getByLabel('Key', { exact: true }).fill('db');
    await page.getByLabel('Format').selectOption('yaml');
    await page.getByLabel('Description', { exact: true }).fill('Database pool');
    // Line 3 opens a flow sequence that never closes.
    const value = await typeInto(page, 'Value (YAML)', 'pool: 5\ntimeout: 10\nhosts: [a, b\n');
    await page.getByText('YAML is parsed by the server when you save').waitFor();
    await page.getByRole('button', { name: 'Create entry' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: /not valid YAML at line \d+, column \d+/ });
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /^value: not valid YAML at line \d+, column \d+/);
    assert.equal(await value.getAttribute('aria-invalid'), 'true');
    await page.getByText('CONFIG_INVALID: the server refused the value').waitFor();
    // The message's place: the caret goes there.
    const [, line] = /line (\d+)/.exec(await refusal.textContent());
    await refusal.getByRole('button', { name: /^Go to line/ }).click();
    const caret = await value.evaluate((el) => {
      const before = el.value.slice(0, el.selectionStart);
      return { focused: document.activeElement === el, line: before.split('\n').length };
    });
    assert.deepEqual(caret, { focused: true, line: Number(line) });
    await checkAxe(page, 'entry refused (YAML)');
    await shot(page, 'config-entry-invalid-yaml-1280-light');
    // Editing the text takes the refusal away.
    await typeInto(page, 'Value (YAML)', 'pool: 99\ntimeout: 10\nhosts: [a, b]\n');
    await refusal.waitFor({ state: 'detached' });

    // A schema the value breaks: refused at its JSON pointer.
    await page.getByText('JSON Schema (none)').click();
    await typeInto(
      page,
      'JSON Schema the parsed value must satisfy (empty: none)',
      JSON.stringify({
        type: 'object',
        required: ['pool'],
        properties: { pool: { type: 'integer', maximum: 50 }, timeout: { type: 'integer' } },
      }),
    );
    await page.getByRole('button', { name: 'Create entry' }).click();
    const violation = page.getByRole('alert').filter({ hasText: 'breaks the schema at /pool' });
    await violation.waitFor();
    await page.getByText(/see value at \/pool/).waitFor();
    await checkAxe(page, 'entry refused (schema)');
    await shot(page, 'config-entry-invalid-schema-1280-light');

    await typeInto(page, 'Value (YAML)', 'pool: 5\ntimeout: 10\nhosts: [a, b]\n');
    await page.getByRole('button', { name: 'Create entry' }).click();
    await page.getByRole('heading', { name: /^db YAML/ }).waitFor();
    await page
      .getByRole('status')
      .filter({ hasText: /Saved revision 1; checkout-api in development published as version \d+/ })
      .waitFor();
    // The server's parse of the saved text.
    const parsed = page.getByRole('figure', { name: /Parsed value \(as the server parsed revision 1\)/ });
    assert.deepEqual(JSON.parse(await parsed.locator('pre').textContent()), {
      pool: 5,
      timeout: 10,
      hosts: ['a', 'b'],
    });
    const stored = await api('GET', `${configs()}/db`);
    assert.equal(stored.etag, '"r1"');
    assert.equal(stored.body.format, 'yaml');
    assert.deepEqual(stored.body.parsed, { pool: 5, timeout: 10, hosts: ['a', 'b'] });
    await checkAxe(page, 'entry');
    await shot(page, 'config-entry-1280-light');
  });

  it('edits the entry with an override after reviewing the diff', async () => {
    await typeInto(page, 'Value (YAML)', 'pool: 10\ntimeout: 10\nhosts: [a, b]\n');
    await page.getByRole('button', { name: '+ Override' }).click();
    const override = page.getByRole('group', { name: 'Override 1' });
    await override.getByLabel('Override id').fill('eu-canary');
    await override.getByLabel('Share of matching instances (%)').fill('12.5');
    await override.getByText('1250 basis points of the instances').waitFor();
    await typeInto(override, 'Condition (JSON; empty: every instance)', '{"attribute": "zone", "op": "in",');
    await override.getByText(/condition: not valid JSON at line 1, column 34/).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Review and save' }).isDisabled(), true);
    await typeInto(
      override,
      'Condition (JSON; empty: every instance)',
      JSON.stringify({ attribute: 'zone', op: 'in', values: ['eu-west-1a'] }),
    );
    await typeInto(override, 'Override value (YAML)', 'pool: 20\ntimeout: 10\nhosts: [a, b]\n');
    await checkAxe(page, 'entry with an override');
    await shot(page, 'config-entry-override-1280-light');

    await page.getByRole('button', { name: 'Review and save' }).click();
    const dialog = page.getByRole('dialog', { name: 'Save db in development?' });
    await dialog.getByText('Changes: value, overrides.').waitFor();
    await dialog.locator('.dl.del', { hasText: 'pool: 5' }).waitFor();
    await dialog.locator('.dl.add', { hasText: 'pool: 10' }).waitFor();
    await checkAxe(page, 'review');
    await shot(page, 'config-entry-review-1280-light');
    await dialog.getByRole('button', { name: 'Save and publish' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved revision 2' }).waitFor();
    const stored = await api('GET', `${configs()}/db`);
    assert.equal(stored.body.revision, 2);
    assert.deepEqual(
      stored.body.overrides.map((o) => [o.id, o.percentage, o.parsed.pool]),
      [['eu-canary', 1250, 20]],
    );
  });

  it('shows the history with diffs and rolls back', async () => {
    const history = page.getByRole('region', { name: 'History of db' });
    await history.locator('tr[data-revision="2"]').waitFor();
    assert.deepEqual(
      await history.locator('tr[data-revision]').evaluateAll((r) => r.map((x) => x.dataset.revision)),
      ['2', '1'],
    );
    await history.locator('tr[data-revision="2"]').getByRole('button', { name: 'Diff with r1' }).click();
    const diff = history.getByRole('region', { name: 'Diff of revisions 1 and 2' });
    await diff.locator('.dl.add', { hasText: 'pool: 10' }).waitFor();
    assert.equal(await diff.locator('.dl.del').count(), 1);
    assert.match(await diff.locator('figcaption').textContent(), /Revision 1 → 2.*\+1.*−1/);
    await diff.getByText("Also different: overrides (the diff above is of the value's text).").waitFor();
    await checkAxe(page, 'history with diff');
    await history.scrollIntoViewIfNeeded();
    await shot(page, 'config-history-diff-1280-light');
    await setTheme(page, true);
    await diff.scrollIntoViewIfNeeded();
    await checkAxe(page, 'history with diff (dark)');
    await shot(page, 'config-history-diff-1280-dark');
    await setTheme(page, false);

    await history.getByRole('button', { name: 'Roll back to r1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Roll db back to revision 1?' });
    await checkAxe(page, 'rollback confirmation');
    await shot(page, 'config-rollback-confirm-1280-light');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Rolled db back to revision 1: now revision 3' })
      .waitFor();
    await page.waitForFunction(
      () => document.querySelector('textarea.mono')?.value === 'pool: 5\ntimeout: 10\nhosts: [a, b]\n',
    );
    await history.locator('tr[data-revision="3"]').getByText('rollback').waitFor();
    await history.scrollIntoViewIfNeeded();
    await shot(page, 'config-history-rollback-1280-light');
    const stored = await api('GET', `${configs()}/db`);
    assert.equal(stored.body.revision, 3);
    assert.deepEqual(stored.body.overrides, []);
    // Any two revisions: 2 and 3 differ as 2 and 1 did, the other way round.
    await history.getByLabel('From revision', { exact: true }).selectOption('2');
    await history.getByLabel('To revision', { exact: true }).selectOption('3');
    await history.getByRole('button', { name: 'Show diff' }).click();
    const back = history.getByRole('region', { name: 'Diff of revisions 2 and 3' });
    await back.locator('.dl.del', { hasText: 'pool: 10' }).waitFor();
    await back.locator('.dl.add', { hasText: 'pool: 5' }).waitFor();
  });

  it('refuses a save after a concurrent change (412) and reloads', async () => {
    const read = await api('GET', `${configs()}/db`);
    const changed = await api(
      'PUT',
      `${configs()}/db`,
      { format: 'yaml', value: 'pool: 7\ntimeout: 10\nhosts: [a, b]\n', schema: read.body.schema },
      { 'If-Match': read.etag },
    );
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    await page.getByLabel('Description', { exact: true }).fill('Database pool (edited)');
    await page.getByRole('button', { name: 'Review and save' }).click();
    await page
      .getByRole('dialog', { name: 'Save db in development?' })
      .getByRole('button', { name: 'Save and publish' })
      .click();
    const conflict = page.getByRole('alert').filter({ hasText: 'db changed since you opened it.' });
    await conflict.waitFor();
    await checkAxe(page, 'conflict');
    await conflict.getByRole('button', { name: 'Reload' }).click();
    await page.waitForFunction(() => document.querySelector('textarea.mono')?.value.startsWith('pool: 7'));
    await page.getByText('Revision 4 · updated').waitFor();
  });

  it('lists entries with secrets masked, filters by prefix, and deletes one', async () => {
    for (const [key, body] of [
      ['db.replica', { format: 'json', value: '{"host": "replica.internal", "pool": 4}' }],
      [
        'payment.api-key',
        { format: 'text', value: 'sk_live_very_secret', secret: true, description: 'PSP key' },
      ],
      ['feature.copy', { format: 'properties', value: 'title=Checkout\nsubtitle=Pay securely\n' }],
    ]) {
      const r = await api('PUT', `${configs()}/${key}`, body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    await go(page, `/ui/p/${server.project}/e/development/configs/${SERVICE}`);
    const rows = page.locator('tr[data-entry]');
    await page.locator('tr[data-entry="payment.api-key"]').waitFor();
    assert.equal(await rows.count(), 4);
    const secret = page.locator('tr[data-entry="payment.api-key"]');
    assert.match(await secret.textContent(), /Secret\s*\*{8}/);
    assert.doesNotMatch(await page.locator('table.configs').textContent(), /sk_live/);
    assert.match(await page.locator('tr[data-entry="db"]').textContent(), /YAML.*pool: 7 timeout: 10.*r4/);
    await checkAxe(page, 'entries');
    await shot(page, 'config-entries-1280-light');
    await setTheme(page, true);
    await checkAxe(page, 'entries (dark)');
    await shot(page, 'config-entries-1280-dark');
    await setTheme(page, false);
    await page.setViewportSize({ width: 390, height: 844 });
    await checkAxe(page, 'entries (narrow)');
    await shot(page, 'config-entries-390-light');
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.getByRole('searchbox', { name: 'Key prefix' }).fill('db');
    await page.getByText('2 entries starting with “db”').waitFor();
    assert.deepEqual((await rows.evaluateAll((r) => r.map((x) => x.dataset.entry))).sort(), [
      'db',
      'db.replica',
    ]);
    await page.getByRole('searchbox', { name: 'Key prefix' }).fill('');
    await page.getByText('4 entries').waitFor();

    // The secret's editor: the value is write-only, so a save needs it typed again.
    await page.getByRole('link', { name: 'payment.api-key' }).click();
    await page.getByRole('heading', { name: /^payment\.api-key/ }).waitFor();
    await page.getByText('Secret values are write-only: enter the value again to save.').waitFor();
    await checkAxe(page, 'secret entry');
    await shot(page, 'config-entry-secret-1280-light');
    await page.getByRole('button', { name: 'Delete entry' }).click();
    const dialog = page.getByRole('dialog', {
      name: `Delete payment.api-key from ${SERVICE} in development?`,
    });
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Deleted payment.api-key from ${SERVICE} in development.` })
      .waitFor();
    await page.getByText('3 entries').waitFor();
    assert.equal((await api('GET', `${configs()}/payment.api-key`)).status, 404);

    // The deleted entry's page keeps its history, and a rollback brings it back.
    await go(page, entryUrl('payment.api-key'));
    await page.getByRole('alert').filter({ hasText: 'CONFIG_NOT_FOUND' }).waitFor();
    const history = page.getByRole('region', { name: 'History of payment.api-key' });
    await history.locator('tr[data-revision="2"]').getByText('delete').waitFor();
    await history.getByRole('button', { name: 'Roll back to r1' }).click();
    await page
      .getByRole('dialog', { name: 'Roll payment.api-key back to revision 1?' })
      .getByRole('button', { name: 'Roll back' })
      .click();
    await page.getByRole('heading', { name: /^payment\.api-key Plain text/ }).waitFor();
    const back = await api('GET', `${configs()}/payment.api-key`);
    assert.equal(back.body.revision, 3);
    assert.equal(back.body.secret, true);
    assert.equal(back.body.value, null);
  });

  it("shows the demo's service in production, and keeps the service when the environment changes", async () => {
    const services = await api('GET', `/v1/projects/${server.project}/services`);
    assert.ok(
      services.body.some((s) => s.key === 'checkout'),
      'the demo seeds a checkout service',
    );
    const entries = await api(
      'GET',
      `/v1/projects/${server.project}/environments/production/services/checkout/configs`,
    );
    await go(page, `/ui/p/${server.project}/e/production/configs/checkout`);
    await page.getByRole('heading', { name: /^checkout in production/ }).waitFor();
    await page.locator('tr[data-entry]').first().waitFor();
    assert.equal(await page.locator('tr[data-entry]').count(), entries.body.length);
    for (const e of entries.body.filter((x) => x.secret)) {
      const row = page.locator(`tr[data-entry="${e.key}"]`);
      assert.match(await row.textContent(), /Secret\s*\*{8}/);
    }
    await checkAxe(page, 'demo service in production');
    await shot(page, 'config-entries-demo-production-1280-light');
    await page.getByLabel('Environment', { exact: true }).selectOption('staging');
    await page.getByRole('heading', { name: /^checkout in staging/ }).waitFor();
    assert.match(page.url(), /\/e\/staging\/configs\/checkout$/);
    assert.deepEqual(errors, [], 'no page errors');
  });
});
