// At tablet width (768x1024) the pages fit: the document never scrolls sideways (wide tables
// scroll inside their own box).

import { test, assert } from './lib/e2e.mjs';
import { assertNoHorizontalOverflow, openUsers, userDateCells, userHash } from './helpers.mjs';

const TABLET = { viewport: { width: 768, height: 1024 } };

test('at 768x1024 the users list has no horizontal overflow of the document', { context: TABLET },
  async ({ page, signIn, screenshot }) => {
    await signIn(page, 'staff');
    await openUsers(page);
    assert.equal(await page.evaluate(() => window.innerWidth), 768);
    await assertNoHorizontalOverflow(page, 'users list');
    // with a selection (the bulk bar) too
    await page.getByTestId('user-row').first().getByRole('checkbox').check();
    await page.getByTestId('bulk-bar').waitFor();
    await assertNoHorizontalOverflow(page, 'users list with the bulk bar');
    await page.getByRole('button', { name: 'Clear selection' }).click();
    await page.getByTestId('bulk-bar').waitFor({ state: 'hidden' });
    await screenshot(page, 'users-tablet', { mask: [userDateCells(page)] });
  });

test('at 768x1024 the user page has no horizontal overflow of the document', { context: TABLET },
  async ({ page, signIn, api, until }) => {
    // a user with devices of more than one type, so the page has its charts and diagnoses
    const devices = (await api('GET', 'devices?limit=200')).body;
    const types = new Map();
    for (const d of devices) types.set(d.user_id, new Set([...(types.get(d.user_id) || []), d.device_type]));
    const userId = [...types].find(([, t]) => t.size >= 2)[0];

    await signIn(page, 'staff');
    await page.goto(userHash(userId));
    await page.getByTestId('user-name').waitFor();
    await until(async () => {
      const cards = await page.getByTestId('device-card').count();
      return cards >= 2
        && await page.getByRole('list', { name: 'Optimization checklist' }).count() === cards
        && await page.getByTestId('consumption-chart').count() === cards;
    }, 'every device shows its chart and diagnosis');
    await page.getByTestId('user-audit').getByTestId('loading').waitFor({ state: 'detached' });
    await assertNoHorizontalOverflow(page, 'user page');

    // the edit dialog fits too
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    await page.getByRole('dialog', { name: 'Edit user' }).getByTestId('user-form').waitFor();
    await assertNoHorizontalOverflow(page, 'user page with the edit dialog');
  });

test('at 768x1024 the fleet, import, audit log and team pages have no horizontal overflow either', { context: TABLET },
  async ({ page, signIn }) => {
    await signIn(page, 'admin');
    for (const [route, ready] of [['fleet', 'fleet-row'], ['import', 'import-drop'], ['audit', 'audit-row'], ['team', 'staff-row']]) {
      await page.goto(`/#/${route}`);
      await page.getByTestId(ready).first().waitFor();
      await page.waitForLoadState('networkidle');
      await assertNoHorizontalOverflow(page, `#/${route}`);
    }
  });
