import type { V1ControllerRevision } from '@kubernetes/client-node';
import { CRD_NAME, SINGULAR, API_GROUP } from '../operator/api/crd.ts';
import type { ModelDeployment } from '../operator/api/types.ts';
import { modelDeploymentResource } from '../operator/controller/model-deployment-resource.ts';
import { ChildKinds } from '../operator/desired/child-kinds.ts';
import { recordedModelVersion, type RecordedRevision } from '../operator/desired/history.ts';
import { INSTANCE_LABEL } from '../operator/desired/labels.ts';
import { atRevision, revisionOf } from '../operator/desired/revision.ts';
import { isConflict, type KubeRestClient } from '../operator/kube/rest-client.ts';
import { parseRegistryUri } from '../operator/registry/reference.ts';
import { RolloutAnnotations, rolloutCommands } from '../operator/rollout/commands.ts';
import type { ActionInvocation, CommandInvocation, PromoteInvocation, ReportInvocation, UndoInvocation } from './args.ts';
import { CliError } from './errors.ts';
import { renderHistory, renderStatus, renderStructured, revisionText } from './render.ts';
import { historyOf, revisionsOf, statusOf } from './rollout-view.ts';

export interface Target {
  client: KubeRestClient;
  namespace: string;
  name: string;
}

/** What a verb prints: stdout, and a note for stderr (kubectl's "No resources found" goes there). */
export interface ActionResult {
  stdout: string;
  stderr?: string;
}

type Action<I extends ActionInvocation> = (target: Target, invocation: I) => Promise<ActionResult>;

/** How kubectl names the object in its one-line results, e.g. modeldeployment.modelship.io/fraud paused. */
const objectRef = (name: string) => `${SINGULAR}.${API_GROUP}/${name}`;
/** How the apiserver names it in its errors, e.g. modeldeployments.modelship.io "fraud". */
const quotedRef = (name: string) => `${CRD_NAME} "${name}"`;

const getModelDeployment = ({ client, namespace, name }: Target) => client.get<ModelDeployment>(modelDeploymentResource, namespace, name);

async function recorded(target: Target, md: ModelDeployment): Promise<RecordedRevision[]> {
  const list = await target.client.list<V1ControllerRevision>(ChildKinds.controllerRevision, { labelSelector: `${INSTANCE_LABEL}=${target.name}` }, target.namespace);
  return revisionsOf(md, list.items);
}

const status: Action<ReportInvocation> = async (target, invocation) => {
  const md = await getModelDeployment(target);
  const view = statusOf(md, await recorded(target, md));
  return { stdout: invocation.output ? renderStructured(view, invocation.output) : renderStatus(view) };
};

const history: Action<ReportInvocation> = async (target, invocation) => {
  const md = await getModelDeployment(target);
  const entries = historyOf(md, await recorded(target, md));
  if (invocation.output) return { stdout: renderStructured(entries, invocation.output) };
  if (entries.length === 0) return { stdout: '', stderr: `No revisions recorded yet for ${quotedRef(target.name)} in ${target.namespace} namespace.\n` };
  return { stdout: renderHistory(entries) };
};

/** A rollout the operator is running or about to start: a candidate in status, or a spec not yet stable nor aborted. */
function rolloutInProgress(md: ModelDeployment): boolean {
  const status = md.status;
  if (status?.candidateRevision) return true;
  const desired = revisionOf(md);
  return !!status?.stableRevision && desired !== status.stableRevision && desired !== status.rollout?.abortedRevision;
}

const setAnnotation = (target: Target, key: string, value: string | null) =>
  target.client.mergePatch<ModelDeployment>(modelDeploymentResource, target.namespace, target.name, { metadata: { annotations: { [key]: value } } });

const promote: Action<PromoteInvocation> = async (target, invocation) => {
  const md = await getModelDeployment(target);
  if (!rolloutInProgress(md)) throw new CliError(`${quotedRef(target.name)} has no rollout in progress to promote (rollout ${md.status?.rollout?.phase ?? 'not started'})`);
  await setAnnotation(target, RolloutAnnotations.promote, invocation.full ? 'full' : 'true');
  return { stdout: `${objectRef(target.name)} ${invocation.full ? 'full promotion' : 'promotion'} requested\n` };
};

const abort: Action<CommandInvocation> = async (target) => {
  const md = await getModelDeployment(target);
  if (!rolloutInProgress(md)) throw new CliError(`${quotedRef(target.name)} has no rollout in progress to abort (rollout ${md.status?.rollout?.phase ?? 'not started'})`);
  await setAnnotation(target, RolloutAnnotations.abort, 'true');
  return { stdout: `${objectRef(target.name)} abort requested\n` };
};

