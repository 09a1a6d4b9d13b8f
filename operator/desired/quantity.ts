const DECIMAL_SUFFIXES: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const QUANTITY = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([numkMGTPE]|[KMGTPE]i)?$/;

function parse(quantity: string | number): { value: number; binary: boolean } | undefined {
  if (typeof quantity === 'number') return { value: quantity, binary: false };
  const match = QUANTITY.exec(quantity.trim());
  if (!match) return undefined;
  const [, digits = '', suffix = ''] = match;
  const binary = suffix in BINARY_SUFFIXES;
  const factor = binary ? BINARY_SUFFIXES[suffix] : DECIMAL_SUFFIXES[suffix];
  return factor === undefined ? undefined : { value: Number(digits) * factor, binary };
}

/** The value of a resource.Quantity ("500m", "1Gi", 2); undefined when it is not one. */
export function quantityValue(quantity: unknown): number | undefined {
  return typeof quantity === 'string' || typeof quantity === 'number' ? parse(quantity)?.value : undefined;
}

/** CPU cores of a resource.Quantity ("500m", "2", 1.5); undefined for a form not used for CPU. */
export function cpuCores(quantity: string | number): number | undefined {
  const parsed = parse(quantity);
  return parsed && !parsed.binary && parsed.value >= 0 ? parsed.value : undefined;
}
