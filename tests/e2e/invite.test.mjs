// An admin invites a new team member; the one-time link, opened in another browser, sets a
// password (a too-short one is refused inline) and the new member signs in; the link then
// no longer works.

import { test, assert, API } from './lib/e2e.mjs';
import { signInWithForm } from './helpers.mjs';

test('an invitation link sets a password (too short: inline error), the new staff member signs in, and the link works only once',
  async ({ page, signIn, api, newContext, baseURL, uniqueEmail, screenshot }) => {
    const email = uniqueEmail('invitee');
    const password = 'correct horse battery staple';

    // ---- the admin invites
    await signIn(page, 'admin');
    await page.goto('/#/team');
    await page.getByRole('heading', { level: 1, name: 'Team' }).waitFor();
    await page.getByRole('button', { name: 'Invite a member' }).click();
    const dialog = page.getByRole('dialog', { name: 'Invite a member' });
    await dialog.getByRole('textbox', { name: 'Email' }).fill(email);
    assert.equal(await dialog.getByRole('combobox', { name: 'Role' }).inputValue(), 'staff');
    await dialog.getByRole('button', { name: 'Create invitation' }).click();
    const linkBox = dialog.getByRole('textbox', { name: 'Invitation link' });
    await linkBox.waitFor();
    const link = await linkBox.inputValue();
    assert.ok(link.startsWith(`${baseURL}/#/invite/`), `the invitation link ${link} is not on ${baseURL}`);
    const token = decodeURIComponent(link.slice(`${baseURL}/#/invite/`.length));
    assert.match(await dialog.getByRole('status').innerText(), new RegExp(`Invitation for ${email} \\(staff\\) created.*shown only once`));
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });
    const openInvites = page.getByTestId('team-invites');
    await openInvites.getByTestId('invite-row').filter({ hasText: email }).waitFor();
    // the link is shown once: not in the list of open invitations
    assert.ok(!(await page.content()).includes(token), 'the invitation token is still in the page');

    // ---- the invitee, in a browser of their own
    const inviteePage = await (await newContext()).newPage();
    await inviteePage.goto(link);
    const invite = inviteePage.getByTestId('invite-page');
    await invite.getByTestId('invite-details').waitFor();
    assert.equal(await invite.getByTestId('invite-email').innerText(), email);
    assert.equal(await invite.getByTestId('invite-org').innerText(), 'Demo Energy');
    await inviteePage.getByRole('heading', { level: 1, name: 'Join Demo Energy' }).waitFor();
    await screenshot(inviteePage, 'invite', { mask: [invite.getByTestId('invite-details').locator('dd').last()] });

    // too short: the error next to the field, nothing sent
    const pw = inviteePage.getByLabel('Choose a password');
    const pw2 = inviteePage.getByLabel('Repeat the password');
    await pw.fill('short-pw');
    await pw2.fill('short-pw');
    await inviteePage.getByRole('button', { name: 'Set password and join' }).click();
    const pwErr = inviteePage.locator(`[id="${await pw.getAttribute('id')}-err"]`);
    await pwErr.filter({ hasText: 'must be at least 12 characters' }).waitFor();
    assert.equal(await pw.getAttribute('aria-invalid'), 'true');
    assert.ok((await pw.getAttribute('aria-describedby')).includes(`${await pw.getAttribute('id')}-err`));
    await screenshot(inviteePage, 'invite-short-password', { mask: [invite.getByTestId('invite-details').locator('dd').last()] });
    // the server refuses it too, naming the field, and the token stays good
    const weak = await api('POST', `${API}/invites/accept`, { token, password: 'short-pw' }, { token: undefined });
    assert.equal(weak.status, 422, weak.text);
    assert.deepEqual(weak.body.errors.map((e) => e.field), ['password']);

    // a good password
    await pw.fill(password);
    await pw2.fill(password);
    await inviteePage.getByRole('button', { name: 'Set password and join' }).click();
    await inviteePage.getByTestId('invite-done').filter({ hasText: `Your account ${email} is ready.` }).waitFor();
    await inviteePage.getByRole('button', { name: 'Go to sign-in' }).click();
    await inviteePage.getByTestId('signin-form').waitFor();
    assert.equal(await inviteePage.getByLabel('Email').inputValue(), email, 'the email is not prefilled');
    await inviteePage.getByLabel('Password').fill(password);
    await inviteePage.getByRole('button', { name: 'Sign in' }).click();
    await inviteePage.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    assert.match(await inviteePage.getByTestId('whoami').innerText(), new RegExp(`${email}\\s*staff`));
    assert.equal(await inviteePage.getByTestId('nav-team').count(), 0, 'a staff member sees the Team link');
    await inviteePage.getByTestId('nav-import').waitFor();

    // ---- the link a second time: refused, in a fresh browser and by the API
    const againPage = await (await newContext()).newPage();
    await againPage.goto(link);
    await againPage.getByRole('heading', { level: 1, name: 'Invitation not valid' }).waitFor();
    assert.match(await againPage.getByTestId('invite-error').innerText(), /unknown, already used, revoked or expired/);
    assert.equal(await againPage.getByLabel('Choose a password').count(), 0);
    const lookup = await api('POST', `${API}/invites/lookup`, { token }, { token: undefined });
    assert.equal(lookup.status, 404);
    const twice = await api('POST', `${API}/invites/accept`, { token, password: 'another long password' }, { token: undefined });
    assert.equal(twice.status, 404);
    // the password set first still signs in
    const again = await newContext();
    const p3 = await again.newPage();
    await p3.goto('/');
    await signInWithForm(p3, email, password);

    // ---- the admin's team page: a member now, no longer an open invitation
    await page.reload();
    await page.getByTestId('staff-table').getByTestId('staff-row').filter({ hasText: email }).waitFor();
    await openInvites.getByTestId('invites-table').or(openInvites.getByTestId('empty')).waitFor();
    assert.equal(await openInvites.getByTestId('invite-row').filter({ hasText: email }).count(), 0);
  });
