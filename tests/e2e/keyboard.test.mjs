// The main flow by keyboard alone: sign in, Tab to the search box, type, sort by a header,
// Enter on a user, Space on Edit, Escape closes the dialog (and a confirmation) with the focus
// back on the button that opened it. Every action here is a page.keyboard press or typing;
// the page is only read (which element has the focus, what is shown) in between.

import { test, assert } from './lib/e2e.mjs';
import { createUser, getUser } from './helpers.mjs';

// What has the focus: its data-testid, else its tag and text.
const focused = (page) => page.evaluate(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return 'body';
  return el.getAttribute('data-testid') || `${el.tagName.toLowerCase()}:${(el.textContent || '').trim().slice(0, 30)}`;
});

// Presses Tab (Shift+Tab with back) until the focus is on the element `focused` names so
// (its data-testid); fails after `max` presses.
async function tabTo(page, testid, { back = false, max = 40 } = {}) {
  const path = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    const now = await focused(page);
    path.push(now);
    if (now === testid) return;
  }
  assert.fail(`${max} presses of Tab did not reach ${testid}; the focus went: ${path.join(' → ')}`);
}

test('the main flow by keyboard only: sign in, search, sort, open a user, Edit with Space, Escape closes the dialogs',
  async ({ page, api, demo, unique, until }) => {
    const last = unique('Keyboardson').replace(/-/g, '');
    const user = await createUser(api, { email: `${last.toLowerCase()}@e2e.example`, first_name: 'Kim', last_name: last });
    const other = await createUser(api, { email: `a-${last.toLowerCase()}@e2e.example`, first_name: 'Alex', last_name: last });

    await page.goto('/');
    await page.getByTestId('signin-form').waitFor();
    assert.equal(await focused(page), 'signin-email', 'the sign-in form does not start on the email field');
    await page.keyboard.type(demo.staff2_email);
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'signin-password');
    await page.keyboard.type(demo.staff2_password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    await page.getByTestId('user-row').first().waitFor();

    // Tab to the search box and type: the list narrows to the two users of that name
    await tabTo(page, 'search-input');
    await page.keyboard.type(last.toLowerCase());
    await until(async () => (await page.getByTestId('users-status').textContent()) === '2 users'
      && (await page.getByTestId('user-row').count()) === 2, 'the search finds the two users');

    // sort by email with the keyboard: the focus stays on the header's button
    await tabTo(page, 'sort-email');
    await page.keyboard.press('Enter');
    await until(async () => (await page.locator('th', { has: page.getByTestId('sort-email') }).getAttribute('aria-sort')) === 'ascending', 'sorted by email');
    assert.equal(await focused(page), 'sort-email', 'the focus left the sort button');
    await until(async () => (await page.getByTestId('user-link').allTextContents()).join() === [other.email, user.email].join(), 'a-… first');
    await page.keyboard.press('Enter');
    await until(async () => (await page.getByTestId('user-link').allTextContents()).join() === [user.email, other.email].join(), 'descending: k… first');
    assert.equal(await focused(page), 'sort-email');

    // the row's Edit with Space, a change typed, Enter saves; the focus comes back to that Edit
    await tabTo(page, 'row-edit');
    assert.equal(await page.evaluate(() => document.activeElement.closest('tr').getAttribute('data-id')), user.id);
    await page.keyboard.press('Space');
    const rowDialog = page.getByRole('dialog', { name: 'Edit user' });
    await rowDialog.waitFor();
    await until(async () => (await focused(page)) === 'user-field-email', 'the focus is in the form');
    await tabTo(page, 'user-field-town');
    await page.keyboard.type('Kiel');
    await page.keyboard.press('Enter');
    await rowDialog.waitFor({ state: 'detached' });
    await page.getByTestId('user-row').filter({ hasText: 'Kiel' }).waitFor();
    assert.equal((await getUser(api, user.id)).user.town, 'Kiel');
    await until(async () => (await focused(page)) === 'row-edit'
      && await page.evaluate(() => document.activeElement.closest('tr').getAttribute('data-id')) === user.id,
    `the focus is back on the Edit button of ${user.email} after the save (it is on ${await focused(page)})`);
    await tabTo(page, 'user-link', { back: true });

    // Enter on the first user's link opens the user page
    assert.equal(await page.evaluate(() => document.activeElement.textContent), user.email);
    await page.keyboard.press('Enter');
    await page.getByTestId('user-name').filter({ hasText: `Kim ${last}` }).waitFor();
    assert.equal(new URL(page.url()).hash, `#/users/${user.id}`);

    // Space on Edit opens the form with the focus in it; Escape closes it, the focus returns
    await tabTo(page, 'edit-user');
    await page.keyboard.press('Space');
    const dialog = page.getByRole('dialog', { name: 'Edit user' });
    await dialog.waitFor();
    await until(async () => (await focused(page)) === 'user-field-email', 'the focus is in the form');
    assert.equal(await dialog.getByTestId('user-field-email').inputValue(), user.email);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await focused(page), 'edit-user', 'the focus did not return to Edit');

    // a confirmation: Enter on Delete, Escape cancels it, nothing is deleted
    await tabTo(page, 'delete-user');
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('alertdialog', { name: `Delete ${user.email}?` });
    await confirm.waitFor();
    assert.equal(await focused(page), 'confirm-cancel', 'a dangerous confirmation does not start on Cancel');
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'detached' });
    assert.equal(await focused(page), 'delete-user');
    assert.equal((await getUser(api, user.id)).user.deleted_at, null, 'Escape deleted the user');

    // and back to the list with the keyboard: the "← Users" link
    await tabTo(page, 'a:← Users', { back: true });
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
  });
