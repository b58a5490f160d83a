// Shared widgets: toasts (aria-live), modal dialogs (native <dialog>, focus returned to the opener),
// confirmations, form fields with inline errors, badges, copy buttons, loading/empty/error states, paging.

import { h, clear, uid } from './dom.js';
import { describeError, ApiError } from './api.js';

// ---------- toasts ----------

/** A transient message, read out by screen readers (the container is aria-live). kind: info|ok|error. */
export function toast(message, kind = 'info', ms = 6000) {
  const box = document.getElementById('toasts');
  const t = h('div', { class: `toast ${kind}`, 'data-testid': 'toast', role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'msg' }, message),
    h('button', { type: 'button', 'aria-label': 'Dismiss notification', onclick: () => t.remove() }, '×'));
  box.appendChild(t);
  if (ms) setTimeout(() => t.remove(), kind === 'error' ? ms * 2 : ms);
  return t;
}

export function toastError(err) {
  if (err && err.name === 'AbortError') return;
  if (err instanceof ApiError && err.status === 401) return; // the sign-in form takes over
  toast(describeError(err), 'error');
}

/** Announce a short status to screen readers without a visible toast. */
export function announce(message) {
  const el = document.getElementById('alerts');
  el.textContent = '';
  setTimeout(() => { el.textContent = message; }, 50);
}

// ---------- dialogs ----------

/**
 * A modal dialog. body: Node or array of nodes; actions: nodes for the footer.
 * Returns {el, body, foot, close(value)}; the promise `done` resolves with the close value.
 * Focus goes to the first [autofocus] or form control, and back to the opener when it closes.
 */
export function openDialog({ title, body, actions = [], wide = false, testid, onClose, describedBy }) {
  const opener = document.activeElement;
  const titleId = uid('dlg-title');
  const bodyEl = h('div', { class: 'dlg-body' }, body);
  const foot = h('div', { class: 'dlg-foot' }, actions);
  const el = h('dialog', { class: wide ? 'dlg wide' : 'dlg', 'aria-labelledby': titleId, 'aria-describedby': describedBy, 'data-testid': testid },
    h('div', { class: 'dlg-head' },
      h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close dialog', onclick: () => close(null) }, '×')),
    bodyEl,
    actions.length ? foot : null);
  let result = null;
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  function close(value) {
    result = value;
    if (el.open) el.close();
  }
  el.addEventListener('close', () => {
    el.remove();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
    if (onClose) onClose(result);
    resolveDone(result);
  });
  document.body.appendChild(el);
  el.showModal();
  const first = el.querySelector('[autofocus]') || bodyEl.querySelector('input:not([type=hidden]):not([disabled]), select, textarea') || foot.querySelector('button') || el.querySelector('button');
  if (first) first.focus();
  return { el, body: bodyEl, foot, close, done };
}

/** Ask for confirmation; resolves true or false. */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = false }) {
  const msgId = uid('dlg-msg');
  const ok = h('button', { type: 'button', class: danger ? 'btn danger' : 'btn primary', 'data-testid': 'confirm-ok' }, confirmLabel);
  const cancel = h('button', { type: 'button', class: 'btn', 'data-testid': 'confirm-cancel', autofocus: !danger ? null : true }, 'Cancel');
  const d = openDialog({
    title,
    body: h('p', { id: msgId }, message),
    actions: [cancel, ok],
    testid: 'confirm-dialog',
    describedBy: msgId,
  });
  d.el.setAttribute('role', 'alertdialog');
  ok.addEventListener('click', () => d.close(true));
  cancel.addEventListener('click', () => d.close(false));
  if (!danger) ok.focus();
  return d.done.then((v) => v === true);
}

// ---------- form fields ----------

/**
 * A labelled form control with a hint and an inline error slot (both tied with aria-describedby).
 * opts: label, name, type (text|email|password|select|checkbox|textarea|number|search|datetime-local),
 *       value, options ([{value, label}] for select), required, hint, autocomplete, testid, attrs.
 * Returns the wrapper; wrapper.input is the control, wrapper.error the error element.
 */
