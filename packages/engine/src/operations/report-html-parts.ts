import { formatSeconds } from '../duration-text.js';
import type { DailyOutcomes } from './report-sources.js';

/**
 * Small building blocks of Lethe's self-contained HTML pages (the compliance report, the daemon's
 * status page): escaping, numbers tagged with the report field they show (`data-field`, so a test
 * can read the rendered page back against the JSON), one inline style sheet, and the per-day chart
 * as inline SVG. Nothing here refers to anything outside the page: no scripts, fonts or images.
 */

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** `1234` -> `1,234`, as the text report prints counts. */
export const countText = (n: number): string => n.toLocaleString('en-US');

/** A value shown on the page as it is (counts with separators), tagged with the JSON path it comes from. */
export function field(path: string, value: number | string | null): string {
  const shown = value === null ? '-' : typeof value === 'number' ? countText(value) : value;
  return `<span data-field="${escapeHtml(path)}">${escapeHtml(shown)}</span>`;
}

export function durationText(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '-';
  return seconds < 60 && seconds >= 0 ? `${Math.round(seconds * 10) / 10}s` : formatSeconds(seconds);
}

/**
 * The page's whole document. The Content-Security-Policy forbids every fetch (only inline styles
 * and data: images), so a page that tried to load something would show it broken, not leak it.
 */
export function htmlDocument(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

const STYLE = `
@page { size: A4; margin: 14mm; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1d2330; margin: 24px auto; max-width: 960px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 22px 0 6px; border-bottom: 1px solid #d5d9e0; padding-bottom: 3px; }
p { margin: 4px 0; } .muted { color: #5b6475; } .small { font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d5d9e0; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f1f3f6; font-weight: 600; } td.n { text-align: right; }
.status { display: inline-block; padding: 4px 10px; border-radius: 4px; font-weight: 700; }
.ok { background: #dff3e4; color: #145a2a; } .bad { background: #fbe1e1; color: #8a1616; } .warn { background: #fff1cc; color: #6b4b00; }
.mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; word-break: break-all; }
svg text { font: 10px system-ui, "DejaVu Sans", sans-serif; fill: #5b6475; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } table, svg { break-inside: avoid; } }
`;

const CHART_W = 900;
const CHART_H = 220;
const PAD = { left: 44, right: 8, top: 12, bottom: 28 };

/** Files erased (and failed attempts) per UTC day, as bars side by side; each bar has a tooltip. */
export function dailyChartSvg(days: readonly DailyOutcomes[]): string {
  const max = Math.max(1, ...days.map((d) => Math.max(d.erased, d.failed)));
  const plotW = CHART_W - PAD.left - PAD.right;
  const plotH = CHART_H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(1, slot * 0.4);
  const y = (n: number): number => PAD.top + plotH - (n / max) * plotH;
  const bars = days.map((d, i) => {
    const x = PAD.left + i * slot + slot * 0.1;
    const label =
      i % 5 === 0 || i === days.length - 1
        ? `<text x="${(x + barW).toFixed(1)}" y="${CHART_H - 10}" text-anchor="middle">${escapeHtml(d.date.slice(5))}</text>`
        : '';
    return (
      `<rect x="${x.toFixed(1)}" y="${y(d.erased).toFixed(1)}" width="${barW.toFixed(1)}" height="${(PAD.top + plotH - y(d.erased)).toFixed(1)}" fill="#2f7d4a"><title>${escapeHtml(d.date)}: ${countText(d.erased)} erased</title></rect>` +
      `<rect x="${(x + barW).toFixed(1)}" y="${y(d.failed).toFixed(1)}" width="${barW.toFixed(1)}" height="${(PAD.top + plotH - y(d.failed)).toFixed(1)}" fill="#c0392b"><title>${escapeHtml(d.date)}: ${countText(d.failed)} failed</title></rect>${label}`
    );
  });
  const axis =
    `<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${CHART_W - PAD.right}" y2="${PAD.top + plotH}" stroke="#8a93a3"/>` +
    `<text x="${PAD.left - 4}" y="${PAD.top + 8}" text-anchor="end">${countText(max)}</text><text x="${PAD.left - 4}" y="${PAD.top + plotH}" text-anchor="end">0</text>`;
  return `<svg viewBox="0 0 ${CHART_W} ${CHART_H}" width="100%" role="img" aria-label="Files erased and failed per day">${axis}${bars.join('')}</svg>`;
}