const retry: Action<CommandInvocation> = async (target) => {
  const md = await getModelDeployment(target);
  const aborted = md.status?.rollout?.abortedRevision;
  // The operator retries only the revision the spec still asks for.
  if (!aborted || aborted !== revisionOf(md)) throw new CliError(`${quotedRef(target.name)} has no aborted rollout to retry`);
  await setAnnotation(target, RolloutAnnotations.retry, 'true');
  return { stdout: `${objectRef(target.name)} retry of revision ${aborted} requested\n` };
};

const pause: Action<CommandInvocation> = async (target) => {
  const md = await getModelDeployment(target);
  if (rolloutCommands(md.metadata.annotations).paused) throw new CliError(`${quotedRef(target.name)} is already paused`);
  await setAnnotation(target, RolloutAnnotations.paused, 'true');
  return { stdout: `${objectRef(target.name)} paused\n` };
};

const resume: Action<CommandInvocation> = async (target) => {
  const md = await getModelDeployment(target);
  if (!rolloutCommands(md.metadata.annotations).paused) throw new CliError(`${quotedRef(target.name)} is not paused`);
  await setAnnotation(target, RolloutAnnotations.paused, null);
  return { stdout: `${objectRef(target.name)} resumed\n` };
};

/** The revision to go back to: the one asked for, else the newest recorded before the stable one. */
export function undoTarget(md: ModelDeployment, revisions: readonly RecordedRevision[], toRevision: number | undefined): RecordedRevision {
  const to = chosenRevision(md, revisions, toRevision);
  refuseAliasUndo(md, to);
  return to;
}

function chosenRevision(md: ModelDeployment, revisions: readonly RecordedRevision[], toRevision: number | undefined): RecordedRevision {
  const numbers = revisions.map((revision) => revision.number).join(', ') || 'none';
  if (toRevision !== undefined) {
    const found = revisions.find((revision) => revision.number === toRevision);
    if (!found) throw new CliError(`unable to find revision ${toRevision} of ${quotedRef(md.metadata.name ?? '')} (recorded: ${numbers})`);
    return found;
  }
  const stable = revisions.find((revision) => revision.hash === md.status?.stableRevision);
  if (!stable) throw new CliError(`${quotedRef(md.metadata.name ?? '')} has no recorded stable revision to roll back from`);
  const previous = revisions.filter((revision) => revision.number < stable.number).at(-1);
  if (!previous) throw new CliError(`${quotedRef(md.metadata.name ?? '')} has no revision before its stable revision ${stable.number} (recorded: ${numbers})`);
  return previous;
}

/**
 * Writing a recorded spec back cannot undo what a registry alias decided: the spec names the alias
 * (the same before and after), and the operator would resolve it to the version it points at now.
 */
function refuseAliasUndo(md: ModelDeployment, to: RecordedRevision): void {
  const { uri } = md.spec.model;
  const reference = parseRegistryUri(uri);
  if (reference?.alias === undefined) return;
  const version = recordedModelVersion(to.spec);
  const pinned = version ? ` (revision ${to.number} served version ${version}), or pin that version: spec.model.uri: models:/${reference.name}/${version}` : '';
  throw new CliError(
    `${quotedRef(md.metadata.name ?? '')} serves ${uri}: the alias ${reference.alias} decides which version runs, not the spec. Move the alias back in the registry${pinned}`,
  );
}

const UNDO_ATTEMPTS = 3;

const undo: Action<UndoInvocation> = async (target, invocation) => {
  for (let attempt = 1; ; attempt += 1) {
    const md = await getModelDeployment(target);
    const revisions = await recorded(target, md);
    const to = undoTarget(md, revisions, invocation.toRevision);
    const summary = revisionText({ hash: to.hash, revision: to.number, modelVersion: recordedModelVersion(to.spec) ?? null });
    if (revisionOf(md) === to.hash) return { stdout: `${objectRef(target.name)} skipped rollback (the spec already is ${summary})\n` };
    try {
      // A whole-object update guarded by resourceVersion: fields absent from the recorded revision are removed, and an edit made meanwhile is not overwritten.
      await target.client.update(modelDeploymentResource, atRevision(md, to.spec));
      return { stdout: `${objectRef(target.name)} rolled back to ${summary}\n` };
    } catch (error) {
      if (!isConflict(error) || attempt >= UNDO_ATTEMPTS) throw error;
    }
  }
};

export function runAction(target: Target, invocation: ActionInvocation): Promise<ActionResult> {
  switch (invocation.verb) {
    case 'status': return status(target, invocation);
    case 'history': return history(target, invocation);
    case 'promote': return promote(target, invocation);
    case 'abort': return abort(target, invocation);
    case 'retry': return retry(target, invocation);
    case 'pause': return pause(target, invocation);
    case 'resume': return resume(target, invocation);
    case 'undo': return undo(target, invocation);
  }
}
