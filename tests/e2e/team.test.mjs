// The Team page (admins): a member's role change and deactivation (which ends their session),
// and an API token whose secret is shown once and which stops working when revoked. The
// members changed here are made by the test (invited and accepted through the API), never the
// accounts other tests sign in with.

import { test, assert, API } from './lib/e2e.mjs';
import { SESSION, assertNoFailedRequests, createStaff } from './helpers.mjs';

async function staffRecord(api, id) {
  const r = await api('GET', 'staff');
  assert.equal(r.status, 200);
  return r.body.data.find((m) => m.id === id);
}

// Closes the notifications (they would otherwise cover the page in a screenshot for a while).
async function dismissToasts(page) {
  const close = page.getByTestId('toast').getByRole('button', { name: 'Dismiss notification' });
  // (one may go by itself meanwhile: then there is nothing to click)
  while (await close.count()) await close.first().click({ timeout: 2000 }).catch(() => {});
}

async function openTeam(page) {
  await page.goto('/#/team');
  await page.getByRole('heading', { level: 1, name: 'Team' }).waitFor();
  await page.getByTestId('staff-table').waitFor();
}

test('an admin changes a member\'s role, deactivates them (their session ends) and reactivates them',
  async ({ page, signIn, api, newContext, uniqueEmail, screenshot, consoleErrors }) => {
    const member = await createStaff(api, uniqueEmail('member'), 'staff');
    // the member is signed in elsewhere
    const memberPage = await (await newContext()).newPage();
    assert.equal((await signIn(memberPage, member.email, member.password)).role, 'staff');

    await signIn(page, 'admin');
    await openTeam(page);
    const row = page.getByTestId('staff-row').filter({ hasText: member.email });
    const role = row.getByRole('combobox', { name: `Role of ${member.email}` });
    assert.equal(await role.inputValue(), 'staff');
    await row.getByText('Active', { exact: true }).waitFor();

    // ---- role: changes at once
    const patched = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith(`/staff/${member.id}`));
    await role.selectOption('viewer');
    assert.equal((await patched).status(), 200);
    await page.getByTestId('toast').filter({ hasText: `${member.email} is now viewer.` }).waitFor();
    assert.equal((await staffRecord(api, member.id)).role, 'viewer');
    await page.getByTestId('staff-row').filter({ hasText: member.email }).getByRole('combobox').and(page.locator(':enabled')).waitFor();
    assert.equal(await role.inputValue(), 'viewer');
    // the member's session has the new role
    assert.equal((await (await memberPage.request.get(SESSION)).json()).role, 'viewer');

    // ---- deactivation: confirmed, then the member is signed out
    await row.getByRole('button', { name: `Deactivate ${member.email}` }).click();
    const confirm = page.getByRole('alertdialog', { name: `Deactivate ${member.email}?` });
    await confirm.waitFor();
    await confirm.getByRole('button', { name: 'Deactivate' }).click();
    await page.getByTestId('toast').filter({ hasText: `${member.email} deactivated.` }).waitFor();
    await row.getByText('Deactivated', { exact: true }).waitFor();
    await row.getByRole('button', { name: `Reactivate ${member.email}` }).waitFor();
    assert.equal(await role.isDisabled(), true, 'a deactivated member\'s role can still be changed');
    assert.ok((await staffRecord(api, member.id)).deactivated_at, 'not deactivated in the API');
    assert.equal((await memberPage.request.get(SESSION)).status(), 401, 'the deactivated member is still signed in');
    const again = await api('POST', SESSION, { email: member.email, password: member.password }, { token: undefined });
    assert.equal(again.status, 401, 'a deactivated member can sign in');

    await dismissToasts(page);
    // The demo admin's email (masked) changes from run to run, and with it the width of the
    // email column; for the screenshot only, its text takes no room, so the layout is the same
    // (set through the CSSOM: the page's CSP refuses an injected style sheet).
    const demoAdminCell = page.getByTestId('staff-row').filter({ hasText: '@demo.fleetdesk.example' }).locator('td').first();
    await demoAdminCell.evaluate((td) => { td.style.fontSize = '0'; });
    await screenshot(page, 'team', {
      fullPage: true,
      // (the demo's two tokens are made in the same millisecond: their order varies from run to run)
      mask: [page.locator('td.nowrap'), demoAdminCell,
        page.getByTestId('token-row').filter({ hasText: /^demo / })],
    });

    await demoAdminCell.evaluate((td) => { td.style.fontSize = ''; });

    // ---- reactivation
    await row.getByRole('button', { name: `Reactivate ${member.email}` }).click();
    await page.getByTestId('toast').filter({ hasText: `${member.email} reactivated.` }).waitFor();
    await row.getByText('Active', { exact: true }).waitFor();
    assert.equal((await staffRecord(api, member.id)).deactivated_at, null);
    assert.equal((await signIn(memberPage, member.email, member.password)).role, 'viewer');
    await assertNoFailedRequests(page, consoleErrors, 'the Team page');
  });

