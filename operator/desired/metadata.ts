import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/types.ts';

export function nameOf(md: ModelDeployment): string {
  const name = md.metadata.name;
  if (!name) throw new Error('ModelDeployment has no metadata.name');
  return name;
}

export function namespaceOf(md: ModelDeployment): string {
  return md.metadata.namespace ?? 'default';
}

/** Controller reference so that deleting the ModelDeployment garbage-collects the child. */
export function controllerReference(md: ModelDeployment): V1OwnerReference {
  const uid = md.metadata.uid;
  if (!uid) throw new Error(`ModelDeployment ${nameOf(md)} has no metadata.uid (read it from the API before building children)`);
  return { apiVersion: md.apiVersion, kind: md.kind, name: nameOf(md), uid, controller: true, blockOwnerDeletion: true };
}

export function childMetadata(md: ModelDeployment, labels: Record<string, string>, name = nameOf(md)): V1ObjectMeta {
  return { name, namespace: namespaceOf(md), labels, ownerReferences: [controllerReference(md)] };
}
