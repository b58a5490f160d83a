// The fleet view: counts by condition (as the API counts them), the devices needing attention
// listed by default, a count that filters, and one click on a row opens its user.

import { test, assert } from './lib/e2e.mjs';
import { assertNoFailedRequests } from './helpers.mjs';

const fmt = (n) => n.toLocaleString('en-US');
const ATTENTION_BADGES = '[data-testid=status-reauth], [data-testid=status-stale], [data-testid=status-optimization-off]';

async function apiDevices(api, query) {
  const r = await api('GET', `devices?${new URLSearchParams({ limit: '50', ...query })}`);
  assert.equal(r.status, 200, r.text);
  return { devices: r.body, total: Number(r.headers['x-total-count']) };
}

const rowUsers = (page) => page.getByTestId('fleet-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-user-id')));

test('the fleet view lists the devices needing attention with the counts, a count filters, and a click on a row opens its user',
  async ({ page, signIn, api, until, screenshot, consoleErrors }) => {
    const counts = (await api('GET', 'devices/counts')).body;
    const attention = await apiDevices(api, { needs_attention: 'true' });
    const stale = await apiDevices(api, { stale: 'true' });
    assert.equal(attention.total, counts.needs_attention);
    assert.ok(counts.needs_attention > 0 && counts.stale > 0, JSON.stringify(counts));

    await signIn(page, 'viewer');
    await page.goto('/#/fleet');
    await page.getByRole('heading', { level: 1, name: 'Fleet' }).waitFor();

    // the counts, as buttons that filter; "Needs attention" is the one pressed
    const box = page.getByTestId('fleet-counts');
    const expectCount = [
      ['count-all', 'All devices', counts.total],
      ['count-needs_attention', 'Needs attention', counts.needs_attention],
      ['count-not_authenticated', 'Needs re-authentication', counts.not_authenticated],
      ['count-stale', 'Stale', counts.stale],
      ['count-optimization_off', 'Optimization off', counts.optimization_off],
    ];
    await box.getByTestId('count-all').waitFor();
    for (const [id, label, n] of expectCount) {
      const b = box.getByTestId(id);
      assert.equal((await b.innerText()).replace(/\s+/g, ' '), `${label} ${fmt(n)}`, id);
      assert.equal(await b.getAttribute('aria-pressed'), String(id === 'count-needs_attention'), id);
    }
    // by type, too
    const byType = await box.getByTestId('fleet-counts-by-type').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.textContent));
    assert.equal(byType.length, 3);

    // the list: the devices needing attention, each with a badge saying why
    await page.getByTestId('fleet-status').filter({ hasText: `${fmt(counts.needs_attention)} device` }).waitFor();
    await until(async () => JSON.stringify(await rowUsers(page)) === JSON.stringify(attention.devices.map((d) => d.user_id)),
      'the rows are the API\'s devices needing attention');
    const rows = page.getByTestId('fleet-row');
    const n = await rows.count();
    for (let i = 0; i < n; i++) {
      assert.ok(await rows.nth(i).locator(ATTENTION_BADGES).count() > 0, `row ${i} has no badge saying why it needs attention`);
    }
    assert.equal(await page.getByTestId('fleet-condition').inputValue(), 'needs_attention');
    await screenshot(page, 'fleet', { mask: [page.locator('[data-testid=fleet-row] td:nth-child(4)')] });

    // a count filters: the stale devices
    await box.getByTestId('count-stale').click();
    assert.equal(await box.getByTestId('count-stale').getAttribute('aria-pressed'), 'true');
    assert.equal(await box.getByTestId('count-needs_attention').getAttribute('aria-pressed'), 'false');
    await page.getByTestId('fleet-status').filter({ hasText: `${fmt(counts.stale)} device` }).waitFor();
    await until(async () => JSON.stringify(await rowUsers(page)) === JSON.stringify(stale.devices.map((d) => d.user_id)),
      'the rows are the API\'s stale devices');
    for (const row of await rows.all()) await row.getByTestId('status-stale').waitFor();
    assert.equal(new URL(page.url().replace('#', '')).searchParams.get('attention'), 'stale');
    assert.equal(await page.getByTestId('fleet-condition').inputValue(), 'stale');

    // one click on a row (not on its link) opens the device's user
    const row = rows.first();
    const userId = await row.getAttribute('data-user-id');
    const model = await row.locator('td').first().locator('strong').innerText();
    await row.locator('td').nth(1).click();
    await page.waitForURL((u) => u.hash === `#/users/${userId}`);
    await page.getByTestId('user-name').waitFor();
    await page.getByTestId('device-card').filter({ hasText: model }).first().getByTestId('status-stale').waitFor();
    // and Back returns to the filtered fleet view
    await page.goBack();
    await page.getByTestId('fleet-status').filter({ hasText: `${fmt(counts.stale)} device` }).waitFor();
    assert.equal(await box.getByTestId('count-stale').getAttribute('aria-pressed'), 'true');
    await assertNoFailedRequests(page, consoleErrors, 'the fleet view and the user page');
  });

test('a row\'s "Open user" link names its device and opens the user', async ({ page, signIn, api }) => {
  const { devices } = await apiDevices(api, { needs_attention: 'true', limit: '1' });
  await signIn(page, 'viewer');
  await page.goto('/#/fleet');
  const link = page.getByTestId('fleet-row').first().getByTestId('fleet-user-link');
  await link.waitFor();
  const model = [devices[0].device_model.manufacturer, devices[0].device_model.model].filter(Boolean).join(' ');
  assert.equal(await page.getByRole('link', { name: `Open user of ${model}` }).first().getAttribute('href'), `#/users/${devices[0].user_id}`);
  await link.click();
  await page.waitForURL((u) => u.hash === `#/users/${devices[0].user_id}`);
  await page.getByTestId('user-name').waitFor();
  await page.locator(`[data-testid=device-card][data-device-id="${devices[0].id}"]`).waitFor();
});
