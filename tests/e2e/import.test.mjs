// Bulk import of a CSV made here (3,000 rows, a few of them invalid): the preview maps the
// file's columns to user fields, a dry run checks every row and changes nothing, the import
// applies the valid rows with its progress followed live, and the report lists the failures,
// whose download holds exactly the bad rows.

import fs from 'node:fs/promises';
import { test, assert } from './lib/e2e.mjs';
import { recordProgress, recordTexts } from './helpers.mjs';

const ROWS = 3000;

// A customer file as a CRM might export it: German headers the app maps to user fields.
function customerCsv(prefix) {
  const header = 'E-Mail,Vorname,Nachname,Stadt,Land';
  const good = [];
  const bad = []; // [line number in the file, the row]
  const lines = [header];
  for (let i = 0; i < ROWS; i++) {
    let row;
    if (i % 250 === 17) row = `${prefix}-${i}-at-example.com,Bad,Email${i},Hamburg,DE`; // no @
    else if (i % 250 === 131) row = `${prefix}-${i}@e2e.example,Bad,Country${i},Wien,AUT`; // 3 letters
    else row = `${prefix}-${i}@e2e.example,Imke,Import${i},Bremen,DE`;
    lines.push(row);
    if (/^Bad,/.test(row.split(',').slice(1).join(','))) bad.push([lines.length, row]);
    else good.push(row);
  }
  return { text: `${lines.join('\n')}\n`, good, bad };
}

// Valid rows only, for a dry run that keeps the job queue busy (it changes nothing).
function blockerCsv(n) {
  const lines = ['email'];
  for (let i = 0; i < n; i++) lines.push(`queue-${i}@e2e.example`);
  return `${lines.join('\n')}\n`;
}

const splitLines = (s) => s.split(/\r?\n/).filter((l) => l !== '');

