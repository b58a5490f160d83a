// Accessibility: axe-core (from npm, tests/e2e/package.json) checks every page of the app against
// WCAG 2.1 A and AA (labels, names, roles, landmarks, colour contrast, ...), at laptop and tablet
// widths, signed in as an admin (who sees every control) and as the sign-in and invite pages.
//
// axe is injected into the page, which the app's CSP forbids (no inline scripts): these
// contexts bypass the CSP (bypassCSP), which the other tests never do.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { test, assert } from './lib/e2e.mjs';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(path.join(path.dirname(require.resolve('axe-core')), 'axe.min.js'), 'utf8');
const CTX = { bypassCSP: true };
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// Runs axe on the page as it is; fails naming each violation, its rule and the first elements.
async function assertAccessible(page, what) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${n.failureSummary.split('\n').slice(1, 2).join('')}`) }));
  }, TAGS);
  assert.deepEqual(result, [], `${what}: ${result.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n  ')}`);
}

// The pages an admin sees, each ready when its heading (and for lists, its rows) show.
async function pages(api) {
  const users = await api('GET', 'users?limit=1');
  assert.equal(users.status, 200, `GET users: ${users.status}`);
  const attention = await api('GET', 'devices?needs_attention=true&limit=1');
  assert.equal(attention.status, 200, `GET devices: ${attention.status}`);
  const userId = (attention.body[0] || users.body[0]).user_id || users.body[0].id;
  return [
    ['users list', '/#/users', (p) => p.getByTestId('user-row').first().waitFor()],
    ['user page', `/#/users/${userId}`, (p) => p.getByTestId('diagnosis').first().waitFor()],
    ['fleet', '/#/fleet', (p) => p.getByTestId('fleet-row').first().waitFor()],
    ['import', '/#/import', (p) => p.getByRole('heading', { level: 1 }).waitFor()],
    ['audit log', '/#/audit', (p) => p.getByTestId('audit-row').first().waitFor()],
    ['team', '/#/team', (p) => p.getByRole('heading', { level: 1, name: 'Team' }).waitFor()],
  ];
}

for (const [width, height] of [[1366, 900], [768, 1024]]) {
  test(`at ${width}px every page an admin sees passes axe's WCAG 2.1 A and AA checks`,
    { context: { ...CTX, viewport: { width, height } } },
    async ({ page, signIn, api }) => {
      await signIn(page, 'admin');
      for (const [what, url, ready] of await pages(api)) {
        await page.goto(url);
        await ready(page);
        await page.waitForLoadState('networkidle');
        await assertAccessible(page, `${what} at ${width}px`);
      }
    });
}

test('the sign-in form, its error, and the invitation page pass axe\'s WCAG 2.1 A and AA checks',
  { context: CTX },
  async ({ page, api, uniqueEmail }) => {
    await page.goto('/');
    await page.getByTestId('signin-form').waitFor();
    await assertAccessible(page, 'sign-in form');
    await page.getByTestId('signin-email').fill(uniqueEmail('nobody'));
    await page.getByTestId('signin-password').fill('not the password at all');
    await page.getByTestId('signin-submit').click();
    await page.getByTestId('signin-error').waitFor();
    await assertAccessible(page, 'sign-in error');

    const inv = await api('POST', 'staff/invites', { email: uniqueEmail('a11y'), role: 'viewer' });
    assert.equal(inv.status, 201, `POST staff/invites: ${inv.status} ${inv.text}`);
    await page.goto(`/#/invite/${inv.body.token}`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.getByLabel('Password', { exact: false }).first().waitFor();
    await assertAccessible(page, 'invitation page');
  });
