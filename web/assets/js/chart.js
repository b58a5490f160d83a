// A hand-made SVG bar chart (no library): one or two series per period, a y axis with round ticks,
// a <title> per bar for the tooltip, role=img with a summary, and the same data as a table for
// screen readers and keyboard users.

import { h, s, fmtNum } from './dom.js';

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * data: [{label, short, values: [number, …]}]; series: [{name, cls}]; unit: 'kWh'; title: text.
 * Returns a <figure> with the SVG and a collapsible data table.
 */
export function barChart({ data, series, unit, title }) {
  const W = 640;
  const H = 220;
  const padL = 44;
  const padR = 8;
  const padT = 10;
  const padB = 28;
  const plotW = W - padL - padR;
  const plotH = H - padT - padB;
  const max = niceMax(Math.max(0, ...data.flatMap((d) => d.values)));
  const nS = series.length;
  const slot = data.length ? plotW / data.length : plotW;
  const barW = Math.max(1, (slot * 0.75) / nS);
  const children = [];
  const ticks = 4;
  for (let i = 0; i <= ticks; i += 1) {
    const v = (max * i) / ticks;
    const y = padT + plotH - (plotH * i) / ticks;
    children.push(s('line', { class: i === 0 ? 'axis' : 'grid', x1: padL, x2: W - padR, y1: y, y2: y }));
    children.push(s('text', { x: padL - 6, y: y + 3, 'text-anchor': 'end' }, fmtNum(v)));
  }
  const labelEvery = Math.max(1, Math.ceil(data.length / 12));
  data.forEach((d, i) => {
    const x0 = padL + i * slot + (slot - barW * nS) / 2;
    d.values.forEach((v, k) => {
      const bh = max ? (plotH * Math.max(0, v)) / max : 0;
      children.push(s('rect', { class: `bar ${series[k].cls || ''}`, x: (x0 + k * barW).toFixed(2), y: (padT + plotH - bh).toFixed(2), width: Math.max(1, barW - 1).toFixed(2), height: bh.toFixed(2) },
        s('title', null, `${d.label}: ${fmtNum(v)} ${unit}${nS > 1 ? ` ${series[k].name}` : ''}`)));
    });
    if (i % labelEvery === 0) {
      children.push(s('text', { x: (padL + i * slot + slot / 2).toFixed(2), y: H - padB + 14, 'text-anchor': 'middle' }, d.short || d.label));
    }
  });
  const totals = series.map((_, k) => data.reduce((a, d) => a + (d.values[k] || 0), 0));
  const summary = `${title}: ${data.length} periods, total ${series.map((se, k) => `${fmtNum(totals[k])} ${unit}${nS > 1 ? ` ${se.name}` : ''}`).join(', ')}.`;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary, 'data-testid': 'consumption-chart', preserveAspectRatio: 'xMidYMid meet' }, children);
  const table = h('table', { class: 'diff', 'data-testid': 'chart-table' },
    h('caption', { class: 'visually-hidden' }, title),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Period'), series.map((se) => h('th', { scope: 'col' }, `${se.name} (${unit})`)))),
    h('tbody', null, data.map((d) => h('tr', null, h('th', { scope: 'row' }, d.label), d.values.map((v) => h('td', { class: 'num' }, fmtNum(v)))))));
  return h('figure', { class: 'chart-fig' },
    nS > 1 ? h('div', { class: 'legend', 'aria-hidden': 'true' }, series.map((se) => h('span', null, h('span', { class: `sw ${se.cls || ''}` }), se.name))) : null,
    svg,
    h('figcaption', { class: 'chart-total' }, summary),
    h('details', null, h('summary', null, 'Show the data as a table'), table));
}
