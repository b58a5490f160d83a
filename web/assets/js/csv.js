// CSV: writing (RFC 4180, CRLF, the spreadsheet-formula guard the server uses too) and parsing the first
// records of a file for the import preview.

function cell(v) {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(columns, rows) {
  const out = [columns.map(cell).join(',')];
  for (const r of rows) out.push(r.map(cell).join(','));
  return `${out.join('\r\n')}\r\n`;
}

/**
 * Parse up to maxRecords RFC 4180 records from text (which may be cut mid-record: the last, incomplete
 * record is dropped unless complete is true). Returns {records: string[][], headerEnd} where headerEnd is
 * the character offset just after the first record's line break.
 */
export function parseCsv(text, maxRecords = 50, complete = false) {
  const records = [];
  let rec = [];
  let f = '';
  let i = 0;
  let inQ = false;
  let headerEnd = -1;
  let recStart = 0;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  while (i < n && records.length < maxRecords) {
    const c = text[i];
    if (inQ) {
      if (c === '"') {
        if (text[i + 1] === '"') { f += '"'; i += 2; continue; }
        inQ = false; i += 1; continue;
      }
      f += c; i += 1; continue;
    }
    if (c === '"' && f === '') { inQ = true; i += 1; continue; }
    if (c === ',') { rec.push(f); f = ''; i += 1; continue; }
    if (c === '\r' || c === '\n') {
      rec.push(f);
      f = '';
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      i += 1;
      if (!(rec.length === 1 && rec[0] === '')) records.push(rec);
      if (headerEnd < 0) headerEnd = i;
      rec = [];
      recStart = i;
      continue;
    }
    f += c;
    i += 1;
  }
  if (complete && records.length < maxRecords && (f !== '' || rec.length)) {
    rec.push(f);
    records.push(rec);
    if (headerEnd < 0) headerEnd = n;
  }
  return { records, headerEnd, consumed: recStart };
}

/** Count the lines of a Blob in chunks (an estimate of the rows, for the preview's "about N rows"). */
export async function countLines(blob, onProgress) {
  const reader = blob.stream().getReader();
  let count = 0;
  let seen = 0;
  let last = 10;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (let k = 0; k < value.length; k += 1) if (value[k] === 10) count += 1;
    seen += value.length;
    if (value.length) last = value[value.length - 1];
    if (onProgress) onProgress(seen / blob.size);
  }
  if (blob.size && last !== 10) count += 1;
  return count;
}
