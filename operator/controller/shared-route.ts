import type { ModelDeployment } from '../api/types.ts';
import { GatewayApiKinds, type GatewayRoute } from '../desired/routing/gateway-api.ts';
import { ownRules, SHARED_ROUTE_FINALIZER, withOwnRules, type RouteRule } from '../desired/routing/shared-route.ts';
import { isNotFound, type KubeRestClient } from '../kube/rest-client.ts';
import { modelDeploymentResource } from './model-deployment-resource.ts';
import { satisfies } from './object-diff.ts';

/**
 * The I/O of spec.traffic.httpRouteRef: an HTTPRoute the user owns, into which the operator writes
 * only its model's rules. The route's rules are one atomic list (server-side apply would take the
 * whole list from its owner), so it is read, edited rule by rule and written back with the
 * resourceVersion it was read at: a change by its owner in between is a conflict, and the pass is
 * retried on the new route.
 */

const routeName = (md: ModelDeployment): string | undefined => (md.spec.traffic?.router === 'GatewayAPI' ? md.spec.traffic.httpRouteRef?.name : undefined);

/** The ModelDeployment's shared HTTPRoute: undefined when it names none, null when it does not exist. */
export async function readSharedRoute(client: KubeRestClient, md: ModelDeployment): Promise<GatewayRoute | null | undefined> {
  const name = routeName(md);
  if (!name) return undefined;
  try {
    return await client.get<GatewayRoute>(GatewayApiKinds.httpRoute, md.metadata.namespace, name);
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/** Fields of a rule that hold something: an edit that dropped a field (a mirror ended) must be written. */
const filled = (rule: RouteRule): string[] => Object.entries(rule).filter(([, value]) => value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0)).map(([key]) => key).sort();

/** Whether the route holds the model's rules as wanted, defaults aside. */
export function ownRulesHold(route: GatewayRoute, md: ModelDeployment, wanted: readonly RouteRule[]): boolean {
  const current = ownRules(route.spec.rules ?? [], md);
  return current.length === wanted.length && wanted.every((rule, i) => {
    const observed = current[i] as RouteRule;
    // The apiserver fills in defaults (a backendRef's weight, group and kind) the rules never name: those may differ.
    return satisfies(observed, rule) && filled(observed).join() === filled(rule).join();
  });
}

/** Puts the model's rules into the route where they differ; the route's other rules stay as they are. Whether it wrote. */
export async function writeOwnRules(client: KubeRestClient, md: ModelDeployment, route: GatewayRoute, wanted: readonly RouteRule[]): Promise<boolean> {
  if (ownRulesHold(route, md, wanted)) return false;
  await client.update<GatewayRoute>(GatewayApiKinds.httpRoute, { ...route, spec: { ...route.spec, rules: withOwnRules(route.spec.rules ?? [], md, wanted) } });
  return true;
}

/** The ModelDeployment's finalizers set to `finalizers`, at the resourceVersion it was read at. */
function setFinalizers(client: KubeRestClient, md: ModelDeployment, finalizers: string[]): Promise<unknown> {
  return client.mergePatch(modelDeploymentResource, md.metadata.namespace, md.metadata.name ?? '', { metadata: { resourceVersion: md.metadata.resourceVersion, finalizers } });
}

/** The finalizer that holds the ModelDeployment's deletion until its rules are out of the route; whether it was added now. */
export async function holdDeletionForSharedRoute(client: KubeRestClient, md: ModelDeployment): Promise<boolean> {
  const finalizers = md.metadata.finalizers ?? [];
  if (finalizers.includes(SHARED_ROUTE_FINALIZER)) return false;
  await setFinalizers(client, md, [...finalizers, SHARED_ROUTE_FINALIZER]);
  return true;
}

/**
 * A deleted ModelDeployment's rules taken out of its shared route (gone already: nothing to take
 * out), then its finalizer removed, so that the deletion completes. Whether it had anything to do.
 */
export async function releaseSharedRoute(client: KubeRestClient, md: ModelDeployment): Promise<boolean> {
  const finalizers = md.metadata.finalizers ?? [];
  if (!finalizers.includes(SHARED_ROUTE_FINALIZER)) return false;
  const route = await readSharedRoute(client, md);
  if (route) await writeOwnRules(client, md, route, []);
  await setFinalizers(client, md, finalizers.filter((finalizer) => finalizer !== SHARED_ROUTE_FINALIZER));
  return true;
}
