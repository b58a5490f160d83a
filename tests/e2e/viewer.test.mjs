// A viewer reads, and only reads: no create, edit, delete or bulk-change controls, no Team,
// Import or Audit log, and the API refuses a change sent with the viewer's own session.

import { test, assert, API } from './lib/e2e.mjs';
import { SESSION, assertNoFailedRequests, createUser, getUser, openUsers, userHash } from './helpers.mjs';

test('a viewer sees no create, edit, delete or bulk-change controls on the users list and the user page, and no Team link',
  async ({ page, signIn, api, until, consoleErrors }) => {
    // a user with devices, so the device cards and their diagnosis are there too
    const dev = await api('GET', 'devices?limit=1');
    const userId = dev.body[0].user_id;

    await signIn(page, 'viewer');
    await openUsers(page);
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.deepEqual(await nav.getByRole('link').allInnerTexts(), ['Users', 'Fleet']);
    assert.equal(await page.getByRole('link', { name: 'Team' }).count(), 0);
    assert.match(await page.getByTestId('whoami').innerText(), /viewer$/);

    assert.equal(await page.getByRole('button', { name: 'New user' }).count(), 0, 'New user is offered');
    assert.ok(await page.getByTestId('user-row').count() > 0);
    assert.equal(await page.getByTestId('row-edit').count(), 0, 'rows have Edit buttons');
    assert.equal(await page.getByRole('button', { name: /^Edit / }).count(), 0);
    // selecting rows offers only what reads: the client-side export and clearing
    await page.getByTestId('user-row').first().getByRole('checkbox').check();
    const bulk = page.getByRole('region', { name: 'Bulk actions' });
    await bulk.waitFor();
    assert.deepEqual(await bulk.getByRole('button').allInnerTexts(), ['Export selection (CSV)', 'Clear selection']);
    for (const id of ['bulk-delete', 'bulk-restore', 'bulk-reset']) assert.equal(await page.getByTestId(id).count(), 0, id);

    // the user page: no Edit, onboarding link, Delete or Restore; no device actions that change
    await page.goto(userHash(userId));
    await page.getByTestId('user-name').waitFor();
    await page.getByTestId('device-card').first().getByRole('list', { name: 'Optimization checklist' }).waitFor();
    await until(async () => await page.getByRole('list', { name: 'Optimization checklist' }).count() === await page.getByTestId('device-card').count(),
      'every device card shows its diagnosis');
    await page.getByTestId('user-audit').getByText('The audit history is visible to staff and admins.').waitFor();
    for (const id of ['edit-user', 'create-onboarding', 'delete-user', 'restore-user', 'reset-optimization', 'create-reconnect', 'diag-onboarding']) {
      assert.equal(await page.getByTestId(id).count(), 0, `the viewer is offered ${id}`);
    }
    for (const name of ['Edit', 'Delete', 'Reset optimization', 'Create onboarding link', 'Create reconnection link']) {
      assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `the viewer is offered "${name}"`);
    }

    // and nothing the viewer's pages asked for was refused
    await assertNoFailedRequests(page, consoleErrors, 'the viewer\'s users list and user page');

    // the pages for others say so
    await page.goto('/#/team');
    await page.getByTestId('forbidden').filter({ hasText: 'This page is for admins only.' }).waitFor();
    assert.equal(await page.getByTestId('team-staff').count(), 0);
    await page.goto('/#/import');
    await page.getByTestId('forbidden').filter({ hasText: 'Your role (viewer) cannot use this page.' }).waitFor();
    await page.goto('/#/audit');
    await page.getByTestId('forbidden').waitFor();
  });

test('the API refuses a viewer\'s edit sent with the page\'s session and CSRF token (403)', async ({ page, signIn, api, demo, uniqueEmail }) => {
  const user = await createUser(api, { email: uniqueEmail('untouched'), town: 'Trier' });
  await signIn(page, 'viewer');
  await page.goto(userHash(user.id));
  await page.getByTestId('user-name').waitFor();

  // from inside the page, as the app would send it: the session cookie and the CSRF header
  const result = await page.evaluate(async ({ base, org, id }) => {
    const s = await (await fetch(`${base}/session`)).json();
    const put = (headers) => fetch(`${base}/org/${org}/users/${id}`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
      body: JSON.stringify({ town: 'Changed by a viewer' }),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const withToken = await put({ 'X-CSRF-Token': s.csrf_token });
    const withoutToken = await put({});
    // the same token is good: signing out (which needs it) works
    const signOut = await fetch(`${base}/session`, { method: 'DELETE', headers: { 'X-CSRF-Token': s.csrf_token } });
    return { role: s.role, withToken, withoutToken, signOut: signOut.status };
  }, { base: API, org: demo.org_id, id: user.id });

  assert.equal(result.role, 'viewer');
  assert.equal(result.withToken.status, 403, JSON.stringify(result.withToken));
  assert.match(result.withToken.body.detail, /role/, 'the 403 is not about the role');
  assert.doesNotMatch(result.withToken.body.detail, /CSRF/i);
  assert.equal(result.withoutToken.status, 403);
  assert.match(result.withoutToken.body.detail, /CSRF/, 'without the CSRF header the refusal names it');
  assert.equal(result.signOut, 204, 'the CSRF token the edit was sent with was not the session\'s');
  assert.equal((await getUser(api, user.id)).user.town, 'Trier', 'the viewer changed the user');
  assert.equal((await page.request.get(SESSION)).status(), 401);
});
