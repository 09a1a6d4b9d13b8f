import type { KubernetesObject, V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
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

  describe('scale to zero (minReplicas 0): KEDA, and the activator holding requests at zero', () => {
    const ACTIVATOR = { namespace: 'modelship-system', name: 'modelship-activator' };
    const ZERO = { minReplicas: 0, maxReplicas: 3, targetPredictionLatencyMs: 50, scaleToZeroAfterSeconds: 120 };
    const activatorPods = [{ address: '10.88.0.40', port: 8012 }, { address: '10.88.0.41', port: 8012 }];
    const deployment = (replicas: number, available: number): V1Deployment => ({
      metadata: { name: 'fraud-detector' }, spec: { replicas, selector: {}, template: {} }, status: { replicas, availableReplicas: available },
    });
    const zeroPlan = (deployments: V1Deployment[], options: OperatorOptions = { ...OPTIONS, prometheusUrl: PROMETHEUS, activator: ACTIVATOR }, providers = ['KEDA']) =>
      planModelDeployment({ md: modelDeployment({ autoscaling: ZERO }), options, controllerRevisions: [], deployments, served: servedBy(...providers), activatorEndpoints: activatorPods, now: NOW });
    const slices = (plan: Plan) => ofKind<KubernetesObject & { endpoints: unknown[]; ports: unknown[] }>(plan, 'EndpointSlice');

    it('lets KEDA take the model to zero after the idle time, polled every second, active while the activator holds requests or the pods served some in the last minute', () => {
      const plan = zeroPlan([deployment(1, 1)]);
      const [scaled] = ofKind<ScaledObject & { spec: { pollingInterval?: number; cooldownPeriod?: number } }>(plan, 'ScaledObject');
      expect(scaled?.spec).to.deep.include({ minReplicaCount: 0, maxReplicaCount: 3, pollingInterval: 1, cooldownPeriod: 120 });
      expect(scaled?.spec.triggers.map((trigger) => trigger.name)).to.deep.equal(['prediction-latency', 'activity']);
      expect(scaled?.spec.triggers[1]).to.deep.equal({
        type: 'prometheus', name: 'activity', metricType: 'AverageValue',
        metadata: {
          serverAddress: PROMETHEUS,
          query: '(sum(modelship_activator_pending_requests{model_namespace="payments",model_service="fraud-detector"}) or vector(0)) + (sum(rate(prediction_requests_total{namespace="payments",model="fraud-detector"}[1m])) or vector(0))',
          threshold: '1000000', activationThreshold: '0', ignoreNullValues: 'true',
        },
      });
      expect(plan.autoscaling).to.deep.equal({
        status: 'True', reason: 'KEDA',
        message: 'a KEDA ScaledObject scales 0-3 replicas on mean prediction latency (50 ms); to zero after 120 s without requests, the activator holding the first HTTP requests until a pod is ready (gRPC calls are refused until then)',
      });
    });

    it('leads the model\'s Service to the activator while no pod is ready or KEDA has set zero replicas, and not once a pod is', () => {
      for (const [replicas, available] of [[0, 0], [1, 0], [0, 1]] as const) {
        const [slice] = slices(zeroPlan([deployment(replicas, available)]));
        expect(slice, `${replicas} replicas, ${available} available`).to.deep.include({
          apiVersion: 'discovery.k8s.io/v1', addressType: 'IPv4',
          ports: [{ name: 'http', port: 8012, protocol: 'TCP', appProtocol: 'http' }],
          endpoints: [{ addresses: ['10.88.0.40'], conditions: { ready: true } }, { addresses: ['10.88.0.41'], conditions: { ready: true } }],
        });
        expect(slice?.metadata?.name).to.equal('fraud-detector-activator');
        expect(slice?.metadata?.labels).to.include({ 'kubernetes.io/service-name': 'fraud-detector', 'endpointslice.kubernetes.io/managed-by': 'activator.modelship.io' });
        expect(slice?.metadata?.ownerReferences?.[0]).to.include({ kind: 'ModelDeployment', controller: true });
      }
      expect(slices(zeroPlan([])), 'before the Deployment exists').to.have.length(1);
      expect(slices(zeroPlan([deployment(2, 1)])), 'a pod is ready').to.deep.equal([]);
    });

    it('probes a model that scales to zero every second, so its first pod takes the held requests within a second of loading', () => {
      const probesOf = (plan: Plan) => {
        const container = ofKind<V1Deployment>(plan, 'Deployment')[0]?.spec?.template.spec?.containers[0];
        return [container?.startupProbe, container?.readinessProbe].map((probe) => [probe?.periodSeconds, (probe?.periodSeconds ?? 0) * (probe?.failureThreshold ?? 0)]);
      };
      expect(probesOf(zeroPlan([])), 'period and how long each allows').to.deep.equal([[1, 600], [1, 15]]);
      expect(probesOf(planOf({ autoscaling: AUTOSCALING, runtime: RESOURCES }, ['KEDA'])), 'any other model').to.deep.equal([[5, 600], [5, 15]]);
    });

    it('keeps one replica, and says why, where nothing can take the model to zero or hold its first request', () => {
      const noActivator = zeroPlan([deployment(1, 1)], { ...OPTIONS, prometheusUrl: PROMETHEUS });
      expect(ofKind<ScaledObject>(noActivator, 'ScaledObject')[0]?.spec.minReplicaCount).to.equal(1);
      expect(slices(zeroPlan([deployment(0, 0)], { ...OPTIONS, prometheusUrl: PROMETHEUS }))).to.deep.equal([]);
      expect(noActivator.autoscaling).to.deep.equal({
        status: 'False', reason: 'ScaleToZeroUnavailable',
        message: 'minReplicas 0 cannot be had (nothing would hold the first request at zero: the operator runs without the activator (MODELSHIP_ACTIVATOR_SERVICE)): a KEDA ScaledObject scales 1-3 replicas on mean prediction latency (50 ms)',
      });
      const noKeda = zeroPlan([deployment(1, 1)], undefined, []);
      expect(ofKind<V2HorizontalPodAutoscaler>(noKeda, 'HorizontalPodAutoscaler').map((hpa) => hpa.spec?.minReplicas)).to.deep.equal([1]);
      expect(noKeda.autoscaling).to.deep.equal({
        status: 'False', reason: 'ScaleToZeroUnavailable',
        message: 'minReplicas 0 cannot be had (KEDA is not installed (no ScaledObject CRD, scaledobjects.keda.sh); a HorizontalPodAutoscaler never scales to zero): a HorizontalPodAutoscaler scales 1-3 replicas on mean prediction latency (50 ms)',
      });
    });
  });
});
