// The user page: contact data, summary figures, buildings with their energy contracts, devices grouped by
// type with status badges, a consumption chart and the diagnosis (with its one-click actions) per device,
// and the user's audit history.

import { h, replace, fmtDate, fmtDateTime, fmtNum, fmtAgo, userName } from './dom.js';
import { get, post, del, orgPath, canWrite, canEditUser, canAudit, DEVICE_TYPES, describeError, ApiError } from './api.js';
import {
  badge, loadingState, errorState, emptyState, toast, toastError, confirmDialog, openDialog, field, secretBox,
  formErrorSlot, showFormError, copyText,
} from './ui.js';
import { deviceBadges, deviceTitle } from './devices.js';
import { barChart } from './chart.js';
import { openUserForm } from './user-form.js';
import { auditTable } from './page-audit.js';

const LANGS = ['en', 'de', 'fr', 'it', 'es', 'nl', 'pl', 'cs', 'da', 'sv', 'nb', 'fi', 'pt'];

function linkUrls() {
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem('fd-link-urls') || 'null'); } catch { saved = null; }
  const root = `${location.origin}/`;
  return { success_url: (saved && saved.success_url) || root, cancel_url: (saved && saved.cancel_url) || root };
}

function mailto(user, subject, body) {
  const to = user && user.email ? encodeURIComponent(user.email) : '';
  return `mailto:${to}?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(body)}`;
}

/** The one-time link, a copy button and a send-by-email link. */
function linkResult(user, url, expires, what) {
  return h('div', { class: 'link-out', 'data-testid': 'link-result' },
    secretBox({ label: `${what} (valid until ${fmtDateTime(expires)})`, value: url, testid: 'generated-link' }),
    h('a', { class: 'btn small', 'data-testid': 'send-link', href: mailto(user, `Connect your device: ${what.toLowerCase()}`, `Hello,\n\nplease use this link to connect your device:\n${url}\n\nThe link is valid until ${fmtDateTime(expires)}.\n`) }, 'Send by email…'));
}

