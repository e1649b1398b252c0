/** Output: the Markdown table printed to the terminal, the JSON file and the SVG chart. */
import type { Row } from './results.js';

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

const ratio = (r: number | undefined) => (r === undefined ? '—' : `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×`);

/**
 * Phases whose figures are counts and sizes of one run per target, not speeds
 * to compare with native: one table row per target, one column per figure.
 * They are left out of the chart.
 */
const PIVOTED = new Set(['scale']);

/** One Markdown table per phase: value, speed relative to native and to the reference. */
export function markdownTables(rows: Row[]): string {
  const out: string[] = [];
  for (const phase of unique(rows.map((r) => r.phase))) {
    if (PIVOTED.has(phase)) {
      out.push(...pivotTable(phase, rows.filter((x) => x.phase === phase)), '');
      continue;
    }
    out.push(`### ${phase}`, '', '| operation | target | median | unit | vs native | vs reference | spread | runs |', '|---|---|--:|---|--:|--:|--:|--:|');
    for (const r of rows.filter((x) => x.phase === phase)) {
      const ref = r.vsRef === undefined ? '—' : `${ratio(r.vsRef)} (${r.reference})`;
      out.push(`| ${cell(r.op)} | ${cell(r.target)} | ${fmt(r.median)} | ${r.unit} | ${ratio(r.vsNative)} | ${ref} | ${(r.spread * 100).toFixed(0)}% | ${r.n} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

function pivotTable(phase: string, rows: Row[]): string[] {
  // A target may lack some figures: columns keep the order each target gave them in.
  const ops = mergedOrder(unique(rows.map((r) => r.target)).map((t) => rows.filter((r) => r.target === t).map((r) => r.op)));
  const out = [`### ${phase}`, '', `| target | ${ops.map(cell).join(' | ')} |`, `|---|${ops.map(() => '--:|').join('')}`];
  for (const t of unique(rows.map((r) => r.target))) {
    const v = (op: string) => {
      const r = rows.find((x) => x.target === t && x.op === op);
      // Counts (entries, fds, inodes) as they are; fmt would give 22 fds as "22.0".
      return !r ? '—' : Number.isInteger(r.median) ? r.median.toLocaleString('en-US') : fmt(r.median);
    };
    out.push(`| ${cell(t)} | ${ops.map(v).join(' | ')} |`);
  }
  return out;
}

/** One list holding every item of `lists`, each new item placed after the one before it in its list. */
function mergedOrder(lists: string[][]): string[] {
  const out: string[] = [];
  for (const l of lists) {
    let at = 0;
    for (const x of l) {
      const i = out.indexOf(x);
      if (i >= 0) at = i + 1;
      else out.splice(at++, 0, x);
    }
  }
  return out;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

const COLORS = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
  '#1f3b73', '#8cd17d', '#d37295', '#499894',
];

const isAbsolute = (phase: string) => phase === 'round trips' || phase === 'daemon';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Horizontal grouped bars, one panel per phase. Round trips and daemon figures
 * are absolute (each operation scaled on its own); the other phases show speed
 * relative to native (1 = native; > 1 faster), or to their reference where they
 * have no native figures, on one scale per panel.
 */
export function svgChart(allRows: Row[], title: string, subtitle: string): string {
  // Native stat is ~10× any FUSE round trip: drawn it would flatten every other bar.
  const rows = allRows.filter((r) => !(r.target === 'native' && isAbsolute(r.phase)) && !PIVOTED.has(r.phase));
  const W = 960, LABEL = 250, BAR_W = 540, BAR_H = 13, GAP = 3;
  const targets = unique(rows.map((r) => r.target));
  const color = new Map(targets.map((t, i) => [t, COLORS[i % COLORS.length]!]));
  const parts: string[] = [];
  let y = 56;
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<text x="${W / 2}" y="40" text-anchor="middle" font-size="11">${esc(subtitle)}</text>`);
  // Legend.
  let lx = 10;
  for (const t of targets) {
    const w = 26 + t.length * 6.6;
    if (lx + w > W) {
      lx = 10;
      y += 18;
    }
    parts.push(`<rect x="${lx}" y="${y}" width="12" height="12" fill="${color.get(t)}"/><text x="${lx + 16}" y="${y + 10}">${esc(t)}</text>`);
    lx += w;
  }
  y += 30;
  for (const phase of unique(rows.map((r) => r.phase))) {
    const pr = rows.filter((r) => r.phase === phase);
    const absolute = isAbsolute(phase);
    // A phase without native figures (virtiofs: the guest has no native share) is drawn relative to its reference.
    const base = pr.some((r) => r.target === 'native') ? 'native' : pr.find((r) => r.reference)?.reference;
    const value = (r: Row) => (absolute ? r.median : r.target === base ? 1 : base === 'native' ? r.vsNative : r.vsRef);
    const panelMax = Math.max(1, ...pr.map((r) => value(r) ?? 0));
    const caption = phase === 'round trips' ? '— stats of the mount root per second (native stat not drawn: off the scale)' : absolute || !base ? '' : `— speed relative to ${base} (1 = ${base}, longer is better)`;
    parts.push(`<text x="10" y="${y}" font-size="14" font-weight="bold">${esc(phase)}<tspan dx="6" font-weight="normal" font-size="11">${esc(caption)}</tspan></text>`);
    y += 10;
    const top = y;
    for (const op of unique(pr.map((r) => r.op))) {
      const group = pr.filter((r) => r.op === op && value(r) !== undefined);
      if (!group.length) continue;
      const max = absolute ? Math.max(...group.map((r) => r.median)) : panelMax;
      const unit = group[0]!.unit;
      const gh = group.length * (BAR_H + GAP);
      parts.push(`<text x="${LABEL - 8}" y="${y + gh / 2 + 4}" text-anchor="end">${esc(op)}${absolute ? ` (${esc(unit)})` : ''}</text>`);
      for (const r of group) {
        const v = value(r)!;
        const w = Math.max(1, (v / max) * BAR_W);
        const label = absolute ? fmt(v) : `${v.toFixed(2)}× (${fmt(r.median)} ${r.unit})`;
        parts.push(`<rect x="${LABEL}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${color.get(r.target)}"><title>${esc(`${r.target}: ${fmt(r.median)} ${r.unit}`)}</title></rect>`);
        parts.push(`<text x="${LABEL + w + 4}" y="${y + BAR_H - 2}" font-size="10">${esc(label)}</text>`);
        y += BAR_H + GAP;
      }
      y += 8;
    }
    if (!absolute && base) {
      const x1 = LABEL + BAR_W / panelMax;
      parts.push(`<line x1="${x1.toFixed(1)}" y1="${top - 4}" x2="${x1.toFixed(1)}" y2="${y - 6}" stroke="#333" stroke-dasharray="3,3"/>`);
    }
    y += 16;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
