/**
 * Sum of the samples of `name` in Prometheus text exposition whose labels include every pair in
 * `labels` (0 when none match): a counter or gauge over its label sets, or one histogram _sum/_count.
 */
export function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? ([-\d.eE+]+|NaN)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labelText = match[3] ?? '';
    if (Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`))) total += Number(match[4]);
  }
  return total;
}

/** Fetches a /metrics page and reads one sample sum from it (see sampleSum). */
export async function scrapeSample(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sampleSum(await (await fetch(url)).text(), name, labels);
}
