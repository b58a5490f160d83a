// Accepting an invitation (no session): look the token up, show the email and org, set a password
// (inline error), then go to the sign-in form.

import { h, replace, fmtDateTime } from './dom.js';
import { post, ApiError, describeError } from './api.js';
import { field, loadingState, showFormError, formErrorSlot, clearFieldErrors } from './ui.js';

export function render(app, { token }) {
  document.title = 'Accept invitation · fleetdesk';
  const card = h('div', { class: 'auth-card', 'data-testid': 'invite-page' });
  replace(app, h('main', { class: 'auth-page', id: 'main', tabindex: '-1' }, card));
  const brand = () => h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'f'), 'fleetdesk');
  const toSignIn = () => { location.hash = '#/users'; };
  replace(card, brand(), h('h1', null, 'Accept invitation'), loadingState('Checking the invitation…'));

  async function lookup() {
    try {
      const r = await post('/invites/lookup', { token }, { noAuthRedirect: true });
      showForm(r.data);
    } catch (e) {
      const gone = e instanceof ApiError && e.status === 404;
      replace(card, brand(), h('h1', { tabindex: '-1' }, 'Invitation not valid'),
        h('div', { class: 'notice error', role: 'alert', 'data-testid': 'invite-error' },
          gone ? 'This invitation link is unknown, already used, revoked or expired. Ask an admin of your team for a new one.' : describeError(e)),
        h('button', { type: 'button', class: 'btn', onclick: toSignIn }, 'Go to sign-in'));
      card.querySelector('h1').focus();
    }
  }

  function showForm(inv) {
    const err = formErrorSlot();
    const pw = field({ label: 'Choose a password', name: 'password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 12 characters.', testid: 'invite-password' });
    const pw2 = field({ label: 'Repeat the password', name: 'password_repeat', type: 'password', required: true, autocomplete: 'new-password', testid: 'invite-password-repeat' });
    const submit = h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'invite-accept' }, 'Set password and join');
    const form = h('form', { novalidate: true, 'aria-labelledby': 'invite-title' },
      h('input', { type: 'email', name: 'username', autocomplete: 'username', value: inv.email, hidden: true, readonly: true }),
      err, pw, pw2, submit);
    replace(card, brand(), h('h1', { id: 'invite-title', tabindex: '-1' }, `Join ${inv.org_name}`),
      h('dl', { class: 'props', 'data-testid': 'invite-details' },
        h('dt', null, 'Email'), h('dd', { 'data-testid': 'invite-email' }, inv.email),
        h('dt', null, 'Organisation'), h('dd', { 'data-testid': 'invite-org' }, inv.org_name),
        h('dt', null, 'Role'), h('dd', null, inv.role),
        h('dt', null, 'Expires'), h('dd', null, fmtDateTime(inv.expires_at))),
      h('p'), form);
    pw.input.focus();
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      if (pw.input.value.length < 12) {
        showFormError(form, new ApiError(422, { detail: 'Please choose a longer password.', errors: [{ field: 'password', detail: 'must be at least 12 characters' }] }));
        return;
      }
      if (pw.input.value !== pw2.input.value) {
        showFormError(form, new ApiError(422, { detail: 'The passwords differ.', errors: [{ field: 'password_repeat', detail: 'does not match the password' }] }));
        return;
      }
      submit.disabled = true;
      try {
        await post('/invites/accept', { token, password: pw.input.value }, { noAuthRedirect: true });
        sessionStorage.setItem('fd-last-email', inv.email);
        const go = h('button', { type: 'button', class: 'btn primary', 'data-testid': 'invite-signin' }, 'Go to sign-in');
        go.addEventListener('click', toSignIn);
        replace(card, brand(), h('h1', { tabindex: '-1' }, 'You are in'),
          h('div', { class: 'notice ok', role: 'status', 'data-testid': 'invite-done' }, `Your account ${inv.email} is ready. Sign in with your new password.`), go);
        go.focus();
      } catch (e) {
        submit.disabled = false;
        if (e instanceof ApiError && e.status === 404) lookup();
        else showFormError(form, e);
      }
    });
  }

  lookup();
  return null;
}
