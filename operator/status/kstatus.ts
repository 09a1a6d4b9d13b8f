import type { ConditionState } from './conditions.ts';

/** A Degraded state, and whether it waits on a person or a spec change rather than on time. */
export interface Problem {
  state: ConditionState;
  /** The operator cannot get past it by itself (an abort, a refused child, a passed deadline). */
  stalls: boolean;
}

export interface KstatusInputs {
  progressing: ConditionState;
  problem: Problem | undefined;
  ready: ConditionState;
}

/**
 * kstatus' standard conditions (sigs.k8s.io/cli-utils/pkg/kstatus), the ones Flux, cli-utils
 * appliers and `kubectl wait` users read for any custom resource: Stalled=True while the operator
 * cannot make progress, Reconciling=True while it still works towards the spec, both False once
 * the desired revision serves at full size. kstatus compares status.observedGeneration with
 * metadata.generation first, so a spec the operator has not seen yet reads InProgress whatever
 * these say.
 */
export function kstatusConditions({ progressing, problem, ready }: KstatusInputs): { Reconciling: ConditionState; Stalled: ConditionState } {
  if (problem?.stalls) {
    return {
      Reconciling: { status: 'False', reason: problem.state.reason, message: 'stalled: see the Stalled condition' },
      Stalled: { ...problem.state, status: 'True' },
    };
  }
  const notStalled: ConditionState = { status: 'False', reason: 'AsExpected', message: '' };
  if (progressing.status === 'True') return { Reconciling: progressing, Stalled: notStalled };
  // Pods lost after the rollout completed come back through the Deployment controller: still working.
  if (problem) return { Reconciling: { ...problem.state, status: 'True' }, Stalled: notStalled };
  return { Reconciling: { status: 'False', reason: 'Reconciled', message: ready.message }, Stalled: notStalled };
}
