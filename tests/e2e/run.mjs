#!/usr/bin/env node
// End-to-end browser tests: runs every tests/e2e/*.test.mjs against the real server.
//
// Usage: node tests/e2e/run.mjs [-k PATTERN]... [--list] [--keep] [FILE]...
//   FILE     a test file, by name (smoke, smoke.test.mjs) or path; default: all of them
//   -k PAT   only the tests whose name contains PAT (case-insensitive); repeatable
//   --list   print the tests that would run, run nothing
//   --keep   keep the server's temp directory (database, logs) and print where it is
//
// Builds nothing: the binary is $FLEETDESK_BIN (default build/fleetdesk), the browser
// $E2E_CHROMIUM (default /usr/bin/chromium, Debian's), driven by playwright-core from
// tests/e2e/node_modules (`make e2e` installs it with npm ci and builds the binary).
//
// One server for the run, on a fresh temp database made by `demo --users 200` plus three
// accounts (lib/server.mjs); one fresh browser context per test. Writes
// build/results/e2e.txt ("PASSED FAILED") and prints "e2e: N passed, N failed" last.
// A failed test leaves a screenshot, the page's HTML and a log in build/e2e-failures/.
// The server must exit 0 on SIGTERM at the end, or that counts as one more failure.
// Exit status 1 if anything failed or nothing passed.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { API, takeRegistered } from './lib/e2e.mjs';
import { Server, request } from './lib/server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const SHOTS = path.join(HERE, 'screenshots');
const FAILURES = path.join(REPO, 'build', 'e2e-failures');
const RESULTS = path.join(REPO, 'build', 'results');

const TEST_TIMEOUT_MS = Number(process.env.E2E_TEST_TIMEOUT_MS) || 60000;
const ACTION_TIMEOUT_MS = 15000; // a locator wait or click that never comes fails the test with its own message
const NAVIGATION_TIMEOUT_MS = 30000;
const CLOSE_TIMEOUT_MS = 10000;

// Fixed so screenshots come out alike on every machine and run.
const CONTEXT_DEFAULTS = {
  viewport: { width: 1366, height: 900 },
  deviceScaleFactor: 1,
  reducedMotion: 'reduce',
  colorScheme: 'light',
  locale: 'en-US',
  timezoneId: 'UTC',
};

// Chromium's own connections (updates, sync, field trials) go nowhere on a closed network.
const CHROMIUM_ARGS = [
  '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
  '--font-render-hinting=none', '--force-color-profile=srgb', '--hide-scrollbars',
];

function usage(msg) {
  if (msg) console.error(`run.mjs: ${msg}`);
  console.error('usage: node tests/e2e/run.mjs [-k PATTERN]... [--list] [--keep] [FILE]...');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { files: [], patterns: [], list: false, keep: !!process.env.E2E_KEEP };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '-k') {
      if (i + 1 >= argv.length) usage('-k needs a pattern');
      a.patterns.push(argv[++i].toLowerCase());
    } else if (x === '--list') a.list = true;
    else if (x === '--keep') a.keep = true;
    else if (x === '-h' || x === '--help') usage();
    else if (x.startsWith('-')) usage(`unknown option ${x}`);
    else a.files.push(x);
  }
  return a;
}

function testFiles(selectors) {
  const all = fs.readdirSync(HERE).filter((f) => f.endsWith('.test.mjs')).sort();
  if (!selectors.length) return all;
  return selectors.map((s) => {
    const base = path.basename(s);
    const f = all.find((x) => x === base || x === `${base}.test.mjs` || x === `${base}.mjs`);
    if (!f) usage(`no test file ${s} in tests/e2e (there are: ${all.join(', ') || 'none'})`);
    return f;
  });
}

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Settles with p's value, or with `fallback` after ms (for clean-up steps that must not hang).
function within(p, ms, fallback) {
  return Promise.race([Promise.resolve(p).catch(() => fallback), sleep(ms).then(() => fallback)]);
}

function indent(s, pad = '      ') {
  return String(s).split('\n').map((l) => pad + l).join('\n');
}

