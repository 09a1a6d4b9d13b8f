import type { ResourceType } from '../kube/resources.ts';

/** A kind of object a ModelDeployment owns: what the controller watches, applies, prunes and is granted. */
export interface ChildKind extends ResourceType {
  readonly apiVersion: string;
  readonly namespaced: true;
  /**
   * Present only where another project's CRD is installed (Istio, Gateway API, the Prometheus
   * Operator): found by discovery and watched from the moment it appears; its absence never stops the operator.
   */
  readonly optional?: { readonly crd: string; readonly provider: string };
  /**
   * Label maps inside the object whose extra keys change what they select, so a key the operator
   * dropped must be removed: each as [key, the key of the object or list that holds it].
   */
  readonly exactLabelMaps?: readonly (readonly [key: string, parentKey: string])[];
}

export function childKind(group: string, version: string, kindName: string, plural: string, extra: Pick<ChildKind, 'exactLabelMaps'> & { provider?: string } = {}): ChildKind {
  return {
    group,
    version,
    apiVersion: group ? `${group}/${version}` : version,
    kind: kindName,
    plural,
    namespaced: true,
    ...(extra.provider && { optional: { crd: `${plural}.${group}`, provider: extra.provider } }),
    ...(extra.exactLabelMaps && { exactLabelMaps: extra.exactLabelMaps }),
  };
}

export const childKindKey = (type: Pick<ChildKind, 'apiVersion' | 'kind'>): string => `${type.apiVersion}/${type.kind}`;

/** apiVersion and kind of a child object, from its kind. */
export const typeMeta = (type: ChildKind): { apiVersion: string; kind: string } => ({ apiVersion: type.apiVersion, kind: type.kind });
