/**
 * Draws a dashboard's panels as one SVG picture: each panel a small line chart of its queries'
 * series (as Prometheus' range queries returned them), laid out two to a row as the dashboard
 * lays them out. For docs/metrics.md; nothing but SVG, so it needs no renderer.
 */

/** One line of a panel. */
export interface PictureSeries {
  name: string;
  points: Array<[number, number]>;
  dashed?: boolean;
}

/** One panel of the picture. */
export interface PicturePanel {
  title: string;
  unit?: string;
  series: PictureSeries[];
}

const PANEL_WIDTH = 480;
const PANEL_HEIGHT = 250;
const PLOT = { left: 52, right: 12, top: 30, bottom: 26 };
const LEGEND_LINE = 13;
const COLORS = ['#3274d9', '#56a64b', '#e0752d', '#a352cc', '#f2cc0c', '#37872d', '#8ab8ff', '#c4162a'];

const escape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A value as an axis label: seconds as "90s"/"2m", other numbers as they are, rounded. */
function formatValue(value: number, unit?: string): string {
  if (unit === 's' && Math.abs(value) >= 120) return `${Math.round(value / 60)}m`;
  const rounded = Math.abs(value) >= 10 ? Math.round(value) : Math.round(value * 100) / 100;
  return `${rounded}${unit === 's' ? 's' : ''}`;
}

/** The SVG of one panel at (x, y). */
function panelSvg(input: PicturePanel, x: number, y: number, start: number, end: number): string {
  // Threshold lines, then lines that change come first, so the legend names what moved rather than the flat ones.
  const rank = (series: PictureSeries) =>
    series.dashed ? 2 : new Set(series.points.map(([, v]) => v)).size > 1 ? 1 : 0;
  const panel = { ...input, series: [...input.series].sort((a, b) => rank(b) - rank(a)) };
  const legendLines = Math.min(panel.series.length, 4);
  const plotWidth = PANEL_WIDTH - PLOT.left - PLOT.right;
  const plotHeight = PANEL_HEIGHT - PLOT.top - PLOT.bottom - legendLines * LEGEND_LINE;
  const values = panel.series.flatMap((s) => s.points.map(([, v]) => v)).filter(Number.isFinite);
  const max = Math.max(1, ...values);
  const min = Math.min(0, ...values);
  const sx = (t: number) => x + PLOT.left + ((t - start) / Math.max(1, end - start)) * plotWidth;
  const sy = (v: number) => y + PLOT.top + plotHeight - ((v - min) / (max - min)) * plotHeight;
  const parts = [
    `<rect x="${x + 4}" y="${y + 4}" width="${PANEL_WIDTH - 8}" height="${PANEL_HEIGHT - 8}" rx="3" fill="#181b1f" stroke="#2c3235"/>`,
    `<text x="${x + 14}" y="${y + 21}" fill="#d8d9da" font-size="13" font-weight="600">${escape(panel.title)}</text>`,
  ];
  for (const fraction of [0, 0.5, 1]) {
    const value = min + (max - min) * fraction;
    const gy = sy(value);
    parts.push(
      `<line x1="${x + PLOT.left}" x2="${x + PLOT.left + plotWidth}" y1="${gy}" y2="${gy}" stroke="#2c3235"/>`,
      `<text x="${x + PLOT.left - 6}" y="${gy + 4}" fill="#8e8e8e" font-size="10" text-anchor="end">${escape(formatValue(value, panel.unit))}</text>`,
    );
  }
  const minutes = Math.round((end - start) / 60);
  parts.push(
    `<text x="${x + PLOT.left}" y="${y + PLOT.top + plotHeight + 14}" fill="#8e8e8e" font-size="10">-${minutes}m</text>`,
    `<text x="${x + PLOT.left + plotWidth}" y="${y + PLOT.top + plotHeight + 14}" fill="#8e8e8e" font-size="10" text-anchor="end">now</text>`,
  );
  panel.series.forEach((series, index) => {
    const color = series.dashed ? '#f2495c' : COLORS[index % COLORS.length];
    const path = series.points
      .filter(([, v]) => Number.isFinite(v))
      .map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${sx(t).toFixed(1)},${sy(v).toFixed(1)}`)
      .join(' ');
    if (path) {
      parts.push(
        `<path d="${path}" fill="none" stroke="${color}" stroke-width="1.5"${series.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      );
    }
    if (index < legendLines) {
      const ly = y + PLOT.top + plotHeight + 20 + (index + 1) * LEGEND_LINE - 4;
      const more = index === legendLines - 1 && panel.series.length > legendLines;
      const label = more ? `${series.name} and ${panel.series.length - legendLines} more` : series.name;
      parts.push(
        `<rect x="${x + 14}" y="${ly - 8}" width="10" height="3" fill="${color}"/>`,
        `<text x="${x + 30}" y="${ly}" fill="#ccccdc" font-size="10">${escape(label)}</text>`,
      );
    }
  });
  return parts.join('\n');
}

/** The SVG picture of `panels` over [start, end] (Unix seconds), two panels a row. */
export function dashboardSvg(title: string, panels: PicturePanel[], start: number, end: number): string {
  const rows = Math.ceil(panels.length / 2);
  const width = PANEL_WIDTH * 2;
  const height = rows * PANEL_HEIGHT + 36;
  const body = panels.map((panel, index) =>
    panelSvg(panel, (index % 2) * PANEL_WIDTH, 36 + Math.floor(index / 2) * PANEL_HEIGHT, start, end),
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#111217"/>`,
    `<text x="12" y="24" fill="#d8d9da" font-size="16" font-weight="600">${escape(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
