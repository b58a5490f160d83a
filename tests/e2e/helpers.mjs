// Helpers the feature tests share (not a test file: the runner only loads *.test.mjs).
// Everything here works through the app's own UI or the public API, as a person or an
// integration would; nothing reaches into the server or the database.

import { assert, API } from './lib/e2e.mjs';

export const SESSION = `${API}/session`;

// The app's users list and user page.
export const usersHash = (query = '') => `/#/users${query ? `?${query}` : ''}`;
export const userHash = (id) => `/#/users/${encodeURIComponent(id)}`;

// Fills the app's own sign-in form and waits for the signed-in shell.
export async function signInWithForm(page, email, password) {
  const form = page.getByTestId('signin-form');
  await form.waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('topbar').waitFor();
}

// Opens the users list and waits until it shows the API's answer (its status "N users").
export async function openUsers(page, query = '') {
  await page.goto(usersHash(query));
  await page.getByTestId('users-table').waitFor();
  await usersLoaded(page);
}

// The users list has loaded: the status says how many users, the table is not busy.
export async function usersLoaded(page) {
  await page.locator('[data-testid=users-table]:not([aria-busy])').waitFor();
  await page.getByTestId('users-status').filter({ hasText: /^[\d,]+\+? users?$/ }).waitFor();
}

// Waits until the users list's status says `n users` and the table holds what `ids` says,
// in that order (the API's answer for the same filters), and returns the rows' ids.
export async function waitForUserRows(page, until, ids, total, what) {
  const status = `${total.toLocaleString('en-US')} user${total === 1 ? '' : 's'}`;
  let shown = [];
  let said = '';
  try {
    await until(async () => {
      said = await page.getByTestId('users-status').textContent();
      shown = await rowIds(page);
      return said === status && shown.length === ids.length && shown.every((id, i) => id === ids[i]);
    }, what);
  } catch (e) {
    e.message = `${what}: the list should say "${status}" and show the API's ${ids.length} rows in its order; it says "${said}" and shows ${shown.length} rows (${shown.filter((id, i) => id === ids[i]).length} in place)`;
    throw e;
  }
  return shown;
}

// The cells of the users table that change from day to day (created, updated), to mask in screenshots.
export const userDateCells = (page) => page.locator('[data-testid=users-table] td:nth-child(7), [data-testid=users-table] td:nth-child(8)');

export function rowIds(page) {
  return page.getByTestId('user-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
}

// GET …/users with a query (the list's first page, as the app asks for it): {ids, total, users}.
export async function apiUsers(api, query) {
  const r = await api('GET', `users?${new URLSearchParams({ limit: '50', ...query })}`);
  assert.equal(r.status, 200, `GET users?${new URLSearchParams(query)}: ${r.status} ${r.text}`);
  return { users: r.body, ids: r.body.map((u) => u.id), total: Number(r.headers['x-total-count']) };
}

// Makes an end-user through the API (a test's own data); returns it with its ETag.
export async function createUser(api, fields) {
  const r = await api('POST', 'users', fields);
  assert.equal(r.status, 201, `POST users: ${r.status} ${r.text}`);
  return r.body;
}

export async function getUser(api, id) {
  const r = await api('GET', `users/${id}`);
  assert.equal(r.status, 200, `GET users/${id}: ${r.status} ${r.text}`);
  return { user: r.body, etag: r.headers.etag };
}

// A new team member (a staff account of the org) made the way the app makes one: an
// invitation by the demo admin, accepted through the API. Returns {id, email, password, role}.
export async function createStaff(api, email, role, password = `pw-${email}-0123456789`) {
  const inv = await api('POST', 'staff/invites', { email, role });
  assert.equal(inv.status, 201, `POST staff/invites: ${inv.status} ${inv.text}`);
  const acc = await api('POST', `${API}/invites/accept`, { token: inv.body.token, password }, { token: undefined });
  assert.equal(acc.status, 201, `POST invites/accept: ${acc.status} ${acc.text}`);
  return { id: acc.body.staff_id, email, password, role };
}

// The value of the context's session cookie (HttpOnly: only the browser and the server see it).
export async function sessionCookie(context) {
  const c = (await context.cookies()).find((x) => x.name === 'fd_session');
  assert.ok(c, `no fd_session cookie in the context: ${JSON.stringify(await context.cookies())}`);
  return c;
}

// The document does not scroll sideways: nothing is wider than the viewport.
export async function assertNoHorizontalOverflow(page, what) {
  const m = await page.evaluate(() => {
    const wide = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.right > window.innerWidth + 0.5 && r.width > 0) {
        wide.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''} (right ${Math.round(r.right)})`);
      }
    }
    return {
      scrollWidth: document.documentElement.scrollWidth,
      bodyScrollWidth: document.body.scrollWidth,
      innerWidth: window.innerWidth,
      wide: wide.slice(0, 8),
    };
  });
  assert.ok(m.scrollWidth <= m.innerWidth && m.bodyScrollWidth <= m.innerWidth,
    `${what}: the document is ${m.scrollWidth}px wide (body ${m.bodyScrollWidth}px) in a ${m.innerWidth}px viewport; wider than the viewport: ${m.wide.join(', ')}`);
}

// Records every text an element matching `selector` shows from now on (a MutationObserver in
// the page), so a test can ask afterwards what a fast-changing display went through without
// sampling it against the clock. Returns a function that resolves the texts seen so far.
export async function recordTexts(page, selector, key) {
  await page.evaluate(({ selector, key }) => {
    const seen = [];
    window[key] = seen;
    const look = () => {
      for (const el of document.querySelectorAll(selector)) {
        const t = el.textContent;
        if (t && seen[seen.length - 1] !== t) seen.push(t);
      }
    };
    const obs = new MutationObserver((records) => {
      for (const r of records) {
        const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
        const hit = el && el.closest(selector);
        if (hit && hit.textContent && seen[seen.length - 1] !== hit.textContent) seen.push(hit.textContent);
      }
      look();
    });
    obs.observe(document.body, { subtree: true, childList: true, characterData: true });
    look();
  }, { selector, key });
  return () => page.evaluate((k) => window[k].slice(), key);
}

// Once the page's network is quiet: no request of the app failed (the console logs each 4xx/5xx
// as an error). `allowed` lists RegExps of errors that are expected in that test.
export async function assertNoFailedRequests(page, consoleErrors, what, allowed = []) {
  await page.waitForLoadState('networkidle');
  const bad = consoleErrors.map((e) => `${e.text} ${e.url}`).filter((t) => !allowed.some((re) => re.test(t)));
  assert.deepEqual(bad, [], `${what}: requests that failed`);
}

// Records the values every <progress> element of the page takes from now on, as
// "LABEL=VALUE/MAX" (its aria-label), like recordTexts. Returns a function resolving them.
export async function recordProgress(page, key) {
  await page.evaluate((key) => {
    const seen = [];
    window[key] = seen;
    const note = (el) => {
      const v = `${el.getAttribute('aria-label')}=${el.getAttribute('value')}/${el.getAttribute('max')}`;
      if (seen[seen.length - 1] !== v) seen.push(v);
    };
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'attributes' && r.target.tagName === 'PROGRESS') note(r.target);
        for (const n of r.addedNodes || []) {
          if (n.nodeType === 1) (n.tagName === 'PROGRESS' ? [n] : n.querySelectorAll('progress')).forEach(note);
        }
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['value', 'max'] });
  }, key);
  return () => page.evaluate((k) => window[k].slice(), key);
}
