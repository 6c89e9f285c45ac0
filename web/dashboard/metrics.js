// Prometheus text format, as wsgate's /metrics writes it: parse it into
// samples, and pick, sum and rate them. No DOM: Node tests import it too.

// parse returns the samples of a Prometheus text exposition:
// [{name, labels: {k: v}, value}], comments and blank lines skipped.
export function parse(text) {
  const out = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line[0] === '#') continue;
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
    const name = line.slice(0, i);
    const labels = {};
    if (line[i] === '{') {
      i++;
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i);
        const key = line.slice(i, eq).trim();
        let j = eq + 2; // past ="
        let val = '';
        while (j < line.length && line[j] !== '"') {
          if (line[j] === '\\') {
            j++;
            val += line[j] === 'n' ? '\n' : line[j];
          } else val += line[j];
          j++;
        }
        labels[key] = val;
        i = j + 1;
        if (line[i] === ',') i++;
      }
      i++;
    }
    const tok = line.slice(i).trim().split(/\s+/)[0];
    const value = tok === '+Inf' ? Infinity : tok === '-Inf' ? -Infinity : tok ? Number(tok) : NaN;
    if (name && !Number.isNaN(value)) out.push({ name, labels, value });
  }
  return out;
}

// key names one series: its name and labels in a stable order.
export function key(s) {
  const ls = Object.keys(s.labels).sort().map((k) => `${k}="${s.labels[k]}"`);
  return ls.length ? `${s.name}{${ls.join(',')}}` : s.name;
}

// Snapshot is one scrape: samples by key, and when it was taken (ms).
export class Snapshot {
  constructor(samples, at) {
    this.at = at;
    this.samples = samples;
    this.byKey = new Map(samples.map((s) => [key(s), s]));
  }

  // sum adds the values of the series called name whose labels include
  // every pair in match.
  sum(name, match = {}) {
    let v = 0;
    for (const s of this.samples) if (s.name === name && matches(s, match)) v += s.value;
    return v;
  }

  // by groups the series called name by the value of label, summed.
  by(name, label, match = {}) {
    const m = new Map();
    for (const s of this.samples) {
      if (s.name !== name || !matches(s, match)) continue;
      const k = s.labels[label] ?? '';
      m.set(k, (m.get(k) || 0) + s.value);
    }
    return m;
  }

  has(name) {
    return this.samples.some((s) => s.name === name);
  }
}

function matches(s, match) {
  for (const k in match) if (s.labels[k] !== match[k]) return false;
  return true;
}

// rate returns the per-second increase of a counter between two readings
// taken dt ms apart; a counter that went down was reset (a restart), and
// its new value is the increase.
export function rate(prev, cur, dt) {
  if (prev == null || cur == null || !(dt > 0)) return 0;
  const d = cur >= prev ? cur - prev : cur;
  return (d * 1000) / dt;
}