function describeError(e) {
  if (!(e instanceof Error)) return String(e);
  const stack = (e.stack || String(e)).split('\n');
  // keep the message and the frames in the test files, drop playwright's and node's own
  const msgLines = stack.filter((l) => !/^\s+at /.test(l));
  const ours = stack.filter((l) => /^\s+at /.test(l) && l.includes(HERE) && !/node_modules|\/lib\/|\/run\.mjs:/.test(l));
  return [...msgLines, ...ours.slice(0, 6).map((l) => l.trim())].join('\n');
}

let shotNames = new Set();

// A promise a test left rejected with no handler fails that test (while its body runs);
// later ones, e.g. a waiter that rejects when the test's context closes, are dropped.
let strays = null;
process.on('unhandledRejection', (e) => {
  if (strays) strays.push(e);
});

async function runTest(t, env) {
  const { browser, baseURL, demo } = env;
  const issues = { consoleErrors: [], pageErrors: [], cspViolations: [] };
  const log = [];
  const contexts = [];
  const hash = createHash('sha256').update(`${t.file}\0${t.name}`).digest('hex').slice(0, 6);
  let uniqueN = 0;

  function watch(page) {
    page.on('console', (m) => {
      const loc = m.location();
      log.push(`[console.${m.type()}] ${m.text()}${loc && loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
      if (m.type() === 'error') issues.consoleErrors.push({ text: m.text(), url: (loc && loc.url) || '', page: page.url() });
    });
    page.on('pageerror', (e) => {
      log.push(`[pageerror] ${e.stack || e}`);
      issues.pageErrors.push(String(e.stack || e));
    });
    page.on('response', (r) => {
      if (r.status() >= 400) log.push(`[http ${r.status()}] ${r.request().method()} ${r.url()}`);
    });
    page.on('requestfailed', (r) => log.push(`[request failed] ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  }

  async function newContext(options = {}) {
    const ctx = await browser.newContext({ ...CONTEXT_DEFAULTS, baseURL, ...(t.options.context || {}), ...options });
    contexts.push(ctx);
    ctx.setDefaultTimeout(ACTION_TIMEOUT_MS);
    ctx.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
    // CSP violations, reported by the page itself (Chromium logs them to the console too)
    await ctx.exposeBinding('__fdE2eCspViolation', ({ page }, v) => {
      log.push(`[csp] ${JSON.stringify(v)}`);
      issues.cspViolations.push({ ...v, page: page ? page.url() : '' });
    });
    await ctx.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__fdE2eCspViolation({
          directive: e.effectiveDirective || e.violatedDirective, blocked: e.blockedURI,
          source: e.sourceFile, line: e.lineNumber, sample: e.sample,
        });
      });
    });
    ctx.on('page', watch);
    return ctx;
  }

  function account(who) {
    return demo.accounts[who] || (who === 'staff' ? demo.accounts.staff2 : undefined);
  }

  // Signs the page's browser context in through the API (POST /session, as the app's form
  // does), so the session cookie is set; the next page load is signed in. `who` is an
  // email (with password) or one of: admin, staff (staff2), viewer, demo_admin.
  async function signIn(page, who, password) {
    let email = who;
    if (password === undefined) {
      const a = account(who);
      if (!a) throw new Error(`signIn(page, ${JSON.stringify(who)}): no such account; give an email and a password, or one of ${Object.keys(demo.accounts).join(', ')}, staff`);
      ({ email, password } = a);
    }
    const r = await page.request.post(`${API}/session`, { data: { email, password } });
    if (r.status() !== 201) throw new Error(`signIn(${email}): POST ${API}/session answered ${r.status()}: ${await r.text()}`);
    return r.json();
  }

  // Saves a screenshot for review: tests/e2e/screenshots/NAME.png (committed).
  async function screenshot(page, name, options = {}) {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) throw new Error(`screenshot name ${JSON.stringify(name)}: use a-z, 0-9, '.', '_', '-'`);
    if (shotNames.has(name)) throw new Error(`screenshot name ${name} is already used by another test of this run`);
    shotNames.add(name);
    fs.mkdirSync(SHOTS, { recursive: true });
    const file = path.join(SHOTS, `${name}.png`);
    await page.screenshot({ animations: 'disabled', caret: 'hide', scale: 'css', ...options, path: file });
    return file;
  }

  // A set-up call to the API, outside the browser: Bearer demo.token (the demo admin's
  // API token) unless options.token says otherwise. Resolves { status, headers, body, text }.
  function api(method, urlPath, body, options = {}) {
    const p = urlPath.startsWith('/') ? urlPath : `${API}/org/${demo.org_id}/${urlPath}`;
    return request(baseURL, method, p, { body, token: demo.token, ...options });
  }

  const unique = (prefix = 'e2e') => `${prefix}-${hash}-${++uniqueN}`;

  // Waits until fn() (sync or async) returns something truthy and returns it; checks every
  // 50 ms, and throws `what` after timeoutMs. For things no locator can wait on: an API
  // state, a count of console messages. A wait, never an assertion about time.
  async function until(fn, what = `until(${fn})`, timeoutMs = ACTION_TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`${what}: not so within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  const started = Date.now();
  let error = null;
  try {
    const context = await newContext();
    const page = await context.newPage();
    const fixture = {
      page, context, browser, baseURL, demo, API,
      org: `${API}/org/${demo.org_id}`,
      signIn, screenshot, api, newContext, unique, until,
      uniqueEmail: (prefix = 'user') => `${unique(prefix)}@e2e.example`,
      consoleErrors: issues.consoleErrors, pageErrors: issues.pageErrors, cspViolations: issues.cspViolations,
      log: (msg) => log.push(`[test] ${msg}`),
      testInfo: { name: t.name, file: t.file },
    };
    const timeoutMs = t.options.timeout || TEST_TIMEOUT_MS;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the test did not finish within ${timeoutMs} ms (per-test timeout)`)), timeoutMs);
    });
    const body = Promise.resolve().then(() => t.fn(fixture));
    body.catch(() => {}); // after a timeout it may still reject, when its context closes
    strays = [];
    try {
      await Promise.race([body, timeout]);
    } finally {
      clearTimeout(timer);
    }
    await sleep(0); // let a rejection of the body's last step reach the handler
    if (strays.length) throw new Error(`unhandled promise rejection in the test: ${describeError(strays[0])}`);
    if (!t.options.allowPageErrors) {
      const bad = [...issues.pageErrors.map((e) => `uncaught exception in the page: ${e}`),
        ...issues.cspViolations.map((v) => `CSP violation: ${JSON.stringify(v)}`)];
      if (bad.length) throw new Error(`${bad.join('\n')}\n(test option allowPageErrors: true lets a test expect these)`);
    }
  } catch (e) {
    error = e;
  }
  strays = null;

  const artifacts = [];
  if (error) {
    fs.mkdirSync(FAILURES, { recursive: true });
    const base = path.join(FAILURES, `${t.file.replace(/\.test\.mjs$/, '')}--${slug(t.name)}`);
    let n = 0;
    for (const ctx of contexts) {
      for (const p of ctx.pages()) {
        if (p.url() === 'about:blank') continue;
        const suffix = n++ ? `-${n}` : '';
        const png = `${base}${suffix}.png`;
        const shot = await within(p.screenshot({ path: png, timeout: 5000 }).then(() => png), 6000, null);
        if (typeof shot === 'string') artifacts.push(shot);
        const html = await within(p.content(), 5000, null);
        if (typeof html === 'string') {
          fs.writeFileSync(`${base}${suffix}.html`, `<!-- ${p.url()} -->\n${html}`);
          artifacts.push(`${base}${suffix}.html`);
        }
      }
    }
    fs.writeFileSync(`${base}.log`, `${t.file} > ${t.name}\n\n${error.stack || error}\n\n${log.join('\n')}\n`);
    artifacts.push(`${base}.log`);
  }
  for (const ctx of contexts) await within(ctx.close(), CLOSE_TIMEOUT_MS, null);
  return { error, ms: Date.now() - started, artifacts };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  process.chdir(REPO);

  // load the tests
  let passed = 0;
  let failed = 0;
  const tests = [];
  for (const file of testFiles(args.files)) {
    try {
      await import(pathToFileURL(path.join(HERE, file)).href);
    } catch (e) {
      failed++;
      console.log(`FAIL  ${file}: could not be loaded\n${indent(describeError(e))}`);
      takeRegistered();
      continue;
    }
    for (const t of takeRegistered()) tests.push({ ...t, file });
  }
  const names = new Set();
  for (const t of tests) {
    const key = `${t.file} > ${t.name}`;
    if (names.has(key)) {
      console.error(`run.mjs: two tests named ${JSON.stringify(t.name)} in ${t.file}`);
      process.exit(2);
    }
    names.add(key);
  }
  const chosen = tests.filter((t) => !args.patterns.length || args.patterns.some((p) => t.name.toLowerCase().includes(p)));
  if (args.list) {
    for (const t of chosen) console.log(`${t.file} > ${t.name}${t.skip ? ' (skip)' : ''}`);
    return 0;
  }
  const toRun = chosen.filter((t) => !t.skip);
  const skipped = chosen.length - toRun.length;

  fs.rmSync(FAILURES, { recursive: true, force: true });
  fs.mkdirSync(RESULTS, { recursive: true });
  const finish = (code) => {
    fs.writeFileSync(path.join(RESULTS, 'e2e.txt'), `${passed} ${failed}\n`);
    console.log(`e2e: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
    return code ?? (failed || !passed ? 1 : 0);
  };

  const started = Date.now();
  const bin = path.resolve(REPO, process.env.FLEETDESK_BIN || 'build/fleetdesk');
  const executablePath = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
  let server = null;
  let browser = null;
  const stopAll = () => {
    if (!server) return;
    server.killNow();
    if (!args.keep) server.cleanup(); // after a crash too: no temp database left behind
  };
  process.on('exit', stopAll);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      stopAll();
      process.exit(130);
    });
  }

  let env;
  try {
    if (!fs.existsSync(bin)) throw new Error(`no server binary ${bin} (make build/fleetdesk, or set FLEETDESK_BIN)`);
    if (!fs.existsSync(executablePath)) throw new Error(`no browser at ${executablePath} (scripts/install-deps.sh installs Debian's chromium)`);
    let chromium;
    try {
      ({ chromium } = await import('playwright-core'));
    } catch (e) {
      throw new Error(`playwright-core is not installed in tests/e2e/node_modules (make e2e runs npm ci there): ${e.message}`);
    }
    server = new Server(bin);
    const demo = server.provision();
    await server.start();
    const launch = () => chromium.launch({
      executablePath, headless: true, timeout: 60000,
      args: [...CHROMIUM_ARGS, ...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [])],
    });
    browser = await launch();
    env = { browser, baseURL: server.baseURL, demo, launch };
    console.error(`e2e: ${server.baseURL}, chromium ${browser.version()}, ${toRun.length} test(s)`);
  } catch (e) {
    failed += toRun.length || 1;
    console.log(`FAIL  set-up: ${describeError(e)}`);
    if (server) {
      await server.stop();
      if (!args.keep) server.cleanup();
    }
    return finish(1);
  }

  for (const t of toRun) {
    if (!env.browser.isConnected()) {
      console.log('      (the browser had gone: starting it again)');
      env.browser = await env.launch();
    }
    const r = await runTest(t, env);
    if (r.error) {
      failed++;
      console.log(`FAIL  ${t.file} > ${t.name} (${secs(r.ms)})\n${indent(describeError(r.error))}`);
      for (const a of r.artifacts) console.log(`      see ${path.relative(REPO, a)}`);
    } else {
      passed++;
      console.log(`ok    ${t.file} > ${t.name} (${secs(r.ms)})`);
    }
  }
  for (const t of chosen.filter((x) => x.skip)) console.log(`skip  ${t.file} > ${t.name}`);

  await within(env.browser.close(), CLOSE_TIMEOUT_MS, null);
  const rc = await server.stop();
  if (rc !== 0) {
    failed++;
    console.log(`FAIL  the server's exit after SIGTERM: ${rc} (expected 0)\n${indent(server.stderrTail())}`);
  }
  if (args.keep) {
    console.error(`e2e: kept ${server.tmp} (database fleetdesk.db, stderr.log, access.log); accounts:`);
    for (const [k, a] of Object.entries(env.demo.accounts)) console.error(`  ${k}: ${a.email} ${a.password}`);
  } else {
    server.cleanup();
  }
  console.error(`e2e suite took ${secs(Date.now() - started)}`);
  return finish();
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
