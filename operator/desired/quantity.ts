const SUFFIX_FACTORS: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9 };

/** CPU cores of a resource.Quantity ("500m", "2", 1.5); undefined for a form not used for CPU. */
export function cpuCores(quantity: string | number): number | undefined {
  if (typeof quantity === 'number') return quantity;
  const match = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([numkMG]?)$/.exec(quantity.trim());
  if (!match) return undefined;
  const [, digits = '', suffix = ''] = match;
  const factor = SUFFIX_FACTORS[suffix];
  return factor === undefined ? undefined : Number(digits) * factor;
}
