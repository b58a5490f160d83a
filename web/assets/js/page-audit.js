// The audit log (admins): filters by actor, target, action and time, cursor paging.
// auditTable() is also used by the user page for the user's history.

import { h, replace, fmtDateTime, uid } from './dom.js';
import { get, orgPath, isAdmin } from './api.js';
import { replaceQuery, userHref } from './router.js';
import { pageHead, pager, CursorPager, loadingState, emptyState, errorState } from './ui.js';

const ACTIONS = ['user.create', 'user.update', 'user.delete', 'user.restore', 'user.erase', 'user.archive', 'user.migrate',
  'device.create', 'device.update', 'device.delete', 'device.reset_optimization', 'device.connection', 'device.report',
  'device.reauthenticate', 'building.create', 'building.update', 'building.delete', 'energy_contract.create',
  'energy_contract.update', 'energy_contract.delete', 'onboarding.create', 'onboarding.complete', 'onboarding.cancel',
  'job.create', 'job.cancel', 'token.create', 'token.revoke', 'client.create', 'client.revoke', 'org.create',
  'staff.create', 'staff.update', 'staff.deactivate', 'staff.sign_in', 'staff.sign_out', 'invite.create', 'invite.revoke',
  'user.seed', 'device.seed'];
const TARGET_TYPES = ['user', 'device', 'building', 'energy_contract', 'job', 'token', 'client', 'org', 'staff', 'invite'];

function fmtVal(v) {
  if (v === null || v === undefined) return '∅';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function changesCell(ch) {
  if (!ch || typeof ch !== 'object' || Object.keys(ch).length === 0) return h('span', { class: 'muted' }, '—');
  const keys = Object.keys(ch);
  const isDiff = keys.every((k) => ch[k] && typeof ch[k] === 'object' && ('before' in ch[k] || 'after' in ch[k]));
  const body = isDiff
    ? h('ul', { class: 'kv' }, keys.map((k) => h('li', null, h('code', null, k), h('span', null, `${fmtVal(ch[k].before)} → ${fmtVal(ch[k].after)}`))))
    : h('pre', { class: 'json' }, JSON.stringify(ch, null, 2));
  const long = keys.some((k) => JSON.stringify(ch[k]).length > 90);
  if (keys.length <= 2 && isDiff && !long) return body;
  return h('details', null, h('summary', null, `${keys.length} field${keys.length === 1 ? '' : 's'}: ${keys.slice(0, 3).join(', ')}${keys.length > 3 ? '…' : ''}`), body);
}

export function targetCell(t) {
  if (!t) return '—';
  if (t.type === 'user' && t.id) return h('span', null, 'user ', h('a', { href: userHref(t.id) }, h('code', null, t.id.slice(0, 8) + '…')));
  return h('span', null, t.type, ' ', t.id ? h('code', { title: t.id }, String(t.id).length > 12 ? `${String(t.id).slice(0, 8)}…` : t.id) : null);
}

/** A table of audit records. */
export function auditTable(records, { compact = false } = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'data', 'data-testid': 'audit-table', 'aria-label': 'Audit records' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Who'), h('th', { scope: 'col' }, 'Action'),
        compact ? null : h('th', { scope: 'col' }, 'Target'), h('th', { scope: 'col' }, 'Changes'))),
      h('tbody', null, records.map((r) => h('tr', { 'data-testid': 'audit-row' },
        h('td', { class: 'nowrap' }, fmtDateTime(r.at)),
        h('td', null, r.actor ? `${r.actor.name || r.actor.id || ''}` : '—', r.actor ? h('div', { class: 'muted' }, r.actor.type) : null),
        h('td', null, h('code', null, r.action)),
        compact ? null : h('td', null, targetCell(r.target)),
        h('td', { class: 'changes' }, changesCell(r.changes)))))));
}

