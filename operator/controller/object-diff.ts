import type { ChildKind } from '../desired/child-kind.ts';
import { quantityValue } from '../desired/quantity.ts';

type ExactLabelMaps = ChildKind['exactLabelMaps'];

/**
 * Whether everything the operator wants in `desired` is already true of `observed`, so that
 * applying it would change nothing. Fields the server or other managers add (defaults, status,
 * HPA-owned replicas) are ignored because only desired's fields are compared.
 */
export function satisfies(observed: unknown, desired: unknown, exactLabelMaps?: ExactLabelMaps): boolean {
  return satisfiesUnder(observed, desired, exactLabelMaps, undefined);
}

function satisfiesUnder(observed: unknown, desired: unknown, exactLabelMaps: ExactLabelMaps, parentKey: string | undefined): boolean {
  if (desired === undefined || desired === null) return true;
  if (Array.isArray(desired)) {
    if (!Array.isArray(observed)) return desired.length === 0 && (observed === undefined || observed === null);
    return desired.length === observed.length && desired.every((item, i) => satisfiesUnder(observed[i], item, exactLabelMaps, parentKey));
  }
  if (typeof desired === 'object') {
    const entries = Object.entries(desired as Record<string, unknown>);
    if (observed === undefined || observed === null) return entries.every(([, value]) => isEmpty(value));
    if (typeof observed !== 'object') return false;
    const observedRecord = observed as Record<string, unknown>;
    return entries.every(([key, value]) => satisfiesUnder(observedRecord[key], value, exactLabelMaps, key) && (!isExactMap(key, parentKey, exactLabelMaps) || sameKeys(observedRecord[key], value)));
  }
  if (desired === observed) return true;
  return sameQuantity(desired, observed);
}

/**
 * Label maps whose extra keys change meaning: a Service selector that still names a revision
 * selects fewer pods than one that does not, so a key the operator dropped must be removed.
 */
const EXACT_MAPS = new Set(['selector', 'matchLabels']);
/** The same for the label maps a kind declares (a router's subsets select pods by labels too). */
const isExactMap = (key: string, parentKey: string | undefined, exactLabelMaps: ExactLabelMaps) =>
  EXACT_MAPS.has(key) || (exactLabelMaps ?? []).some(([exactKey, exactParent]) => exactKey === key && exactParent === parentKey);

function sameKeys(observed: unknown, desired: unknown): boolean {
  if (!desired || typeof desired !== 'object' || Array.isArray(desired) || !observed || typeof observed !== 'object') return true;
  const flat = Object.values(desired as Record<string, unknown>).every((value) => typeof value === 'string');
  return !flat || Object.keys(observed as Record<string, unknown>).length === Object.keys(desired as Record<string, unknown>).length;
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value as Record<string, unknown>).every(isEmpty);
  return false;
}

/** The apiserver canonicalises resource quantities ("0.5" becomes "500m", 1 becomes "1"). */
function sameQuantity(desired: unknown, observed: unknown): boolean {
  const a = quantityValue(desired);
  const b = quantityValue(observed);
  return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-12;
}
