// Hash routes: '#/users?search=ann' → {path: '/users', query: URLSearchParams}.

export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, '') || '/users';
  const i = raw.indexOf('?');
  const path = i < 0 ? raw : raw.slice(0, i);
  const query = new URLSearchParams(i < 0 ? '' : raw.slice(i + 1));
  return { path: path || '/users', query };
}

export function navigate(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

/** Rewrite the current route's query without a navigation (filters kept across reloads and Back). */
export function replaceQuery(obj) {
  const { path } = parseHash();
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    p.set(k, String(v));
  }
  const q = p.toString();
  history.replaceState(history.state, '', `#${path}${q ? `?${q}` : ''}`);
}

export function userHref(id) {
  return `#/users/${encodeURIComponent(id)}`;
}
