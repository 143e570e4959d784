// The console's newer screens and tools in Chromium against a real `burgee serve --demo`:
// experiments (results from events sent with the SDK key: the split with a sample-ratio
// mismatch, per-metric comparisons, the forest plot, CUPED; the definition edited, checked at
// its fields and refused with a 412 after a concurrent change), bulk enable/disable with a
// partial failure, rule reordering by keyboard and by drag and drop, and JSON Schema checks of
// object variants. axe-core on each, screenshots in light and dark.
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

let server;
let browser;
let page;
const errors = [];

const api = (method, path, body, headers) => adminApi(server, method, path, body, headers);

/** Changes a flag's project-wide definition through the API (as someone else would). */
async function changeDefinition(key, change) {
  const read = await api('GET', `/v1/projects/${server.project}/flags/${key}`);
  const f = read.body;
  const def = {
    type: f.type,
    variants: f.variants,
    description: f.description ?? '',
    owner: f.owner ?? '',
    tags: f.tags ?? [],
    client_visible: f.client_visible ?? false,
    schema: f.schema ?? null,
    experiment: f.experiment ?? null,
    ...change,
  };
  const put = await api('PUT', `/v1/projects/${server.project}/flags/${key}`, def, { 'If-Match': read.etag });
  assert.equal(put.status, 200, JSON.stringify(put.body));
}

async function checkAxe(p, name) {
  assert.deepEqual(await seriousViolations(p), [], `axe on ${name}`);
}

/** A deterministic stream of numbers in [0, 1). */
function random(seed) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/**
 * Sends exposures and track events of `units` units for `flag` in staging: `split[i]` units see
 * variant i; each converts with `rates[i]` (metric `conversion`) and then spends (`value`
 * metric, with some spending before their exposure too, which CUPED uses).
 */
async function sendEvents({ flag, variants, split, rates, conversion, value }) {
  const rnd = random(flag.length);
  const now = Date.now();
  const events = [];
  let unit = 0;
  for (const [i, variant] of variants.entries()) {
    for (let n = 0; n < split[i]; n++) {
      const key = `${flag}-user-${unit++}`;
      const t = now - 86_400_000 + unit * 1000;
      const spender = 20 + rnd() * 80;
      events.push({ kind: 'track', key: value, value: spender, targeting_key: key, time: t - 3_600_000 });
      events.push({
        kind: 'exposure',
        flag,
        variant,
        reason: 'SPLIT',
        targeting_key: key,
        snapshot_version: 1,
        snapshot_digest: `sha256:${'ab'.repeat(32)}`,
        time: t,
      });
      if (rnd() < rates[i]) {
        events.push({ kind: 'track', key: conversion, targeting_key: key, time: t + 60_000 });
        events.push({
          kind: 'track',
          key: value,
          value: spender * (1 + i * 0.05),
          targeting_key: key,
          time: t + 61_000,
        });
      }
    }
  }
  for (let i = 0; i < events.length; i += 1000) {
    const r = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.sdk_keys.staging}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        batch_id: `${flag}-batch-${i}`,
        sdk: { name: 'console-e2e', version: '1' },
        events: events.slice(i, i + 1000),
      }),
    });
    const body = await r.json();
    assert.equal(r.status, 202, JSON.stringify(body));
    assert.deepEqual(body.rejected, []);
  }
}

