import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import type { RunningPlane } from '../plane/plane.ts';
import { toolPath } from './test-tools.ts';

/** CRD sets of other projects that a cluster may or may not have; each file is as its project publishes it. */
export type OptionalCrdSet = 'istio' | 'prometheus-operator' | 'gateway-api';

type Kubectl = RunningPlane['kubectl'];

/** The published CRD YAML of a set, fetched into the cache by test/tools/fetch-optional-crds.sh. */
export async function optionalCrdFile(set: OptionalCrdSet): Promise<string> {
  return join(await toolPath('fetch-optional-crds.sh'), `${set}.yaml`);
}

/** Names (plural.group) of the CRDs in a set. */
export async function optionalCrdNames(set: OptionalCrdSet): Promise<string[]> {
  const documents = loadAll(await readFile(await optionalCrdFile(set), 'utf8')) as ({ kind?: string; metadata?: { name?: string } } | null)[];
  return documents.flatMap((doc) => (doc?.kind === 'CustomResourceDefinition' && doc.metadata?.name ? [doc.metadata.name] : []));
}

/**
 * Resolves once none of the named CRDs is being deleted any more. A CRD another suite deleted may
 * still be terminating: applying it again then only patches the dying object, which the apiserver
 * removes a moment later, taking its kind away from whoever watches it.
 */
async function untilNoneTerminating(kubectl: Kubectl, names: readonly string[], timeoutSeconds: number): Promise<void> {
  const existing = JSON.parse(await kubectl(['get', '--ignore-not-found', '-o', 'json', ...names.map((name) => `crd/${name}`)]) || '{"items":[]}') as {
    items?: { metadata: { name: string; deletionTimestamp?: string } }[];
  };
  const terminating = (existing.items ?? []).filter((crd) => crd.metadata.deletionTimestamp).map((crd) => `crd/${crd.metadata.name}`);
  if (terminating.length > 0) await kubectl(['wait', '--for=delete', `--timeout=${timeoutSeconds}s`, ...terminating]);
}

/** Installs a set's CRDs and resolves once the apiserver serves every one of them (Established). */
export async function installOptionalCrds(kubectl: Kubectl, set: OptionalCrdSet): Promise<string[]> {
  const names = await optionalCrdNames(set);
  await untilNoneTerminating(kubectl, names, UNINSTALL_TIMEOUT_SECONDS);
  // Server-side: some of these CRDs are larger than the last-applied annotation allows.
  await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=modelship-test', '-f', await optionalCrdFile(set)]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...names.map((name) => `crd/${name}`)]);
  return names;
}

/** On a loaded machine the apiserver's CRD finalizer has taken minutes for a whole set. */
const UNINSTALL_TIMEOUT_SECONDS = 360;

/** Deletes a set's CRDs (and so every object of their kinds) and resolves once they are gone. */
export async function uninstallOptionalCrds(kubectl: Kubectl, set: OptionalCrdSet, timeoutSeconds = UNINSTALL_TIMEOUT_SECONDS): Promise<void> {
  const names = await optionalCrdNames(set);
  await kubectl(['delete', '--ignore-not-found', '--wait=true', `--timeout=${timeoutSeconds}s`, ...names.map((name) => `crd/${name}`)]);
}
