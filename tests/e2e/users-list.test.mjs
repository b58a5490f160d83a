// The users list: search as you type narrows the list to matching rows and clearing restores
// it; the "needs attention" filter; a column header sorts (aria-sort and the order change).
// What the list should show is asked of the API with the same filters, so the tests hold
// whatever users other tests have added.

import { test, assert } from './lib/e2e.mjs';
import { apiUsers, openUsers, rowIds, userDateCells, waitForUserRows } from './helpers.mjs';

test('typing in the search box narrows the list to matching users; clearing it restores the list',
  async ({ page, signIn, api, until, screenshot }) => {
    // a term from the demo data: the most common first name on the first page
    const all = await apiUsers(api, { sort: 'created_at' });
    const names = all.users.map((u) => (u.first_name || '').toLowerCase()).filter(Boolean);
    const term = names.sort((a, b) => names.filter((x) => x === b).length - names.filter((x) => x === a).length || a.localeCompare(b))[0];
    const hits = await apiUsers(api, { search: term, sort: 'created_at' });
    assert.ok(hits.total > 1 && hits.total < all.total, `"${term}" matches ${hits.total} of ${all.total} users`);

    await signIn(page, 'staff');
    await openUsers(page);
    await waitForUserRows(page, until, all.ids, all.total, 'unfiltered');
    await screenshot(page, 'users-list', { mask: [userDateCells(page)] });

    const box = page.getByRole('searchbox', { name: 'Search users' });
    await box.click();
    await box.pressSequentially(term);
    const ids = await waitForUserRows(page, until, hits.ids, hits.total, `search "${term}"`);
    assert.equal(ids.length, Math.min(hits.total, 50));
    // every row shown matches: the term is in its email, name or external ID (case-insensitive)
    for (const row of await page.getByTestId('user-row').all()) {
      const text = (await row.innerText()).toLowerCase();
      assert.ok(text.includes(term), `a row that does not match "${term}": ${text}`);
    }
    assert.equal(await page.getByTestId('users-status').textContent(), `${hits.total} user${hits.total === 1 ? '' : 's'}`);
    assert.match(await page.getByTestId('pager').innerText(), new RegExp(`Showing 1–${ids.length} of ${hits.total}`));
    // the search is kept in the route, so a reload keeps it
    assert.equal(new URL(page.url().replace('#', '')).searchParams.get('q'), term, page.url());

    await box.fill('');
    await waitForUserRows(page, until, all.ids, all.total, 'cleared search');
    assert.equal(new URL(page.url().replace('#', '')).searchParams.get('q'), null, page.url());
  });

test('a term that matches no one shows the empty state, and its Clear filters restores the list',
  async ({ page, signIn, api, until }) => {
    const all = await apiUsers(api, { sort: 'created_at' });
    await signIn(page, 'viewer');
    await openUsers(page);
    await page.getByRole('searchbox', { name: 'Search users' }).fill('zz-no-such-user-qq');
    await page.getByTestId('empty').filter({ hasText: 'No users match these filters.' }).waitFor();
    assert.equal(await page.getByTestId('users-status').textContent(), '0 users');
    assert.equal(await page.getByTestId('user-row').count(), 0);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await waitForUserRows(page, until, all.ids, all.total, 'after Clear filters');
    assert.equal(await page.getByRole('searchbox', { name: 'Search users' }).inputValue(), '');
  });

test('the "needs attention" filter lists only users with a device needing attention', async ({ page, signIn, api, until }) => {
  const all = await apiUsers(api, { sort: 'created_at' });
  const attention = await apiUsers(api, { needs_attention: 'true', sort: 'created_at' });
  assert.ok(attention.total > 0 && attention.total < all.total, `${attention.total} of ${all.total} users need attention`);

  await signIn(page, 'viewer');
  await openUsers(page);
  await page.getByLabel('Devices').selectOption({ label: 'Need attention' });
  const ids = await waitForUserRows(page, until, attention.ids, attention.total, 'needs attention');
  assert.equal(new URL(page.url().replace('#', '')).searchParams.get('attention'), 'true');

  // each user shown has a live device that needs attention (the fleet view's own flags)
  for (const id of ids.slice(0, 5)) {
    const r = await api('GET', `devices?user_id=${id}&needs_attention=true`);
    assert.equal(r.status, 200);
    assert.ok(r.body.length > 0, `user ${id} is listed as needing attention but has no such device`);
  }

  // the filter survives a reload (it is in the route)
  await page.reload();
  await waitForUserRows(page, until, attention.ids, attention.total, 'needs attention, reloaded');
  assert.equal(await page.getByLabel('Devices').inputValue(), 'true');

  await page.getByLabel('Devices').selectOption({ label: 'Any' });
  await waitForUserRows(page, until, all.ids, all.total, 'any devices');
});

test('a click on a column header sorts by it (aria-sort and the order change), a second click reverses',
  async ({ page, signIn, api, until }) => {
    const byCreated = await apiUsers(api, { sort: 'created_at' });
    const byEmail = await apiUsers(api, { sort: 'email' });
    const byEmailDesc = await apiUsers(api, { sort: '-email' });
    assert.notDeepEqual(byEmail.ids, byCreated.ids);

    await signIn(page, 'viewer');
    await openUsers(page);
    const emailTh = page.locator('th', { has: page.getByTestId('sort-email') });
    const createdTh = page.locator('th', { has: page.getByTestId('sort-created_at') });
    await waitForUserRows(page, until, byCreated.ids, byCreated.total, 'by creation');
    assert.equal(await createdTh.getAttribute('aria-sort'), 'ascending');
    assert.equal(await emailTh.getAttribute('aria-sort'), 'none');
    const before = await rowIds(page);

    await page.getByRole('button', { name: /^Email/ }).click();
    const asc = await waitForUserRows(page, until, byEmail.ids, byEmail.total, 'sorted by email');
    assert.equal(await emailTh.getAttribute('aria-sort'), 'ascending');
    assert.equal(await createdTh.getAttribute('aria-sort'), 'none');
    assert.notDeepEqual(asc, before, 'the order did not change');
    const emails = await page.getByTestId('user-link').allTextContents();
    assert.deepEqual(emails, byEmail.users.map((u) => u.email));
    assert.equal(new URL(page.url().replace('#', '')).searchParams.get('sort'), 'email');

    await page.getByRole('button', { name: /^Email/ }).click();
    const desc = await waitForUserRows(page, until, byEmailDesc.ids, byEmailDesc.total, 'sorted by email, descending');
    assert.equal(await emailTh.getAttribute('aria-sort'), 'descending');
    assert.notDeepEqual(desc, asc);
    assert.equal(new URL(page.url().replace('#', '')).searchParams.get('sort'), '-email');
  });
