// The create/edit user dialog: the API's field errors inline, and on a 412 (If-Match with the ETag the
// form was opened with) a field-by-field diff of what changed on the server, with a reload.

import { h, replace } from './dom.js';
import { get, post, put, orgPath, isAdmin, ApiError, describeError } from './api.js';
import { openDialog, field, showFormError, clearFieldErrors, formErrorSlot, loadingState, errorState, toast } from './ui.js';

export const USER_FIELDS = [
  { name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'off' },
  { name: 'role', label: 'Role', type: 'select' },
  { name: 'first_name', label: 'First name' },
  { name: 'last_name', label: 'Last name' },
  { name: 'external_user_id', label: 'External user ID', hint: 'Your system\'s customer number; unique in the org.' },
  { name: 'street_and_number', label: 'Street and number' },
  { name: 'street_add_info', label: 'Address addition' },
  { name: 'zip_code', label: 'ZIP code' },
  { name: 'town', label: 'Town' },
  { name: 'country_iso2', label: 'Country code', hint: 'ISO 3166-1 alpha-2, e.g. DE' },
];

export const ROLES = ['user', 'viewer', 'staff', 'admin'];

function roleOptions() {
  const roles = isAdmin() ? ROLES : ['user'];
  return roles.map((r) => ({ value: r, label: r }));
}

function norm(v) {
  return v === null || v === undefined ? '' : String(v);
}

function show(v) {
  return v === null || v === undefined || v === '' ? '(empty)' : String(v);
}

/**
 * Open the user form. userId: edit that user (loaded fresh, with its ETag); none: create.
 * onSaved(user) is called after a successful save.
 */
