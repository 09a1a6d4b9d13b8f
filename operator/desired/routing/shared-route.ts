import type { ModelDeployment } from '../../api/types.ts';
import { API_GROUP } from '../../api/crd.ts';
import { nameOf } from '../metadata.ts';
import { modelNameOf } from '../runtime-env.ts';

/**
 * Holds a ModelDeployment's deletion until its rules are out of the HTTPRoute it shares with its
 * owner's other rules (spec.traffic.httpRouteRef): the route is not the operator's to delete.
 */
export const SHARED_ROUTE_FINALIZER = `${API_GROUP}/shared-route-rules`;

export interface RouteRule {
  name?: string;
  [field: string]: unknown;
}

/** The names of the rules a ModelDeployment writes into a shared HTTPRoute: its own, whatever else the route holds. */
export function sharedRuleNames(md: ModelDeployment): { primary: string; ab: string } {
  // Rule names are DNS labels: a ModelDeployment's name may have dots.
  const base = `modelship-${nameOf(md).replaceAll('.', '-')}`;
  return { primary: base, ab: `${base}-ab` };
}

/** The V2 paths of the model, which no other model's requests use: what every rule of the model matches in a route that is not only its own. */
export const modelPathMatch = (md: ModelDeployment): Record<string, unknown> => ({ path: { type: 'PathPrefix', value: `/v2/models/${modelNameOf(md)}` } });

const isOwn = (md: ModelDeployment) => {
  const own = new Set(Object.values(sharedRuleNames(md)));
  return (rule: RouteRule) => own.has(rule.name ?? '');
};

/** The model's rules as the route holds them. */
export const ownRules = (rules: readonly RouteRule[], md: ModelDeployment): RouteRule[] => rules.filter(isOwn(md));

/** The route's rules with the model's replaced by `own` (none: taken out); everyone else's stay as they are, in their order. */
export function withOwnRules(rules: readonly RouteRule[], md: ModelDeployment, own: readonly RouteRule[]): RouteRule[] {
  const mine = isOwn(md);
  return [...rules.filter((rule) => !mine(rule)), ...own];
}
