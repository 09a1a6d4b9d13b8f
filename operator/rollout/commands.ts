import { API_GROUP } from '../api/crd.ts';

/**
 * Manual rollout commands are annotations on the ModelDeployment, not spec fields, so a GitOps
 * sync of the spec never undoes them; the operator removes promote, abort and retry once acted on.
 */
export const RolloutAnnotations = {
  promote: `${API_GROUP}/promote`,
  abort: `${API_GROUP}/abort`,
  paused: `${API_GROUP}/paused`,
  retry: `${API_GROUP}/retry`,
} as const;

export interface RolloutCommands {
  /** true: finish the current step (a step without a pause waits for this); 'full': promote at once. */
  promote?: true | 'full';
  abort?: true;
  /** Held while the annotation is present: timers stop, weights stay. */
  paused?: true;
  /** Roll out an aborted revision again, from the first step. */
  retry?: true;
}

const truthy = (value: string | undefined) => value !== undefined && value !== 'false';

export function rolloutCommands(annotations: Readonly<Record<string, string>> | undefined): RolloutCommands {
  const promote = annotations?.[RolloutAnnotations.promote];
  return {
    ...(truthy(promote) && { promote: promote === 'full' ? 'full' : true }),
    ...(truthy(annotations?.[RolloutAnnotations.abort]) && { abort: true }),
    ...(truthy(annotations?.[RolloutAnnotations.paused]) && { paused: true }),
    ...(truthy(annotations?.[RolloutAnnotations.retry]) && { retry: true }),
  };
}