export function field(opts) {
  const id = opts.id || uid(`f-${opts.name || 'x'}`);
  const errId = `${id}-err`;
  const hintId = opts.hint ? `${id}-hint` : null;
  let input;
  const common = {
    id, name: opts.name, required: opts.required || null, 'aria-describedby': [hintId, errId].filter(Boolean).join(' '),
    'data-testid': opts.testid, autocomplete: opts.autocomplete, disabled: opts.disabled || null, ...(opts.attrs || {}),
  };
  if (opts.type === 'select') {
    input = h('select', common, (opts.options || []).map((o) => h('option', { value: o.value, selected: String(o.value) === String(opts.value ?? '') }, o.label)));
  } else if (opts.type === 'textarea') {
    input = h('textarea', { ...common, rows: opts.rows || 3 });
    input.value = opts.value ?? '';
  } else if (opts.type === 'checkbox') {
    input = h('input', { ...common, type: 'checkbox', checked: !!opts.value });
    const err = h('div', { class: 'field-error', id: errId });
    const wrap = h('div', { class: `field ${opts.class || ''}` },
      h('label', { class: 'check', for: id }, input, opts.label),
      opts.hint ? h('div', { class: 'hint', id: hintId }, opts.hint) : null, err);
    wrap.input = input;
    wrap.error = err;
    return wrap;
  } else {
    input = h('input', { ...common, type: opts.type || 'text', placeholder: opts.placeholder });
    input.value = opts.value ?? '';
  }
  const err = h('div', { class: 'field-error', id: errId });
  const wrap = h('div', { class: `field ${opts.class || ''}` },
    h('label', { for: id }, opts.label, opts.required ? h('span', { 'aria-hidden': 'true' }, ' *') : null),
    input,
    opts.hint ? h('div', { class: 'hint', id: hintId }, opts.hint) : null,
    err);
  wrap.input = input;
  wrap.error = err;
  return wrap;
}

export function clearFieldErrors(form) {
  form.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute('aria-invalid'));
  form.querySelectorAll('.field-error').forEach((el) => { el.textContent = ''; });
  const gen = form.querySelector('[data-role="form-error"]');
  if (gen) clear(gen);
}

/** The field name an API error entry names: 'email' from {field:'email'} or {pointer:'/items/0/data/email'}. */
export function errorFieldName(e) {
  if (e.field) return String(e.field).split('/').pop();
  if (e.pointer) return String(e.pointer).split('/').pop();
  return null;
}

/**
 * Show a failed request's problem on a form: each errors[] entry next to its field (aria-invalid, text),
 * the rest in the form's [data-role=form-error] notice. Focuses the first invalid field.
 */
export function showFormError(form, err) {
  clearFieldErrors(form);
  const general = form.querySelector('[data-role="form-error"]');
  const leftovers = [];
  let first = null;
  const entries = err instanceof ApiError ? err.fieldErrors : [];
  for (const e of entries) {
    const name = errorFieldName(e);
    const input = name ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      const slot = document.getElementById(`${input.id}-err`);
      if (slot) slot.textContent = slot.textContent ? `${slot.textContent}; ${e.detail}` : e.detail;
      if (!first) first = input;
    } else {
      leftovers.push(`${e.field || e.pointer || 'request'}: ${e.detail}`);
    }
  }
  if (general) {
    const head = entries.length && !leftovers.length ? (err.problem.detail || 'Please correct the highlighted fields.') : describeError(err);
    general.appendChild(h('p', null, head));
    if (leftovers.length) general.appendChild(h('ul', null, leftovers.map((l) => h('li', null, l))));
  }
  if (first) first.focus();
  else if (general) general.focus();
}

export function formErrorSlot() {
  return h('div', { class: 'notice error', role: 'alert', tabindex: '-1', 'data-role': 'form-error', 'data-testid': 'form-error' });
}

// ---------- small widgets ----------

export function badge(text, kind = '', testid = 'badge') {
  return h('span', { class: `badge ${kind}`, 'data-testid': testid }, text);
}

