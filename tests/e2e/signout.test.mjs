// Signing out ends the session on the server: the sign-in form shows, the old cookie is
// refused, and neither Back nor a reload shows data again.

import { test, assert } from './lib/e2e.mjs';
import { SESSION, openUsers, sessionCookie } from './helpers.mjs';

async function assertSignedOutView(page, what) {
  await page.getByTestId('signin-form').waitFor();
  await page.waitForLoadState('networkidle');
  for (const id of ['topbar', 'users-table', 'user-row', 'user-name', 'contact', 'devices']) {
    assert.equal(await page.getByTestId(id).count(), 0, `${what}: ${id} is shown`);
  }
}

test('after sign-out the sign-in form shows, the old session cookie is refused (401), and Back or a reload shows no data',
  async ({ page, context, signIn, api }) => {
    await signIn(page, 'staff');
    await openUsers(page);
    const first = page.getByTestId('user-row').first();
    const email = await first.getByTestId('user-link').innerText();
    await first.getByTestId('user-link').click();
    await page.getByTestId('user-name').waitFor();
    await page.getByTestId('contact').getByText(email).waitFor();
    const userRoute = new URL(page.url()).hash;

    const cookie = await sessionCookie(context);
    const asCookie = { token: undefined, headers: { Cookie: `fd_session=${cookie.value}` } };
    assert.equal((await api('GET', SESSION, undefined, asCookie)).status, 200, 'the cookie is not a session before sign-out');

    const out = page.waitForResponse((r) => new URL(r.url()).pathname === SESSION && r.request().method() === 'DELETE');
    await page.getByRole('button', { name: 'Sign out' }).click();
    assert.equal((await out).status(), 204);
    await page.getByTestId('signin-notice').filter({ hasText: 'You have signed out.' }).waitFor();
    await assertSignedOutView(page, 'after sign-out');

    // the server ended the session: the old cookie, replayed, is refused everywhere
    assert.equal((await api('GET', SESSION, undefined, asCookie)).status, 401, 'the old cookie still has a session');
    assert.equal((await api('GET', 'users?limit=1', undefined, asCookie)).status, 401, 'the old cookie still reads users');
    // and the browser no longer holds it
    assert.ok(!(await context.cookies()).some((c) => c.name === 'fd_session' && c.value === cookie.value), 'the browser kept the cookie');
    assert.equal((await page.request.get(SESSION)).status(), 401);

    // Back: still the sign-in form, nothing of the user
    await page.goBack();
    await assertSignedOutView(page, 'after Back');
    assert.equal(await page.getByText(email).count(), 0, 'the user is still shown after Back');
    // a reload, and the user's own route: the sign-in form
    await page.reload();
    await assertSignedOutView(page, 'after a reload');
    await page.goForward().catch(() => {});
    await assertSignedOutView(page, 'after Forward');
    await page.goto(`/${userRoute}`);
    await assertSignedOutView(page, `at ${userRoute}`);
    assert.equal(await page.getByText(email).count(), 0);
  });