export function openUserForm({ userId, onSaved }) {
  const editing = !!userId;
  const err = formErrorSlot();
  const conflict = h('div', { 'data-testid': 'conflict' });
  const inputs = {};
  const fields = USER_FIELDS.map((f) => {
    const w = field({
      label: f.label, name: f.name, type: f.type === 'select' ? 'select' : (f.type || 'text'), required: f.required,
      hint: f.name === 'role' && !isAdmin() ? 'Staff can only give the role "user".' : f.hint,
      options: f.name === 'role' ? roleOptions() : undefined, autocomplete: f.autocomplete || 'off',
      testid: `user-field-${f.name}`, value: f.name === 'role' ? 'user' : '',
    });
    inputs[f.name] = w.input;
    return w;
  });
  const save = h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'user-save' }, editing ? 'Save changes' : 'Create user');
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const form = h('form', { novalidate: true, 'data-testid': 'user-form', 'aria-label': editing ? 'Edit user' : 'New user' },
    conflict, err, h('div', { class: 'form-grid' }, fields), h('div', { class: 'form-actions' }, cancel, save));
  const holder = h('div', null, editing ? loadingState('Loading the user…') : form);
  const dlg = openDialog({ title: editing ? 'Edit user' : 'New user', body: holder, wide: true, testid: 'user-dialog' });
  cancel.addEventListener('click', () => dlg.close(null));

  let base = null; // the server copy the edit started from
  let etag = null;

  function fill(u, onlyUntouched) {
    for (const f of USER_FIELDS) {
      const input = inputs[f.name];
      if (onlyUntouched && norm(input.value) !== norm(base ? base[f.name] : '')) continue;
      if (f.name === 'role' && !isAdmin() && !ROLES.slice(0, 1).includes(u.role)) {
        // a staff member opening a non-user: show the role read-only
        replace(input, h('option', { value: u.role }, u.role));
        input.disabled = true;
      }
      input.value = norm(u[f.name]);
    }
  }

  async function load() {
    replace(holder, loadingState('Loading the user…'));
    try {
      const r = await get(orgPath(`/users/${encodeURIComponent(userId)}`));
      base = r.data;
      etag = r.etag;
      fill(base, false);
      replace(holder, form);
      inputs.email.focus();
    } catch (e) {
      replace(holder, errorState(e, load));
    }
  }
  if (editing) load();

  function changes() {
    const body = {};
    for (const f of USER_FIELDS) {
      const input = inputs[f.name];
      if (input.disabled) continue;
      const v = input.value.trim() === '' ? null : input.value.trim();
      if (editing) {
        if (norm(v) !== norm(base[f.name])) body[f.name] = v;
      } else if (v !== null) {
        body[f.name] = v;
      }
    }
    return body;
  }

  async function showConflict(myChanges) {
    let current;
    let currentEtag;
    try {
      const r = await get(orgPath(`/users/${encodeURIComponent(userId)}`));
      current = r.data;
      currentEtag = r.etag;
    } catch (e) {
      replace(err, h('p', null, `Someone changed this user, and it could not be reloaded: ${describeError(e)}`));
      return;
    }
    const keys = [...USER_FIELDS.map((f) => f.name), 'deleted_at'];
    const rows = keys.filter((k) => norm(base[k]) !== norm(current[k])).map((k) => {
      const label = (USER_FIELDS.find((f) => f.name === k) || { label: 'Deleted at' }).label;
      const mine = Object.prototype.hasOwnProperty.call(myChanges, k);
      return h('tr', { class: mine ? 'clash' : null, 'data-testid': 'conflict-row' },
        h('th', { scope: 'row' }, label),
        h('td', null, show(base[k])),
        h('td', null, show(current[k])),
        h('td', null, mine ? show(myChanges[k]) : h('span', { class: 'muted' }, 'not edited')));
    });
    const keep = h('button', { type: 'button', class: 'btn primary', 'data-testid': 'conflict-reload-keep' }, 'Reload and keep my edits');
    const discard = h('button', { type: 'button', class: 'btn', 'data-testid': 'conflict-reload-discard' }, 'Discard my edits and reload');
    keep.addEventListener('click', () => {
      fill(current, true);
      base = current;
      etag = currentEtag;
      replace(conflict);
      toast('Reloaded the current version; your edits are kept. Review and save again.', 'info');
      save.focus();
    });
    discard.addEventListener('click', () => {
      base = current;
      etag = currentEtag;
      fill(current, false);
      replace(conflict);
      toast('Reloaded the current version.', 'info');
      inputs.email.focus();
    });
    const box = h('div', { class: 'notice warn', role: 'alert', tabindex: '-1' },
      h('p', null, h('strong', null, 'Someone else changed this user since you opened it. '),
        current.updated_at ? `Last change: ${new Date(current.updated_at).toLocaleString()}. ` : '',
        'Nothing was saved.'),
      rows.length
        ? h('table', { class: 'diff', 'aria-label': 'What changed on the server' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'When you opened it'), h('th', { scope: 'col' }, 'Now on the server'), h('th', { scope: 'col' }, 'Your edit'))),
          h('tbody', null, rows))
        : h('p', null, 'No field you can see differs (the change may be elsewhere, e.g. a restore).'),
      h('div', { class: 'btn-row' }, keep, discard));
    replace(conflict, box);
    box.focus();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    replace(conflict);
    const body = changes();
    if (!editing && !body.email) {
      showFormError(form, new ApiError(422, { detail: 'Please correct the highlighted fields.', errors: [{ field: 'email', detail: 'is required' }] }));
      return;
    }
    if (editing && Object.keys(body).length === 0) {
      replace(err, h('p', null, 'Nothing changed.'));
      return;
    }
    save.disabled = true;
    try {
      const r = editing
        ? await put(orgPath(`/users/${encodeURIComponent(userId)}`), body, { ifMatch: etag })
        : await post(orgPath('/users'), body);
      toast(editing ? 'User saved.' : `User ${r.data.email} created.`, 'ok');
      dlg.close(r.data);
      if (onSaved) onSaved(r.data);
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) await showConflict(body);
      else if (!(e instanceof ApiError && e.status === 401)) showFormError(form, e);
    } finally {
      save.disabled = false;
    }
  });
  return dlg;
}
