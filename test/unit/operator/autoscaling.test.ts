import type { KubernetesObject, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ModelDeploymentSpec } from '../../../operator/api/types.ts';
import { meanLatencyQuery, planModelDeployment, type OperatorOptions, type Plan } from '../../../operator/desired/index.ts';
import { modelDeployment, OPTIONS, servedBy } from './fixtures.ts';

const NOW = new Date('2026-12-06T10:00:00Z');
const PROMETHEUS = 'http://prometheus.monitoring.svc:9090';
const AUTOSCALING = { minReplicas: 2, maxReplicas: 20, targetCPUUtilization: 70, targetPredictionLatencyMs: 200, behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } };
const RESOURCES = { resources: { requests: { cpu: '500m' } } };

interface ScaledObject extends KubernetesObject {
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    advanced?: { horizontalPodAutoscalerConfig?: { behavior?: unknown } };
    triggers: { type: string; name: string; metricType: string; metadata: Record<string, string> }[];
  };
}

function planOf(spec: Partial<ModelDeploymentSpec>, providers: string[], options: OperatorOptions = { ...OPTIONS, prometheusUrl: PROMETHEUS }): Plan {
  return planModelDeployment({ md: modelDeployment(spec), options, controllerRevisions: [], deployments: [], served: servedBy(...providers), now: NOW });
}

const ofKind = <T extends KubernetesObject>(plan: Plan, kind: string) => plan.objects.filter((object) => object.kind === kind) as T[];

