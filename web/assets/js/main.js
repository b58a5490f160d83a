// Boot, the app shell (top bar, navigation), the hash router, sign-in and session expiry.

import { h, s, replace } from './dom.js';
import { auth, loadSession, signIn, signOut, isAdmin, canAudit, ApiError, describeError } from './api.js';
import { parseHash, navigate } from './router.js';
import { badge, errorState, loadingState, toast, field } from './ui.js';

const app = document.getElementById('app');

const ROUTES = [
  { re: /^\/users$/, load: () => import('./page-users.js'), nav: 'users', title: 'Users' },
  { re: /^\/users\/([^/]+)$/, load: () => import('./page-user.js'), nav: 'users', title: 'User' },
  { re: /^\/fleet$/, load: () => import('./page-fleet.js'), nav: 'fleet', title: 'Fleet' },
  { re: /^\/import$/, load: () => import('./page-import.js'), nav: 'import', title: 'Import', write: true },
  { re: /^\/team$/, load: () => import('./page-team.js'), nav: 'team', title: 'Team', admin: true },
  { re: /^\/audit$/, load: () => import('./page-audit.js'), nav: 'audit', title: 'Audit log', write: true },
];

const ICONS = {
  users: 'M16 11a4 4 0 1 0-8 0 4 4 0 0 0 8 0zM4 21c0-4 4-6 8-6s8 2 8 6',
  fleet: 'M3 13h4l3-8 4 14 3-6h4',
  import: 'M12 3v12m0 0l-4-4m4 4l4-4M4 17v3h16v-3',
  team: 'M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm8 0a3 3 0 1 0 0-6M2 20c0-3 3-5 7-5s7 2 7 5m2-5c2 .5 4 2 4 5',
  audit: 'M6 3h9l4 4v14H6zM9 10h7M9 14h7M9 18h4',
};

let cleanup = null;
let shell = null; // {main, links}
let routeSeq = 0;
let expiredNotice = false;

function icon(name) {
  return s('svg', { viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', 'stroke-width': '2', 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': 'true', focusable: 'false' },
    s('path', { d: ICONS[name] }));
}

function navItems() {
  const items = [
    { key: 'users', href: '#/users', label: 'Users' },
    { key: 'fleet', href: '#/fleet', label: 'Fleet' },
  ];
  if (auth.session.role !== 'viewer') items.push({ key: 'import', href: '#/import', label: 'Import' });
  if (canAudit()) items.push({ key: 'audit', href: '#/audit', label: 'Audit log' });
  if (isAdmin()) items.push({ key: 'team', href: '#/team', label: 'Team' });
  return items;
}

function renderShell() {
  const sess = auth.session;
  const links = {};
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  const signOutBtn = h('button', { type: 'button', class: 'btn small', 'data-testid': 'signout' }, 'Sign out');
  signOutBtn.addEventListener('click', async () => {
    signOutBtn.disabled = true;
    try {
      await signOut();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) toast(describeError(e), 'error');
    }
    teardownPage();
    history.replaceState(null, '', '#/users');
    showSignIn({ notice: 'You have signed out.' });
  });
  replace(app,
    h('div', { class: 'shell' },
      h('header', { class: 'topbar', 'data-testid': 'topbar' },
        h('span', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'f'), 'fleetdesk'),
        h('span', { class: 'org-name', 'data-testid': 'org-name' }, sess.org_name || ''),
        h('span', { class: 'spacer' }),
        h('span', { class: 'who', 'data-testid': 'whoami' }, h('span', { class: 'email' }, sess.email), badge(sess.role, 'primary', 'role-badge')),
        signOutBtn),
      h('nav', { class: 'sidebar', 'aria-label': 'Main' },
        h('ul', null, navItems().map((it) => {
          const a = h('a', { href: it.href, 'data-testid': `nav-${it.key}` }, icon(it.key), it.label);
          links[it.key] = a;
          return h('li', null, a);
        }))),
      main));
  app.className = '';
  shell = { main, links };
}

function teardownPage() {
  if (typeof cleanup === 'function') {
    try { cleanup(); } catch { /* ignore */ }
  }
  cleanup = null;
}

