/**
 * Whether everything the operator wants in `desired` is already true of `observed`, so that
 * applying it would change nothing. Fields the server or other managers add (defaults, status,
 * HPA-owned replicas) are ignored because only desired's fields are compared.
 */
export function satisfies(observed: unknown, desired: unknown): boolean {
  if (desired === undefined || desired === null) return true;
  if (Array.isArray(desired)) {
    if (!Array.isArray(observed)) return desired.length === 0 && (observed === undefined || observed === null);
    return desired.length === observed.length && desired.every((item, i) => satisfies(observed[i], item));
  }
  if (typeof desired === 'object') {
    const entries = Object.entries(desired as Record<string, unknown>);
    if (observed === undefined || observed === null) return entries.every(([, value]) => isEmpty(value));
    if (typeof observed !== 'object') return false;
    const observedRecord = observed as Record<string, unknown>;
    return entries.every(([key, value]) => satisfies(observedRecord[key], value));
  }
  if (desired === observed) return true;
  return sameQuantity(desired, observed);
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value as Record<string, unknown>).every(isEmpty);
  return false;
}

const QUANTITY = /^([+-]?\d+(?:\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const SUFFIX: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The apiserver canonicalises resource quantities ("0.5" becomes "500m", 1 becomes "1"). */
function sameQuantity(desired: unknown, observed: unknown): boolean {
  const a = quantityValue(desired);
  const b = quantityValue(observed);
  return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-12;
}

function quantityValue(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const match = QUANTITY.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * (SUFFIX[match[2] ?? ''] ?? 1);
}