describe('autoscaling: one spec, the HPA or KEDA (operator/desired/autoscaling)', () => {
  it('writes an HPA where KEDA is not installed, and says which scales on what', () => {
    const plan = planOf({ autoscaling: AUTOSCALING, runtime: RESOURCES }, []);
    expect(ofKind(plan, 'ScaledObject')).to.deep.equal([]);
    expect(ofKind<V2HorizontalPodAutoscaler>(plan, 'HorizontalPodAutoscaler').map((hpa) => hpa.spec?.minReplicas)).to.deep.equal([2]);
    expect(plan.autoscaling).to.deep.equal({
      status: 'True', reason: 'HPA',
      message: 'a HorizontalPodAutoscaler scales 2-20 replicas on mean prediction latency (200 ms) and CPU (70% of the request)',
    });
  });

  it('writes a ScaledObject instead where KEDA is installed: a Prometheus trigger on the mean latency, a CPU trigger, the same bounds and behavior', () => {
    const plan = planOf({ autoscaling: AUTOSCALING, runtime: RESOURCES }, ['KEDA']);
    expect(ofKind(plan, 'HorizontalPodAutoscaler'), 'KEDA makes the HPA').to.deep.equal([]);
    const [scaled] = ofKind<ScaledObject>(plan, 'ScaledObject');
    expect(scaled?.apiVersion).to.equal('keda.sh/v1alpha1');
    expect(scaled?.metadata?.ownerReferences?.[0]).to.include({ kind: 'ModelDeployment', name: 'fraud-detector', controller: true });
    expect(scaled?.spec).to.deep.include({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'fraud-detector' },
      minReplicaCount: 2,
      maxReplicaCount: 20,
      advanced: { horizontalPodAutoscalerConfig: { behavior: AUTOSCALING.behavior } },
    });
    expect(scaled?.spec.triggers).to.deep.equal([
      {
        type: 'prometheus', name: 'prediction-latency', metricType: 'Value',
        metadata: {
          serverAddress: PROMETHEUS,
          query: meanLatencyQuery('namespace="payments",model="fraud-detector"'),
          threshold: '0.2',
          ignoreNullValues: 'true',
        },
      },
      { type: 'cpu', name: 'cpu', metricType: 'Utilization', metadata: { value: '70' } },
    ]);
    expect(plan.autoscaling).to.deep.include({ status: 'True', reason: 'KEDA', message: 'a KEDA ScaledObject scales 2-20 replicas on mean prediction latency (200 ms) and CPU (70% of the request)' });
  });

  it('asks KEDA for each revision of a canary, its latency query that revision\'s pods alone', () => {
    const md = modelDeployment({ autoscaling: { maxReplicas: 4, targetPredictionLatencyMs: 50 }, rollout: { strategy: 'Canary', canary: { steps: [{ weight: 20 }] } } });
    const plan = planModelDeployment({ md, options: { ...OPTIONS, prometheusUrl: PROMETHEUS }, controllerRevisions: [], deployments: [], served: servedBy('KEDA', 'Istio'), now: NOW });
    const [scaled] = ofKind<ScaledObject>(plan, 'ScaledObject');
    const revision = plan.rollout.stableRevision;
    expect(scaled?.metadata?.name).to.equal(`fraud-detector-${revision}`);
    expect(scaled?.spec.scaleTargetRef.name).to.equal(`fraud-detector-${revision}`);
    expect(scaled?.spec.triggers[0]?.metadata.query).to.equal(meanLatencyQuery(`namespace="payments",model="fraud-detector",revision="${revision}"`));
    expect(scaled?.spec.triggers[0]?.metadata.threshold).to.equal('0.05');
  });

  it('keeps the HPA where the spec names it, KEDA installed or not', () => {
    const plan = planOf({ autoscaling: { ...AUTOSCALING, engine: 'HPA' }, runtime: RESOURCES }, ['KEDA']);
    expect(ofKind(plan, 'ScaledObject')).to.deep.equal([]);
    expect(ofKind(plan, 'HorizontalPodAutoscaler')).to.have.length(1);
    expect(plan.autoscaling).to.include({ status: 'True', reason: 'HPA' });
  });

  it('lets an HPA stand in for a named KEDA that is not installed, with a False condition that says why', () => {
    const plan = planOf({ autoscaling: { ...AUTOSCALING, engine: 'KEDA' }, runtime: RESOURCES }, []);
    expect(ofKind(plan, 'HorizontalPodAutoscaler')).to.have.length(1);
    expect(plan.autoscaling).to.deep.equal({
      status: 'False', reason: 'KEDAUnavailable',
      message: 'KEDA is not installed (no ScaledObject CRD, scaledobjects.keda.sh): a HorizontalPodAutoscaler scales 2-20 replicas on mean prediction latency (200 ms) and CPU (70% of the request) instead',
    });
  });

  it('does not write a latency trigger that could ask no Prometheus: without the operator\'s Prometheus URL the HPA scales', () => {
    const named = planOf({ autoscaling: { ...AUTOSCALING, engine: 'KEDA' }, runtime: RESOURCES }, ['KEDA'], OPTIONS);
    expect(ofKind(named, 'ScaledObject')).to.deep.equal([]);
    expect(named.autoscaling?.status).to.equal('False');
    expect(named.autoscaling?.message).to.match(/^KEDA's Prometheus trigger needs the Prometheus that scrapes the runtimes, and the operator names none \(MODELSHIP_PROMETHEUS_URL/);
    const unnamed = planOf({ autoscaling: AUTOSCALING, runtime: RESOURCES }, ['KEDA'], OPTIONS);
    expect(unnamed.autoscaling).to.include({ status: 'True', reason: 'HPA' });
    // On CPU alone KEDA needs no Prometheus.
    const cpuOnly = planOf({ autoscaling: { maxReplicas: 3, targetCPUUtilization: 50 }, runtime: RESOURCES }, ['KEDA'], OPTIONS);
    expect(ofKind<ScaledObject>(cpuOnly, 'ScaledObject').map((scaled) => scaled.spec.triggers.map((t) => t.type))).to.deep.equal([['cpu']]);
  });

  it('writes no autoscaler and no condition without spec.autoscaling', () => {
    const plan = planOf({ replicas: 3 }, ['KEDA']);
    expect(plan.objects.filter((object) => ['ScaledObject', 'HorizontalPodAutoscaler'].includes(object.kind ?? ''))).to.deep.equal([]);
    expect(plan.autoscaling).to.equal(undefined);
  });
});
