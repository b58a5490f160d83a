// A device that needs attention: its user's page shows the device's status and diagnosis
// (the failing check), and "Reset optimization" fixes it, as the page and the API then say.

import { test, assert } from './lib/e2e.mjs';
import { assertNoFailedRequests, userHash } from './helpers.mjs';

// A connected device whose only problem is that its optimization is off, found through the
// fleet view's filters; the last one listed, since other tests look at the first ones.
async function deviceWithOptimizationOff(api) {
  const found = [];
  let cursor = '';
  do {
    const r = await api('GET', `devices?needs_attention=true&optimization_active=false&limit=100${cursor}`);
    assert.equal(r.status, 200, `GET devices: ${r.status} ${r.text}`);
    found.push(...r.body);
    const next = /<([^>]+)>;\s*rel="next"/.exec(r.headers.link || '');
    cursor = next ? `&cursor=${new URL(next[1]).searchParams.get('cursor')}` : '';
  } while (cursor);
  const fit = found.filter((d) => d.attention.length === 1 && d.attention[0] === 'optimization_off' && d.is_authenticated);
  assert.ok(fit.length, `no device needs attention only for its optimization: ${JSON.stringify(found.map((d) => d.attention))}`);
  return fit[fit.length - 1];
}

test('a device needing attention shows its diagnosis on its user\'s page, and "Reset optimization" fixes it',
  async ({ page, signIn, api, screenshot, consoleErrors }) => {
    const device = await deviceWithOptimizationOff(api);
    const type = device.device_type; // heat-pumps, electric-vehicles, inverters
    const devicePath = `users/${device.user_id}/${type}/${device.id}`;
    const diag = await api('GET', `${devicePath}/diagnosis`);
    assert.equal(diag.status, 200);
    const failing = diag.body.optimization.checks.filter((c) => !c.passed);
    assert.ok(failing.some((c) => c.check === 'optimization_active'), JSON.stringify(diag.body));

    await signIn(page, 'staff');
    await page.goto(userHash(device.user_id));
    await page.getByTestId('user-name').waitFor();
    const card = page.locator(`[data-testid=device-card][data-device-id="${device.id}"]`);
    await card.waitFor();
    assert.equal(await card.locator('..').getAttribute('data-testid'), `device-group-${type}`);

    // its status: connected, optimization off
    const status = card.getByTestId('device-status');
    await status.getByTestId('status-optimization-off').waitFor();
    await status.getByTestId('status-connected').waitFor();

    // the diagnosis: a healthy connection, the optimization check failing with its resolution
    const diagnosis = card.getByTestId('diagnosis');
    await diagnosis.getByTestId('diagnosis-connection').filter({ hasText: 'Connection healthy' }).waitFor();
    const checklist = diagnosis.getByRole('list', { name: 'Optimization checklist' });
    await checklist.waitFor();
    const optCheck = checklist.getByTestId('diagnosis-check').filter({ hasText: 'Smart optimization is active' });
    assert.equal(await optCheck.getAttribute('class'), 'fail');
    assert.match(await optCheck.innerText(), /Reset the device's optimization/);
    assert.equal(await checklist.locator('li.fail').count(), failing.length);
    assert.equal(await checklist.getByTestId('diagnosis-check').count(), diag.body.optimization.checks.length);

    // (masked: times, ids, and the figures and charts of readings up to now)
    const audit = page.getByTestId('user-audit');
    await audit.getByTestId('audit-table').or(audit.getByTestId('empty')).waitFor();
    await screenshot(page, 'user-page', {
      fullPage: true,
      mask: [page.getByTestId('contact').locator('dd').filter({ hasText: /\d\d:\d\d|^[0-9a-f-]{36}$/ }), page.locator('.device-head .muted'),
        page.locator('.chart-wrap'), page.getByTestId('sum-today'), page.getByTestId('sum-month'),
        page.getByTestId('diagnosis-connection').locator('.muted'),
        page.getByTestId('user-audit').locator('td:first-child, code')],
    });

    // reset it
    const answer = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/${device.id}/reset-optimization`));
    await diagnosis.getByRole('button', { name: 'Reset optimization' }).click();
    assert.equal((await answer).status(), 200);
    await page.getByTestId('toast').filter({ hasText: 'Optimization reset' }).waitFor();

    // the page: the card says optimizing, the diagnosis ran again and the check passes
    await card.getByTestId('device-status').getByTestId('status-optimizing').waitFor();
    assert.equal(await card.getByTestId('status-optimization-off').count(), 0);
    await card.getByTestId('diagnosis').getByTestId('diagnosis-check').filter({ hasText: 'Smart optimization is active' }).and(page.locator('li.pass')).waitFor();

    // the API: optimization on, and the device no longer needs attention
    const after = await api('GET', devicePath);
    assert.equal(after.status, 200);
    assert.equal(after.body.is_smart_optimization_active, true);
    assert.equal(after.body.is_pause_power_active, false);
    const fleet = await api('GET', `devices?user_id=${device.user_id}`);
    const listed = fleet.body.find((d) => d.id === device.id);
    assert.deepEqual(listed.attention, [], JSON.stringify(listed));
    const diag2 = await api('GET', `${devicePath}/diagnosis`);
    assert.ok(diag2.body.optimization.checks.find((c) => c.check === 'optimization_active').passed);

    // and the history on the page has the reset
    await page.getByTestId('user-audit').getByRole('cell', { name: 'device.reset_optimization' }).first().waitFor();
    await assertNoFailedRequests(page, consoleErrors, 'the user page');
  });
