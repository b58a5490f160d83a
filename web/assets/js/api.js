// The API client: cookie sessions, the CSRF header on unsafe requests, an Idempotency-Key on every POST,
// RFC 9457 problems turned into ApiError, paging headers (X-Total-Count, Link rel="next") read.

import { randomHex } from './dom.js';

export const BASE = '/api/partners/v2.0';

/** The signed-in session ({staff_id, email, role, org_id, org_name, csrf_token, ...}) or null. */
export const auth = {
  session: null,
  /** Set by main.js: called when a request answers 401 (expired or missing session). */
  onUnauthorized: null,
};

export class ApiError extends Error {
  constructor(status, problem, headers) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || {};
    this.headers = headers || null;
    const ra = headers ? headers.get('Retry-After') : null;
    this.retryAfter = ra ? parseRetryAfter(ra) : null;
  }

  /** [{field, pointer, detail}] from the problem, or []. */
  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

function parseRetryAfter(v) {
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(0, Math.round(n));
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, Math.round((t - Date.now()) / 1000));
}

/** The path under the org: orgPath('/users') → '/org/ORG/users'. */
export function orgPath(p) {
  return `/org/${encodeURIComponent(auth.session.org_id)}${p}`;
}

/** An absolute URL (for links and downloads) of an API path with a query. */
export function apiUrl(path, query) {
  return BASE + path + qs(query);
}

export function qs(query) {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  const str = p.toString();
  return str ? `?${str}` : '';
}

/** The cursor of a Link: <…?cursor=X>; rel="next" header, or null. */
export function nextCursor(headers) {
  const link = headers.get('Link');
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) {
      try {
        return new URL(m[1], location.href).searchParams.get('cursor');
      } catch {
        return null;
      }
    }
  }
  return null;
}

function isUnsafe(method) {
  return method !== 'GET' && method !== 'HEAD';
}

/**
 * One API request. path is under BASE ('/session', orgPath('/users')).
 * opts: query, body (object → JSON; Blob/string with contentType → as is), headers, signal,
 *       ifMatch, noAuthRedirect (a 401 does not send the app to the sign-in form).
 * Resolves {status, data, headers, etag, total, next}; rejects with ApiError (status 0: network)
 * or the AbortError of a cancelled request.
 */