function toIso(local) {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function render(root, { query }) {
  const pg = new CursorPager();
  let ctrl = null;
  const mk = (label, name, listId, value, testid, type = 'text') => {
    const id = uid(`audit-${name}`);
    const input = h('input', { id, name, type, list: listId, value: value || '', 'data-testid': testid, autocomplete: 'off' });
    return { input, el: h('div', { class: 'field' }, h('label', { for: id }, label), input) };
  };
  const actorList = h('datalist', { id: 'audit-actors' });
  const actor = mk('Actor ID', 'actor_id', 'audit-actors', query.get('actor_id'), 'audit-actor');
  const ttype = mk('Target type', 'target_type', 'audit-ttypes', query.get('target_type'), 'audit-target-type');
  const tid = mk('Target ID', 'target_id', null, query.get('target_id'), 'audit-target-id');
  const action = mk('Action', 'action', 'audit-actions', query.get('action'), 'audit-action');
  const from = mk('From', 'from', null, toLocalInput(query.get('from')), 'audit-from', 'datetime-local');
  const to = mk('To', 'to', null, toLocalInput(query.get('to')), 'audit-to', 'datetime-local');
  const apply = h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'audit-apply' }, 'Apply filters');
  const reset = h('button', { type: 'button', class: 'btn', 'data-testid': 'audit-reset' }, 'Reset');
  const form = h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Filter the audit log' },
    actor.el, ttype.el, tid.el, action.el, from.el, to.el, h('div', { class: 'btn-row' }, apply, reset),
    actorList,
    h('datalist', { id: 'audit-ttypes' }, TARGET_TYPES.map((t) => h('option', { value: t }))),
    h('datalist', { id: 'audit-actions' }, ACTIONS.map((a) => h('option', { value: a }))));
  const status = h('p', { class: 'muted', role: 'status' });
  const body = h('div');
  const pagerBox = h('div');
  replace(root, pageHead('Audit log', 'Every change, who made it and when. Newest first.'), h('div', { class: 'card' }, form), status, body, pagerBox);

  // the team's accounts as actor suggestions (the team list is for admins: staff get a 403)
  if (isAdmin()) {
    get(orgPath('/staff')).then((r) => {
      replace(actorList, (r.data.data || []).map((st) => h('option', { value: st.id, label: `${st.email} (${st.role})` })));
    }).catch(() => {});
  }

  function filters() {
    return {
      actor_id: actor.input.value.trim() || undefined,
      target_type: ttype.input.value.trim() || undefined,
      target_id: tid.input.value.trim() || undefined,
      action: action.input.value.trim() || undefined,
      from: toIso(from.input.value),
      to: toIso(to.input.value),
    };
  }

  async function load() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const my = ctrl;
    const f = filters();
    replaceQuery(f);
    replace(body, loadingState('Loading audit records…'));
    replace(pagerBox);
    try {
      const r = await get(orgPath('/audit-log'), { query: { ...f, limit: 50, cursor: pg.current || undefined }, signal: my.signal });
      if (my !== ctrl) return;
      pg.nextCursor = r.next;
      status.textContent = r.data.length ? '' : 'No records.';
      replace(body, r.data.length ? auditTable(r.data) : h('div', { class: 'card' }, emptyState('No audit records match these filters.')));
      replace(pagerBox, pager({
        text: r.data.length ? `Page ${pg.index + 1}` : '', hasPrev: pg.hasPrev, hasNext: pg.hasNext,
        onPrev: () => { pg.prev(); load(); }, onNext: () => { pg.next(); load(); },
      }));
    } catch (e) {
      if (e.name === 'AbortError' || my !== ctrl) return;
      replace(body, h('div', { class: 'card' }, errorState(e, load)));
    }
  }

  form.addEventListener('submit', (ev) => { ev.preventDefault(); pg.reset(); load(); });
  reset.addEventListener('click', () => {
    for (const x of [actor, ttype, tid, action, from, to]) x.input.value = '';
    pg.reset();
    load();
  });
  load();
  return () => { if (ctrl) ctrl.abort(); };
}
