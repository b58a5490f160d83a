// Smoke: the server serves the web app at / with strict security headers, and the app
// loads in Chromium, signed out and signed in, without console errors, uncaught exceptions or CSP
// violations (web-contract.md, "Serving the app").

import { test, assert, API } from './lib/e2e.mjs';

const SESSION = `${API}/session`;

// "default-src 'self'; script-src 'self'" -> { 'default-src': ["'self'"], 'script-src': ["'self'"] }
function parseCsp(header) {
  const out = {};
  for (const part of header.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name && !(name.toLowerCase() in out)) out[name.toLowerCase()] = values;
  }
  return out;
}

// The directive a browser applies for `name`, with default-src as the fallback.
const effective = (csp, name) => csp[name] ?? csp['default-src'];

// Not signed in, the app's GET /session (it asks on load) answers 401, which Chromium logs
// as a failed resource load: expected; every other console error is not.
function unexpectedConsoleErrors(errors) {
  return errors.filter((e) => !(/status of 401/.test(e.text) && new URL(e.url || 'http://x/').pathname === SESSION));
}

// Loads `url` and waits for the page's load event and for its network to go quiet (the app
// has no ready signal of its own yet); returns the responses the page received.
async function load(page, url) {
  const responses = [];
  page.on('response', (r) => responses.push(r));
  const main = await page.goto(url);
  assert.equal(main.status(), 200, `GET ${url} answered ${main.status()}`);
  await page.waitForLoadState('networkidle');
  return { main, responses };
}

// Every response is from the server itself and no error (GET /session may say 401:
// signed out), and every asset is served with nosniff.
function assertAppResponses(responses, baseURL) {
  for (const r of responses) {
    const u = new URL(r.url());
    if (u.origin !== baseURL) assert.fail(`the page asked another origin: ${r.url()}`);
    const status = r.status();
    if (u.pathname === SESSION && r.request().method() === 'GET' && status === 401) continue;
    assert.ok(status < 400, `${r.request().method()} ${u.pathname} answered ${status}`);
    if (u.pathname.startsWith('/assets/')) {
      assert.equal(r.headers()['x-content-type-options'], 'nosniff', `${u.pathname} has no X-Content-Type-Options: nosniff`);
    }
  }
}

test('GET / is the app: 200 HTML with a strict CSP, nosniff, frame-ancestors none and no referrer', async ({ api }) => {
  const r = await api('GET', '/', undefined, { token: undefined, headers: { Accept: 'text/html' } });
  assert.equal(r.status, 200, `GET / answered ${r.status}: ${r.text.slice(0, 300)}`);
  assert.match(r.headers['content-type'] || '', /^text\/html\b/i);
  assert.match(r.text, /^\s*<!doctype html>/i);

  const header = r.headers['content-security-policy'];
  assert.ok(header, 'no Content-Security-Policy header');
  assert.doesNotMatch(header, /'unsafe-inline'|'unsafe-eval'|'unsafe-hashes'/, header);
  const csp = parseCsp(header);
  assert.deepEqual(csp['frame-ancestors'], ["'none'"], header);
  assert.deepEqual(csp['object-src'], ["'none'"], header);
  for (const d of ['script-src', 'style-src', 'connect-src']) {
    const v = effective(csp, d);
    assert.ok(v, `no ${d} (nor default-src) in ${header}`);
    for (const bad of ['*', 'data:', 'blob:', 'http:', 'https:']) assert.ok(!v.includes(bad), `${d} allows ${bad}: ${header}`);
  }

  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  const referrer = (r.headers['referrer-policy'] || '').toLowerCase();
  assert.ok(['no-referrer', 'same-origin'].includes(referrer), `Referrer-Policy is ${JSON.stringify(referrer)}`);
});

test('signed out, / loads in Chromium without console errors, page exceptions or CSP violations',
  async ({ page, baseURL, consoleErrors, cspViolations, pageErrors, screenshot }) => {
    const { responses } = await load(page, '/');
    await page.locator('input[type=password]').waitFor(); // the sign-in form
    assert.ok(responses.some((r) => new URL(r.url()).pathname.startsWith('/assets/')), 'the page loaded no asset');
    assertAppResponses(responses, baseURL);
    assert.deepEqual(unexpectedConsoleErrors(consoleErrors), []);
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
    await screenshot(page, 'smoke-first-load');
  });

test('signed in, / loads without console errors, page exceptions or CSP violations',
  async ({ page, baseURL, signIn, consoleErrors, cspViolations, pageErrors }) => {
    await signIn(page, 'viewer');
    const { responses } = await load(page, '/');
    await page.getByTestId('topbar').waitFor(); // the signed-in shell (web/TESTIDS.md)
    assert.equal(await page.locator('input[type=password]').count(), 0, 'signed in, the app still shows a sign-in form');
    assertAppResponses(responses, baseURL);
    assert.deepEqual(unexpectedConsoleErrors(consoleErrors), []);
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
  });

// The runner's signIn helper: each account of the run, in a context of its own, gets the
// session of its role, which the browser then holds (GET /session through its cookie).
test('signIn signs each account of the run in with its role', async ({ demo, newContext, signIn }) => {
  const want = { demo_admin: 'admin', admin: 'admin', staff: 'staff', staff2: 'staff', viewer: 'viewer' };
  for (const [who, role] of Object.entries(want)) {
    const page = await (await newContext()).newPage();
    const s = await signIn(page, who);
    assert.equal(s.role, role, who);
    assert.equal(s.org_id, demo.org_id, who);
    const r = await page.request.get(SESSION);
    assert.equal(r.status(), 200, `${who}: GET ${SESSION} answered ${r.status()}`);
    assert.equal((await r.json()).email, s.email, who);
  }
  const page = await (await newContext()).newPage();
  const s = await signIn(page, demo.viewer_email, demo.viewer_password);
  assert.equal(s.email, demo.viewer_email);
});

// The checks above could pass by seeing nothing: under the CSP that / is served with, a
// page with an inline script and an inline style attribute must be seen to violate it.
test('the CSP of / blocks inline scripts and style attributes, and the runner sees both', { allowPageErrors: true },
  async ({ page, api, until, cspViolations, consoleErrors }) => {
    const r = await api('GET', '/', undefined, { token: undefined, headers: { Accept: 'text/html' } });
    assert.equal(r.status, 200, `GET / answered ${r.status}`);
    const csp = r.headers['content-security-policy'];
    assert.ok(csp, 'GET / has no Content-Security-Policy');
    await page.route('**/e2e-csp-probe', (route) => route.fulfill({
      status: 200, contentType: 'text/html', headers: { 'Content-Security-Policy': csp },
      body: '<!doctype html><title>probe</title><p style="color: red">inline style</p><script>document.title = "ran"</script>',
    }));
    await page.goto('/e2e-csp-probe');
    await page.getByText('inline style').waitFor();
    assert.equal(await page.title(), 'probe', 'the inline script ran');
    await until(() => cspViolations.length >= 2 && consoleErrors.length >= 2, 'two CSP violations reported');
    const directives = cspViolations.map((v) => v.directive).sort();
    assert.deepEqual(directives, ['script-src-elem', 'style-src-attr'], JSON.stringify(cspViolations));
    assert.equal(consoleErrors.length, 2, JSON.stringify(consoleErrors));
  });
