// Live pages, "Try it" and public keys in Chromium against a real `burgee serve --demo`:
// - a change made by someone else (an API token) appears on the open flag list without a
//   reload, announced with who changed what;
// - "Try it" evaluates a demo rollout for a context, published and with an unsaved edit, and
//   shows what the server's evaluation endpoint answers (value, variant, reason, rule, bucket);
// - the access screen lists each environment's public key exactly as the first start printed;
// - an admin adds, protects and deletes an environment and creates a project.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminApi, go, openPage, seriousViolations, shot, signIn, startServer } from './harness.mjs';

let server;
let browser;
let page;
const errors = [];

const api = (method, path, body, headers) => adminApi(server, method, path, body, headers);

before(async () => {
  server = await startServer();
  ({ browser, page } = await openPage(errors));
  await signIn(page, server.url, { email: server.admin_email, password: server.admin_password });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('live console', () => {
  it("shows someone else's change on the open flag list without a reload", async () => {
    await go(page, '/ui/p/webshop/e/staging/flags');
    await page.getByRole('heading', { name: 'Flags' }).waitFor();
    // Give the change stream a moment to connect before the change is made.
    await page.waitForTimeout(500);
    const started = Date.now();
    const put = await api(
      'PUT',
      '/v1/projects/webshop/environments/staging/flags/gift-wrapping',
      {
        enabled: false,
        off_variant: 'off',
        default: { variant: 'on' },
      },
      { 'If-Match': '*' },
    );
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const notice = page.getByTestId('live-change').filter({ hasText: 'flag:gift-wrapping' });
    await notice.waitFor({ timeout: 10000 });
    const seen = Date.now() - started;
    console.log(`live change shown ${seen} ms after the write was answered`);
    assert.match(await notice.textContent(), /bootstrap admin \(token\) updated targeting/);
    assert.match(await notice.textContent(), /in staging/);
    // The list itself was refreshed: the flag is off in staging now.
    await page
      .getByRole('switch', { name: 'gift-wrapping in staging', checked: false })
      .waitFor({ timeout: 10000 });
    await shot(page, 'live-change');
    assert.deepEqual(await seriousViolations(page), []);
  });

  it('tries a rollout for a context, published and unsaved', async () => {
    await go(page, '/ui/p/webshop/e/production/flags/pricing-experiment');
    const panel = page.getByRole('region', { name: 'Try it in production' });
    await panel.waitFor();
    await panel.getByLabel('Targeting key').fill('user-42');
    await panel.getByLabel('Attributes (JSON object)').fill('{"country": "DE"}');
    await panel.getByRole('button', { name: 'Evaluate published' }).click();
    const result = panel.getByRole('definition');
    await panel.getByLabel('Evaluation result').waitFor();
    const expected = await api(
      'POST',
      '/v1/projects/webshop/environments/production/flags/pricing-experiment/evaluate',
      {
        context: { targetingKey: 'user-42', country: 'DE' },
      },
    );
    assert.equal(expected.status, 200);
    assert.equal(expected.body.reason, 'SPLIT');
    const texts = await result.allTextContents();
    assert.equal(texts[1], expected.body.variant);
    assert.equal(texts[2], 'SPLIT');
    assert.equal(texts[3], 'eligible-markets');
    assert.match(texts[4], new RegExp(`^${expected.body.bucket} of 10,000`));
    // Outside the eligible markets the rule does not match: the default serves.
    await panel.getByLabel('Attributes (JSON object)').fill('{"country": "JP"}');
    await panel.getByRole('button', { name: 'Evaluate published' }).click();
    await panel.getByText('DEFAULT', { exact: true }).waitFor();
    // A malformed attributes box is reported, nothing is sent.
    await panel.getByLabel('Attributes (JSON object)').fill('[1, 2]');
    await panel.getByRole('button', { name: 'Evaluate published' }).click();
    await panel.getByRole('alert').filter({ hasText: 'JSON object' }).waitFor();
    await panel.getByLabel('Attributes (JSON object)').fill('{"country": "DE"}');
    await panel.getByRole('button', { name: 'Evaluate published' }).click();
    await panel.getByLabel('Evaluation result').waitFor();
    await panel.scrollIntoViewIfNeeded();
    await shot(page, 'try-it');
    assert.deepEqual(await seriousViolations(page), []);
  });

  it('lists every environment public key as the first start printed it', async () => {
    await go(page, '/ui/p/webshop/e/production/access');
    const panel = page.getByRole('region', { name: 'Public keys for SDKs' });
    await panel.waitFor();
    for (const [env, key] of Object.entries(server.public_keys)) {
      await panel.getByText(key, { exact: true }).waitFor();
      assert.ok(env);
    }
    await panel.scrollIntoViewIfNeeded();
    await shot(page, 'public-keys');
    assert.deepEqual(await seriousViolations(page), []);
  });

  it('adds, protects and deletes an environment, and creates a project', async () => {
    await go(page, '/ui/p/webshop/e/production/projects');
    await page.getByRole('heading', { name: 'Projects and environments' }).waitFor();
    const envForm = page.getByRole('form', { name: 'Create an environment' });
    await envForm.getByLabel('Key').fill('qa');
    await envForm.getByLabel('Name').fill('QA');
    await envForm.getByRole('button', { name: 'Create environment' }).click();
    await page.getByRole('status').filter({ hasText: 'Created environment qa' }).waitFor();
    const protect = page.getByRole('switch', { name: 'qa protected' });
    assert.equal(await protect.getAttribute('aria-checked'), 'false');
    await protect.click();
    await page.getByRole('switch', { name: 'qa protected', checked: true }).waitFor();
    const qa = await api('GET', '/v1/projects/webshop/environments/qa');
    assert.equal(qa.body.protected, true);
    await shot(page, 'projects');
    assert.deepEqual(await seriousViolations(page), []);
    await page.getByRole('row').filter({ hasText: 'qa' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted environment qa' }).waitFor();
    assert.equal((await api('GET', '/v1/projects/webshop/environments/qa')).status, 404);

    const projectForm = page.getByRole('form', { name: 'Create a project' });
    await projectForm.getByLabel('Project key').fill('mobile-app');
    await projectForm.getByLabel('Project name').fill('Mobile app');
    await projectForm.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('link', { name: 'Mobile app' }).click();
    await page.waitForURL(/\/ui\/p\/mobile-app\/e\/development\/flags/);
    await page.getByRole('heading', { name: 'Flags' }).waitFor();
    assert.deepEqual(errors, []);
  });
});
