// Editing a user: the API's 422 shows inline next to each field it names, a corrected save
// succeeds and shows the saved values; a save over someone else's change (412: the ETag the
// form was opened with is stale) explains what changed and reloads the server's values.

import { test, assert } from './lib/e2e.mjs';
import { createUser, getUser, userHash } from './helpers.mjs';

const isPut = (id) => (r) => r.request().method() === 'PUT' && new URL(r.url()).pathname.endsWith(`/users/${id}`);

// The input of a field of the user form and its inline error (#{id}-err, tied by aria-describedby).
function formField(dialog, label) {
  const input = dialog.getByRole('textbox', { name: label, exact: true });
  return {
    input,
    async error() {
      const id = await input.getAttribute('id');
      const described = (await input.getAttribute('aria-describedby')) || '';
      assert.ok(described.split(/\s+/).includes(`${id}-err`), `${label}: aria-describedby "${described}" does not name ${id}-err`);
      return dialog.locator(`[id="${id}-err"]`);
    },
  };
}

async function openEditForm(page, user) {
  await page.goto(userHash(user.id));
  await page.getByTestId('user-name').waitFor();
  await page.getByRole('button', { name: 'Edit', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Edit user' });
  await dialog.waitFor();
  // the form shows once the user (and its ETag) has loaded
  await page.waitForFunction((email) => {
    const el = document.querySelector('[data-testid=user-field-email]');
    return el && el.value === email;
  }, user.email);
  return dialog;
}

test('an invalid email and country code show the API\'s inline errors; corrected, the save succeeds and shows',
  async ({ page, signIn, api, uniqueEmail, screenshot }) => {
    const user = await createUser(api, { email: uniqueEmail('edit'), first_name: 'Edith', last_name: 'Valid', town: 'Bonn', country_iso2: 'DE' });
    await signIn(page, 'staff');
    const dialog = await openEditForm(page, user);

    const email = formField(dialog, 'Email');
    const country = formField(dialog, 'Country code');
    await email.input.fill('edith-at-example');
    await country.input.fill('DEU');
    const answer = page.waitForResponse(isPut(user.id));
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    const res = await answer;
    assert.equal(res.status(), 422, 'the server took an invalid email');
    const problem = await res.json();
    const detailOf = (f) => problem.errors.find((e) => e.field === f)?.detail;
    assert.ok(detailOf('email') && detailOf('country_iso2'), JSON.stringify(problem));

    // each field's own message, from the API, next to the field
    const emailErr = await email.error();
    const countryErr = await country.error();
    await emailErr.filter({ hasText: detailOf('email') }).waitFor();
    await countryErr.filter({ hasText: detailOf('country_iso2') }).waitFor();
    assert.equal(await email.input.getAttribute('aria-invalid'), 'true');
    assert.equal(await country.input.getAttribute('aria-invalid'), 'true');
    assert.equal(await formField(dialog, 'Town').input.getAttribute('aria-invalid'), null);
    await dialog.getByTestId('form-error').filter({ hasText: /\S/ }).waitFor();
    await screenshot(page, 'user-edit-invalid', { mask: [page.getByTestId('user-audit')] });
    // the focus is on the first invalid field, and the dialog stays open with the edits
    assert.ok(await email.input.evaluate((el) => el === document.activeElement), 'the invalid email field is not focused');
    assert.equal(await country.input.inputValue(), 'DEU');
    assert.equal((await getUser(api, user.id)).user.email, user.email, 'the invalid edit was saved');

    // corrected: saved, the dialog closes and the page shows the new values
    const newEmail = uniqueEmail('edited');
    await email.input.fill(newEmail);
    await country.input.fill('AT');
    const saved = page.waitForResponse(isPut(user.id));
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    assert.equal((await saved).status(), 200);
    await dialog.waitFor({ state: 'detached' });
    await page.getByTestId('toast').filter({ hasText: 'User saved.' }).waitFor();
    const contact = page.getByTestId('contact');
    await contact.getByRole('link', { name: newEmail }).waitFor();
    assert.match(await contact.innerText(), /Bonn, AT/);
    assert.match(await page.locator('.page-head .sub').innerText(), new RegExp(newEmail.replace(/\./g, '\\.')));
    const now = (await getUser(api, user.id)).user;
    assert.equal(now.email, newEmail);
    assert.equal(now.country_iso2, 'AT');
    // the edit button has the focus back once the dialog closed
    assert.ok(await page.getByTestId('edit-user').evaluate((el) => el === document.activeElement), 'focus did not return to Edit');
  });

// Someone changes the user (here: the API, with the demo admin's token) between the moment the
// form opened and the save.
async function changeMeanwhile(api, id, fields) {
  const { etag } = await getUser(api, id);
  const r = await api('PUT', `users/${id}`, fields, { headers: { 'If-Match': etag } });
  assert.equal(r.status, 200, `PUT users/${id}: ${r.status} ${r.text}`);
  return r.body;
}

async function conflictRows(dialog) {
  const table = dialog.getByRole('table', { name: 'What changed on the server' });
  await table.waitFor();
  return table.getByTestId('conflict-row').evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent.trim())));
}

