// The fleet view: devices across the org, counts by condition (buttons that filter), type / condition /
// ZIP filters, cursor paging; each row opens its user.

import { h, replace, fmtAgo, fmtNum, debounce } from './dom.js';
import { get, post, orgPath, apiUrl, canWrite, DEVICE_TYPES, deviceTypeLabel } from './api.js';
import { replaceQuery, userHref, navigate } from './router.js';
import { pageHead, pager, CursorPager, loadingState, emptyState, errorState, rowState, confirmDialog, toast, toastError } from './ui.js';
import { deviceBadges, deviceTitle } from './devices.js';

const CONDITIONS = [
  { value: '', label: 'All devices' },
  { value: 'needs_attention', label: 'Needs attention', q: { needs_attention: 'true' } },
  { value: 'not_authenticated', label: 'Needs re-authentication', q: { authenticated: 'false' } },
  { value: 'stale', label: 'Stale', q: { stale: 'true' } },
  { value: 'optimization_off', label: 'Optimization off', q: { optimization_active: 'false' } },
  { value: 'healthy', label: 'Healthy', q: { needs_attention: 'false' } },
];

export function render(root, { query }) {
  const st = {
    type: query.get('type') || '',
    attention: query.get('attention') === null ? 'needs_attention' : (query.get('attention') === 'all' ? '' : query.get('attention')),
    zip: query.get('zip') || '',
    limit: 50,
    pager: new CursorPager(),
  };
  let ctrl = null;

  const countsBox = h('section', { 'aria-label': 'Counts by condition', 'data-testid': 'fleet-counts' }, loadingState('Loading counts…'));
  const typeSel = h('select', { id: 'fleet-type', 'data-testid': 'fleet-type' }, h('option', { value: '' }, 'All types'),
    DEVICE_TYPES.map((t) => h('option', { value: t.path, selected: t.path === st.type }, t.label)));
  const condSel = h('select', { id: 'fleet-condition', 'data-testid': 'fleet-condition' },
    CONDITIONS.map((c) => h('option', { value: c.value, selected: c.value === st.attention }, c.label)));
  const zip = h('input', { id: 'fleet-zip', type: 'search', value: st.zip, 'data-testid': 'fleet-zip', autocomplete: 'off', maxlength: '20' });
  const exportLink = h('a', { class: 'btn small', download: '', 'data-testid': 'fleet-export' }, 'Export CSV');
  const resetAll = canWrite() ? h('button', { type: 'button', class: 'btn small', 'data-testid': 'fleet-reset-all' }, 'Reset optimization of all matching') : null;
  const status = h('span', { class: 'muted', role: 'status', 'data-testid': 'fleet-status' });
  const tbody = h('tbody');
  const table = h('table', { class: 'data', 'data-testid': 'fleet-table', 'aria-label': 'Devices' },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Device'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Status'),
      h('th', { scope: 'col' }, 'Last state'), h('th', { scope: 'col', class: 'num' }, 'Last day (kWh)'),
      h('th', { scope: 'col' }, 'User'))),
    tbody);
  const pagerBox = h('div');

  replace(root,
    pageHead('Fleet', 'Devices across your org. Pick a condition to see what needs attention.', [exportLink, resetAll]),
    countsBox,
    h('div', { class: 'toolbar', role: 'search', 'aria-label': 'Filter devices' },
      h('div', { class: 'field' }, h('label', { for: 'fleet-condition' }, 'Condition'), condSel),
      h('div', { class: 'field' }, h('label', { for: 'fleet-type' }, 'Device type'), typeSel),
      h('div', { class: 'field' }, h('label', { for: 'fleet-zip' }, 'User ZIP code'), zip),
      status),
    h('div', { class: 'table-wrap' }, table),
    pagerBox);

  function filterQuery() {
    const c = CONDITIONS.find((x) => x.value === st.attention) || CONDITIONS[0];
    return { type: st.type || undefined, zip_code: st.zip.trim() || undefined, ...(c.q || {}) };
  }

  async function loadCounts() {
    try {
      const r = await get(orgPath('/devices/counts'));
      const c = r.data;
      const btn = (label, value, n, cls) => {
        const b = h('button', { type: 'button', class: `stat ${cls || ''}`, 'aria-pressed': String(st.attention === value), 'data-testid': `count-${value || 'all'}` },
          h('span', { class: 'label' }, label), h('span', { class: 'value' }, fmtNum(n)));
        b.addEventListener('click', () => { st.attention = value; condSel.value = value; st.pager.reset(); load(); renderCountsPressed(); });
        return b;
      };
      replace(countsBox, h('div', { class: 'stats' },
        btn('All devices', '', c.total),
        btn('Needs attention', 'needs_attention', c.needs_attention, 'danger'),
        btn('Needs re-authentication', 'not_authenticated', c.not_authenticated, 'warn'),
        btn('Stale', 'stale', c.stale, 'warn'),
        btn('Optimization off', 'optimization_off', c.optimization_off, 'warn')),
      h('details', { class: 'card' }, h('summary', null, 'Counts by device type'),
        h('table', { class: 'diff', 'data-testid': 'fleet-counts-by-type' },
          h('thead', null, h('tr', null, ['Type', 'Total', 'Needs attention', 'Re-authentication', 'Stale', 'Optimization off'].map((x) => h('th', { scope: 'col' }, x)))),
          h('tbody', null, DEVICE_TYPES.map((t) => {
            const b = (c.by_type && c.by_type[t.key]) || {};
            return h('tr', null, h('th', { scope: 'row' }, t.label), [b.total, b.needs_attention, b.not_authenticated, b.stale, b.optimization_off].map((n) => h('td', { class: 'num' }, fmtNum(n ?? 0))));
          })))));
    } catch (e) {
      replace(countsBox, errorState(e, loadCounts));
    }
  }

  function renderCountsPressed() {
    countsBox.querySelectorAll('button.stat').forEach((b) => {
      const v = b.getAttribute('data-testid').replace(/^count-/, '');
      b.setAttribute('aria-pressed', String((v === 'all' ? '' : v) === st.attention));
    });
  }

  function row(d) {
    const href = userHref(d.user_id);
    // the row names its user (the fleet view sends {email, first_name, last_name}); the link's accessible
    // name says what it does: "Anna Müller, open user of Viessmann Vitocal 250-A"
    const u = d.user || {};
    const who = [u.first_name, u.last_name].filter(Boolean).join(' ') || u.email || 'Open user';
    const link = h('a', { href, 'data-testid': 'fleet-user-link' }, who,
      h('span', { class: 'visually-hidden' }, `, open user of ${deviceTitle(d)}`), h('span', { 'aria-hidden': 'true' }, ' →'));
    const userCell = h('td', null, link, who !== u.email && u.email ? h('div', { class: 'muted fleet-email', title: u.email }, u.email) : null);
    const tr = h('tr', { class: 'clickable', 'data-testid': 'fleet-row', 'data-user-id': d.user_id },
      h('td', null, h('strong', null, deviceTitle(d)), d.external_device_id ? h('div', { class: 'muted mono' }, d.external_device_id) : null),
      h('td', null, deviceTypeLabel(d.device_type)),
      h('td', null, deviceBadges(d)),
      h('td', { class: 'nowrap' }, fmtAgo(d.current_state_last_updated_at)),
      h('td', { class: 'num' }, fmtNum(d.consumption_last_day_kwh)),
      userCell);
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('a, button, input, summary')) return;
      navigate(href);
    });
    return tr;
  }

  async function load() {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const my = ctrl;
    const f = filterQuery();
    replaceQuery({ type: st.type, attention: st.attention === 'needs_attention' ? '' : (st.attention || 'all'), zip: st.zip });
    exportLink.href = apiUrl(orgPath('/devices/export'), { ...f, format: 'csv' });
    table.setAttribute('aria-busy', 'true');
    if (!tbody.firstChild || tbody.querySelector('[data-testid=error]')) replace(tbody, rowState(6, loadingState('Loading devices…')));
    status.textContent = 'Loading…';
    try {
      const r = await get(orgPath('/devices'), { query: { ...f, limit: st.limit, cursor: st.pager.current || undefined }, signal: my.signal });
      if (my !== ctrl) return;
      st.pager.nextCursor = r.next;
      const rows = r.data;
      status.textContent = r.total === null ? '' : `${fmtNum(r.total)} device${r.total === 1 ? '' : 's'}`;
      replace(tbody, rows.length ? rows.map(row) : rowState(6, emptyState(st.attention === 'needs_attention' ? 'No device needs attention. 🎉' : 'No devices match these filters.')));
      const from = st.pager.index * st.limit + 1;
      replace(pagerBox, pager({
        text: rows.length ? `Showing ${from}–${from + rows.length - 1}${r.total !== null ? ` of ${fmtNum(r.total)}` : ''}` : '',
        hasPrev: st.pager.hasPrev, hasNext: st.pager.hasNext,
        onPrev: () => { st.pager.prev(); load(); }, onNext: () => { st.pager.next(); load(); },
      }));
    } catch (e) {
      if (e.name === 'AbortError' || my !== ctrl) return;
      status.textContent = '';
      replace(tbody, rowState(6, errorState(e, load)));
      replace(pagerBox);
    } finally {
      if (my === ctrl) table.removeAttribute('aria-busy');
    }
  }

  typeSel.addEventListener('change', () => { st.type = typeSel.value; st.pager.reset(); load(); });
  condSel.addEventListener('change', () => { st.attention = condSel.value; st.pager.reset(); load(); renderCountsPressed(); });
  const onZip = debounce(() => { st.pager.reset(); load(); }, 300);
  zip.addEventListener('input', () => { st.zip = zip.value; onZip(); });

  if (resetAll) {
    resetAll.addEventListener('click', async () => {
      const f = filterQuery();
      if (!await confirmDialog({ title: 'Reset optimization of every matching device?', message: `Smart optimization is turned on and any pause lifted on every device the current filters match (${status.textContent || 'all'}). This runs as a background job.`, confirmLabel: 'Reset optimization' })) return;
      resetAll.disabled = true;
      try {
        const filter = {};
        if (f.type) filter.type = f.type;
        if (f.zip_code) filter.zip_code = f.zip_code;
        for (const k of ['authenticated', 'stale', 'optimization_active', 'needs_attention']) if (f[k] !== undefined) filter[k] = f[k] === 'true';
        const r = await post(orgPath('/devices/bulk'), { action: 'reset_optimization', filter });
        toast(`Started a job resetting ${fmtNum(r.data.total)} device${r.data.total === 1 ? '' : 's'}. Refresh in a moment to see the result.`, 'ok');
        await followJob(r.data.id);
      } catch (e) { toastError(e); } finally { resetAll.disabled = false; }
    });
  }

  async function followJob(id) {
    for (let i = 0; i < 60; i += 1) {
      const r = await get(orgPath(`/jobs/${encodeURIComponent(id)}`), { query: { wait: 10 } });
      if (['succeeded', 'failed', 'cancelled'].includes(r.data.state)) {
        toast(`Reset optimization: ${r.data.succeeded} succeeded, ${r.data.failed} failed (${r.data.state}).`, r.data.failed ? 'error' : 'ok');
        loadCounts();
        load();
        return;
      }
    }
  }

  loadCounts();
  load();
  return () => { if (ctrl) ctrl.abort(); onZip.cancel(); };
}
