const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The soonest of some delays, any of which may be unset; undefined when all are. */
export function earliest(...delays: (number | undefined)[]): number | undefined {
  const defined = delays.filter((delay): delay is number => delay !== undefined);
  return defined.length > 0 ? Math.min(...defined) : undefined;
}

/** Milliseconds of a duration the CRD accepts (30s, 2m, 1h30m, 1.5s). */
export function durationMs(duration: string): number {
  let total = 0;
  for (const [, amount, unit] of duration.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) total += Number(amount) * (UNIT_MS[unit as string] ?? 0);
  return Math.round(total);
}
