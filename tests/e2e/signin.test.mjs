// Signing in with the app's own form: an admin lands on the users list with an HttpOnly
// session cookie; a wrong password shows the error and keeps the form.

import { test, assert } from './lib/e2e.mjs';
import { SESSION, sessionCookie, signInWithForm } from './helpers.mjs';

test('an admin signs in with the form and lands on the users list; the session cookie is HttpOnly',
  async ({ page, context, demo, screenshot }) => {
    await page.goto('/');
    await page.getByTestId('signin-form').waitFor();
    await page.getByLabel('Email').fill(demo.admin_email);
    await screenshot(page, 'signin');
    await page.getByLabel('Password').fill(demo.admin_password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    await page.getByTestId('user-row').first().waitFor();
    assert.equal(await page.getByTestId('signin-form').count(), 0, 'the sign-in form is still there');
    assert.match(await page.getByTestId('whoami').innerText(), new RegExp(`${demo.admin_email}\\s*admin`));
    assert.equal(await page.getByTestId('nav-users').getAttribute('aria-current'), 'page');
    assert.match(new URL(page.url()).hash, /^#\/users/);

    // the browser holds the session cookie, but the page's scripts cannot read it
    const cookie = await sessionCookie(context);
    assert.equal(cookie.httpOnly, true, 'fd_session is not HttpOnly');
    assert.equal(cookie.sameSite, 'Strict', `fd_session is SameSite=${cookie.sameSite}`);
    const visible = await page.evaluate(() => document.cookie);
    assert.ok(!visible.includes('fd_session') && !visible.includes(cookie.value), `document.cookie shows the session: ${visible}`);

    // and it is the admin's session
    const r = await page.request.get(SESSION);
    assert.equal(r.status(), 200);
    const s = await r.json();
    assert.equal(s.email, demo.admin_email);
    assert.equal(s.role, 'admin');
  });

test('a wrong password shows the error and stays on the sign-in form', async ({ page, demo, screenshot, until }) => {
  await page.goto('/#/fleet');
  await page.getByTestId('signin-form').waitFor();
  await page.getByLabel('Email').fill(demo.viewer_email);
  await page.getByLabel('Password').fill(`${demo.viewer_password}-wrong`);
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname === SESSION && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Sign in' }).click();
  assert.equal((await answer).status(), 401);

  const err = page.getByTestId('signin-error');
  await err.filter({ hasText: 'Wrong email or password.' }).waitFor();
  assert.equal(await err.getAttribute('role'), 'alert');
  // still the form, with the email kept, the password emptied and focused for another try
  await page.getByTestId('signin-form').waitFor();
  assert.equal(await page.getByTestId('topbar').count(), 0, 'the app shell shows after a failed sign-in');
  assert.equal(await page.getByLabel('Email').inputValue(), demo.viewer_email);
  assert.equal(await page.getByLabel('Password').inputValue(), '');
  await until(() => page.getByLabel('Password').evaluate((el) => el === document.activeElement), 'the password field has the focus');
  assert.equal(new URL(page.url()).hash, '#/fleet', 'the route the person asked for is kept');
  await screenshot(page, 'signin-error');

  // the right password then works, and the app renders the route that was asked for
  await signInWithForm(page, demo.viewer_email, demo.viewer_password);
  await page.getByRole('heading', { level: 1, name: 'Fleet' }).waitFor();
});
