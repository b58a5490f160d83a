// The fleetdesk server of an e2e run: a fresh temp database made by `demo --users 200`,
// three more web app accounts made by `staff create`, the server on a free port of
// 127.0.0.1, and a small HTTP client (node:http) for set-up calls to the API.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const CLI_TIMEOUT_MS = 30000;
const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 20000;

// The accounts the runner makes besides the demo's own admin (staff_email). Their emails
// are fixed so screenshots that show who is signed in do not change from run to run.
const ACCOUNTS = [
  ['admin', 'admin', 'admin@e2e.fleetdesk.example'],
  ['staff2', 'staff', 'staff@e2e.fleetdesk.example'],
  ['viewer', 'viewer', 'viewer@e2e.fleetdesk.example'],
];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One HTTP request; resolves { status, headers, body, text } (body parsed when JSON).
export function request(baseURL, method, urlPath, { body, headers = {}, token, timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    let data;
    if (body !== undefined) {
      data = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
      h['Content-Length'] = data.length;
    }
    if (token) h.Authorization = `Bearer ${token}`;
    const req = http.request(new URL(urlPath, baseURL), { method, headers: h }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = text;
        if (/json/i.test(res.headers['content-type'] || '') && text) {
          try { parsed = JSON.parse(text); } catch { /* keep the text */ }
        }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed, text });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${urlPath}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

export class Server {
  constructor(bin) {
    this.bin = bin;
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetdesk-e2e-'));
    this.db = path.join(this.tmp, 'fleetdesk.db');
    this.stderrPath = path.join(this.tmp, 'stderr.log');
    this.accessLog = path.join(this.tmp, 'access.log');
    this.proc = null;
    this.exit = null; // { code, signal } once it has exited
    this.baseURL = null;
  }

  cli(args, input = '') {
    const p = spawnSync(this.bin, ['--db', this.db, ...args], {
      input, encoding: 'utf8', timeout: CLI_TIMEOUT_MS, cwd: this.tmp,
    });
    if (p.error) throw new Error(`fleetdesk ${args.join(' ')}: ${p.error.message}`);
    if (p.status !== 0) {
      throw new Error(`fleetdesk ${args.join(' ')} exited ${p.status ?? p.signal}\nstdout: ${p.stdout}\nstderr: ${p.stderr}`);
    }
    return p.stdout;
  }

  // Creates the demo org and the extra accounts; returns the `demo` object tests see.
  provision() {
    const d = JSON.parse(this.cli(['demo', '--users', '200']));
    for (const k of ['org_id', 'token', 'staff_email', 'staff_password']) {
      if (typeof d[k] !== 'string' || !d[k]) throw new Error(`demo printed no ${k}: ${JSON.stringify(d)}`);
    }
    const demo = { ...d };
    demo.accounts = { demo_admin: { email: d.staff_email, password: d.staff_password, role: 'admin' } };
    for (const [key, role, email] of ACCOUNTS) {
      const password = `e2e-${key}-${randomBytes(9).toString('hex')}`;
      const out = JSON.parse(this.cli(['staff', 'create', '--org', d.org_id, '--email', email, '--role', role],
        `${password}\n`));
      demo[`${key}_email`] = email;
      demo[`${key}_password`] = password;
      demo[`${key}_id`] = out.id;
      demo.accounts[key] = { email, password, role, id: out.id };
    }
    return Object.freeze(demo);
  }

  async start() {
    let last = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const err = fs.openSync(this.stderrPath, 'a');
      this.exit = null;
      this.proc = spawn(this.bin, ['serve', '--listen', `127.0.0.1:${port}`, '--db', this.db,
        '--access-log', this.accessLog], { cwd: this.tmp, stdio: ['ignore', 'ignore', err] });
      fs.closeSync(err);
      const proc = this.proc;
      const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }));
      proc.exited = exited;
      proc.on('error', (e) => { last = e.message; });
      this.baseURL = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (Date.now() < deadline && !this.exit) {
        try {
          const r = await request(this.baseURL, 'GET', '/healthz', { timeoutMs: 1000 });
          if (r.status === 200) return this;
          last = `/healthz answered ${r.status}`;
        } catch (e) {
          last = e.message;
        }
        await sleep(50);
      }
      if (!this.exit) {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`the server did not answer /healthz within ${START_TIMEOUT_MS} ms (${last})\n${this.stderrTail()}`);
      }
      last = `exit status ${this.exit.code ?? this.exit.signal}`; // e.g. the port was taken: try another
    }
    throw new Error(`the server failed to start: ${last}\n${this.stderrTail()}`);
  }

  // SIGTERM, then waits; resolves the exit code, or a string saying what went wrong.
  async stop() {
    const proc = this.proc;
    if (!proc) return null;
    if (!this.exit) {
      proc.kill('SIGTERM');
      const timer = sleep(STOP_TIMEOUT_MS).then(() => 'timeout');
      const r = await Promise.race([proc.exited, timer]);
      if (r === 'timeout') {
        proc.kill('SIGKILL');
        await proc.exited;
        return `no exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (killed)`;
      }
    }
    return this.exit.signal ? `killed by ${this.exit.signal}` : this.exit.code;
  }

  // Synchronous last resort (process 'exit' handler): never leave a server behind.
  killNow() {
    if (this.proc && !this.exit) {
      try { this.proc.kill('SIGKILL'); } catch { /* gone */ }
    }
  }

  stderrTail(n = 4000) {
    try {
      const b = fs.readFileSync(this.stderrPath);
      return b.subarray(Math.max(0, b.length - n)).toString('utf8');
    } catch {
      return '';
    }
  }

  cleanup() {
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
