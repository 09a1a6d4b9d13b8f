/** One second of the replay, as the bench sampled it. */
export interface TimelinePoint {
  /** Seconds since the replay started. */
  t: number;
  /** Answers per second (all clients). */
  rate: number;
  /** Client-side latency of the answers of that second, in ms (undefined: none answered). */
  p50Ms?: number;
  p99Ms?: number;
  /** Ready runtime pods per revision. */
  replicas: Record<string, number>;
  /** The candidate's traffic weight as status reports it. */
  candidateWeight: number;
  failed: number;
}

/** A moment worth a marker: the surge, the new version, an analysis verdict, the rollback. */
export interface TimelineEvent {
  t: number;
  label: string;
}

const WIDTH = 960;
const LEFT = 70;
const RIGHT = 20;
const PANEL_HEIGHT = 130;
const GAP = 36;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Series { name: string; color: string; values: (number | undefined)[] }

/**
 * The replay on one time axis, as an SVG: request rate, p50/p99 latency (log scale), ready replicas
 * per revision, the candidate's weight, with the events marked across every panel.
 */
export function timelineSvg(points: readonly TimelinePoint[], marked: readonly TimelineEvent[], title: string, latencyTargetMs: number): string {
  const events = [...marked].sort((a, b) => a.t - b.t);
  const end = Math.max(1, ...points.map((p) => p.t));
  const x = (t: number) => LEFT + ((WIDTH - LEFT - RIGHT) * t) / end;
  const revisions = [...new Set(points.flatMap((p) => Object.keys(p.replicas)))];
  const panels: { title: string; series: Series[]; log?: boolean; max?: number; line?: { value: number; label: string } }[] = [
    { title: 'answers per second', series: [{ name: 'answered', color: COLORS[0]!, values: points.map((p) => p.rate) }, { name: 'failed', color: COLORS[1]!, values: points.map((p) => p.failed) }] },
    {
      title: 'client latency (ms, log scale)', log: true,
      series: [{ name: 'p50', color: COLORS[2]!, values: points.map((p) => p.p50Ms) }, { name: 'p99', color: COLORS[1]!, values: points.map((p) => p.p99Ms) }],
      line: { value: latencyTargetMs, label: `p99 target ${latencyTargetMs} ms` },
    },
    { title: 'ready replicas by revision', series: revisions.map((revision, i) => ({ name: revision, color: COLORS[(i + 3) % COLORS.length]!, values: points.map((p) => p.replicas[revision] ?? 0) })) },
    { title: "candidate's weight (%)", max: 100, series: [{ name: 'candidate', color: COLORS[4]!, values: points.map((p) => p.candidateWeight) }] },
  ];
  const labelRows = eventRows(events, x);
  const height = 40 + panels.length * (PANEL_HEIGHT + GAP) + 20 + Math.max(0, Math.max(0, ...labelRows) - 1) * LABEL_ROW;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
  ];
  panels.forEach((panel, index) => {
    const top = 40 + index * (PANEL_HEIGHT + GAP);
    const values = panel.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
    const lineValue = panel.line?.value;
    const maxValue = panel.max ?? Math.max(1, ...values, lineValue ?? 0) * 1.1;
    const minValue = panel.log ? Math.max(0.1, Math.min(...values.filter((v) => v > 0), lineValue ?? Infinity) / 1.5) : 0;
    const y = (value: number) => {
      const share = panel.log
        ? (Math.log10(Math.max(value, minValue)) - Math.log10(minValue)) / (Math.log10(maxValue) - Math.log10(minValue))
        : value / maxValue;
      return top + PANEL_HEIGHT - share * PANEL_HEIGHT;
    };
    parts.push(`<rect x="${LEFT}" y="${top}" width="${WIDTH - LEFT - RIGHT}" height="${PANEL_HEIGHT}" fill="none" stroke="#ccc"/>`);
    parts.push(`<text x="${LEFT}" y="${top - 6}" font-weight="bold">${escape(panel.title)}</text>`);
    parts.push(`<text x="${LEFT - 6}" y="${top + 10}" text-anchor="end">${maxValue.toFixed(maxValue < 10 ? 1 : 0)}</text>`);
    parts.push(`<text x="${LEFT - 6}" y="${top + PANEL_HEIGHT}" text-anchor="end">${minValue.toFixed(minValue < 10 ? 1 : 0)}</text>`);
    if (lineValue !== undefined) {
      parts.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(lineValue)}" y2="${y(lineValue)}" stroke="#999" stroke-dasharray="4 3"/>`);
      parts.push(`<text x="${WIDTH - RIGHT - 4}" y="${y(lineValue) - 3}" text-anchor="end" fill="#666">${escape(panel.line!.label)}</text>`);
    }
    panel.series.forEach((series, i) => {
      const segments: string[][] = [[]];
      series.values.forEach((value, k) => {
        if (value === undefined || !Number.isFinite(value)) {
          if (segments.at(-1)!.length) segments.push([]);
          return;
        }
        segments.at(-1)!.push(`${x(points[k]!.t).toFixed(1)},${y(value).toFixed(1)}`);
      });
      for (const segment of segments.filter((s) => s.length)) {
        parts.push(`<polyline fill="none" stroke="${series.color}" stroke-width="1.5" points="${segment.join(' ')}"/>`);
      }
      parts.push(`<text x="${LEFT + 8 + i * 110}" y="${top + 14}" fill="${series.color}">■ ${escape(series.name)}</text>`);
    });
  });
  const bottom = 40 + panels.length * (PANEL_HEIGHT + GAP) - GAP;
  events.forEach((event, i) => {
    parts.push(`<line x1="${x(event.t)}" x2="${x(event.t)}" y1="34" y2="${bottom}" stroke="#444" stroke-dasharray="2 3"/>`);
    parts.push(`<text x="${labelStart(event, x)}" y="${bottom + 12 + labelRows[i]! * LABEL_ROW}" fill="#444">${escape(event.label)}</text>`);
  });
  for (let t = 0; t <= end; t += end > 300 ? 60 : 30) {
    parts.push(`<text x="${x(t)}" y="${height - 4}" text-anchor="middle" fill="#666">${t} s</text>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

const LABEL_ROW = 11;
/** About the width of a character of the 11 px sans-serif labels. */
const CHAR_WIDTH = 6;

/** Where an event's label starts: right of its line, or as far right as the chart lets it end. */
function labelStart(event: TimelineEvent, x: (t: number) => number): number {
  return Math.min(x(event.t) + 3, WIDTH - 4 - event.label.length * CHAR_WIDTH);
}

/** The row under the panels for each event's label: the first row where it does not run into the label before it. */
function eventRows(events: readonly TimelineEvent[], x: (t: number) => number): number[] {
  const rowEnds: number[] = [];
  return events.map((event) => {
    const start = labelStart(event, x);
    const row = rowEnds.findIndex((end) => end < start);
    const chosen = row >= 0 ? row : rowEnds.length;
    rowEnds[chosen] = start + event.label.length * CHAR_WIDTH + 4;
    return chosen;
  });
}
