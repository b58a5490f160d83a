#!/usr/bin/env node
// bench/firstload.mjs - the web app's first load on the demo data (issue 5: "under 1 s").
//
//   node bench/firstload.mjs            # after `make build/fleetdesk` and `make e2e` (playwright-core)
//   RUNS=9 node bench/firstload.mjs
//
// Makes a fresh demo database (`demo --users 200`, as `make run` does), serves it, and in Debian's
// chromium (playwright-core from tests/e2e/node_modules, never a downloaded browser) measures, RUNS
// times each in a fresh browser context (no cache):
//   - sign-in form: from navigation to `/` until the sign-in form is visible (signed out);
//   - users list: from navigation to `/` with a session until the users table shows its rows;
//   - user page: from a click on a user in the list until its devices and diagnosis show.
// Prints the median and the slowest of each, in ms, and the bytes transferred on a cold load.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { chromium } = await import(path.join(ROOT, 'tests/e2e/node_modules/playwright-core/index.mjs'));
const RUNS = Number(process.env.RUNS || 7);
const BIN = process.env.FLEETDESK_BIN || path.join(ROOT, 'build/fleetdesk');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fd-firstload-'));
const db = path.join(dir, 'demo.db');
const demo = JSON.parse(execFileSync(BIN, ['--db', db, 'demo', '--users', '200']).toString());
const port = await new Promise((res) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const srv = spawn(BIN, ['--db', db, 'serve', '--listen', `127.0.0.1:${port}`, '--access-log', 'off'], { stdio: 'ignore' });
const base = `http://127.0.0.1:${port}`;
for (let i = 0; i < 100; i++) { try { if ((await fetch(`${base}/healthz`)).ok) break; } catch { /* not yet */ } await new Promise((r) => setTimeout(r, 50)); }

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [] });
const times = { 'sign-in form': [], 'users list': [], 'user page': [] };
let bytes = 0;
try {
  for (let i = 0; i < RUNS; i++) {
    let ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    let page = await ctx.newPage();
    let transferred = 0;
    page.on('response', async (r) => { try { transferred += (await r.body()).length; } catch { /* redirects, aborted */ } });
    let t0 = Date.now();
    await page.goto(base + '/');
    await page.getByTestId('signin-form').waitFor();
    times['sign-in form'].push(Date.now() - t0);
    if (i === 0) bytes = transferred;
    await ctx.close();

    ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const r = await ctx.request.post(`${base}/api/partners/v2.0/session`, { data: { email: demo.staff_email, password: demo.staff_password } });
    if (r.status() !== 201) throw new Error(`sign-in: ${r.status()}`);
    page = await ctx.newPage();
    t0 = Date.now();
    await page.goto(base + '/');
    await page.getByTestId('user-row').first().waitFor();
    times['users list'].push(Date.now() - t0);
    t0 = Date.now();
    await page.getByTestId('user-row').first().getByRole('link').first().click();
    await page.getByTestId('diagnosis').first().waitFor();
    times['user page'].push(Date.now() - t0);
    await ctx.close();
  }
} finally {
  await browser.close();
  srv.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
}
const med = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
console.log(`runs: ${RUNS}, fresh browser context each (no cache); demo data: 200 users`);
console.log('| load | median ms | slowest ms |');
console.log('|---|---:|---:|');
for (const [k, v] of Object.entries(times)) console.log(`| ${k} | ${med(v)} | ${Math.max(...v)} |`);
console.log(`bytes of a cold signed-out load (HTML, CSS, JS, icon, the session check): ${bytes}`);
