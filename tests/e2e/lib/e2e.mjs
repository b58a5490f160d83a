// What a test file imports:
//
//   import { test, assert, API } from './lib/e2e.mjs';
//
//   test('the users page lists the demo users', async ({ page, signIn }) => {
//     await signIn(page, 'viewer');
//     await page.goto('/#/users');
//     await page.getByTestId('users-table').waitFor();
//   });
//
// test(name, [options,] fn) registers a test; tests/e2e/run.mjs runs them one after the
// other, each in a fresh browser context, and passes fn one object (see README.md,
// "End-to-end tests", and the list in run.mjs: makeFixture). Options:
//   timeout         ms before the test fails (default 60000, or $E2E_TEST_TIMEOUT_MS)
//   context         extra options for browser.newContext(), e.g. { viewport: {...} }
//   allowPageErrors true: an uncaught exception or a CSP violation in the page does not
//                   fail the test by itself (by default it does)
// test.skip(name, ...) registers a test that is listed but not run (counted in neither).

export { default as assert } from 'node:assert/strict';

export const API = '/api/partners/v2.0';

const registered = [];

function add(name, a, b, skip) {
  const fn = typeof a === 'function' ? a : b;
  const options = typeof a === 'function' ? {} : (a || {});
  if (typeof name !== 'string' || !name) throw new TypeError('test(name, [options,] fn): name must be a non-empty string');
  if (typeof fn !== 'function') throw new TypeError(`test ${JSON.stringify(name)}: fn must be a function`);
  registered.push({ name, options, fn, skip });
}

export function test(name, a, b) {
  add(name, a, b, false);
}
test.skip = (name, a, b) => add(name, a, b, true);

// For the runner: the tests registered since the last call.
export function takeRegistered() {
  return registered.splice(0, registered.length);
}
