import { SpecDefaults, type AutoscalerName } from '../../api/schema.ts';
import type { ModelDeployment } from '../../api/types.ts';
import type { ConditionState } from '../../status/conditions.ts';
import type { ChildKind } from '../child-kind.ts';
import type { OperatorOptions } from '../options.ts';
import { describeTargets, type Autoscaler, type Autoscaling, type ScaleToZero } from './engine.ts';
import { hpaAutoscaler } from './hpa.ts';
import { kedaAutoscaler } from './keda.ts';

/** Every autoscaler, by the name spec.autoscaling.engine gives it. */
export const autoscalers: Readonly<Record<AutoscalerName, Autoscaler>> = {
  HPA: hpaAutoscaler,
  KEDA: kedaAutoscaler,
};

/** The kinds of every autoscaler, for the registry of child kinds. */
export const autoscalerKinds: readonly ChildKind[] = Object.values(autoscalers).flatMap((autoscaler) => autoscaler.kinds);

/**
 * The model asks to go to zero replicas (whether it can is autoscalerOf's answer): its first requests
 * after zero may meet cold starts, and its traffic may lead to the activator.
 */
export function asksForZero(md: ModelDeployment): boolean {
  return md.spec.autoscaling?.minReplicas === 0;
}

/** Where nothing is named, KEDA scales when it is installed. */
const PREFERRED = kedaAutoscaler;

export interface AutoscalerChoice {
  autoscaler: Autoscaler;
  /** The Autoscaling condition: which autoscaler scales on what, and why the HPA stands in for KEDA. */
  condition: ConditionState;
  /** Present where the model goes to zero replicas: minReplicas 0, an autoscaler that can, and an activator. */
  scaleToZero?: ScaleToZero;
}

/**
 * The autoscaler of a ModelDeployment with spec.autoscaling: the one it names, else KEDA where it is
 * installed, else the HPA. The HPA stands in, and says why, for a KEDA that is not installed or
 * cannot scale this model (its latency trigger needs a Prometheus); the condition is False only
 * where the spec named the autoscaler that could not be used, or asked for zero replicas that
 * cannot be had (then one replica stays).
 */
export function autoscalerOf(md: ModelDeployment, served: (kind: ChildKind) => boolean, options: OperatorOptions): AutoscalerChoice | undefined {
  const autoscaling = md.spec.autoscaling;
  if (!autoscaling) return undefined;
  const named = autoscaling.engine ? autoscalers[autoscaling.engine] : undefined;
  const wanted = named ?? (PREFERRED.installed(served) ? PREFERRED : hpaAutoscaler);
  const why = !wanted.installed(served) ? wanted.missing : wanted.unable({ md, autoscaling, options });
  const chosen = why ? hpaAutoscaler : wanted;
  const minReplicas = autoscaling.minReplicas ?? SpecDefaults.minReplicas;
  const noZero = asksForZero(md) ? whyNotToZero(chosen, why, served, options) : undefined;
  const floor = noZero ? 1 : minReplicas;
  const targets = describeTargets(autoscaling, floor);
  const scaleToZero = asksForZero(md) && !noZero ? { afterSeconds: autoscaling.scaleToZeroAfterSeconds ?? SpecDefaults.scaleToZeroAfterSeconds } : undefined;
  const atZero = scaleToZero ? `; to zero after ${scaleToZero.afterSeconds} s without requests, the activator holding the first HTTP requests until a pod is ready (gRPC calls are refused until then)` : '';
  const scaling = `a ${chosen.product} scales ${targets}${atZero}`;
  const withZero = (choice: Omit<AutoscalerChoice, 'scaleToZero'>): AutoscalerChoice => ({ ...choice, ...(scaleToZero && { scaleToZero }) });
  if (noZero) {
    return { autoscaler: chosen, condition: { status: 'False', reason: 'ScaleToZeroUnavailable', message: `minReplicas 0 cannot be had (${noZero}): ${scaling}` } };
  }
  if (why && !named) return withZero({ autoscaler: chosen, condition: { status: 'True', reason: chosen.name, message: `${scaling} (${why})` } });
  if (why) return withZero({ autoscaler: chosen, condition: { status: 'False', reason: `${wanted.name}Unavailable`, message: `${why}: ${scaling} instead` } });
  return withZero({ autoscaler: chosen, condition: { status: 'True', reason: chosen.name, message: scaling } });
}

/** Why a model cannot go to zero with the autoscaler chosen for it (`why`: why the wanted one was not); undefined: it can. */
function whyNotToZero(chosen: Autoscaler, why: string | undefined, served: (kind: ChildKind) => boolean, options: OperatorOptions): string | undefined {
  if (!chosen.scalesToZero) {
    const reasons = [why, PREFERRED.installed(served) ? undefined : PREFERRED.missing, `a ${chosen.product} never scales to zero`];
    return [...new Set(reasons.filter((reason): reason is string => Boolean(reason)))].join('; ');
  }
  if (!options.activator) return 'nothing would hold the first request at zero: the operator runs without the activator (MODELSHIP_ACTIVATOR_SERVICE)';
  return undefined;
}

/** The autoscaling the chosen autoscaler is given: minReplicas 0 that cannot be had becomes 1. */
export function effectiveAutoscaling(autoscaling: Autoscaling, choice: AutoscalerChoice): Autoscaling {
  return autoscaling.minReplicas === 0 && !choice.scaleToZero ? { ...autoscaling, minReplicas: 1 } : autoscaling;
}
