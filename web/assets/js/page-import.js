// Bulk import: pick a CSV or JSON-lines file, preview its first rows (parsed here) with each column mapped
// to a user field, check every row with a dry-run job, then apply; the job is followed live (Server-Sent
// Events, falling back to the long poll) with rate and ETA, can be cancelled, and ends in a report with the
// failed rows to download. '#/import?job=ID' shows any job of the org.

import { h, replace, fmtNum, fmtBytes, fmtDuration, fmtDateTime, randomHex, uid } from './dom.js';
import { BASE, auth, get, post, orgPath, apiUrl, canWrite, ApiError, describeError } from './api.js';
import { replaceQuery } from './router.js';
import { pageHead, loadingState, errorState, emptyState, toast, toastError, badge, confirmDialog, announce } from './ui.js';
import { parseCsv } from './csv.js';

const FIELDS = ['email', 'external_user_id', 'role', 'first_name', 'last_name', 'street_and_number', 'street_add_info', 'zip_code', 'town', 'country_iso2'];
// Columns the server ignores (an export's read-only columns): a skipped column is renamed to one of these.
const IGNORED = ['id', 'org_id', 'created_at', 'updated_at', 'deleted_at'];
const SYNONYMS = {
  email: ['email', 'emailaddress', 'mail', 'e_mail'], external_user_id: ['externaluserid', 'externalid', 'customerid', 'customernumber', 'customerno', 'kundennummer'],
  role: ['role'], first_name: ['firstname', 'givenname', 'vorname', 'forename'], last_name: ['lastname', 'surname', 'familyname', 'nachname'],
  street_and_number: ['streetandnumber', 'street', 'address', 'strasse', 'streetaddress'], street_add_info: ['streetaddinfo', 'address2', 'addressline2', 'addinfo'],
  zip_code: ['zipcode', 'zip', 'postcode', 'postalcode', 'plz'], town: ['town', 'city', 'ort', 'stadt'], country_iso2: ['countryiso2', 'country', 'countrycode', 'land'],
};
const TERMINAL = ['succeeded', 'failed', 'cancelled'];

function guessField(header) {
  const n = header.trim().toLowerCase().replace(/[^a-z0-9_]/g, '');
  if (FIELDS.includes(header.trim())) return header.trim();
  if (IGNORED.includes(header.trim())) return `ignore:${header.trim()}`;
  const bare = n.replace(/_/g, '');
  for (const [f, syn] of Object.entries(SYNONYMS)) if (syn.includes(bare)) return f;
  return '';
}

function formatOf(file) {
  return /\.(jsonl|ndjson|json)$/i.test(file.name) ? 'jsonl' : 'csv';
}