test('an API token\'s secret is shown once at creation, works, and stops working when revoked', async ({ page, signIn, api, unique }) => {
  const name = unique('CRM sync');
  await signIn(page, 'admin');
  await openTeam(page);
  const tokens = page.getByTestId('team-tokens');
  await tokens.getByTestId('tokens-table').or(tokens.getByTestId('empty')).waitFor();

  await page.getByRole('button', { name: 'Create API token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create an API token' });
  await dialog.getByRole('textbox', { name: 'Name' }).fill(name);
  await dialog.getByRole('combobox', { name: 'Role' }).selectOption('viewer');
  await dialog.getByRole('button', { name: 'Create token' }).click();
  const secretBox = dialog.getByTestId('token-secret');
  await secretBox.waitFor();
  await dialog.getByText('Copy the token now: it is shown only once.').waitFor();
  const secret = await secretBox.inputValue();
  assert.match(secret, /^fdt_\S{20,}$/);
  assert.ok(await secretBox.getAttribute('readonly') !== null);

  // the secret works, with the role it was given
  const me = await api('GET', `${API}/me`, undefined, { token: secret });
  assert.equal(me.status, 200, me.text);
  assert.equal((await api('GET', 'users?limit=1', undefined, { token: secret })).status, 200);
  assert.equal((await api('POST', 'users', { email: `${unique('nope')}@e2e.example` }, { token: secret })).status, 403, 'a viewer token could create a user');

  await dialog.getByRole('button', { name: 'Done' }).click();
  await dialog.waitFor({ state: 'detached' });
  const row = tokens.getByTestId('token-row').filter({ hasText: name });
  await row.waitFor();
  assert.match(await row.innerText(), /viewer/);
  await row.getByText('Active', { exact: true }).waitFor();
  // shown once: it is nowhere in the page any more, nor in the API's list
  assert.ok(!(await page.content()).includes(secret), 'the token is still in the page');
  const listed = await api('GET', 'api-tokens');
  assert.ok(!listed.text.includes(secret), 'GET api-tokens shows the secret');

  // revoke, confirmed
  await row.getByRole('button', { name: `Revoke ${name}` }).click();
  const confirm = page.getByRole('alertdialog', { name: `Revoke ${name}?` });
  await confirm.getByRole('button', { name: 'Revoke' }).click();
  await page.getByTestId('toast').filter({ hasText: `${name} revoked.` }).waitFor();
  await tokens.getByTestId('token-row').filter({ hasText: name }).getByText(/^Revoked /).waitFor();
  assert.equal(await tokens.getByTestId('token-row').filter({ hasText: name }).getByRole('button', { name: `Revoke ${name}` }).count(), 0);
  assert.equal((await api('GET', 'users?limit=1', undefined, { token: secret })).status, 401, 'the revoked token still works');
});
