// The team (admins): staff accounts (role, deactivate / reactivate), invitations (the one-time link with a
// copy button), API tokens and OAuth clients (the secret shown once; revoke with a confirmation).

import { h, replace, fmtDate, fmtDateTime } from './dom.js';
import { get, post, patch, del, orgPath, auth, ApiError } from './api.js';
import {
  pageHead, loadingState, emptyState, errorState, toast, toastError, confirmDialog, openDialog, field, secretBox,
  formErrorSlot, showFormError, badge,
} from './ui.js';

const STAFF_ROLES = ['admin', 'staff', 'viewer'];
const TOKEN_ROLES = ['viewer', 'staff', 'admin', 'integration'];

function section(id, title, action) {
  const body = h('div', null, loadingState());
  const el = h('section', { class: 'card', 'aria-labelledby': id, 'data-testid': `team-${id}` },
    h('div', { class: 'card-head' }, h('h2', { id }, title), action), body);
  return { el, body };
}

/** A dialog with a small form; submit(values) returns the created object; then show(result) replaces the form. */
function formDialog({ title, testid, fields, submitLabel, submit, show }) {
  const err = formErrorSlot();
  const btn = h('button', { type: 'submit', class: 'btn primary', 'data-testid': `${testid}-submit` }, submitLabel);
  const form = h('form', { novalidate: true, 'aria-label': title }, err, fields, h('div', { class: 'form-actions' }, btn));
  const holder = h('div', null, form);
  const dlg = openDialog({ title, body: holder, testid });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    try {
      const res = await submit();
      const done = h('button', { type: 'button', class: 'btn primary', 'data-testid': `${testid}-done` }, 'Done');
      done.addEventListener('click', () => dlg.close(res));
      replace(holder, show(res), h('div', { class: 'form-actions' }, done));
      const inp = holder.querySelector('input');
      if (inp) inp.focus(); else done.focus();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) showFormError(form, e);
      btn.disabled = false;
    }
  });
  return dlg;
}