export function render(root, { params, setTitle }) {
  const userId = params[0];
  const ctrl = new AbortController();
  const opts = { signal: ctrl.signal };
  const upath = (p) => orgPath(`/users/${encodeURIComponent(userId)}${p}`);
  let user = null;
  let buildings = [];
  let deviceIds = [];

  const head = h('div');
  const summaryBox = h('section', { 'aria-labelledby': 'sum-h', 'data-testid': 'summary' }, h('h2', { id: 'sum-h', class: 'visually-hidden' }, 'Summary'), loadingState('Loading the summary…'));
  const contact = h('section', { class: 'card', 'aria-labelledby': 'contact-h', 'data-testid': 'contact' }, h('h2', { id: 'contact-h' }, 'Contact'), loadingState());
  const buildingsBox = h('section', { class: 'card', 'aria-labelledby': 'bld-h', 'data-testid': 'buildings' }, h('h2', { id: 'bld-h' }, 'Buildings and energy contracts'), loadingState());
  const devicesBox = h('section', { 'aria-labelledby': 'dev-h', 'data-testid': 'devices' }, h('h2', { id: 'dev-h' }, 'Devices'), loadingState('Loading devices…'));
  const auditBox = h('section', { class: 'card', 'aria-labelledby': 'aud-h', 'data-testid': 'user-audit' }, h('h2', { id: 'aud-h' }, 'History'));

  replace(root,
    h('div', { class: 'breadcrumb' }, h('a', { href: '#/users' }, '← Users')),
    head,
    summaryBox,
    h('div', { class: 'grid-2' }, contact, buildingsBox),
    devicesBox,
    auditBox);
  replace(head, h('h1', { tabindex: '-1' }, 'User'), loadingState('Loading the user…'));

  // ---------- the user ----------
  async function loadUser() {
    try {
      const r = await get(upath(''), opts);
      user = r.data;
      renderHead();
      renderContact();
      return true;
    } catch (e) {
      if (e.name === 'AbortError') return false;
      replace(head, h('h1', { tabindex: '-1' }, 'User'), errorState(e, () => loadAll()));
      replace(contact, h('h2', { id: 'contact-h' }, 'Contact'), h('p', { class: 'muted' }, 'Not available.'));
      return false;
    }
  }

  function renderHead() {
    const name = userName(user) || user.email || '(erased user)';
    setTitle(name);
    const actions = [];
    if (canEditUser(user) && !user.deleted_at) {
      const edit = h('button', { type: 'button', class: 'btn', 'data-testid': 'edit-user' }, 'Edit');
      edit.addEventListener('click', () => openUserForm({
        userId,
        onSaved: (u) => {
          user = u;
          renderHead(); // replaces the Edit button the dialog would give the focus back to
          renderContact();
          loadAudit();
          const again = head.querySelector('[data-testid=edit-user]');
          if (again) again.focus();
        },
      }));
      actions.push(edit);
      const onb = h('button', { type: 'button', class: 'btn', 'data-testid': 'create-onboarding' }, 'Create onboarding link');
      onb.addEventListener('click', () => onboardingDialog());
      actions.push(onb);
      const delBtn = h('button', { type: 'button', class: 'btn danger', 'data-testid': 'delete-user' }, 'Delete');
      delBtn.addEventListener('click', async () => {
        if (!await confirmDialog({ title: `Delete ${user.email}?`, message: 'The user is hidden from lists and can be restored later.', confirmLabel: 'Delete', danger: true })) return;
        try {
          await del(upath(''));
          toast('User deleted.', 'ok');
          await loadUser();
          loadAudit();
        } catch (e) { toastError(e); }
      });
      actions.push(delBtn);
    }
    if (canEditUser(user) && user.deleted_at && user.email) {
      const rest = h('button', { type: 'button', class: 'btn primary', 'data-testid': 'restore-user' }, 'Restore');
      rest.addEventListener('click', async () => {
        try {
          const r = await post(upath('/restore'));
          user = r.data;
          toast('User restored.', 'ok');
          renderHead();
          renderContact();
          loadAudit();
        } catch (e) { toastError(e); }
      });
      actions.push(rest);
    }
    replace(head, h('div', { class: 'page-head' },
      h('div', null,
        h('h1', { tabindex: '-1', 'data-testid': 'user-name' }, name),
        h('p', { class: 'sub' }, user.email || '', user.external_user_id ? ` · ${user.external_user_id}` : '', ' ',
          user.role !== 'user' ? badge(user.role, 'info') : null, ' ',
          user.deleted_at ? badge(`Deleted ${fmtDate(user.deleted_at)}`, 'danger', 'deleted-badge') : null)),
      h('div', { class: 'page-actions' }, actions)));
  }

  function renderContact() {
    const addr = [user.street_and_number, user.street_add_info, [user.zip_code, user.town].filter(Boolean).join(' '), user.country_iso2].filter(Boolean);
    const row = (k, v) => [h('dt', null, k), h('dd', null, v || h('span', { class: 'muted' }, '—'))];
    replace(contact, h('h2', { id: 'contact-h' }, 'Contact'),
      h('dl', { class: 'props' },
        row('Email', user.email ? h('a', { href: `mailto:${user.email}` }, user.email) : null),
        row('Name', userName(user)),
        row('External ID', user.external_user_id),
        row('Address', addr.length ? addr.join(', ') : null),
        row('Role', user.role),
        row('Created', fmtDateTime(user.created_at)),
        row('Updated', fmtDateTime(user.updated_at)),
        user.deleted_at ? row('Deleted', fmtDateTime(user.deleted_at)) : null,
        row('User ID', h('code', null, user.id))));
  }

  // ---------- summary ----------
  async function loadSummary() {
    try {
      const r = await get(upath('/summary'), opts);
      const sm = r.data;
      const stat = (label, value, testid) => h('div', { class: 'stat', 'data-testid': testid }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, value));
      replace(summaryBox, h('h2', { id: 'sum-h', class: 'visually-hidden' }, 'Summary'),
        h('div', { class: 'stats' },
          stat('Devices', String(sm.devices.total), 'sum-devices'),
          stat('Optimized', `${sm.devices.optimized} of ${sm.devices.total}`, 'sum-optimized'),
          stat('Buildings', String(sm.buildings), 'sum-buildings'),
          stat('Consumption today', `${fmtNum(sm.consumption.today)} kWh`, 'sum-today'),
          stat('This month', `${fmtNum(sm.consumption.this_month)} kWh`, 'sum-month')));
    } catch (e) {
      if (e.name !== 'AbortError') replace(summaryBox, h('h2', { id: 'sum-h', class: 'visually-hidden' }, 'Summary'), h('div', { class: 'notice error', role: 'alert' }, `Summary: ${describeError(e)}`));
    }
  }

  // ---------- buildings and contracts ----------
  async function loadBuildings() {
    try {
      const [b, c] = await Promise.all([get(upath('/buildings'), opts), get(upath('/energy-contracts'), opts)]);
      buildings = b.data;
      const contracts = c.data;
      const contractEl = (k) => h('div', { class: 'contract', 'data-testid': 'contract' },
        h('strong', null, (k.energy_contract_type || 'contract').replace('_', ' ')), ' · ', k.supplier || 'unknown supplier',
        k.meter_id ? ` · meter ${k.meter_id}` : '',
        h('div', { class: 'muted' }, `Valid ${k.valid_from ? `from ${fmtDate(k.valid_from)}` : ''}${k.valid_to ? ` to ${fmtDate(k.valid_to)}` : ' (open-ended)'}`,
          k.energy_prices && k.energy_prices.length ? ` · ${k.energy_prices.length} price${k.energy_prices.length === 1 ? '' : 's'}, latest ${fmtNum(k.energy_prices[k.energy_prices.length - 1].price)} ${k.currency_energy_price}/kWh` : ''));
      const items = buildings.map((bl) => h('div', { class: 'building', 'data-testid': 'building' },
        h('h3', null, bl.name || 'Building'),
        h('div', { class: 'muted' }, [bl.property_type, bl.property_size_m2 ? `${fmtNum(bl.property_size_m2)} m²` : null, bl.num_occupants !== null && bl.num_occupants !== undefined ? `${bl.num_occupants} occupants` : null, bl.space_heating ? `heating: ${bl.space_heating}` : null].filter(Boolean).join(' · ')),
        h('div', null, [bl.street_and_number, [bl.zip_code, bl.town].filter(Boolean).join(' '), bl.country_iso2].filter(Boolean).join(', ')),
        contracts.filter((k) => k.building_id === bl.id).map(contractEl)));
      const loose = contracts.filter((k) => !k.building_id || !buildings.some((bl) => bl.id === k.building_id));
      replace(buildingsBox, h('h2', { id: 'bld-h' }, 'Buildings and energy contracts'),
        items.length || loose.length ? null : emptyState('No buildings or energy contracts.'),
        items,
        loose.length ? h('div', { class: 'building' }, h('h3', null, 'Contracts without a building'), loose.map(contractEl)) : null);
    } catch (e) {
      if (e.name !== 'AbortError') replace(buildingsBox, h('h2', { id: 'bld-h' }, 'Buildings and energy contracts'), errorState(e, loadBuildings));
    }
  }

  // ---------- devices ----------
  async function loadDevices() {
    try {
      const lists = await Promise.all(DEVICE_TYPES.map((t) => get(upath(`/${t.path}`), opts)));
      deviceIds = lists.flatMap((l) => l.data.map((d) => d.id));
      const groups = [];
      DEVICE_TYPES.forEach((t, i) => {
        const ds = lists[i].data;
        if (!ds.length) return;
        groups.push(h('div', { class: 'device-group', 'data-testid': `device-group-${t.path}` },
          h('h3', null, `${t.label} (${ds.length})`),
          ds.map((d) => deviceCard(t, d))));
      });
      replace(devicesBox, h('h2', { id: 'dev-h' }, 'Devices'),
        groups.length ? groups : h('div', { class: 'card' }, emptyState('This user has no devices.')));
    } catch (e) {
      if (e.name !== 'AbortError') replace(devicesBox, h('h2', { id: 'dev-h' }, 'Devices'), errorState(e, loadDevices));
    }
  }

  function deviceCard(type, device) {
    const card = h('article', { class: 'device', 'data-testid': 'device-card', 'data-device-id': device.id, 'aria-label': `${type.one}: ${deviceTitle(device)}` });
    const chartBox = h('div', { class: 'chart-wrap' });
    const diagBox = h('div', { class: 'diag', 'data-testid': 'diagnosis', 'aria-live': 'polite' });
    const dpath = (p) => upath(`/${type.path}/${encodeURIComponent(device.id)}${p}`);
    let resolution = '1DAY';

    function renderTop() {
      const inv = type.path === 'inverters';
      replace(card,
        h('div', { class: 'device-head' },
          h('div', null,
            h('h4', { class: 'device-title' }, deviceTitle(device)),
            h('div', { class: 'muted' }, type.one, device.external_device_id ? ` · ${device.external_device_id}` : '', ` · last state ${fmtAgo(device.current_state_last_updated_at)}`)),
          deviceBadges(device)),
        h('div', { class: 'device-figures' },
          h('span', null, 'Last day ', h('strong', null, `${fmtNum(device.consumption_last_day_kwh)} kWh`)),
          h('span', null, 'Last week ', h('strong', null, `${fmtNum(device.consumption_last_week_kwh)} kWh`)),
          h('span', null, 'Last month ', h('strong', null, `${fmtNum(device.consumption_last_month_kwh)} kWh`)),
          inv ? h('span', null, 'Produced last month ', h('strong', null, `${fmtNum(device.production_last_month_kwh)} kWh`)) : null,
          device.optimization_score !== null && device.optimization_score !== undefined ? h('span', null, 'Optimization score ', h('strong', null, fmtNum(device.optimization_score))) : null),
        h('div', { class: 'device-body' }, chartBox, diagBox));
    }

    async function loadChart() {
      const seg = h('div', { class: 'seg', role: 'group', 'aria-label': 'Chart resolution' },
        [['1DAY', 'By day'], ['1MONTH', 'By month']].map(([v, l]) => {
          const b = h('button', { type: 'button', 'aria-pressed': String(resolution === v), 'data-testid': `chart-${v === '1DAY' ? 'day' : 'month'}` }, l);
          b.addEventListener('click', () => { resolution = v; loadChart(); });
          return b;
        }));
      const title = resolution === '1DAY' ? 'Consumption per day, last 30 days' : 'Consumption per month, last 12 months';
      const headEl = h('div', { class: 'chart-head' }, h('h4', null, title), seg);
      const hadFocus = chartBox.contains(document.activeElement);
      replace(chartBox, headEl, loadingState('Loading consumption…'));
      if (hadFocus) seg.querySelector('[aria-pressed="true"]').focus();
      const to = new Date();
      const from = new Date(to);
      if (resolution === '1DAY') from.setUTCDate(from.getUTCDate() - 30);
      else { from.setUTCMonth(from.getUTCMonth() - 11); from.setUTCDate(1); from.setUTCHours(0, 0, 0, 0); }
      const inv = type.path === 'inverters';
      try {
        const r = await get(dpath('/statistics'), { ...opts, query: { resolution, from: from.toISOString(), to: to.toISOString(), keywords: inv ? 'consumption,production' : 'consumption' } });
        const rows = r.data.data || [];
        const data = rows.map((p) => {
          const d = new Date(p.period.start_period);
          const label = resolution === '1DAY'
            ? d.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' })
            : d.toLocaleDateString(undefined, { month: 'short', year: 'numeric', timeZone: 'UTC' });
          const short = resolution === '1DAY' ? String(d.getUTCDate()) : d.toLocaleDateString(undefined, { month: 'short', timeZone: 'UTC' });
          const values = [p.consumption ? p.consumption.total : 0];
          if (inv) values.push(p.production ? p.production.total : 0);
          return { label, short, values };
        });
        const series = inv ? [{ name: 'consumption' }, { name: 'production', cls: 'prod' }] : [{ name: 'consumption' }];
        replace(chartBox, headEl,
          data.length ? barChart({ data, series, unit: 'kWh', title }) : emptyState('No readings in this period.'));
      } catch (e) {
        if (e.name !== 'AbortError') replace(chartBox, headEl, errorState(e, loadChart));
      }
    }

    async function loadDiagnosis() {
      replace(diagBox, h('h4', null, 'Diagnosis'), loadingState('Diagnosing…'));
      try {
        const r = await get(dpath('/diagnosis'), opts);
        renderDiagnosis(r.data);
      } catch (e) {
        if (e.name !== 'AbortError') replace(diagBox, h('h4', null, 'Diagnosis'), errorState(e, loadDiagnosis));
      }
    }

    const out = h('div', { class: 'link-slot' }); // the last link made stays across re-renders
    function renderDiagnosis(dg) {
      const c = dg.connection || {};
      const healthy = c.status === 'healthy';
      const actions = [];
      const reconnectUrl = c.action_url || device.authorization_url;
      if (reconnectUrl) {
        const b = h('button', { type: 'button', class: 'btn small', 'data-testid': 'copy-reconnect' }, 'Copy reconnection link');
        b.addEventListener('click', () => copyText(reconnectUrl));
        actions.push(b);
      }
      if (canWrite() && !device.deleted_at) {
        const mk = h('button', { type: 'button', class: 'btn small', 'data-testid': 'create-reconnect' }, 'Create reconnection link');
        mk.addEventListener('click', async () => {
          mk.disabled = true;
          try {
            const res = await post(dpath('/auth_session'), linkUrls());
            replace(out, linkResult(user, res.data.authentication_url, res.data.expiration_date, 'Reconnection link'));
            out.querySelector('input').focus();
            toast('Reconnection link created.', 'ok');
          } catch (e) { toastError(e); } finally { mk.disabled = false; }
        });
        actions.push(mk);
        if (!device.is_authenticated && !reconnectUrl) {
          const onb = h('button', { type: 'button', class: 'btn small', 'data-testid': 'diag-onboarding' }, 'Create onboarding link');
          onb.addEventListener('click', () => onboardingDialog(type.code));
          actions.push(onb);
        }
        const reset = h('button', { type: 'button', class: dg.optimization && !dg.optimization.ok ? 'btn small primary' : 'btn small', 'data-testid': 'reset-optimization' }, 'Reset optimization');
        reset.addEventListener('click', async () => {
          reset.disabled = true;
          try {
            const res = await post(dpath('/reset-optimization'));
            device = res.data;
            toast('Optimization reset: smart optimization is on and any pause lifted.', 'ok');
            renderTop();
            loadDiagnosis();
            loadSummary();
            loadAudit();
          } catch (e) { toastError(e); reset.disabled = false; }
        });
        actions.push(reset);
      }
      const checks = (dg.optimization && dg.optimization.checks) || [];
      replace(diagBox,
        h('h4', null, 'Diagnosis'),
        h('p', { 'data-testid': 'diagnosis-connection' },
          healthy ? badge('Connection healthy', 'ok') : badge(c.issue || 'Connection issue', 'danger'),
          c.last_update !== undefined ? h('span', { class: 'muted' }, ` last update ${c.last_update ? fmtAgo(c.last_update) : 'never'}`) : null),
        !healthy && c.resolution ? h('p', null, c.resolution, c.instructions ? `. ${c.instructions}.` : '', c.action ? ` ${c.action}.` : '') : null,
        h('ul', { class: 'checks', 'aria-label': 'Optimization checklist' },
          checks.map((ck) => h('li', { class: ck.passed ? 'pass' : 'fail', 'data-testid': 'diagnosis-check' },
            h('span', { class: 'mark', 'aria-hidden': 'true' }, ck.passed ? '✓' : '✗'),
            h('span', null, h('span', { class: 'visually-hidden' }, ck.passed ? 'Passed: ' : 'Failed: '), ck.title || ck.check,
              ck.passed ? null : h('div', { class: 'res' }, ck.detail ? `${ck.detail} ` : '', ck.resolution || ''))))),
        actions.length ? h('div', { class: 'btn-row' }, actions) : null,
        out);
    }

    renderTop();
    loadChart();
    loadDiagnosis();
    return card;
  }

  // ---------- onboarding ----------
  function onboardingDialog(preType) {
    const urls = linkUrls();
    const err = formErrorSlot();
    const typeF = field({ label: 'Device type', name: 'device_type', type: 'select', value: preType || 'hp', testid: 'onboarding-type',
      options: [{ value: 'hp', label: 'Heat pump' }, { value: 'ev', label: 'Electric vehicle' }, { value: 'iv', label: 'Inverter' }, { value: 'wb', label: 'Wallbox' }] });
    const bF = field({ label: 'Building', name: 'building_id', type: 'select', testid: 'onboarding-building',
      options: [{ value: '', label: 'No building' }, ...buildings.map((b) => ({ value: b.id, label: b.name || b.street_and_number || b.id }))], value: buildings[0] ? buildings[0].id : '' });
    const langF = field({ label: 'Language', name: 'language', type: 'select', value: 'en', options: LANGS.map((l) => ({ value: l, label: l })) });
    const optF = field({ label: 'Smart optimization on by default', name: 'is_smart_optimization_active_default', type: 'checkbox', value: true });
    const sF = field({ label: 'Success URL', name: 'success_url', type: 'url', value: urls.success_url, required: true, hint: 'Where the end-user lands after connecting.' });
    const cF = field({ label: 'Cancel URL', name: 'cancel_url', type: 'url', value: urls.cancel_url, required: true });
    const out = h('div');
    const submit = h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'onboarding-submit' }, 'Create link');
    const form = h('form', { novalidate: true, 'aria-label': 'Onboarding link' }, err, h('div', { class: 'form-grid' }, typeF, bF, langF, optF, sF, cF), h('div', { class: 'form-actions' }, submit), out);
    const dlg = openDialog({ title: 'Create an onboarding link', body: form, wide: true, testid: 'onboarding-dialog' });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      const body = {
        user_id: userId, device_type: typeF.input.value, building_id: bF.input.value || null, language: langF.input.value,
        is_smart_optimization_active_default: optF.input.checked, success_url: sF.input.value.trim(), cancel_url: cF.input.value.trim(),
      };
      try {
        const r = await post(orgPath('/device-onboarding'), body);
        localStorage.setItem('fd-link-urls', JSON.stringify({ success_url: body.success_url, cancel_url: body.cancel_url }));
        replace(out, linkResult(user, r.data.authentication_url, r.data.expiration_date, 'Onboarding link'));
        out.querySelector('input').focus();
        toast('Onboarding link created.', 'ok');
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 401)) showFormError(form, e);
      } finally { submit.disabled = false; }
    });
    return dlg;
  }

  // ---------- audit ----------
  async function loadAudit() {
    if (!canAudit()) {
      replace(auditBox, h('h2', { id: 'aud-h' }, 'History'), h('p', { class: 'muted' }, 'The audit history is visible to staff and admins.'));
      return;
    }
    replace(auditBox, h('h2', { id: 'aud-h' }, 'History'), loadingState('Loading the history…'));
    try {
      // the user's own records and those of each of its devices, merged newest first
      const targets = [['user', userId], ...deviceIds.map((id) => ['device', id])];
      const pages = await Promise.all(targets.map(([tt, id]) => get(orgPath('/audit-log'), { ...opts, query: { target_type: tt, target_id: id, limit: 20 } })));
      const records = pages.flatMap((p) => p.data).sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : (b.id || 0) - (a.id || 0))).slice(0, 40);
      const r = { data: records };
      replace(auditBox,
        h('div', { class: 'card-head' }, h('h2', { id: 'aud-h' }, 'History'),
          h('a', { class: 'btn small', href: `#/audit?target_type=user&target_id=${encodeURIComponent(userId)}` }, 'Open in the audit log')),
        r.data.length ? auditTable(r.data) : emptyState('No recorded changes.'));
    } catch (e) {
      if (e.name !== 'AbortError') replace(auditBox, h('h2', { id: 'aud-h' }, 'History'), errorState(e, loadAudit));
    }
  }

  async function loadAll() {
    const ok = await loadUser();
    if (!ok) return;
    loadSummary();
    loadBuildings();
    loadDevices().then(loadAudit);
  }
  loadAll();
  return () => ctrl.abort();
}