test('a save over a change made meanwhile (412) lists what changed; "reload and keep my edits" shows the server\'s values and saves',
  async ({ page, signIn, api, uniqueEmail, screenshot }) => {
    const user = await createUser(api, { email: uniqueEmail('clash'), first_name: 'Conny', last_name: 'Before', town: 'Kiel', zip_code: '24103' });
    await signIn(page, 'staff');
    const dialog = await openEditForm(page, user);

    await changeMeanwhile(api, user.id, { last_name: 'Server', town: 'Lübeck' });

    await formField(dialog, 'Town').input.fill('Flensburg');
    await formField(dialog, 'ZIP code').input.fill('24937');
    const answer = page.waitForResponse(isPut(user.id));
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    assert.equal((await answer).status(), 412, 'the stale ETag was not refused');

    const conflict = dialog.getByTestId('conflict');
    await conflict.getByRole('alert').waitFor();
    assert.match(await conflict.innerText(), /Someone else changed this user since you opened it\..*Nothing was saved\./s);
    // field, when you opened it, now on the server, your edit
    const rows = await conflictRows(dialog);
    assert.deepEqual(rows.sort(), [
      ['Last name', 'Before', 'Server', 'not edited'],
      ['Town', 'Kiel', 'Lübeck', 'Flensburg'],
    ]);
    // (the explanation names the time of the server's change)
    await screenshot(page, 'user-edit-conflict', { mask: [conflict.locator('p').first(), page.getByTestId('user-audit')] });
    assert.equal((await getUser(api, user.id)).user.town, 'Lübeck', 'the conflicting save was applied');

    await dialog.getByRole('button', { name: 'Reload and keep my edits' }).click();
    await conflict.getByRole('alert').waitFor({ state: 'detached' });
    // the field I did not touch now shows the server's value; my edits stay
    assert.equal(await formField(dialog, 'Last name').input.inputValue(), 'Server');
    assert.equal(await formField(dialog, 'Town').input.inputValue(), 'Flensburg');
    assert.equal(await formField(dialog, 'ZIP code').input.inputValue(), '24937');

    const saved = page.waitForResponse(isPut(user.id));
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    assert.equal((await saved).status(), 200);
    await dialog.waitFor({ state: 'detached' });
    const now = (await getUser(api, user.id)).user;
    assert.deepEqual([now.last_name, now.town, now.zip_code], ['Server', 'Flensburg', '24937']);
    await page.getByTestId('user-name').filter({ hasText: 'Conny Server' }).waitFor();
  });

test('after a 412, "discard my edits and reload" shows the server\'s values in the form', async ({ page, signIn, api, uniqueEmail }) => {
  const user = await createUser(api, { email: uniqueEmail('clash'), first_name: 'Dora', last_name: 'Before', town: 'Ulm' });
  await signIn(page, 'admin');
  const dialog = await openEditForm(page, user);
  const serverEmail = uniqueEmail('moved');
  await changeMeanwhile(api, user.id, { email: serverEmail, town: 'Augsburg' });

  await formField(dialog, 'Town').input.fill('Memmingen');
  const answer = page.waitForResponse(isPut(user.id));
  await dialog.getByRole('button', { name: 'Save changes' }).click();
  assert.equal((await answer).status(), 412);
  const rows = await conflictRows(dialog);
  assert.deepEqual(rows.sort(), [
    ['Email', user.email, serverEmail, 'not edited'],
    ['Town', 'Ulm', 'Augsburg', 'Memmingen'],
  ]);

  await dialog.getByRole('button', { name: 'Discard my edits and reload' }).click();
  await dialog.getByTestId('conflict').getByRole('alert').waitFor({ state: 'detached' });
  assert.equal(await formField(dialog, 'Town').input.inputValue(), 'Augsburg');
  assert.equal(await formField(dialog, 'Email').input.inputValue(), serverEmail);
  assert.equal(await formField(dialog, 'Last name').input.inputValue(), 'Before');

  // nothing to save now; Escape closes the dialog without a request
  await dialog.getByRole('button', { name: 'Save changes' }).click();
  await dialog.getByTestId('form-error').filter({ hasText: 'Nothing changed.' }).waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal((await getUser(api, user.id)).user.town, 'Augsburg');
});