export function render(root) {
  const inviteBtn = h('button', { type: 'button', class: 'btn primary', 'data-testid': 'invite-open' }, 'Invite a member');
  const tokenBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'token-open' }, 'Create API token');
  const clientBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'client-open' }, 'Create OAuth client');
  const staff = section('staff-h', 'Members', inviteBtn);
  const invites = section('invites-h', 'Open invitations');
  const tokens = section('tokens-h', 'API tokens', tokenBtn);
  const clients = section('clients-h', 'OAuth clients', clientBtn);
  staff.el.setAttribute('data-testid', 'team-staff');
  invites.el.setAttribute('data-testid', 'team-invites');
  tokens.el.setAttribute('data-testid', 'team-tokens');
  clients.el.setAttribute('data-testid', 'team-clients');
  replace(root, pageHead('Team', 'Who can use this back office, and the credentials of your integrations.'), staff.el, invites.el, tokens.el, clients.el);

  // ---------- members ----------
  async function loadStaff() {
    try {
      const r = await get(orgPath('/staff'));
      const list = r.data.data || [];
      replace(staff.body, list.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data', 'data-testid': 'staff-table', 'aria-label': 'Members' },
        h('thead', null, h('tr', null, ['Email', 'Role', 'Status', 'Since', ''].map((x) => h('th', { scope: 'col' }, x ? x : h('span', { class: 'visually-hidden' }, 'Actions'))))),
        h('tbody', null, list.map(staffRow)))) : emptyState('No members.'));
    } catch (e) { replace(staff.body, errorState(e, loadStaff)); }
  }

  function staffRow(m) {
    const me = auth.session && m.id === auth.session.staff_id;
    const sel = h('select', { 'aria-label': `Role of ${m.email}`, 'data-testid': 'staff-role', disabled: !!m.deactivated_at },
      STAFF_ROLES.map((r) => h('option', { value: r, selected: r === m.role }, r)));
    sel.addEventListener('change', async () => {
      const to = sel.value;
      if (me && to !== 'admin' && !await confirmDialog({ title: 'Change your own role?', message: `You will no longer be an admin and lose access to this page.`, confirmLabel: `Make me ${to}`, danger: true })) {
        sel.value = m.role;
        return;
      }
      sel.disabled = true;
      try {
        await patch(orgPath(`/staff/${encodeURIComponent(m.id)}`), { role: to });
        toast(`${m.email} is now ${to}.`, 'ok');
        if (me) { location.reload(); return; }
        loadStaff();
      } catch (e) {
        sel.value = m.role;
        sel.disabled = false;
        toastError(e);
      }
    });
    const act = h('button', { type: 'button', class: m.deactivated_at ? 'btn small' : 'btn small danger', 'data-testid': m.deactivated_at ? 'staff-reactivate' : 'staff-deactivate', 'aria-label': `${m.deactivated_at ? 'Reactivate' : 'Deactivate'} ${m.email}` }, m.deactivated_at ? 'Reactivate' : 'Deactivate');
    act.addEventListener('click', async () => {
      const deact = !m.deactivated_at;
      if (deact && !await confirmDialog({ title: `Deactivate ${m.email}?`, message: 'They are signed out at once and can no longer sign in. You can reactivate them later.', confirmLabel: 'Deactivate', danger: true })) return;
      act.disabled = true;
      try {
        await patch(orgPath(`/staff/${encodeURIComponent(m.id)}`), { deactivated: deact });
        toast(`${m.email} ${deact ? 'deactivated' : 'reactivated'}.`, 'ok');
        loadStaff();
      } catch (e) { toastError(e); act.disabled = false; }
    });
    return h('tr', { 'data-testid': 'staff-row' },
      h('td', null, m.email, me ? h('span', { class: 'muted' }, ' (you)') : null),
      h('td', null, sel),
      h('td', null, m.deactivated_at ? badge('Deactivated', 'danger') : badge('Active', 'ok')),
      h('td', { class: 'nowrap' }, fmtDate(m.created_at)),
      h('td', null, act));
  }

  // ---------- invitations ----------
  async function loadInvites() {
    try {
      const r = await get(orgPath('/staff/invites'));
      const list = r.data.data || [];
      replace(invites.body, list.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data', 'data-testid': 'invites-table', 'aria-label': 'Open invitations' },
        h('thead', null, h('tr', null, ['Email', 'Role', 'Invited', 'Expires', ''].map((x) => h('th', { scope: 'col' }, x ? x : h('span', { class: 'visually-hidden' }, 'Actions'))))),
        h('tbody', null, list.map((iv) => {
          const rv = h('button', { type: 'button', class: 'btn small', 'data-testid': 'invite-revoke', 'aria-label': `Revoke the invitation of ${iv.email}` }, 'Revoke');
          rv.addEventListener('click', async () => {
            if (!await confirmDialog({ title: `Revoke the invitation of ${iv.email}?`, message: 'The link stops working.', confirmLabel: 'Revoke', danger: true })) return;
            try { await del(orgPath(`/staff/invites/${encodeURIComponent(iv.id)}`)); toast('Invitation revoked.', 'ok'); loadInvites(); } catch (e) { toastError(e); }
          });
          return h('tr', { 'data-testid': 'invite-row' }, h('td', null, iv.email), h('td', null, iv.role), h('td', { class: 'nowrap' }, fmtDateTime(iv.created_at)), h('td', { class: 'nowrap' }, fmtDateTime(iv.expires_at)), h('td', null, rv));
        })))) : emptyState('No open invitations.'));
    } catch (e) { replace(invites.body, errorState(e, loadInvites)); }
  }

  inviteBtn.addEventListener('click', () => {
    const email = field({ label: 'Email', name: 'email', type: 'email', required: true, testid: 'invite-form-email', autocomplete: 'off' });
    const role = field({ label: 'Role', name: 'role', type: 'select', value: 'staff', testid: 'invite-form-role', options: STAFF_ROLES.map((r) => ({ value: r, label: r })), hint: 'viewer: read only · staff: edit users and devices · admin: also this page' });
    formDialog({
      title: 'Invite a member', testid: 'invite-dialog', fields: [email, role], submitLabel: 'Create invitation',
      submit: async () => (await post(orgPath('/staff/invites'), { email: email.input.value.trim(), role: role.input.value })).data,
      show: (res) => h('div', null,
        h('p', { role: 'status' }, `Invitation for ${res.email} (${res.role}) created. Send this link to them; it is shown only once and expires ${fmtDateTime(res.expires_at)}.`),
        secretBox({ label: 'Invitation link', value: res.invite_url, testid: 'invite-link' })),
    }).done.then((res) => { if (res) loadInvites(); });
  });

  // ---------- API tokens ----------
  async function loadTokens() {
    try {
      const r = await get(orgPath('/api-tokens'));
      const list = r.data.data || [];
      replace(tokens.body, list.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data', 'data-testid': 'tokens-table', 'aria-label': 'API tokens' },
        h('thead', null, h('tr', null, ['Name', 'Role', 'Created', 'Status', ''].map((x) => h('th', { scope: 'col' }, x ? x : h('span', { class: 'visually-hidden' }, 'Actions'))))),
        h('tbody', null, list.map((t) => revocableRow(t, t.name || '(unnamed)', t.role, `/api-tokens/${encodeURIComponent(t.id)}`, 'token', loadTokens))))) : emptyState('No API tokens.'));
    } catch (e) { replace(tokens.body, errorState(e, loadTokens)); }
  }

  function revocableRow(t, name, extra, path, kind, reload) {
    const rv = t.revoked_at ? null : h('button', { type: 'button', class: 'btn small danger', 'data-testid': `${kind}-revoke`, 'aria-label': `Revoke ${name}` }, 'Revoke');
    if (rv) {
      rv.addEventListener('click', async () => {
        if (!await confirmDialog({ title: `Revoke ${name}?`, message: `Anything using this ${kind === 'token' ? 'token' : 'client'} stops working within seconds. This cannot be undone.`, confirmLabel: 'Revoke', danger: true })) return;
        try { await del(orgPath(path)); toast(`${name} revoked.`, 'ok'); reload(); } catch (e) { toastError(e); }
      });
    }
    return h('tr', { 'data-testid': `${kind}-row` },
      h('td', null, name),
      extra !== null ? h('td', null, extra) : null,
      h('td', { class: 'nowrap' }, fmtDate(t.created_at)),
      h('td', null, t.revoked_at ? badge(`Revoked ${fmtDate(t.revoked_at)}`, 'danger') : badge('Active', 'ok')),
      h('td', null, rv));
  }

  tokenBtn.addEventListener('click', () => {
    const name = field({ label: 'Name', name: 'name', required: true, testid: 'token-name', hint: 'What uses it, e.g. "CRM sync".', autocomplete: 'off' });
    const role = field({ label: 'Role', name: 'role', type: 'select', value: 'viewer', testid: 'token-role', options: TOKEN_ROLES.map((r) => ({ value: r, label: r })) });
    formDialog({
      title: 'Create an API token', testid: 'token-dialog', fields: [name, role], submitLabel: 'Create token',
      submit: async () => (await post(orgPath('/api-tokens'), { name: name.input.value.trim(), role: role.input.value })).data,
      show: (res) => h('div', null,
        h('div', { class: 'notice warn', role: 'status' }, 'Copy the token now: it is shown only once.'),
        secretBox({ label: `Token "${res.name}" (${res.role})`, value: res.token, testid: 'token-secret' })),
    }).done.then(() => loadTokens());
  });

  // ---------- OAuth clients ----------
  async function loadClients() {
    try {
      const r = await get(orgPath('/oauth-clients'));
      const list = r.data.data || [];
      replace(clients.body, list.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data', 'data-testid': 'clients-table', 'aria-label': 'OAuth clients' },
        h('thead', null, h('tr', null, ['Name', 'Created', 'Status', ''].map((x) => h('th', { scope: 'col' }, x ? x : h('span', { class: 'visually-hidden' }, 'Actions'))))),
        h('tbody', null, list.map((c) => revocableRow(c, c.name || '(unnamed)', null, `/oauth-clients/${encodeURIComponent(c.id)}`, 'client', loadClients))))) : emptyState('No OAuth clients.'));
    } catch (e) { replace(clients.body, errorState(e, loadClients)); }
  }

  clientBtn.addEventListener('click', () => {
    const name = field({ label: 'Name', name: 'name', required: true, testid: 'client-name', autocomplete: 'off' });
    formDialog({
      title: 'Create an OAuth client', testid: 'client-dialog', fields: [name], submitLabel: 'Create client',
      submit: async () => (await post(orgPath('/oauth-clients'), { name: name.input.value.trim() })).data,
      show: (res) => h('div', null,
        h('div', { class: 'notice warn', role: 'status' }, 'Copy the secret now: it is shown only once.'),
        secretBox({ label: 'Client ID', value: res.client_id, testid: 'client-id' }),
        secretBox({ label: 'Client secret', value: res.client_secret, testid: 'client-secret' })),
    }).done.then(() => loadClients());
  });

  loadStaff();
  loadInvites();
  loadTokens();
  loadClients();
  return null;
}
