// Device status derived from the device's fields, the same rules as the server's fleet flags:
// not authenticated, stale (no state for more than 2 hours, or never), optimization off (off or paused).

import { h } from './dom.js';
import { badge } from './ui.js';

const STALE_MS = 2 * 3600 * 1000;

export function isStale(d) {
  if (!d.current_state_last_updated_at) return true;
  return Date.now() - new Date(d.current_state_last_updated_at).getTime() > STALE_MS;
}

export function optimizationOff(d) {
  return !d.is_smart_optimization_active || !!d.is_pause_power_active;
}

/** The attention reasons: the server's `attention` list when it has one (fleet view), else derived. */
export function attentionOf(d) {
  if (Array.isArray(d.attention)) return d.attention;
  const a = [];
  if (!d.is_authenticated) a.push('not_authenticated');
  if (optimizationOff(d)) a.push('optimization_off');
  if (isStale(d)) a.push('stale');
  return a;
}

export const CONDITION_LABELS = {
  not_authenticated: 'Needs re-authentication',
  stale: 'Stale',
  optimization_off: 'Optimization off',
};

/** Status badges: Connected / Needs re-authentication / Stale / Optimization off (or Paused). */
export function deviceBadges(d) {
  const out = [];
  const att = attentionOf(d);
  if (d.is_authenticated) out.push(badge('Connected', 'ok', 'status-connected'));
  else out.push(badge('Needs re-authentication', 'danger', 'status-reauth'));
  if (att.includes('stale')) out.push(badge('Stale', 'warn', 'status-stale'));
  if (att.includes('optimization_off')) {
    out.push(badge(d.is_smart_optimization_active && d.is_pause_power_active ? 'Optimization paused' : 'Optimization off', 'warn', 'status-optimization-off'));
  } else {
    out.push(badge('Optimizing', 'info', 'status-optimizing'));
  }
  if (d.lifecycle_state && d.lifecycle_state !== 'active') out.push(badge(d.lifecycle_state, '', 'status-lifecycle'));
  return h('span', { class: 'badges', 'data-testid': 'device-status' }, out);
}

export function deviceTitle(d) {
  const m = d.device_model || {};
  const name = [m.manufacturer, m.model].filter(Boolean).join(' ');
  return name || d.external_device_id || 'Unnamed device';
}
