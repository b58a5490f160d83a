// Users list: search as you type (debounced, stale requests aborted), filters, sortable headers,
// cursor paging, selection across pages with bulk delete / restore / reset optimization / export.

import { h, replace, debounce, fmtDate, fmtInt, userName, downloadBlob } from './dom.js';
import { get, post, orgPath, apiUrl, canWrite, canEditUser, pool, describeError } from './api.js';
import { replaceQuery, userHref } from './router.js';
import {
  badge, pageHead, sortHeader, pager, CursorPager, rowState, loadingState, emptyState, errorState,
  toast, toastError, confirmDialog, openDialog, announce,
} from './ui.js';
import { openUserForm, ROLES } from './user-form.js';
import { toCsv } from './csv.js';

const EXPORT_COLUMNS = ['id', 'org_id', 'role', 'external_user_id', 'email', 'first_name', 'last_name', 'street_and_number',
  'street_add_info', 'zip_code', 'town', 'country_iso2', 'created_at', 'updated_at', 'deleted_at'];

export function render(root, { query }) {
  const st = {
    search: query.get('q') || '',
    role: query.get('role') || '',
    status: ['deleted', 'all'].includes(query.get('status')) ? query.get('status') : 'live',
    attention: ['true', 'false'].includes(query.get('attention')) ? query.get('attention') : '',
    sort: query.get('sort') || 'created_at',
    limit: Number(query.get('limit')) || 50,
    pager: new CursorPager(),
    rows: [],
    total: null,
    loading: false,
    error: null,
    selected: new Map(), // id → user
    refocusRow: null, // after a save from a row's Edit: that row's id, to give its Edit the focus back
  };
  let ctrl = null;
  const write = canWrite();

  // ---- toolbar ----
  const search = h('input', { id: 'users-search', type: 'search', placeholder: 'Email, name or customer number', value: st.search, 'data-testid': 'search-input', autocomplete: 'off' });
  const roleSel = h('select', { id: 'users-role', 'data-testid': 'filter-role' },
    h('option', { value: '' }, 'All roles'), ROLES.map((r) => h('option', { value: r, selected: r === st.role }, r)));
  const statusSel = h('select', { id: 'users-status', 'data-testid': 'filter-status' },
    [['live', 'Live users'], ['deleted', 'Deleted only'], ['all', 'Live and deleted']].map(([v, l]) => h('option', { value: v, selected: v === st.status }, l)));
  const attentionSel = h('select', { id: 'users-attention', 'data-testid': 'filter-attention' },
    [['', 'Any'], ['true', 'Need attention'], ['false', 'All fine']].map(([v, l]) => h('option', { value: v, selected: v === st.attention }, l)));
  const status = h('span', { class: 'muted', role: 'status', 'aria-live': 'polite', 'data-testid': 'users-status' });
  const exportCsv = h('a', { class: 'btn small', 'data-testid': 'export-csv', download: '' }, 'Export CSV');
  const exportJsonl = h('a', { class: 'btn small', 'data-testid': 'export-jsonl', download: '' }, 'Export JSON lines');

  const toolbar = h('div', { class: 'toolbar', role: 'search', 'aria-label': 'Filter users' },
    h('div', { class: 'field grow' }, h('label', { for: 'users-search' }, 'Search users'), search),
    h('div', { class: 'field' }, h('label', { for: 'users-role' }, 'Role'), roleSel),
    h('div', { class: 'field' }, h('label', { for: 'users-status' }, 'Status'), statusSel),
    h('div', { class: 'field' }, h('label', { for: 'users-attention' }, 'Devices'), attentionSel));

  // ---- bulk bar ----
  const selCount = h('strong', { 'data-testid': 'selection-count' });
  const bulkBtns = [];
  function bulkBtn(label, testid, fn, cls = 'btn small') {
    const b = h('button', { type: 'button', class: cls, 'data-testid': testid }, label);
    b.addEventListener('click', async () => {
      b.disabled = true;
      try { await fn(); } finally { b.disabled = false; }
    });
    bulkBtns.push(b);
    return b;
  }
  const bulkbar = h('div', { class: 'bulkbar', hidden: true, role: 'region', 'aria-label': 'Bulk actions', 'data-testid': 'bulk-bar' },
    selCount,
    write ? bulkBtn('Delete', 'bulk-delete', bulkDelete, 'btn small danger') : null,
    write ? bulkBtn('Restore', 'bulk-restore', bulkRestore) : null,
    write ? bulkBtn('Reset optimization', 'bulk-reset', bulkReset) : null,
    bulkBtn('Export selection (CSV)', 'bulk-export', exportSelection),
    h('button', { type: 'button', class: 'btn small ghost', 'data-testid': 'bulk-clear', onclick: () => { st.selected.clear(); renderRows(); } }, 'Clear selection'));

  // ---- table ----
  const thead = h('thead');
  const tbody = h('tbody');
  const table = h('table', { class: 'data', 'data-testid': 'users-table', 'aria-label': 'Users' }, thead, tbody);
  const pagerBox = h('div');

  const newBtn = write ? h('button', { type: 'button', class: 'btn primary', 'data-testid': 'new-user' }, 'New user') : null;
  if (newBtn) newBtn.addEventListener('click', () => openUserForm({ onSaved: () => reload(false) }));

  replace(root,
    pageHead('Users', 'Your end-users and the team accounts of your org.', [exportCsv, exportJsonl, newBtn]),
    toolbar,
    h('div', { class: 'btn-row' }, status),
    bulkbar,
    h('div', { class: 'table-wrap' }, table),
    pagerBox);

  function filters() {
    return {
      search: st.search.trim() || undefined,
      role: st.role || undefined,
      deleted: st.status === 'deleted' ? 'true' : undefined,
      include_deleted: st.status === 'all' ? 'true' : undefined,
      needs_attention: st.attention || undefined,
      sort: st.sort,
    };
  }

  function syncUrl() {
    replaceQuery({ q: st.search, role: st.role, status: st.status === 'live' ? '' : st.status, attention: st.attention, sort: st.sort === 'created_at' ? '' : st.sort, limit: st.limit === 50 ? '' : st.limit });
    exportCsv.href = apiUrl(orgPath('/users/export'), { ...filters(), format: 'csv' });
    exportJsonl.href = apiUrl(orgPath('/users/export'), { ...filters(), format: 'jsonl' });
  }

  function renderHead() {
    const all = h('input', { type: 'checkbox', 'aria-label': 'Select all users on this page', 'data-testid': 'select-page' });
    const ids = st.rows.map((u) => u.id);
    const nSel = ids.filter((id) => st.selected.has(id)).length;
    all.checked = ids.length > 0 && nSel === ids.length;
    all.indeterminate = nSel > 0 && nSel < ids.length;
    all.disabled = ids.length === 0;
    all.addEventListener('change', () => {
      for (const u of st.rows) {
        if (all.checked) st.selected.set(u.id, u);
        else st.selected.delete(u.id);
      }
      renderRows();
    });
    const onSort = (s) => { st.sort = s; st.pager.reset(); reload(true); };
    replace(thead, h('tr', null,
      h('th', { scope: 'col', class: 'sel' }, all),
      sortHeader('Email', 'email', st.sort, onSort),
      sortHeader('Name', 'last_name', st.sort, onSort),
      h('th', { scope: 'col' }, 'Role'),
      h('th', { scope: 'col' }, 'External ID'),
      h('th', { scope: 'col' }, 'Town'),
      sortHeader('Created', 'created_at', st.sort, onSort),
      sortHeader('Updated', 'updated_at', st.sort, onSort),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions'))));
  }

  function renderRows() {
    // the header and pager are rebuilt: keep the keyboard focus on the control that had it
    const act = document.activeElement;
    const refocus = act && (thead.contains(act) || pagerBox.contains(act)) ? act.getAttribute('data-testid') : null;
    renderHead();
    const n = st.selected.size;
    bulkbar.hidden = n === 0;
    selCount.textContent = `${n} selected`;
    if (st.error) {
      replace(tbody, rowState(9, errorState(st.error, () => reload(false))));
    } else if (st.loading && st.rows.length === 0) {
      replace(tbody, rowState(9, loadingState('Loading users…')));
    } else if (st.rows.length === 0) {
      const filtered = st.search || st.role || st.status !== 'live' || st.attention;
      replace(tbody, rowState(9, filtered
        ? emptyState('No users match these filters.', h('button', { type: 'button', class: 'btn', onclick: clearFilters }, 'Clear filters'))
        : emptyState('No users yet.', newBtn ? h('button', { type: 'button', class: 'btn primary', onclick: () => newBtn.click() }, 'Create the first user') : null)));
    } else {
      replace(tbody, st.rows.map(rowFor));
    }
    const from = st.pager.index * st.limit + 1;
    const to = st.pager.index * st.limit + st.rows.length;
    replace(pagerBox, pager({
      text: st.rows.length ? `Showing ${from}–${to}${st.total !== null ? ` of ${fmtInt(st.total)}${st.totalCapped ? '+' : ''}` : ''}` : '',
      hasPrev: st.pager.hasPrev, hasNext: st.pager.hasNext,
      onPrev: () => { st.pager.prev(); reload(true); },
      onNext: () => { st.pager.next(); reload(true); },
    }), pageSizeSel());
    if (refocus) {
      const again = root.querySelector(`[data-testid="${refocus}"]:not([disabled])`);
      if (again) again.focus();
    }
    if (st.refocusRow && !st.loading) {
      const row = tbody.querySelector(`tr[data-id="${CSS.escape(st.refocusRow)}"]`);
      st.refocusRow = null;
      const target = row && (row.querySelector('[data-testid=row-edit]') || row.querySelector('[data-testid=user-link]'));
      (target || search).focus();
    }
  }

  function pageSizeSel() {
    const sel = h('select', { id: 'users-limit', 'data-testid': 'page-size' }, [25, 50, 100, 200].map((n) => h('option', { value: n, selected: n === st.limit }, String(n))));
    sel.addEventListener('change', () => { st.limit = Number(sel.value); st.pager.reset(); reload(true); });
    return h('div', { class: 'btn-row' }, h('label', { for: 'users-limit' }, 'Rows per page'), sel);
  }

  function rowFor(u) {
    const sel = st.selected.has(u.id);
    const chk = h('input', { type: 'checkbox', checked: sel, 'aria-label': `Select ${u.email || u.id}`, 'data-testid': 'row-select' });
    chk.addEventListener('change', () => {
      if (chk.checked) st.selected.set(u.id, u);
      else st.selected.delete(u.id);
      renderRows();
      const again = tbody.querySelector(`tr[data-id="${CSS.escape(u.id)}"] input[type=checkbox]`);
      if (again) again.focus();
    });
    const name = userName(u);
    const edit = canEditUser(u) && !u.deleted_at
      ? h('button', { type: 'button', class: 'btn small', 'aria-label': `Edit ${u.email || u.id}`, 'data-testid': 'row-edit' }, 'Edit')
      : null;
    if (edit) {
      edit.addEventListener('click', () => openUserForm({
        userId: u.id,
        // the reload re-renders the rows, the dialog's opener with them: focus its successor
        onSaved: () => { st.refocusRow = u.id; reload(false); },
      }));
    }
    return h('tr', { class: sel ? 'selected' : null, 'data-testid': 'user-row', 'data-id': u.id },
      h('td', { class: 'sel' }, chk),
      h('td', null, h('a', { href: userHref(u.id), 'data-testid': 'user-link' }, u.email || '(erased)')),
      h('td', null, name || h('span', { class: 'muted' }, '—')),
      h('td', null, u.role === 'user' ? u.role : badge(u.role, 'info')),
      h('td', { class: 'mono' }, u.external_user_id || ''),
      h('td', null, u.town || ''),
      h('td', { class: 'nowrap' }, fmtDate(u.created_at)),
      h('td', { class: 'nowrap' }, fmtDate(u.updated_at)),
      h('td', { class: 'nowrap' }, u.deleted_at ? badge('Deleted', 'danger', 'deleted-badge') : null, ' ', edit));
  }

  async function reload() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const my = ctrl;
    st.loading = true;
    st.error = null;
    table.setAttribute('aria-busy', 'true');
    status.textContent = 'Loading…';
    syncUrl();
    if (st.rows.length === 0) renderRows();
    try {
      // count_limit: past 10,000 matches the total says "10,000+" (a one-letter search at a million users
      // would otherwise count them all on every keystroke)
      const r = await get(orgPath('/users'), { query: { ...filters(), limit: st.limit, count_limit: 10000, cursor: st.pager.current || undefined }, signal: my.signal });
      if (my !== ctrl) return;
      st.rows = Array.isArray(r.data) ? r.data : [];
      st.total = r.total;
      st.totalCapped = r.totalCapped;
      st.pager.nextCursor = r.next;
      status.textContent = st.total === null ? '' : `${fmtInt(st.total)}${st.totalCapped ? '+' : ''} user${st.total === 1 ? '' : 's'}`;
    } catch (e) {
      if (e.name === 'AbortError' || my !== ctrl) return;
      st.rows = [];
      st.error = e;
      status.textContent = '';
    } finally {
      if (my === ctrl) {
        st.loading = false;
        table.removeAttribute('aria-busy');
      }
    }
    if (my !== ctrl) return;
    renderRows();
  }

  function clearFilters() {
    st.search = '';
    st.role = '';
    st.status = 'live';
    st.attention = '';
    search.value = '';
    roleSel.value = '';
    statusSel.value = 'live';
    attentionSel.value = '';
    st.pager.reset();
    reload(false);
    search.focus();
  }

  const onSearch = debounce(() => { st.pager.reset(); reload(false); }, 150);
  search.addEventListener('input', () => {
    st.search = search.value;
    if (ctrl) ctrl.abort(); // a stale answer must never replace a newer one
    onSearch();
  });
  roleSel.addEventListener('change', () => { st.role = roleSel.value; st.pager.reset(); reload(false); });
  statusSel.addEventListener('change', () => { st.status = statusSel.value; st.pager.reset(); reload(false); });
  attentionSel.addEventListener('change', () => { st.attention = attentionSel.value; st.pager.reset(); reload(false); });

  // ---- bulk actions ----
  function selectedUsers() {
    return [...st.selected.values()];
  }

  async function bulkUsers(op, verb) {
    const users = selectedUsers();
    const results = [];
    for (let i = 0; i < users.length; i += 1000) {
      const chunk = users.slice(i, i + 1000);
      const r = await post(orgPath('/users/bulk'), { items: chunk.map((u) => ({ op, id: u.id })) });
      for (const res of r.data.results) results.push({ ...res, user: chunk[res.index] });
    }
    const failed = results.filter((x) => x.status !== 'success');
    const ok = results.length - failed.length;
    if (failed.length === 0) {
      toast(`${ok} user${ok === 1 ? '' : 's'} ${verb}.`, 'ok');
    } else {
      showBulkReport(`${verb[0].toUpperCase()}${verb.slice(1)}: ${ok} succeeded, ${failed.length} failed`,
        failed.map((f) => ({ who: f.user.email || f.user.id, why: (f.error && (f.error.detail || f.error.title)) || `HTTP ${f.status_code}` })));
    }
    for (const x of results) if (x.status === 'success') st.selected.delete(x.user.id);
    await reload(false);
  }

  async function bulkDelete() {
    const n = st.selected.size;
    if (!await confirmDialog({ title: `Delete ${n} user${n === 1 ? '' : 's'}?`, message: 'They are hidden from the list and can be restored later (Status: Deleted only, then Restore).', confirmLabel: 'Delete', danger: true })) return;
    try { await bulkUsers('delete', 'deleted'); } catch (e) { toastError(e); }
  }

  async function bulkRestore() {
    try { await bulkUsers('restore', 'restored'); } catch (e) { toastError(e); }
  }

  async function bulkReset() {
    const users = selectedUsers();
    const n = users.length;
    if (!await confirmDialog({ title: `Reset optimization for ${n} user${n === 1 ? '' : 's'}?`, message: 'Smart optimization is turned on and any pause lifted on every device of the selected users.', confirmLabel: 'Reset optimization' })) return;
    announce('Collecting the devices of the selected users…');
    const failures = [];
    try {
      // one fleet-view call per user (all types; user_id filter), following its pages
      const lists = await pool(users, 4, async (u) => {
        const ids = [];
        let cursor;
        try {
          do {
            const r = await get(orgPath('/devices'), { query: { user_id: u.id, limit: 1000, cursor } });
            for (const d of r.data) ids.push(d.id);
            cursor = r.next;
          } while (cursor);
        } catch (e) {
          if (e.status === 401) throw e;
          failures.push({ who: u.email || u.id, why: describeError(e) });
        }
        return ids;
      });
      const ids = lists.flat();
      if (ids.length === 0 && failures.length === 0) {
        toast('The selected users have no devices.', 'info');
        return;
      }
      let ok = 0;
      for (let i = 0; i < ids.length; i += 1000) {
        const r = await post(orgPath('/devices/bulk'), { action: 'reset_optimization', device_ids: ids.slice(i, i + 1000) });
        ok += r.data.succeeded;
        for (const x of r.data.results) {
          if (x.status !== 'success') failures.push({ who: `device ${x.device_id}`, why: (x.error && (x.error.detail || x.error.title)) || `HTTP ${x.status_code}` });
        }
      }
      if (failures.length === 0) toast(`Optimization reset on ${ok} device${ok === 1 ? '' : 's'}.`, 'ok');
      else showBulkReport(`Reset optimization: ${ok} devices succeeded, ${failures.length} failed`, failures);
    } catch (e) {
      toastError(e);
    }
  }

  function exportSelection() {
    const users = selectedUsers();
    const csv = toCsv(EXPORT_COLUMNS, users.map((u) => EXPORT_COLUMNS.map((c) => u[c])));
    downloadBlob(new Blob([csv], { type: 'text/csv' }), `users-selection-${new Date().toISOString().slice(0, 10)}.csv`);
    toast(`Exported ${users.length} user${users.length === 1 ? '' : 's'}.`, 'ok');
  }

  function showBulkReport(title, failures) {
    const close = h('button', { type: 'button', class: 'btn primary' }, 'Close');
    const d = openDialog({
      title,
      testid: 'bulk-report',
      body: h('div', null,
        h('table', { class: 'diff' }, h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Item'), h('th', { scope: 'col' }, 'Why it failed'))),
          h('tbody', null, failures.slice(0, 200).map((f) => h('tr', null, h('td', null, f.who), h('td', null, f.why))))),
        failures.length > 200 ? h('p', { class: 'muted' }, `… and ${failures.length - 200} more.`) : null),
      actions: [close],
    });
    close.addEventListener('click', () => d.close());
  }

  renderRows();
  reload(false);
  if (st.search) search.focus();
  return () => { if (ctrl) ctrl.abort(); onSearch.cancel(); };
}