export async function request(method, path, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  let body;
  if (opts.body !== undefined) {
    if (opts.body instanceof Blob || typeof opts.body === 'string') {
      body = opts.body;
      if (opts.contentType) headers['Content-Type'] = opts.contentType;
    } else {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
  }
  if (isUnsafe(method) && auth.session && auth.session.csrf_token) headers['X-CSRF-Token'] = auth.session.csrf_token;
  if (method === 'POST' && !headers['Idempotency-Key']) headers['Idempotency-Key'] = randomHex(16);
  if (opts.ifMatch) headers['If-Match'] = opts.ifMatch;

  let res;
  try {
    res = await fetch(BASE + path + qs(opts.query), {
      method, headers, body, signal: opts.signal, credentials: 'same-origin', cache: 'no-store',
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, {
      title: 'Network error',
      detail: 'Could not reach the server. Check your connection and try again.',
    });
  }

  let data = null;
  const ct = res.headers.get('Content-Type') || '';
  if (res.status !== 204 && method !== 'HEAD') {
    if (ct.includes('json')) {
      try {
        data = await res.json();
      } catch (e) {
        if (e && e.name === 'AbortError') throw e;
        data = null;
      }
    } else {
      data = await res.text();
    }
  }

  if (!res.ok) {
    const problem = data && typeof data === 'object' ? data : { title: res.statusText, detail: typeof data === 'string' ? data.slice(0, 300) : '' };
    const err = new ApiError(res.status, problem, res.headers);
    if (res.status === 401 && !opts.noAuthRedirect && auth.onUnauthorized) auth.onUnauthorized(err);
    throw err;
  }

  const total = res.headers.get('X-Total-Count');
  return {
    status: res.status,
    data,
    headers: res.headers,
    etag: res.headers.get('ETag'),
    total: total === null ? null : Number(total),
    totalCapped: res.headers.get('X-Total-Count-Capped') === 'true',
    next: nextCursor(res.headers),
  };
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body });
export const put = (path, body, opts = {}) => request('PUT', path, { ...opts, body });
export const patch = (path, body, opts = {}) => request('PATCH', path, { ...opts, body });
export const del = (path, opts) => request('DELETE', path, opts);

/** A sentence for the agent about a failed request. */
export function describeError(err) {
  if (!err) return 'Something went wrong.';
  if (err.name === 'AbortError') return 'Cancelled.';
  if (!(err instanceof ApiError)) return err.message || String(err);
  const p = err.problem || {};
  const detail = p.detail || p.title || '';
  switch (err.status) {
    case 0:
      return detail;
    case 401:
      return 'Your session has ended. Please sign in again.';
    case 403:
      return `You are not allowed to do this${auth.session ? ` (your role: ${auth.session.role})` : ''}.${detail ? ` ${detail}` : ''}`;
    case 404:
      return `Not found: it may have been deleted, or the link is wrong.${detail ? ` (${detail})` : ''}`;
    case 409:
      return `Conflict: ${detail || 'the request conflicts with the current state.'}`;
    case 412:
      return 'Someone changed this since you opened it. Reload to see the current version.';
    case 413:
      return 'The upload is too large.';
    case 422: {
      const fields = err.fieldErrors.map((e) => `${e.field || e.pointer}: ${e.detail}`);
      return fields.length ? `${detail || 'Invalid input'} — ${fields.join('; ')}` : (detail || 'Invalid input.');
    }
    case 429:
      return `Too many requests. Try again in ${err.retryAfter ?? 'a few'} seconds.`;
    case 503:
      return `The server is busy. Try again${err.retryAfter ? ` in ${err.retryAfter} seconds` : ' shortly'}.`;
    default:
      return `${detail || 'The server answered an error'} (HTTP ${err.status}).`;
  }
}

// ---- session ----

export async function loadSession() {
  const r = await request('GET', '/session', { noAuthRedirect: true });
  auth.session = r.data;
  return r.data;
}

export async function signIn(email, password) {
  const r = await request('POST', '/session', { body: { email, password }, noAuthRedirect: true });
  auth.session = r.data;
  return r.data;
}

export async function signOut() {
  try {
    await request('DELETE', '/session', { noAuthRedirect: true });
  } finally {
    auth.session = null;
  }
}

export function role() {
  return auth.session ? auth.session.role : null;
}

/** May edit users, devices, imports (staff or admin). */
export function canWrite() {
  const r = role();
  return r === 'staff' || r === 'admin';
}

export function isAdmin() {
  return role() === 'admin';
}

/** May read the audit log (staff and admins). */
export function canAudit() {
  return canWrite();
}

/** May this agent change a user of that role? Staff may only touch end-users. */
export function canEditUser(u) {
  if (!canWrite()) return false;
  return isAdmin() || (u && u.role === 'user');
}

/** Run fn over items with at most n at once; resolves the results in order. */
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let i = 0;
  async function worker() {
    while (i < items.length) {
      const k = i;
      i += 1;
      out[k] = await fn(items[k], k);
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

export const DEVICE_TYPES = [
  { path: 'heat-pumps', label: 'Heat pumps', one: 'Heat pump', code: 'hp', key: 'heat_pumps' },
  { path: 'electric-vehicles', label: 'Electric vehicles', one: 'Electric vehicle', code: 'ev', key: 'electric_vehicles' },
  { path: 'inverters', label: 'Inverters', one: 'Inverter', code: 'iv', key: 'inverters' },
];

export function deviceTypeLabel(path) {
  const t = DEVICE_TYPES.find((x) => x.path === path);
  return t ? t.one : path;
}