async function route(focus) {
  const seq = ++routeSeq;
  const { path, query } = parseHash();
  if (/^\/invite\//.test(path)) {
    teardownPage();
    shell = null;
    const mod = await import('./page-invite.js');
    if (seq !== routeSeq) return;
    cleanup = mod.render(app, { token: decodeURIComponent(path.slice('/invite/'.length)), query });
    return;
  }
  if (!auth.session) {
    showSignIn({});
    return;
  }
  if (!shell) renderShell();
  teardownPage();
  let r = ROUTES.find((x) => x.re.test(path));
  if (!r) {
    history.replaceState(null, '', '#/users');
    r = ROUTES[0];
  }
  for (const [k, a] of Object.entries(shell.links)) {
    if (k === r.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = shell.main;
  if ((r.admin && !isAdmin()) || (r.write && auth.session.role === 'viewer')) {
    document.title = `${r.title} · fleetdesk`;
    replace(main, h('h1', { tabindex: '-1' }, r.title),
      h('div', { class: 'notice warn', role: 'alert', 'data-testid': 'forbidden' }, r.admin ? 'This page is for admins only.' : `Your role (${auth.session.role}) cannot use this page.`));
    return;
  }
  replace(main, loadingState());
  let mod;
  try {
    mod = await r.load();
  } catch (e) {
    replace(main, errorState(new Error('The page could not be loaded. Check your connection.'), () => route(true)));
    return;
  }
  if (seq !== routeSeq) return;
  clearChildren(main);
  document.title = `${r.title} · fleetdesk`;
  const m = r.re.exec(path);
  cleanup = mod.render(main, { params: m.slice(1).map(decodeURIComponent), query, setTitle: (t) => { document.title = `${t} · fleetdesk`; } });
  if (focus) {
    const h1 = main.querySelector('h1');
    if (h1) h1.focus({ preventScroll: false });
  }
  window.scrollTo(0, 0);
}

function clearChildren(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

function showSignIn({ notice }) {
  // an open dialog (a form whose save met the expiry) would stay modal over the sign-in form
  document.querySelectorAll('dialog[open]').forEach((d) => d.close());
  teardownPage();
  shell = null;
  app.className = '';
  document.title = 'Sign in · fleetdesk';
  const err = h('div', { class: 'notice error', role: 'alert', 'data-testid': 'signin-error', tabindex: '-1' });
  const email = field({ label: 'Email', name: 'email', type: 'email', required: true, autocomplete: 'username', testid: 'signin-email' });
  const password = field({ label: 'Password', name: 'password', type: 'password', required: true, autocomplete: 'current-password', testid: 'signin-password' });
  const submit = h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'signin-submit' }, 'Sign in');
  const form = h('form', { 'aria-labelledby': 'signin-title', 'data-testid': 'signin-form', novalidate: true }, email, password, err, submit);
  const remembered = sessionStorage.getItem('fd-last-email');
  if (remembered) email.input.value = remembered;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const e = email.input.value.trim();
    const p = password.input.value;
    if (!e || !p) {
      err.textContent = 'Enter your email and password.';
      (e ? password.input : email.input).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      await signIn(e, p);
      sessionStorage.setItem('fd-last-email', e);
      expiredNotice = false;
      shell = null;
      await route(true);
    } catch (x) {
      submit.disabled = false;
      submit.textContent = 'Sign in';
      if (x instanceof ApiError && x.status === 401) err.textContent = 'Wrong email or password.';
      else if (x instanceof ApiError && x.status === 429) err.textContent = `Too many sign-in attempts. Try again in ${x.retryAfter ?? 'a few'} seconds.`;
      else err.textContent = describeError(x);
      password.input.value = '';
      password.input.focus();
    }
  });
  replace(app,
    h('main', { class: 'auth-page', id: 'main', tabindex: '-1' },
      h('div', { class: 'auth-card' },
        h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'f'), 'fleetdesk'),
        h('h1', { id: 'signin-title' }, 'Sign in'),
        notice ? h('div', { class: 'notice info', role: 'status', 'data-testid': 'signin-notice' }, notice) : null,
        form)));
  (email.input.value ? password.input : email.input).focus();
}

function onUnauthorized() {
  if (!auth.session && !shell) return;
  auth.session = null;
  if (expiredNotice) return;
  expiredNotice = true;
  showSignIn({ notice: 'Your session has expired. Sign in again to continue where you were.' });
}

async function boot() {
  auth.onUnauthorized = onUnauthorized;
  document.getElementById('skip-link').addEventListener('click', (ev) => {
    ev.preventDefault();
    const m = document.getElementById('main');
    if (m) m.focus();
  });
  window.addEventListener('hashchange', () => {
    if (!auth.session && !/^#\/invite\//.test(location.hash)) {
      if (!app.querySelector('[data-testid=signin-form]')) showSignIn({});
      return;
    }
    route(true);
  });
  const { path } = parseHash();
  if (/^\/invite\//.test(path)) {
    route(false);
    return;
  }
  try {
    await loadSession();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      showSignIn({});
      return;
    }
    replace(app, h('main', { class: 'auth-page', id: 'main' }, h('div', { class: 'auth-card' }, errorState(e, () => location.reload()))));
    return;
  }
  route(false);
}

export { navigate };
boot();