/** A read-only text box with a Copy button (for one-time secrets and links). */
export function secretBox({ label, value, testid, copyLabel = 'Copy' }) {
  const id = uid('secret');
  const input = h('input', { id, type: 'text', readonly: true, value, 'data-testid': testid, spellcheck: 'false' });
  input.addEventListener('focus', () => input.select());
  const btn = h('button', { type: 'button', class: 'btn', 'data-testid': testid ? `${testid}-copy` : 'copy', 'aria-label': `${copyLabel}: ${label}` }, copyLabel);
  btn.addEventListener('click', () => copyText(value, input));
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('div', { class: 'secret' }, input, btn));
}

export async function copyText(text, inputToSelect) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      toast('Copied to the clipboard.', 'ok', 3000);
      return true;
    }
  } catch { /* fall through */ }
  if (inputToSelect) {
    inputToSelect.focus();
    inputToSelect.select();
    try {
      if (document.execCommand('copy')) {
        toast('Copied to the clipboard.', 'ok', 3000);
        return true;
      }
    } catch { /* ignore */ }
  }
  toast('Copying is blocked here: the text is selected, press Ctrl+C (⌘C) to copy it.', 'info');
  return false;
}

export function loadingState(text = 'Loading…') {
  return h('div', { class: 'state', role: 'status', 'data-testid': 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function emptyState(text, action) {
  return h('div', { class: 'state', 'data-testid': 'empty' }, h('p', null, text), action || null);
}

export function errorState(err, retry) {
  return h('div', { class: 'state error', role: 'alert', 'data-testid': 'error' },
    h('p', null, describeError(err)),
    retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, 'Try again') : null);
}

/** A table cell state spanning cols columns. */
export function rowState(cols, node) {
  return h('tr', null, h('td', { colspan: cols }, node));
}

/**
 * A sortable column header. sort is the current key ('email' or '-email'); onSort(newSort) is called.
 * aria-sort is set on the <th>; the button names the action.
 */
export function sortHeader(label, key, sort, onSort, cls) {
  const desc = sort === `-${key}`;
  const asc = sort === key;
  const th = h('th', { scope: 'col', class: cls, 'aria-sort': asc ? 'ascending' : desc ? 'descending' : 'none' });
  const btn = h('button', { type: 'button', class: 'sort', 'data-testid': `sort-${key}` },
    label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, desc ? '▼' : asc ? '▲' : '↕'),
    h('span', { class: 'visually-hidden' }, asc ? ', sorted ascending' : desc ? ', sorted descending' : ', not sorted'));
  btn.addEventListener('click', () => onSort(asc ? `-${key}` : key));
  th.appendChild(btn);
  return th;
}

/** Cursor paging controls: Previous / Next and a summary text. */
export function pager({ text, hasPrev, hasNext, onPrev, onNext, testid = 'pager' }) {
  return h('nav', { class: 'pager', 'aria-label': 'Pages', 'data-testid': testid },
    h('span', { class: 'muted', role: 'status' }, text),
    h('div', { class: 'btn-row' },
      h('button', { type: 'button', class: 'btn small', disabled: !hasPrev, onclick: onPrev, 'data-testid': 'page-prev' }, '← Previous'),
      h('button', { type: 'button', class: 'btn small', disabled: !hasNext, onclick: onNext, 'data-testid': 'page-next' }, 'Next →')));
}

/**
 * Keeps a cursor stack for keyset paging: page(0) has cursor null; next() pushes, prev() pops.
 */
export class CursorPager {
  constructor() { this.reset(); }
  reset() { this.stack = [null]; this.nextCursor = null; }
  get current() { return this.stack[this.stack.length - 1]; }
  get index() { return this.stack.length - 1; }
  get hasPrev() { return this.stack.length > 1; }
  get hasNext() { return !!this.nextCursor; }
  next() { if (this.nextCursor) this.stack.push(this.nextCursor); }
  prev() { if (this.stack.length > 1) this.stack.pop(); }
}

export function pageHead(title, sub, actions) {
  return h('div', { class: 'page-head' },
    h('div', null, h('h1', { tabindex: '-1', 'data-testid': 'page-title' }, title), sub ? h('p', { class: 'sub' }, sub) : null),
    actions ? h('div', { class: 'page-actions' }, actions) : null);
}