function csvCell(v) {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function render(root, { query }) {
  const write = canWrite();
  let cleanups = [];
  const stepsEl = h('ol', { class: 'steps', 'aria-label': 'Import steps' });
  const body = h('div');
  const recent = h('section', { class: 'card', 'aria-labelledby': 'recent-h', 'data-testid': 'recent-jobs' });
  replace(root, pageHead('Import users', 'Create or update users from a CSV or JSON-lines file. Rows are matched by external_user_id, else by email.'), stepsEl, body, recent);

  let file = null;
  let format = 'csv';
  let mapping = []; // per CSV column: field name, 'ignore:NAME', or '' (unmapped)
  let headers = [];
  let headerBytes = 0; // bytes of the header record (BOM and line break included)
  let dryJob = null;

  function steps(current) {
    const names = ['Choose a file', 'Check every row', 'Import', 'Report'];
    replace(stepsEl, names.map((n, i) => h('li', { 'aria-current': i === current ? 'step' : null, class: i < current ? 'done' : null }, `${i + 1}. ${n}`)));
  }

  function stopFollowing() {
    for (const c of cleanups) c();
    cleanups = [];
  }

  // ---------- step 1: the file and its preview ----------
  function chooseView() {
    stopFollowing();
    steps(0);
    replaceQuery({});
    const id = uid('import-file');
    const input = h('input', { id, type: 'file', accept: '.csv,.jsonl,.ndjson,.json,text/csv,application/x-ndjson', 'data-testid': 'import-file' });
    const drop = h('div', { class: 'drop', 'data-testid': 'import-drop' },
      h('p', null, h('label', { for: id }, 'CSV or JSON-lines file')),
      input,
      h('p', { class: 'muted' }, 'or drop the file here. CSV needs a header row with email or external_user_id; columns: ', h('code', null, FIELDS.join(', ')), '.'));
    drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (ev) => {
      ev.preventDefault();
      drop.classList.remove('over');
      if (ev.dataTransfer.files[0]) pick(ev.dataTransfer.files[0]);
    });
    input.addEventListener('change', () => { if (input.files[0]) pick(input.files[0]); });
    replace(body, h('div', { class: 'card' }, drop));
  }

  async function pick(f) {
    file = f;
    format = formatOf(f);
    dryJob = null;
    if (f.size === 0) {
      replace(body, h('div', { class: 'notice error', role: 'alert' }, 'The file is empty.'), h('button', { type: 'button', class: 'btn', onclick: chooseView }, 'Choose another file'));
      return;
    }
    replace(body, loadingState('Reading the first rows…'));
    const head = new Uint8Array(await f.slice(0, 3).arrayBuffer());
    const bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
    const text = await f.slice(0, 256 * 1024).text();
    if (format === 'csv') {
      const { records, headerEnd } = parseCsv(text, 11, f.size <= 256 * 1024);
      if (!records.length) {
        replace(body, h('div', { class: 'notice error', role: 'alert' }, 'No header row found in the first 256 KB.'), h('button', { type: 'button', class: 'btn', onclick: chooseView }, 'Choose another file'));
        return;
      }
      headers = records[0];
      headerBytes = bom + new TextEncoder().encode(text.slice(0, headerEnd)).length;
      mapping = headers.map(guessField);
      previewView(records.slice(1));
    } else {
      const lines = text.split(/\r?\n/).filter((l) => l.trim()).slice(0, 10);
      const rows = lines.map((l) => { try { return JSON.parse(l); } catch { return { '(not JSON)': l.slice(0, 80) }; } });
      headers = [...new Set(rows.flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : [])))];
      mapping = headers.map((x) => (FIELDS.includes(x) ? x : ''));
      previewView(rows.map((r) => headers.map((k) => (r && r[k] !== undefined && r[k] !== null ? String(r[k]) : ''))));
    }
  }

  function mappingProblems() {
    const probs = [];
    const used = mapping.filter((m) => m && !m.startsWith('ignore:'));
    if (format === 'csv') {
      mapping.forEach((m, i) => { if (!m) probs.push(`Column "${headers[i]}" is not mapped: pick a field or skip it.`); });
      const dup = used.filter((m, i) => used.indexOf(m) !== i);
      for (const d of new Set(dup)) probs.push(`Two columns map to ${d}.`);
      if (mapping.filter((m) => m.startsWith('ignore:')).length > IGNORED.length) probs.push(`At most ${IGNORED.length} columns can be skipped.`);
    } else {
      headers.forEach((k, i) => { if (!mapping[i] && !IGNORED.includes(k)) probs.push(`Unknown field "${k}": the server will refuse those rows.`); });
    }
    if (!used.includes('email') && !used.includes('external_user_id')) probs.push('The file needs an email or an external_user_id column.');
    return probs;
  }

  /** The file to send: for CSV with a changed header, the new header followed by the file after its header. */
  function uploadBlob() {
    if (format !== 'csv') return file;
    const taken = new Set(mapping.filter((m) => m.startsWith('ignore:') && IGNORED.includes(m.slice(7))).map((m) => m.slice(7)));
    const spare = IGNORED.filter((x) => !taken.has(x));
    const names = mapping.map((m) => {
      if (!m.startsWith('ignore:')) return m;
      const x = m.slice(7);
      return IGNORED.includes(x) ? x : spare.shift();
    });
    const same = names.length === headers.length && names.every((n, i) => n === headers[i]);
    if (same) return file;
    return new Blob([`${names.map(csvCell).join(',')}\r\n`, file.slice(headerBytes)], { type: 'text/csv' });
  }

  function previewView(rows) {
    steps(0);
    const problemsEl = h('div', { class: 'notice warn', role: 'status', 'data-testid': 'mapping-problems' });
    const dryBtn = h('button', { type: 'button', class: 'btn primary', 'data-testid': 'import-dry-run' }, 'Check every row (dry run)');
    const again = h('button', { type: 'button', class: 'btn', onclick: chooseView }, 'Choose another file');
    function refresh() {
      const probs = mappingProblems();
      replace(problemsEl, probs.length ? h('ul', null, probs.map((p) => h('li', null, p))) : null);
      dryBtn.disabled = format === 'csv' && probs.length > 0;
    }
    const mapCells = format === 'csv'
      ? headers.map((hd, i) => {
        const sid = uid('map');
        const sel = h('select', { id: sid, 'data-testid': 'column-map', 'aria-label': `Field for column ${hd}` },
          h('option', { value: '' }, '— choose —'),
          FIELDS.map((f) => h('option', { value: f, selected: mapping[i] === f }, f)),
          h('option', { value: `ignore:${IGNORED.includes(hd) ? hd : ''}`, selected: mapping[i].startsWith('ignore:') }, 'Skip this column'));
        sel.addEventListener('change', () => { mapping[i] = sel.value; refresh(); });
        return h('td', null, sel);
      })
      : headers.map((hd, i) => h('td', null, mapping[i] ? badge(mapping[i], 'ok') : badge('unknown', 'danger')));
    const table = h('table', { class: 'data', 'data-testid': 'import-preview', 'aria-label': 'Preview of the first rows' },
      h('thead', null, h('tr', null, headers.map((hd) => h('th', { scope: 'col' }, hd || '(unnamed)')))),
      h('tbody', null, h('tr', { class: 'selected', 'data-testid': 'mapping-row' }, mapCells),
        rows.length ? rows.map((r) => h('tr', null, headers.map((_, i) => h('td', null, r[i] ?? '')))) : h('tr', null, h('td', { colspan: Math.max(1, headers.length) }, 'No data rows in the first 256 KB.'))));
    dryBtn.addEventListener('click', () => startJob(true));
    replace(body,
      h('div', { class: 'card' },
        h('div', { class: 'card-head' }, h('h2', null, `Preview of ${file.name}`), h('span', { class: 'muted' }, `${fmtBytes(file.size)} · ${format.toUpperCase()} · first ${rows.length} rows`)),
        h('p', { class: 'muted' }, format === 'csv' ? 'The first row of the table maps each column of the file to a user field. Empty cells leave a field unchanged.' : 'Each line is a user object; its keys must be user fields.'),
        problemsEl,
        h('div', { class: 'table-wrap' }, table),
        h('div', { class: 'form-actions' }, again, dryBtn)));
    refresh();
    dryBtn.focus();
  }

  // ---------- steps 2–4: upload, follow, report ----------
  function upload(blob, dryRun, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `${BASE}${orgPath('/users/import')}?format=${format}${dryRun ? '&dry_run=true' : ''}`);
      xhr.setRequestHeader('Content-Type', format === 'csv' ? 'text/csv' : 'application/x-ndjson');
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.setRequestHeader('Idempotency-Key', randomHex(16));
      if (auth.session && auth.session.csrf_token) xhr.setRequestHeader('X-CSRF-Token', auth.session.csrf_token);
      xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) onProgress(ev.loaded / ev.total); };
      xhr.onerror = () => reject(new ApiError(0, { title: 'Network error', detail: 'The upload failed. Check your connection and try again.' }));
      xhr.onabort = () => reject(new DOMException('aborted', 'AbortError'));
      xhr.onload = () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch { data = null; }
        if (xhr.status >= 200 && xhr.status < 300) { resolve(data); return; }
        const headersObj = new Headers();
        const ra = xhr.getResponseHeader('Retry-After');
        if (ra) headersObj.set('Retry-After', ra);
        const err = new ApiError(xhr.status, data || { title: xhr.statusText }, headersObj);
        if (xhr.status === 401 && auth.onUnauthorized) auth.onUnauthorized(err);
        reject(err);
      };
      xhr.send(blob);
      cleanups.push(() => { if (xhr.readyState !== 4) xhr.abort(); });
    });
  }

  async function startJob(dryRun) {
    stopFollowing();
    steps(dryRun ? 1 : 2);
    const bar = h('progress', { max: '1', value: '0', 'aria-label': 'Upload progress', 'data-testid': 'upload-progress' });
    const text = h('span', { role: 'status' }, 'Uploading…');
    const cancelBtn = h('button', { type: 'button', class: 'btn' }, 'Cancel upload');
    replace(body, h('div', { class: 'card' }, h('h2', null, dryRun ? 'Checking every row' : 'Importing'), h('div', { class: 'progress-block' }, bar, h('div', { class: 'progress-meta' }, text)), cancelBtn));
    cancelBtn.addEventListener('click', () => stopFollowing());
    let job;
    try {
      job = await upload(uploadBlob(), dryRun, (p) => { bar.value = p; text.textContent = `Uploading ${file.name}: ${Math.round(p * 100)} %`; });
    } catch (e) {
      if (e.name === 'AbortError') { toast('Upload cancelled.'); previewAgain(); return; }
      if (e instanceof ApiError && e.status === 401) return;
      replace(body, h('div', { class: 'card' },
        h('div', { class: 'notice error', role: 'alert', 'data-testid': 'import-error' }, h('p', null, describeError(e)),
          e instanceof ApiError && e.fieldErrors.length ? h('ul', null, e.fieldErrors.map((x) => h('li', null, `${x.field || x.pointer}: ${x.detail}`))) : null),
        h('div', { class: 'btn-row' }, h('button', { type: 'button', class: 'btn', onclick: previewAgain }, 'Back to the preview'), h('button', { type: 'button', class: 'btn', onclick: chooseView }, 'Choose another file'))));
      return;
    }
    if (dryRun) dryJob = job;
    followView(job);
  }

  function previewAgain() {
    if (file) pick(file); else chooseView();
  }

  function followView(job0) {
    stopFollowing();
    replaceQuery({ job: job0.id });
    steps(job0.dry_run ? 1 : 2);
    const bar = h('progress', { max: '1', value: '0', 'aria-label': job0.dry_run ? 'Dry run progress' : 'Import progress' });
    const counts = h('span', { 'data-testid': 'progress-counts' });
    const rate = h('span', { 'data-testid': 'progress-rate' });
    const live = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
    const stateB = h('span');
    const cancel = write ? h('button', { type: 'button', class: 'btn danger', 'data-testid': 'import-cancel' }, 'Cancel job') : null;
    const card = h('div', { class: 'card', 'data-testid': 'import-progress' },
      h('div', { class: 'card-head' }, h('h2', null, job0.dry_run ? 'Checking every row (dry run)' : 'Importing'), stateB),
      h('div', { class: 'progress-block' }, bar, h('div', { class: 'progress-meta' }, counts, rate)), live,
      cancel ? h('div', { class: 'btn-row' }, cancel) : null);
    replace(body, card);
    let lastAnnounce = 0;
    let done = false;

    function update(job) {
      if (done) return;
      bar.value = job.progress || (TERMINAL.includes(job.state) && job.state === 'succeeded' ? 1 : 0);
      bar.setAttribute('aria-valuetext', `${Math.round((job.progress || 0) * 100)} percent`);
      replace(stateB, badge(job.state, job.state === 'failed' ? 'danger' : job.state === 'succeeded' ? 'ok' : 'info', 'job-state'));
      counts.textContent = `${fmtNum(job.processed)} of ${job.total === null || job.total === undefined ? '?' : fmtNum(job.total)} rows · ${fmtNum(job.failed)} failed · ${Math.round((job.progress || 0) * 100)} %`;
      rate.textContent = job.state === 'running'
        ? `${fmtNum(Math.round(job.rate_per_second || 0))} rows/s · ${job.eta_seconds === null || job.eta_seconds === undefined ? 'estimating time left…' : `about ${fmtDuration(job.eta_seconds)} left`}`
        : (job.state === 'queued' ? 'waiting to start…' : '');
      if (Date.now() - lastAnnounce > 5000) {
        lastAnnounce = Date.now();
        live.textContent = `${Math.round((job.progress || 0) * 100)} percent, ${fmtNum(job.failed)} failed`;
      }
      if (TERMINAL.includes(job.state)) {
        done = true;
        stopFollowing();
        reportView(job);
      }
    }
    update(job0);
    if (cancel) {
      cancel.addEventListener('click', async () => {
        if (!await confirmDialog({ title: 'Cancel this job?', message: 'It stops before its next batch. What was already applied stays applied.', confirmLabel: 'Cancel job', danger: true })) return;
        cancel.disabled = true;
        try {
          await post(orgPath(`/jobs/${encodeURIComponent(job0.id)}/cancel`));
          toast('Cancelling: the job stops before its next batch.');
        } catch (e) { toastError(e); cancel.disabled = false; }
      });
    }
    if (!TERMINAL.includes(job0.state)) follow(job0, update);
  }

  /** Follow a job: SSE first; on any stream error, the long poll. */
  function follow(job0, update) {
    let stopped = false;
    let version = job0.version || 0;
    cleanups.push(() => { stopped = true; });
    const onJob = (j) => { if (!stopped) { version = j.version || version; update(j); } };
    if (typeof EventSource === 'function') {
      const es = new EventSource(`${BASE}${orgPath(`/jobs/${encodeURIComponent(job0.id)}/events`)}`);
      let ended = false;
      const close = () => es.close();
      cleanups.push(close);
      es.addEventListener('progress', (ev) => { try { onJob(JSON.parse(ev.data)); } catch { /* ignore */ } });
      es.addEventListener('end', (ev) => {
        ended = true;
        es.close();
        try { onJob(JSON.parse(ev.data)); } catch { longPoll(); }
      });
      es.onerror = () => {
        if (ended || stopped) return;
        es.close();
        longPoll();
      };
      return;
    }
    longPoll();

    async function longPoll() {
      let delay = 500;
      while (!stopped) {
        try {
          const r = await get(orgPath(`/jobs/${encodeURIComponent(job0.id)}`), { query: { wait: 25, after: version } });
          delay = 500;
          onJob(r.data);
          if (TERMINAL.includes(r.data.state)) return;
        } catch (e) {
          if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404)) {
            if (e.status !== 401) toastError(e);
            return;
          }
          await new Promise((res) => setTimeout(res, (e.retryAfter ? e.retryAfter * 1000 : delay)));
          delay = Math.min(delay * 2, 10000);
        }
      }
    }
  }

  async function reportView(job) {
    steps(3);
    replaceQuery({ job: job.id });
    const dry = job.dry_run;
    const errorsBox = h('div', null, job.failed ? loadingState('Loading the failed rows…') : null);
    const actions = [];
    if (job.failed > 0) {
      actions.push(h('a', { class: 'btn', href: apiUrl(orgPath(`/jobs/${encodeURIComponent(job.id)}/failed-rows`)), download: '', 'data-testid': 'failed-rows-link' }, `Download the ${fmtNum(job.failed)} failed rows`));
      actions.push(h('a', { class: 'btn', href: apiUrl(orgPath(`/jobs/${encodeURIComponent(job.id)}/errors`), { format: 'csv' }), download: '', 'data-testid': 'errors-csv-link' }, 'Download the errors (CSV)'));
    }
    const canApply = dry && job.state === 'succeeded' && file && dryJob && dryJob.id === job.id && write;
    if (canApply) {
      const ok = job.total - job.failed;
      const apply = h('button', { type: 'button', class: 'btn primary', 'data-testid': 'import-apply' }, job.failed ? `Import the ${fmtNum(ok)} valid rows` : `Import ${fmtNum(job.total)} rows`);
      apply.addEventListener('click', async () => {
        if (job.failed && !await confirmDialog({ title: 'Import with failing rows?', message: `${fmtNum(job.failed)} rows failed the check and will fail again; the other ${fmtNum(ok)} will be applied.`, confirmLabel: 'Import' })) return;
        startJob(false);
      });
      actions.push(apply);
    }
    actions.push(h('button', { type: 'button', class: 'btn', onclick: chooseView, 'data-testid': 'import-new' }, 'Import another file'));
    const kind = job.state === 'succeeded' ? (job.failed ? 'warn' : 'ok') : 'error';
    const headline = dry
      ? `Dry run ${job.state}: ${fmtNum(job.total - job.failed)} of ${fmtNum(job.total)} rows would be applied, ${fmtNum(job.failed)} would fail. Nothing was changed.`
      : `Import ${job.state}: ${fmtNum(job.succeeded)} rows applied, ${fmtNum(job.failed)} failed${job.state === 'cancelled' ? `, ${fmtNum(job.total - job.processed)} not processed` : ''}.`;
    replace(body, h('div', { class: 'card', 'data-testid': 'import-report' },
      h('h2', { tabindex: '-1' }, dry ? 'Check result' : 'Import report'),
      h('div', { class: `notice ${kind}`, role: 'status', 'data-testid': 'import-summary' }, headline, job.error ? ` ${job.error}` : ''),
      h('dl', { class: 'props' },
        h('dt', null, 'Rows'), h('dd', null, fmtNum(job.total)),
        h('dt', null, dry ? 'Would succeed' : 'Succeeded'), h('dd', null, fmtNum(job.succeeded)),
        h('dt', null, 'Failed'), h('dd', null, fmtNum(job.failed)),
        h('dt', null, 'Started'), h('dd', null, fmtDateTime(job.started_at)),
        h('dt', null, 'Finished'), h('dd', null, fmtDateTime(job.finished_at)),
        job.rate_per_second ? [h('dt', null, 'Rate'), h('dd', null, `${fmtNum(Math.round(job.rate_per_second))} rows/s`)] : null),
      errorsBox,
      h('div', { class: 'form-actions' }, actions)));
    body.querySelector('h2').focus();
    announce(headline);
    loadRecent();
    if (job.failed > 0) {
      try {
        const r = await get(orgPath(`/jobs/${encodeURIComponent(job.id)}/errors`), { query: { limit: 20 } });
        replace(errorsBox, h('h3', null, 'First failed rows'),
          h('div', { class: 'table-wrap' }, h('table', { class: 'data', 'data-testid': 'import-errors', 'aria-label': 'Failed rows' },
            h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Error'), h('th', { scope: 'col' }, 'Row'))),
            h('tbody', null, r.data.map((x) => h('tr', null,
              h('td', { class: 'num' }, String(x.line)),
              h('td', null, x.error ? (x.error.errors && x.error.errors.length ? x.error.errors.map((fe) => `${fe.field || fe.pointer}: ${fe.detail}`).join('; ') : (x.error.detail || x.error.title)) : ''),
              h('td', { class: 'mono truncate', title: typeof x.row === 'string' ? x.row : JSON.stringify(x.row) }, typeof x.row === 'string' ? x.row : JSON.stringify(x.row))))))),
          job.failed > 20 ? h('p', { class: 'muted' }, `… and ${fmtNum(job.failed - 20)} more in the download.`) : null);
      } catch (e) {
        replace(errorsBox, errorState(e));
      }
    }
  }

  async function showJob(id) {
    replace(body, loadingState('Loading the job…'));
    try {
      const r = await get(orgPath(`/jobs/${encodeURIComponent(id)}`));
      if (TERMINAL.includes(r.data.state)) reportView(r.data);
      else followView(r.data);
    } catch (e) {
      replace(body, errorState(e, () => showJob(id)), h('button', { type: 'button', class: 'btn', onclick: chooseView }, 'Start a new import'));
    }
  }

  async function loadRecent() {
    replace(recent, h('h2', { id: 'recent-h' }, 'Recent jobs'), loadingState());
    try {
      const r = await get(orgPath('/jobs'), { query: { limit: 10 } });
      replace(recent, h('h2', { id: 'recent-h' }, 'Recent jobs'),
        r.data.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data', 'aria-label': 'Recent jobs' },
          h('thead', null, h('tr', null, ['Kind', 'State', 'Rows', 'Failed', 'Created', ''].map((x) => h('th', { scope: 'col' }, x || h('span', { class: 'visually-hidden' }, 'Actions'))))),
          h('tbody', null, r.data.map((j) => {
            const view = h('button', { type: 'button', class: 'btn small', 'aria-label': `View job ${j.kind} of ${fmtDateTime(j.created_at)}` }, 'View');
            view.addEventListener('click', () => { window.scrollTo(0, 0); showJob(j.id); });
            return h('tr', { 'data-testid': 'job-row' }, h('td', null, j.kind, j.dry_run ? ' (dry run)' : ''),
              h('td', null, badge(j.state, j.state === 'failed' ? 'danger' : j.state === 'succeeded' ? 'ok' : 'info')),
              h('td', { class: 'num' }, fmtNum(j.total)), h('td', { class: 'num' }, fmtNum(j.failed)),
              h('td', { class: 'nowrap' }, fmtDateTime(j.created_at)), h('td', null, view));
          })))) : emptyState('No jobs yet.'));
    } catch (e) {
      replace(recent, h('h2', { id: 'recent-h' }, 'Recent jobs'), errorState(e, loadRecent));
    }
  }

  if (query.get('job')) showJob(query.get('job'));
  else chooseView();
  loadRecent();
  return () => stopFollowing();
}
