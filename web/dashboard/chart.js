// Line charts in plain SVG: a few series over a time window, redrawn in
// place every second.

const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  parent?.append(e);
  return e;
}

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// Chart draws series [{name, color, points: [[ms, value], ...]}] over the
// last windowMs into an <svg> that it fills.
export class Chart {
  constructor(svg, { windowMs = 300000, format = (v) => String(v) } = {}) {
    this.svg = svg;
    this.windowMs = windowMs;
    this.format = format;
  }

  draw(series, now) {
    const svg = this.svg;
    const w = Math.max(200, svg.clientWidth || 600);
    const h = Math.max(80, svg.clientHeight || 140);
    const pad = { l: 52, r: 8, t: 8, b: 18 };
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    svg.replaceChildren();
    const from = now - this.windowMs;
    let max = 0;
    for (const s of series) for (const [t, v] of s.points) if (t >= from && v > max) max = v;
    max = niceMax(max);
    const x = (t) => pad.l + ((t - from) / this.windowMs) * (w - pad.l - pad.r);
    const y = (v) => h - pad.b - (v / max) * (h - pad.t - pad.b);
    for (const f of [0, 0.5, 1]) {
      el('line', { x1: pad.l, x2: w - pad.r, y1: y(max * f), y2: y(max * f), class: 'grid' }, svg);
      el('text', { x: pad.l - 4, y: y(max * f) + 4, class: 'ylabel' }, svg).textContent = this.format(max * f);
    }
    el('text', { x: pad.l, y: h - 4, class: 'xlabel' }, svg).textContent = `-${Math.round(this.windowMs / 60000)} min`;
    el('text', { x: w - pad.r, y: h - 4, class: 'xlabel end' }, svg).textContent = 'now';
    for (const s of series) {
      const pts = s.points.filter(([t]) => t >= from).map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
      if (pts.length) el('polyline', { points: pts.join(' '), class: 'line', stroke: s.color, 'data-series': s.name }, svg);
    }
  }
}