test('a 3,000-row CSV: preview with mapped columns, dry run, import with live progress, and a report whose failed rows download holds exactly the bad rows',
  { timeout: 90000 },
  async ({ page, signIn, api, unique, screenshot }) => {
    const prefix = unique('imp');
    const csv = customerCsv(prefix);
    assert.equal(csv.bad.length, 24);
    const nGood = ROWS - csv.bad.length;
    const fmt = (n) => n.toLocaleString('en-US');

    await signIn(page, 'staff');
    await page.goto('/#/import');
    await page.getByRole('heading', { level: 1, name: 'Import users' }).waitFor();
    const steps = page.getByRole('list', { name: 'Import steps' });
    assert.equal(await steps.locator('[aria-current=step]').innerText(), '1. Choose a file');

    // ---- the file and its preview: each column mapped to a user field
    await page.getByLabel('CSV or JSON-lines file').setInputFiles({ name: 'customers.csv', mimeType: 'text/csv', buffer: Buffer.from(csv.text) });
    const preview = page.getByRole('table', { name: 'Preview of the first rows' });
    await preview.waitFor();
    const headers = await preview.locator('thead th').allTextContents();
    assert.deepEqual(headers, ['E-Mail', 'Vorname', 'Nachname', 'Stadt', 'Land']);
    const mapping = await preview.getByTestId('mapping-row').getByTestId('column-map').evaluateAll((sels) => sels.map((s) => s.value));
    assert.deepEqual(mapping, ['email', 'first_name', 'last_name', 'town', 'country_iso2']);
    assert.equal(await preview.getByRole('combobox', { name: 'Field for column Nachname' }).inputValue(), 'last_name');
    assert.equal((await page.getByTestId('mapping-problems').innerText()).trim(), '', 'the preview reports mapping problems');
    // the first data rows, as in the file
    assert.equal(await preview.locator('tbody tr').nth(1).locator('td').first().innerText(), `${prefix}-0@e2e.example`);
    assert.equal(await preview.locator('tbody tr').count(), 1 + 10);
    await screenshot(page, 'import-preview', { mask: [page.getByTestId('recent-jobs')] });

    // ---- dry run: every row checked, nothing changed
    const dryTexts = await recordTexts(page, '[data-testid=progress-rate], [data-testid=progress-counts]', '__dryTexts');
    const dryUpload = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('/users/import?'));
    await page.getByRole('button', { name: 'Check every row (dry run)' }).click();
    const dryJob = await (await dryUpload).json();
    assert.equal(dryJob.dry_run, true);
    assert.equal(dryJob.total, ROWS);
    const report = page.getByTestId('import-report');
    const summary = page.getByTestId('import-summary');
    await summary.filter({ hasText: `Dry run succeeded: ${fmt(nGood)} of ${fmt(ROWS)} rows would be applied, ${csv.bad.length} would fail. Nothing was changed.` }).waitFor();
    assert.equal(await steps.locator('[aria-current=step]').innerText(), '4. Report');
    assert.ok((await dryTexts()).some((t) => t.startsWith(`${fmt(ROWS)} of ${fmt(ROWS)} rows · ${csv.bad.length} failed · 100 %`)),
      `the dry run's progress never showed all rows done: ${JSON.stringify(await dryTexts())}`);
    const firstGood = csv.good[0].split(',')[0];
    const probe = await api('GET', `users?search=${encodeURIComponent(firstGood)}`);
    assert.equal(probe.headers['x-total-count'], '0', 'the dry run created users');

    // ---- the import of the valid rows, followed live. The server runs one job at a time, and
    // 3,000 rows take it a fraction of a second, so that the page is surely following when the
    // import starts, another job (a big dry run, sent through the API) holds the queue until the
    // page's import is queued and its event stream is open; then that job is cancelled.
    const blocker = await api('POST', 'users/import?dry_run=true', blockerCsv(120000), { headers: { 'Content-Type': 'text/csv' } });
    assert.equal(blocker.status, 202, `the blocking job: ${blocker.status} ${blocker.text}`);
    const texts = await recordTexts(page, '[data-testid=progress-rate], [data-testid=progress-counts], [data-testid=job-state]', '__importTexts');
    const bars = await recordProgress(page, '__importBars');
    const apply = report.getByRole('button', { name: `Import the ${fmt(nGood)} valid rows` });
    await apply.click();
    const confirm = page.getByRole('alertdialog', { name: 'Import with failing rows?' });
    await confirm.waitFor();
    assert.match(await confirm.innerText(), new RegExp(`${csv.bad.length} rows failed the check`));
    const upload = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('/users/import?'));
    const stream = page.waitForResponse((r) => /\/jobs\/[^/]+\/events$/.test(new URL(r.url()).pathname));
    await confirm.getByRole('button', { name: 'Import' }).click();
    const job = await (await upload).json();
    assert.equal(job.dry_run, false);
    assert.equal(new URL((await stream).url()).pathname.split('/').at(-2), job.id, 'the page follows another job');
    const queued = await api('GET', `jobs/${job.id}`);
    if (queued.body.state === 'queued') {
      // it waits behind the other job, and the page says so
      await page.getByTestId('import-progress').getByTestId('job-state').filter({ hasText: 'queued' }).waitFor();
      await page.getByTestId('progress-rate').filter({ hasText: 'waiting to start…' }).waitFor();
    }
    const cancelled = await api('POST', `jobs/${blocker.body.id}/cancel`);
    assert.ok([202, 409].includes(cancelled.status), `cancel the blocking job: ${cancelled.status} ${cancelled.text}`);
    // the progress view, then the report
    await summary.filter({ hasText: `Import succeeded: ${fmt(nGood)} rows applied, ${csv.bad.length} failed.` }).waitFor({ timeout: 60000 });
    const seen = await texts();
    assert.ok(seen.includes('running'), `the job was never shown running: ${JSON.stringify(seen)}`);
    assert.ok(seen.some((t) => /^[\d,]+ rows\/s · (about .+ left|estimating time left…)$/.test(t)),
      `no rate and time left were shown while the import ran: ${JSON.stringify(seen)}`);
    assert.ok(seen.some((t) => t.startsWith(`${fmt(ROWS)} of ${fmt(ROWS)} rows · ${csv.bad.length} failed · 100 %`)),
      `the progress never reached all rows: ${JSON.stringify(seen)}`);
    // the bar: the upload's, then the import's from 0 up to full
    const values = await bars();
    const importBar = values.filter((v) => v.startsWith('Import progress=')).map((v) => Number(v.split('=')[1].split('/')[0]));
    assert.ok(values.some((v) => v.startsWith('Upload progress=')), `no upload progress bar: ${JSON.stringify(values)}`);
    assert.equal(importBar[0], 0, `the import bar did not start empty: ${JSON.stringify(values)}`);
    assert.equal(importBar.at(-1), 1, `the import bar did not reach the end: ${JSON.stringify(values)}`);
    assert.deepEqual([...importBar].sort((a, b) => a - b), importBar, `the import bar went backwards: ${JSON.stringify(values)}`);

    // ---- the report: counts and the failed rows with their line numbers and errors
    const props = await report.locator('dl.props').innerText();
    assert.match(props, new RegExp(`Rows\\s+${fmt(ROWS)}\\s+Succeeded\\s+${fmt(nGood)}\\s+Failed\\s+${csv.bad.length}`));
    const errors = page.getByRole('table', { name: 'Failed rows' });
    await errors.waitFor();
    const errRows = await errors.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    assert.equal(errRows.length, 20, 'the report lists the first 20 failed rows');
    errRows.forEach(([line, error, row], i) => {
      assert.equal(Number(line), csv.bad[i][0], `failed row ${i}: line`);
      assert.equal(row, csv.bad[i][1], `failed row ${i}: the row as sent`);
      assert.match(error, csv.bad[i][1].includes('-at-') ? /^email: / : /^country_iso2: /);
    });
    await report.getByText(`… and ${csv.bad.length - 20} more in the download.`).waitFor();
    await screenshot(page, 'import-report', {
      fullPage: true,
      mask: [report.locator('dl.props dd:nth-of-type(4), dl.props dd:nth-of-type(5), dl.props dd:nth-of-type(6)'), page.getByTestId('recent-jobs').locator('td.nowrap')],
    });

    // ---- the failed rows download: the header as sent, then exactly the bad rows
    const link = report.getByRole('link', { name: `Download the ${csv.bad.length} failed rows` });
    const downloading = page.waitForEvent('download');
    await link.click();
    const download = await downloading;
    assert.equal(await download.failure(), null);
    const file = splitLines(await fs.readFile(await download.path(), 'utf8'));
    assert.equal(file[0], 'email,first_name,last_name,town,country_iso2', 'the header of the failed rows');
    assert.deepEqual(file.slice(1), csv.bad.map(([, row]) => row));

    // the errors as CSV: one line per failed row (each bad row has one bad field)
    const errDownloading = page.waitForEvent('download');
    await report.getByRole('link', { name: 'Download the errors (CSV)' }).click();
    const errFile = splitLines(await fs.readFile(await (await errDownloading).path(), 'utf8'));
    assert.match(errFile[0], /^line,field,detail,problem/);
    assert.deepEqual(errFile.slice(1).map((l) => Number(l.split(',')[0])), csv.bad.map(([line]) => line));

    // ---- the API: the good rows are users now, the bad ones are not
    for (const row of [csv.good[0], csv.good[csv.good.length - 1]]) {
      const email = row.split(',')[0];
      const r = await api('GET', `users?search=${encodeURIComponent(email)}`);
      assert.equal(r.body.length, 1, `${email} was not imported`);
      assert.deepEqual([r.body[0].first_name, r.body[0].town, r.body[0].country_iso2], ['Imke', 'Bremen', 'DE']);
    }
    const badEmail = csv.bad.find(([, row]) => row.includes('AUT'))[1].split(',')[0];
    assert.equal((await api('GET', `users?search=${encodeURIComponent(badEmail)}`)).body.length, 0, `${badEmail} was imported`);
    const total = await api('GET', `users?search=${encodeURIComponent(prefix)}&limit=1`);
    assert.equal(total.headers['x-total-count'], String(nGood));

    // the report stays reachable by its route (a reload shows the same job's report)
    assert.equal(new URL(page.url().replace('#', '')).searchParams.get('job'), job.id);
    await page.reload();
    await summary.filter({ hasText: `Import succeeded: ${fmt(nGood)} rows applied, ${csv.bad.length} failed.` }).waitFor();
  });
