import { SpecDefaults, type AutoscalerName } from '../../api/schema.ts';
import type { ModelDeployment } from '../../api/types.ts';
import type { ConditionState } from '../../status/conditions.ts';
import type { ChildKind } from '../child-kind.ts';
import type { OperatorOptions } from '../options.ts';
import { describeTargets, type Autoscaler } from './engine.ts';
import { hpaAutoscaler } from './hpa.ts';
import { kedaAutoscaler } from './keda.ts';

/** Every autoscaler, by the name spec.autoscaling.engine gives it. */
export const autoscalers: Readonly<Record<AutoscalerName, Autoscaler>> = {
  HPA: hpaAutoscaler,
  KEDA: kedaAutoscaler,
};

/** The kinds of every autoscaler, for the registry of child kinds. */
export const autoscalerKinds: readonly ChildKind[] = Object.values(autoscalers).flatMap((autoscaler) => autoscaler.kinds);

/** Where nothing is named, KEDA scales when it is installed. */
const PREFERRED = kedaAutoscaler;

export interface AutoscalerChoice {
  autoscaler: Autoscaler;
  /** The Autoscaling condition: which autoscaler scales on what, and why the HPA stands in for KEDA. */
  condition: ConditionState;
}

/**
 * The autoscaler of a ModelDeployment with spec.autoscaling: the one it names, else KEDA where it is
 * installed, else the HPA. The HPA stands in, and says why, for a KEDA that is not installed or
 * cannot scale this model (its latency trigger needs a Prometheus); the condition is False only
 * where the spec named the autoscaler that could not be used.
 */
export function autoscalerOf(md: ModelDeployment, served: (kind: ChildKind) => boolean, options: OperatorOptions): AutoscalerChoice | undefined {
  const autoscaling = md.spec.autoscaling;
  if (!autoscaling) return undefined;
  const named = autoscaling.engine ? autoscalers[autoscaling.engine] : undefined;
  const wanted = named ?? (PREFERRED.installed(served) ? PREFERRED : hpaAutoscaler);
  const targets = describeTargets(autoscaling, autoscaling.minReplicas ?? SpecDefaults.minReplicas);
  const why = !wanted.installed(served) ? wanted.missing : wanted.unable({ md, autoscaling, options });
  if (why && !named) {
    return { autoscaler: hpaAutoscaler, condition: { status: 'True', reason: hpaAutoscaler.name, message: `a ${hpaAutoscaler.product} scales ${targets} (${why})` } };
  }
  if (why) {
    return {
      autoscaler: hpaAutoscaler,
      condition: { status: 'False', reason: `${wanted.name}Unavailable`, message: `${why}: a ${hpaAutoscaler.product} scales ${targets} instead` },
    };
  }
  return { autoscaler: wanted, condition: { status: 'True', reason: wanted.name, message: `a ${wanted.product} scales ${targets}` } };
}
