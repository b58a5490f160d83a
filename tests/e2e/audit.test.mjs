// The audit log page: filtering by action lists only that action's records, newest first,
// with the change that was made; Reset lists everything again.

import { test, assert } from './lib/e2e.mjs';
import { createUser, getUser } from './helpers.mjs';

const actionsShown = (page) => page.getByTestId('audit-row').locator('td:nth-child(3)').allInnerTexts();

test('the audit log filters by action: only user.update records, the newest one the change just made', async ({ page, signIn, api, uniqueEmail, until, screenshot, consoleErrors }) => {
  // a change of the test's own, so there is a user.update record to find
  const user = await createUser(api, { email: uniqueEmail('audited'), first_name: 'Audrey', town: 'Trier' });
  const { etag } = await getUser(api, user.id);
  const put = await api('PUT', `users/${user.id}`, { town: 'Mainz' }, { headers: { 'If-Match': etag } });
  assert.equal(put.status, 200, put.text);
  const updates = await api('GET', 'audit-log?action=user.update&limit=50');
  assert.equal(updates.status, 200);
  assert.ok(updates.body.length >= 1);
  const all = await api('GET', 'audit-log?limit=50');
  assert.ok(all.body.some((r) => r.action !== 'user.update'), 'the log holds only user.update records: the filter would show nothing');

  await signIn(page, 'staff');
  await page.goto('/#/audit');
  await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
  await page.getByTestId('audit-row').first().waitFor();
  // the page asks only for what a staff member may read (no 403 in the console)
  await page.waitForLoadState('networkidle');
  assert.deepEqual(consoleErrors.map((e) => `${e.text} ${e.url}`), [], 'the audit page made requests that failed');
  const unfiltered = await actionsShown(page);
  assert.ok(new Set(unfiltered).size > 1, `unfiltered, the log shows only ${unfiltered[0]}`);

  const filters = page.getByRole('search', { name: 'Filter the audit log' });
  await filters.getByLabel('Action').fill('user.update');
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/audit-log') && new URL(r.url()).searchParams.get('action') === 'user.update');
  await filters.getByRole('button', { name: 'Apply filters' }).click();
  assert.equal((await answer).status(), 200);
  await until(async () => {
    const shown = await actionsShown(page);
    return shown.length === updates.body.length && shown.every((a) => a === 'user.update');
  }, `the log shows the ${updates.body.length} user.update records and nothing else`);
  assert.equal(new URL(page.url().replace('#', '')).searchParams.get('action'), 'user.update');

  // newest first: the change just made, by the demo admin's token, to that user
  const first = page.getByTestId('audit-row').first();
  assert.match(await first.locator('td:nth-child(2)').innerText(), /demo admin\s+token/);
  assert.equal(await first.locator('td:nth-child(4) a').getAttribute('href'), `#/users/${user.id}`);
  assert.match(await first.locator('td:nth-child(5)').innerText(), /town\s*Trier → Mainz/);
  await screenshot(page, 'audit-log', { mask: [page.getByTestId('audit-row').locator('td:first-child, td:nth-child(4) code')] });

  // the filter is in the route: a reload keeps it
  await page.reload();
  await page.getByTestId('audit-row').first().waitFor();
  assert.equal(await filters.getByLabel('Action').inputValue(), 'user.update');
  assert.ok((await actionsShown(page)).every((a) => a === 'user.update'));

  // its target link opens the user
  await first.locator('td:nth-child(4) a').click();
  await page.getByTestId('user-name').filter({ hasText: 'Audrey' }).waitFor();
  await page.goBack();

  await filters.getByRole('button', { name: 'Reset' }).click();
  await until(async () => new Set(await actionsShown(page)).size > 1, 'Reset lists every action again');
  assert.equal(await filters.getByLabel('Action').inputValue(), '');
});