before(async () => {
  server = await startServer();
  ({ browser, page } = await openPage(errors));
  await sendEvents({
    flag: 'pricing-experiment',
    variants: ['control', 'discount-10', 'free-shipping'],
    split: [297, 297, 306],
    rates: [0.1, 0.18, 0.12],
    conversion: 'purchase',
    value: 'revenue',
  });
  // 60/40 where the rollout says 50/50: a sample-ratio mismatch.
  await sendEvents({
    flag: 'checkout-redesign',
    variants: ['on', 'off'],
    split: [300, 200],
    rates: [0.3, 0.25],
    conversion: 'checkout_completed',
    value: 'order_value',
  });
  await signIn(page, server.url, { email: server.admin_email, password: server.admin_password });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('console features', () => {
  it('lists the experiments and shows results with a forest plot, SRM and CUPED', async () => {
    await page.getByRole('link', { name: 'Experiments' }).click();
    await page.getByRole('heading', { name: 'Experiments' }).waitFor();
    const rows = page.locator('tr[data-experiment]');
    await page.locator('tr[data-experiment="pricing-experiment"]').waitFor();
    assert.deepEqual((await rows.evaluateAll((r) => r.map((x) => x.dataset.experiment))).sort(), [
      'checkout-redesign',
      'pricing-experiment',
    ]);
    // checkout-redesign serves one variant by default in development: not a rollout there.
    assert.match(
      await page.locator('tr[data-experiment="checkout-redesign"]').textContent(),
      /not a rollout here/,
    );
    await checkAxe(page, 'experiments');
    await shot(page, 'experiments-1280-light');

    await go(page, `/ui/p/${server.project}/e/staging/experiments/pricing-experiment`);
    await page.getByRole('heading', { name: /^Experiment pricing-experiment/ }).waitFor();
    const split = page.locator('table.split');
    await split.getByText('297').first().waitFor();
    assert.equal(await page.getByText('Sample ratio mismatch').count(), 0);
    await page.getByText(/Sample ratio as configured/).waitFor();
    const purchase = page.getByRole('region', { name: /^purchase/ });
    assert.match(await purchase.textContent(), /discount-10.*pp/s);
    // Two treatments in the forest plot, described for assistive technology.
    const plot = purchase.getByRole('img', { name: /purchase: difference from control/ });
    await plot.waitFor();
    assert.equal(await plot.locator('rect.point').count(), 2);
    assert.match(await plot.locator('desc').textContent(), /discount-10: \+\d/);
    // The sequential p-value over time (events arrived in several batches), one line per treatment.
    const over = purchase.getByRole('img', { name: 'purchase: sequential p-value over time' });
    await over.waitFor();
    assert.equal(await over.locator('polyline').count(), 2);
    assert.match(await over.locator('desc').textContent(), /discount-10: (< )?\d/);
    // Revenue is a sum with spending before exposure: CUPED rows and plot rows.
    const revenue = page.getByRole('region', { name: /^revenue/ });
    assert.equal(await revenue.locator('tr.cuped').count(), 2);
    assert.equal(await revenue.getByRole('img').locator('rect.point').count(), 4);
    await checkAxe(page, 'experiment results');
    await shot(page, 'experiment-1280-light');
    await page.getByRole('region', { name: /^revenue/ }).scrollIntoViewIfNeeded();
    await shot(page, 'experiment-metrics-1280-light');
    await setTheme(page, true);
    await page.evaluate(() => window.scrollTo(0, 0));
    await checkAxe(page, 'experiment results (dark)');
    await shot(page, 'experiment-1280-dark');
    await setTheme(page, false);

    await go(page, `/ui/p/${server.project}/e/staging/experiments/checkout-redesign`);
    const alarm = page.getByRole('alert').filter({ hasText: 'Sample ratio mismatch' });
    await alarm.waitFor();
    assert.match(await alarm.textContent(), /Do not trust the metrics/);
    await checkAxe(page, 'experiment with SRM');
    await shot(page, 'experiment-srm-1280-light');
    // Development serves no rollout: the page says so and links to where there are results.
    await page.getByLabel('Environment', { exact: true }).selectOption('development');
    await page
      .getByText(/In development, the default of checkout-redesign does not serve a percentage rollout/)
      .waitFor();
    await page.getByRole('link', { name: 'staging' }).waitFor();
  });

  it('edits the experiment definition: field checks, save, and a 412 after a concurrent change', async () => {
    await go(page, `/ui/p/${server.project}/e/staging/experiments/pricing-experiment`);
    const spec = page.getByRole('region', { name: 'Definition (every environment)' });
    await spec.waitFor();
    await spec.getByRole('button', { name: '+ Guardrail metric' }).click();
    const second = spec.getByRole('group', { name: /Guardrail metric 2/ });
    await second.getByText('Name the metric').waitFor();
    assert.equal(await spec.getByRole('button', { name: 'Review and save' }).isDisabled(), true);
    await second.getByLabel('Metric key').fill('revenue');
    await second.getByText('revenue is already a metric of this experiment.').waitFor();
    await second.getByLabel('Metric key').fill('refunds');
    await second.getByLabel('Aggregation').selectOption('sum');
    await spec.getByLabel('Confidence level').fill('1.5');
    await spec.getByText('The confidence level must be between 0 and 1').waitFor();
    assert.equal(await spec.getByLabel('Confidence level').getAttribute('aria-invalid'), 'true');
    await spec.getByLabel('Confidence level').fill('0.9');
    await checkAxe(page, 'experiment definition');
    await spec.getByRole('button', { name: 'Review and save' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('"refunds"').waitFor();
    await dialog.getByRole('button', { name: 'Save and publish' }).click();
    await page.getByText(/Saved; published .*staging v\d+/).waitFor();
    const stored = await api('GET', `/v1/projects/${server.project}/flags/pricing-experiment`);
    assert.deepEqual(stored.body.experiment.guardrail_metrics, [
      { key: 'revenue', kind: 'sum' },
      { key: 'refunds', kind: 'sum' },
    ]);
    assert.equal(stored.body.experiment.confidence, 0.9);
    await page.getByRole('columnheader', { name: '90 % interval' }).first().waitFor();

    // Someone else changes the flag; this page's save is refused with 412 and offers a reload.
    await spec.getByLabel('Sequential test effect size').fill('0.1');
    await changeDefinition('pricing-experiment', { description: 'changed elsewhere' });
    await spec.getByRole('button', { name: 'Review and save' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Save and publish' }).click();
    await page.getByText('pricing-experiment changed since you opened it.').waitFor();
    await checkAxe(page, 'experiment conflict');
    await spec.getByRole('button', { name: 'Reload' }).click();
    await page.waitForFunction(
      () =>
        document.querySelector('input[step="0.01"][aria-describedby="spec-sequential_mde-hint"]')?.value ===
        '0.05',
    );

    // Another flag becomes an experiment from the list.
    await page.getByRole('link', { name: 'Experiments' }).click();
    const setUp = page.getByRole('form', { name: 'Set up an experiment' });
    await setUp.getByLabel('Set up an experiment on').selectOption('new-search-ui');
    await setUp.getByRole('button', { name: 'Set up' }).click();
    await page.getByText('new-search-ui is not an experiment yet.').waitFor();
    const fresh = page.getByRole('region', { name: 'Definition (every environment)' });
    await fresh
      .getByRole('group', { name: /Primary metric/ })
      .getByLabel('Metric key')
      .fill('search_used');
    await fresh.getByRole('button', { name: 'Review and save' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Save and publish' }).click();
    await page.getByText(/Saved; published/).waitFor();
    const made = await api('GET', `/v1/projects/${server.project}/flags/new-search-ui`);
    assert.deepEqual(made.body.experiment.primary_metric, { key: 'search_used', kind: 'conversion' });
    await page.getByRole('link', { name: 'Experiments' }).click();
    await page.locator('tr[data-experiment="new-search-ui"]').waitFor();
  });

  it('turns selected flags on in a protected environment and reports a partial failure', async () => {
    for (const n of [1, 2, 3]) {
      const r = await api('POST', `/v1/projects/${server.project}/flags`, {
        key: `bulk-e2e-${n}`,
        type: 'boolean',
        variants: { on: true, off: false },
        tags: ['bulk-e2e'],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    // Without the live change stream (which would reload the list before the bulk write and so
    // avoid the conflict this test is about): 204 tells EventSource not to reconnect.
    await page.route('**/changes', (route) => route.fulfill({ status: 204 }));
    await page.goto(`${server.url}/ui/p/${server.project}/e/production/flags?tag=bulk-e2e`);
    await page.locator('tr[data-flag="bulk-e2e-3"]').waitFor();
    // Select one from the keyboard, then all shown with the header checkbox.
    await page.getByLabel('Select bulk-e2e-1').focus();
    await page.keyboard.press('Space');
    const toolbar = page.getByRole('toolbar', { name: 'Selected flags' });
    await toolbar.getByText('1 selected').waitFor();
    await page.getByLabel('Select all 3 shown flags').check();
    await toolbar.getByText('3 selected').waitFor();
    // Someone changes bulk-e2e-2 in production after the list was loaded.
    const path = `/v1/projects/${server.project}/environments/production/flags/bulk-e2e-2`;
    const read = await api('GET', path);
    const { revision: _r, updated_at: _u, ...targeting } = read.body;
    const put = await api('PUT', path, { ...targeting, off_variant: 'off' }, { 'If-Match': read.etag });
    assert.equal(put.status, 200);

    await toolbar.getByRole('button', { name: 'Turn on in production' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('is a protected environment').waitFor();
    await checkAxe(page, 'bulk confirmation');
    await shot(page, 'flags-bulk-confirm-1280-light');
    await dialog.getByRole('button', { name: 'Turn on' }).click();
    const report = page.getByRole('alert').filter({ hasText: 'Turned on 2 of 3 flags in production' });
    await report.waitFor();
    assert.match(
      await report.locator('[data-failed="bulk-e2e-2"]').textContent(),
      /changed since the list was loaded/,
    );
    await toolbar.getByText('1 selected').waitFor();
    await checkAxe(page, 'bulk report');
    await shot(page, 'flags-bulk-report-1280-light');
    for (const [key, on] of [
      ['bulk-e2e-1', true],
      ['bulk-e2e-2', false],
      ['bulk-e2e-3', true],
    ]) {
      const t = await api('GET', `/v1/projects/${server.project}/environments/production/flags/${key}`);
      assert.equal(t.body.enabled, on, key);
      assert.equal(
        await page.getByRole('switch', { name: `${key} in production` }).getAttribute('aria-checked'),
        String(on),
      );
    }
    // The failed flag is still selected: a second run (on the reloaded list) succeeds.
    await toolbar.getByRole('button', { name: 'Turn on in production' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('status').filter({ hasText: 'Turned on 1 of 1 flags in production' }).waitFor();
    await page.unroute('**/changes');
  });

  it('reorders rules by keyboard and by drag and drop', async () => {
    const rule = (id, country) => ({
      id,
      when: { all: [{ attribute: 'country', op: 'in', values: [country] }] },
      serve: { variant: 'on' },
    });
    const created = await api('POST', `/v1/projects/${server.project}/flags`, {
      key: 'reorder-e2e',
      type: 'boolean',
      variants: { on: true, off: false },
      environments: {
        development: {
          enabled: true,
          off_variant: 'off',
          default: { variant: 'off' },
          rules: [rule('r-a', 'DE'), rule('r-b', 'FR'), rule('r-c', 'IT')],
        },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await go(page, `/ui/p/${server.project}/e/development/flags/reorder-e2e`);
    await page.getByRole('heading', { name: /^reorder-e2e/ }).waitFor();
    const order = () => page.locator('li[data-rule]').evaluateAll((r) => r.map((x) => x.dataset.rule));
    assert.deepEqual(await order(), ['r-a', 'r-b', 'r-c']);

    // Keyboard: Alt+ArrowDown on r-a's handle; the focus stays on it and the move is announced.
    await page.getByRole('button', { name: 'Reorder rule r-a' }).focus();
    await page.keyboard.press('Alt+ArrowDown');
    assert.deepEqual(await order(), ['r-b', 'r-a', 'r-c']);
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('aria-label')),
      'Reorder rule r-a',
    );
    await page.getByText('Rule r-a moved to position 2 of 3').waitFor();
    await page.keyboard.press('Alt+ArrowDown');
    assert.deepEqual(await order(), ['r-b', 'r-c', 'r-a']);
    // The ↑ button keeps the focus too.
    await page.getByRole('button', { name: 'Move rule r-c up' }).click();
    assert.deepEqual(await order(), ['r-c', 'r-b', 'r-a']);
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('aria-label')),
      'Reorder rule r-c',
    );

    // Mouse: drag r-a's handle onto the top half of r-c (the first rule).
    await page
      .getByRole('button', { name: 'Reorder rule r-a' })
      .dragTo(page.locator('li[data-rule="r-c"]'), { targetPosition: { x: 40, y: 8 } });
    assert.deepEqual(await order(), ['r-a', 'r-c', 'r-b']);
    await checkAxe(page, 'rule reordering');
    await shot(page, 'editor-reorder-1280-light');

    await page.getByRole('button', { name: 'Review and save' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Save and publish' }).click();
    await page.getByText(/Saved and published development version \d+/).waitFor();
    const t = await api('GET', `/v1/projects/${server.project}/environments/development/flags/reorder-e2e`);
    assert.deepEqual(
      t.body.rules.map((r) => r.id),
      ['r-a', 'r-c', 'r-b'],
    );
  });

  it("refuses an object variant that breaks the flag's JSON Schema, showing the path", async () => {
    const tier = {
      type: 'object',
      required: ['burst', 'requests_per_minute'],
      properties: {
        burst: { type: 'integer', minimum: 1 },
        requests_per_minute: { type: 'integer', minimum: 1 },
      },
    };
    await changeDefinition('rate-limits', {
      schema: {
        type: 'object',
        required: ['free', 'pro', 'business'],
        additionalProperties: false,
        properties: {
          free: { $ref: '#/$defs/tier' },
          pro: { $ref: '#/$defs/tier' },
          business: { $ref: '#/$defs/tier' },
        },
        $defs: { tier },
      },
    });
    await go(page, `/ui/p/${server.project}/e/development/flags/rate-limits`);
    await page.getByRole('heading', { name: /^rate-limits/ }).waitFor();
    const editor = page.getByRole('textbox', { name: 'Value of standard' });
    await editor.waitFor();
    await editor.click();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.insertText(
      JSON.stringify({
        free: { burst: 0, requests_per_minute: 60 },
        pro: { burst: 100, requests_per_minute: '600' },
        business: { burst: 500, requests_per_minute: 3000 },
        enterprise: {},
      }),
    );
    const problems = page
      .getByRole('alert')
      .filter({ hasText: "standard does not match the flag's JSON Schema" });
    await problems.waitFor();
    const text = await problems.textContent();
    assert.match(text, /\$\.free\.burst.*less than 1/);
    assert.match(text, /\$\.pro\.requests_per_minute.*Expected "integer"/);
    assert.match(text, /\$\.enterprise.*not allowed/);
    assert.equal(await page.getByRole('button', { name: 'Review and save' }).isDisabled(), true);
    await page.getByText("standard does not match the flag's JSON Schema.").waitFor();
    await checkAxe(page, 'schema errors');
    await shot(page, 'editor-schema-1280-light');

    await editor.click();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.insertText(
      JSON.stringify({
        free: { burst: 12, requests_per_minute: 60 },
        pro: { burst: 100, requests_per_minute: 600 },
        business: { burst: 500, requests_per_minute: 3000 },
      }),
    );
    await problems.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Review and save' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Save and publish' }).click();
    await page.getByText(/Saved and published development version \d+/).waitFor();
    const stored = await api('GET', `/v1/projects/${server.project}/flags/rate-limits`);
    assert.equal(stored.body.variants.standard.free.burst, 12);
    assert.deepEqual(errors, [], 'no page errors');
  });
});
