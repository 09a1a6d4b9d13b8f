import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { CRD_NAME, MODEL_DEPLOYMENT_API_VERSION, KIND, SHORT_NAME } from '../../operator/api/crd.ts';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { CRD_PATHS } from '../../scripts/gen-crds.ts';
import type { ModelDeploymentSpec } from '../../operator/api/types.ts';
import { RuntimeContract } from '../../runtime/contract.ts';
import { stderrOf } from '../support/kubectl-error.ts';
import { plane } from './context.ts';

/** ModelDeployments a user applies as they are; each must pass validation. */
const EXAMPLES = readdirSync(join(REPO_ROOT, 'examples')).filter((file) => file.endsWith('.yaml')).sort();
const SHA = 'd62b3cb5bfe02bee1a76b629c2df2001457a426db66ae0514fa8dbe5e50f0cee';

type Spec = Record<string, unknown>;

const validSpec = (): Spec & ModelDeploymentSpec => ({
  model: { uri: 'http://models.modelship-system.svc:8000/fraud-fp32.onnx', sha256: SHA, version: '2' },
  runtime: { resources: { requests: { cpu: '500m', memory: '512Mi' } } },
  autoscaling: { maxReplicas: 5, targetCPUUtilization: 70 },
});

function manifest(name: string, spec: Spec): string {
  return JSON.stringify({ apiVersion: MODEL_DEPLOYMENT_API_VERSION, kind: KIND, metadata: { name }, spec });
}

interface InvalidCase {
  what: string;
  name?: string;
  spec: (spec: Spec & ModelDeploymentSpec) => Spec;
  /** What the user reads in kubectl's error, field path included. */
  refusal: string[];
  /** What the error must not say (noise that hides the message). */
  absent?: string[];
}

const invalidCases: InvalidCase[] = [
  {
    what: 'autoscaling with minReplicas above maxReplicas',
    spec: (s) => ({ ...s, autoscaling: { minReplicas: 5, maxReplicas: 3, targetCPUUtilization: 70 } }),
    refusal: ['spec.autoscaling.minReplicas', 'minReplicas must be less than or equal to maxReplicas'],
  },
  {
    what: 'minReplicas 0 with the HPA, which never scales to zero',
    spec: (s) => ({ ...s, autoscaling: { engine: 'HPA', minReplicas: 0, maxReplicas: 3, targetCPUUtilization: 70 } }),
    refusal: ['spec.autoscaling.minReplicas', 'minReplicas 0 needs engine KEDA (or no engine, where KEDA is installed): a HorizontalPodAutoscaler never scales to zero'],
  },
  {
    what: 'minReplicas 0 with a canary, which the activator cannot hold requests for yet',
    spec: (s) => ({ ...s, autoscaling: { minReplicas: 0, maxReplicas: 3, targetPredictionLatencyMs: 100 }, rollout: { strategy: 'Canary', canary: { steps: [{ weight: 20 }] } } }),
    refusal: ['spec.autoscaling.minReplicas', "autoscaling.minReplicas 0 works with rollout.strategy RollingUpdate, without spec.traffic and without security.tls"],
  },
  {
    what: 'an idle time to zero without minReplicas 0',
    spec: (s) => ({ ...s, autoscaling: { minReplicas: 1, maxReplicas: 3, targetCPUUtilization: 70, scaleToZeroAfterSeconds: 60 } }),
    refusal: ['spec.autoscaling.scaleToZeroAfterSeconds', 'scaleToZeroAfterSeconds applies only with minReplicas 0'],
  },
  {
    what: 'both a fixed replica count and autoscaling',
    spec: (s) => ({ ...s, replicas: 3 }),
    refusal: ['set spec.replicas or spec.autoscaling, not both'],
  },
  {
    what: 'a model URI with an unsupported scheme',
    spec: (s) => ({ ...s, model: { ...s.model, uri: 'ftp://models/fraud.onnx' } }),
    refusal: ['spec.model.uri', 'must start with http://, https://, s3://, pvc://, file:// or models:/'],
  },
  {
    what: 'a model without its uri, with a message that says what a uri looks like',
    spec: (s) => ({ ...s, model: { sha256: SHA } }),
    refusal: ['spec.model.uri', 'spec.model.uri is required: where the model is, e.g. https://models.example.com/fraud.onnx, s3://<bucket>/<key>'],
    absent: ['some validation rules were not checked', 'no such key'],
  },
  {
    what: 'a sha256 that YAML read as a number (sha256: 0000...0 unquoted), telling the user to quote it',
    spec: (s) => ({ ...s, model: { ...s.model, sha256: 0 } }),
    refusal: ['spec.model.sha256', 'must be a string: YAML read this value as a number; quote it: sha256: "'],
    absent: ['some validation rules were not checked'],
  },
  {
    what: 'an INT8 sha256 that YAML read as a number',
    spec: (s) => ({ ...s, model: { ...s.model, variant: 'int8', int8: { uri: 'http://m/fraud-int8.onnx', sha256: 1234567890 } } }),
    refusal: ['spec.model.int8.sha256', 'quote it'],
  },
  {
    what: 'TLS ended in the runtime together with Istio routing (spec.traffic)',
    spec: (s) => ({ ...s, security: { tls: { secretName: 'fraud-cert' } }, traffic: { hosts: ['fraud.example.com'] } }),
    refusal: ['spec.security.tls', 'security.tls ends TLS in the runtime, where Istio cannot route HTTP by header or weight (spec.traffic)'],
  },
  {
    what: 'router GatewayAPI without the Gateways its routes attach to',
    spec: (s) => ({ ...s, traffic: { router: 'GatewayAPI', hosts: ['fraud.example.com'] } }),
    refusal: ['spec.traffic.gateways', "traffic.router GatewayAPI attaches the model's HTTPRoute and GRPCRoute to Gateways: name them in traffic.gateways (namespace/name), or name an HTTPRoute of yours in traffic.httpRouteRef"],
  },
  {
    what: 'an HTTPRoute of the user\'s without router GatewayAPI',
    spec: (s) => ({ ...s, traffic: { httpRouteRef: { name: 'shop' } } }),
    refusal: ['spec.traffic.httpRouteRef', 'traffic.httpRouteRef is an HTTPRoute of the Gateway API: set traffic.router: GatewayAPI'],
  },
  {
    what: 'an HTTPRoute of the user\'s together with gateways or hosts of the model\'s',
    spec: (s) => ({ ...s, traffic: { router: 'GatewayAPI', httpRouteRef: { name: 'shop' }, gateways: ['edge/public'] } }),
    refusal: ['spec.traffic.httpRouteRef', "with traffic.httpRouteRef the HTTPRoute's own parentRefs and hostnames apply: leave traffic.gateways and traffic.hosts out"],
  },
  {
    what: 'retries under router GatewayAPI, whose standard HTTPRoute has none',
    spec: (s) => ({ ...s, traffic: { router: 'GatewayAPI', gateways: ['edge/public'], retries: { attempts: 2 } } }),
    refusal: ['spec.traffic.retries', "traffic.retries needs router Istio: the Gateway API's standard HTTPRoute has no retries"],
  },
  {
    what: 'router Service with settings only a proxy applies',
    spec: (s) => ({ ...s, traffic: { router: 'Service', timeout: '10s' } }),
    refusal: ['spec.traffic.router', "traffic.router Service routes through the model's own Service: hosts, gateways, timeout and retries need router Istio or GatewayAPI"],
  },
  {
    what: 'an A/B test under router Service, which cannot route request by request',
    spec: (s) => ({ ...s, traffic: { router: 'Service' }, rollout: { strategy: 'ABTest', abTest: { header: { name: 'x-variant', value: 'b' } } } }),
    refusal: ['spec.traffic.router', 'rollout.strategy ABTest and Mirror route request by request, which traffic.router Service cannot (it splits by pods): use Istio or GatewayAPI'],
  },
  {
    what: 'a router no one implements',
    spec: (s) => ({ ...s, traffic: { router: 'Linkerd' } }),
    refusal: ['spec.traffic.router', 'Unsupported value: "Linkerd"'],
  },
  {
    what: 'a rate limit with neither a per-client nor a total rate',
    spec: (s) => ({ ...s, runtime: { rateLimit: { burst: 10 } } }),
    refusal: ['spec.runtime.rateLimit', 'rateLimit needs requestsPerSecond (per client), totalRequestsPerSecond (per replica) or both', 'spec.runtime.rateLimit.burst', 'burst sizes the per-client bucket: set requestsPerSecond too'],
  },
  {
    what: 'a file URI without its sha256',
    spec: (s) => ({ ...s, model: { uri: s.model.uri } }),
    refusal: ['spec.model.sha256', 'sha256 is required'],
  },
  {
    what: 'a models:/ URI that names neither a version nor an alias',
    spec: (s) => ({ ...s, model: { uri: 'models:/fraud', mlflow: { trackingUri: 'http://mlflow.mlops:5000' } } }),
    refusal: ['spec.model.uri', 'models:/ URIs name a registered model and a version or an alias'],
  },
  {
    what: 'a models:/ URI with a sha256 of its own',
    spec: (s) => ({ ...s, model: { uri: 'models:/fraud@champion', sha256: SHA, mlflow: { trackingUri: 'http://mlflow.mlops:5000' } } }),
    refusal: ['spec.model.sha256', 'a models:/ URI takes its digest from the registry'],
  },
  {
    what: 'a models:/ URI without model.mlflow',
    spec: (s) => ({ ...s, model: { uri: 'models:/fraud/3' } }),
    refusal: ['spec.model.uri', 'models:/ URIs need model.mlflow.trackingUri'],
  },
  {
    what: 'model.mlflow with a file URI',
    spec: (s) => ({ ...s, model: { ...s.model, mlflow: { trackingUri: 'http://mlflow.mlops:5000' } } }),
    refusal: ['spec.model.mlflow', 'model.mlflow applies only to models:/ URIs'],
  },
  {
    what: 'a models:/ URI with an INT8 file of the spec',
    spec: (s) => ({ ...s, model: { uri: 'models:/fraud@champion', mlflow: { trackingUri: 'http://mlflow.mlops:5000' }, variant: 'int8', int8: { uri: s.model.uri, sha256: SHA } } }),
    refusal: ['spec.model.int8', 'register the INT8 model as a version of its own'],
  },
  {
    what: 'a registry poll interval below the minimum',
    spec: (s) => ({ ...s, model: { uri: 'models:/fraud@champion', mlflow: { trackingUri: 'http://mlflow.mlops:5000', pollIntervalSeconds: 1 } } }),
    refusal: ['spec.model.mlflow.pollIntervalSeconds', 'should be greater than or equal to 5'],
  },
  {
    what: 'a pvc:// URI without a file path',
    spec: (s) => ({ ...s, model: { ...s.model, uri: 'pvc://model-store' } }),
    refusal: ['spec.model.uri', 'pvc:// URIs name the claim and the file in it'],
  },
  {
    what: 'a digest that is not a SHA-256',
    spec: (s) => ({ ...s, model: { ...s.model, sha256: '9f2c...e1' } }),
    refusal: ['spec.model.sha256', 'must be the 64 lowercase hex characters of the SHA-256 digest'],
  },
  {
    what: 'a canary weight above 100%',
    spec: (s) => ({ ...s, rollout: { strategy: 'Canary', canary: { steps: [{ weight: 10 }, { weight: 150 }] } } }),
    refusal: ['spec.rollout.canary.steps[1].weight', 'less than or equal to 100'],
  },
  {
    what: 'canary weights that go down',
    spec: (s) => ({ ...s, rollout: { strategy: 'Canary', canary: { steps: [{ weight: 50 }, { weight: 10 }] } } }),
    refusal: ['spec.rollout.canary.steps', 'step weights must increase from one step to the next'],
  },
  {
    what: 'a canary strategy without steps',
    spec: (s) => ({ ...s, rollout: { strategy: 'Canary' } }),
    refusal: ['spec.rollout.strategy', 'strategy Canary needs rollout.canary.steps'],
  },
  {
    what: 'a canary pause that is not a duration',
    spec: (s) => ({ ...s, rollout: { strategy: 'Canary', canary: { steps: [{ weight: 10, pause: 'two minutes' }] } } }),
    refusal: ['spec.rollout.canary.steps[0].pause', 'must be a duration such as 30s, 2m or 1h30m'],
  },
  {
    what: 'GPUs without a GPU execution provider',
    spec: (s) => ({ ...s, runtime: { ...s.runtime, gpus: 1 } }),
    refusal: ['spec.runtime.gpus', 'gpus > 0 needs a GPU execution provider'],
  },
  {
    what: 'the CUDA execution provider without a GPU',
    spec: (s) => ({ ...s, runtime: { ...s.runtime, executionProviders: ['cuda', 'cpu'] } }),
    refusal: ['spec.runtime.executionProviders', 'need gpus >= 1'],
  },
  {
    what: 'a CPU utilization target without a CPU request',
    spec: (s) => ({ ...s, runtime: {} }),
    refusal: ['spec.autoscaling.targetCPUUtilization', 'needs runtime.resources.requests.cpu'],
  },
  {
    what: 'a CPU utilization target above 100%',
    spec: (s) => ({ ...s, autoscaling: { maxReplicas: 3, targetCPUUtilization: 150 } }),
    refusal: ['spec.autoscaling.targetCPUUtilization', 'less than or equal to 100'],
  },
  {
    what: 'autoscaling without any target',
    spec: (s) => ({ ...s, autoscaling: { maxReplicas: 3 } }),
    refusal: ['autoscaling needs a target: targetCPUUtilization and/or targetPredictionLatencyMs'],
  },
  {
    what: 'an unknown Service type',
    spec: (s) => ({ ...s, service: { type: 'Ingress' } }),
    refusal: ['spec.service.type', 'Unsupported value: "Ingress"', '"ClusterIP", "NodePort", "LoadBalancer"'],
  },
  {
    what: 'a Service port that takes the gRPC port',
    spec: (s) => ({ ...s, service: { port: 8081 } }),
    refusal: ['spec.service.port', "port 8081 is the Service's gRPC port; choose another"],
  },
  {
    what: 'more class names than the runtime gives series',
    spec: (s) => ({ ...s, monitoring: { classNames: Array.from({ length: 33 }, (_, i) => `c${i}`) } }),
    refusal: ['spec.monitoring.classNames', 'must have at most 32 items'],
  },
  {
    what: 'a tracing endpoint that is not an http(s) URL',
    spec: (s) => ({ ...s, tracing: { endpoint: 'otel-collector:4317' } }),
    refusal: ['spec.tracing.endpoint', 'must be an http:// or https:// URL of an OTLP receiver'],
  },
  {
    what: 'a sampling ratio above 1',
    spec: (s) => ({ ...s, tracing: { endpoint: 'http://otel-collector:4318', samplingRatio: 1.5 } }),
    refusal: ['spec.tracing.samplingRatio', 'less than or equal to 1'],
  },
  {
    what: 'a batch size of zero',
    spec: (s) => ({ ...s, runtime: { ...s.runtime, batching: { maxBatchSize: 0 } } }),
    refusal: ['spec.runtime.batching.maxBatchSize', 'greater than or equal to 1'],
  },
  {
    what: 'user env overriding the runtime contract',
    spec: (s) => ({ ...s, runtime: { ...s.runtime, env: [{ name: 'MODELSHIP_PORT', value: '9000' }] } }),
    refusal: ['spec.runtime.env', 'MODELSHIP_* variables are set by the operator from the spec'],
  },
  {
    what: 'the INT8 variant without an INT8 model',
    spec: (s) => ({ ...s, model: { ...s.model, variant: 'int8' } }),
    refusal: ['spec.model.variant', 'variant int8 needs model.int8'],
  },
  {
    what: 'keyless Sigstore signatures (need the public-good infrastructure online)',
    spec: (s) => ({ ...s, model: { ...s.model, signature: { method: 'sigstore', secret: { name: 'signer', key: 'key.pem' } } } }),
    refusal: ['spec.model.signature.method', 'Unsupported value: "sigstore"', '"key"', '"certificate"'],
  },
  {
    what: 'a signature without the Secret that holds the key',
    spec: (s) => ({ ...s, model: { ...s.model, signature: { method: 'key' } } }),
    refusal: ['spec.model.signature.secret', 'Required value'],
  },
  {
    what: 'a signature URI with an unsupported scheme',
    spec: (s) => ({ ...s, model: { ...s.model, signature: { uri: 'ftp://models/fraud.sig', secret: { name: 'signer', key: 'key.pem' } } } }),
    refusal: ['spec.model.signature.uri', 'must start with http://, https://, s3://, pvc:// or file://'],
  },
  {
    what: 'an explicit signature URI while the INT8 variant is served',
    spec: (s) => ({
      ...s,
      model: { ...s.model, int8: { uri: 'http://m/fraud-int8.onnx', sha256: SHA }, variant: 'int8', signature: { uri: 'http://m/fraud.onnx.sig', secret: { name: 'signer', key: 'key.pem' } } },
    }),
    refusal: ['spec.model.signature.uri', 'with variant int8 leave it unset'],
  },
  {
    what: 'no model at all',
    spec: ({ model: _model, ...rest }) => rest,
    refusal: ['spec.model', 'Required value'],
  },
  {
    what: 'a name that cannot name a Service',
    name: '1-fraud',
    spec: (s) => s,
    refusal: ['metadata.name must be a DNS label of at most 55 characters starting with a letter'],
  },
];

describe('ModelDeployment CRD validation (real kube-apiserver)', function () {
  const namespace = `crd-validation-${Date.now().toString(36)}`;
  const kubectl = (args: string[], input?: string) => plane().running.kubectl(args, input);

  before(async function () {
    this.timeout(120_000);
    await kubectl(['apply', '--server-side', '-f', join(REPO_ROOT, CRD_PATHS[0]!)]);
    await kubectl(['wait', '--for=condition=Established', `crd/${CRD_NAME}`, '--timeout=60s']);
    await kubectl(['create', 'namespace', namespace]);
  });

  after(async () => {
    await kubectl(['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
  });

  it('accepts a valid ModelDeployment and fills in the defaults', async () => {
    await kubectl(['create', '-n', namespace, '-f', '-'], manifest('valid', validSpec()));
    const stored = JSON.parse(await kubectl(['get', SHORT_NAME, 'valid', '-n', namespace, '-o', 'json'])) as { spec: ModelDeploymentSpec };
    expect(stored.spec.model).to.include({ format: 'onnx', variant: 'default' });
    expect(stored.spec.runtime?.executionProviders).to.deep.equal(['cpu']);
    expect(stored.spec.runtime?.batching).to.deep.equal({ maxBatchSize: RuntimeContract.maxBatchSize.default, maxQueueDelayMs: RuntimeContract.maxQueueDelayMs.default });
    expect(stored.spec.runtime).to.not.have.property('image');
    expect(stored.spec.autoscaling).to.include({ minReplicas: 1, maxReplicas: 5 });
    expect(stored.spec.service).to.deep.equal({ port: 8080, type: 'ClusterIP' });
    expect(stored.spec.rollout).to.deep.equal({ strategy: 'RollingUpdate' });
    expect(stored.spec).to.not.have.property('replicas');
  });

  it('accepts a signature spec and defaults its method to key', async () => {
    const signed = validSpec();
    signed.model.signature = { secret: { name: 'model-signer', key: 'public-key.pem' } };
    await kubectl(['create', '-n', namespace, '-f', '-'], manifest('signed', signed));
    const stored = JSON.parse(await kubectl(['get', SHORT_NAME, 'signed', '-n', namespace, '-o', 'json'])) as { spec: ModelDeploymentSpec };
    expect(stored.spec.model.signature).to.deep.equal({ method: 'key', secret: { name: 'model-signer', key: 'public-key.pem' } });
  });

  it('accepts scale to zero: minReplicas 0 and an idle time, with KEDA or no engine named', async () => {
    for (const [name, engine] of [['zero-keda', 'KEDA'], ['zero-unnamed', undefined]] as const) {
      const zero = validSpec();
      zero.autoscaling = { ...(engine && { engine }), minReplicas: 0, maxReplicas: 3, targetPredictionLatencyMs: 100, scaleToZeroAfterSeconds: 60 };
      await kubectl(['create', '-n', namespace, '-f', '-'], manifest(name, zero));
      const stored = JSON.parse(await kubectl(['get', SHORT_NAME, name, '-n', namespace, '-o', 'json'])) as { spec: ModelDeploymentSpec };
      expect(stored.spec.autoscaling).to.deep.include({ minReplicas: 0, scaleToZeroAfterSeconds: 60 });
    }
  });

  it('shows model, version, ready, phase, stable and candidate revision, weight and age in kubectl get md', async () => {
    const table = await kubectl(['get', SHORT_NAME, '-n', namespace]);
    expect(table.split('\n')[0]?.split(/\s+/).filter(Boolean)).to.deep.equal(['NAME', 'MODEL', 'VERSION', 'READY', 'PHASE', 'STABLE', 'CANDIDATE', 'WEIGHT', 'AGE']);
    // Every column but name and age comes from status, which the operator writes (none runs here).
    expect(table).to.match(/^valid\s+\d+s$/m);
  });

  it('scales a fixed-size ModelDeployment through the scale subresource, and refuses to under autoscaling', async () => {
    const fixed: Spec = { ...validSpec(), replicas: 1 };
    delete fixed.autoscaling;
    await kubectl(['create', '-n', namespace, '-f', '-'], manifest('fixed', fixed));
    await kubectl(['scale', SHORT_NAME, 'fixed', '-n', namespace, '--replicas=3']);
    expect(await kubectl(['get', SHORT_NAME, 'fixed', '-n', namespace, '-o', 'jsonpath={.spec.replicas}'])).to.equal('3');
    const refusal = await kubectl(['scale', SHORT_NAME, 'valid', '-n', namespace, '--replicas=3']).then(() => '', stderrOf);
    expect(refusal).to.contain('set spec.replicas or spec.autoscaling, not both');
  });

  it('refuses to change or drop traffic.httpRouteRef once set (the model\'s rules are in that route), and says what to do', async () => {
    const shared: Spec = { ...validSpec(), traffic: { router: 'GatewayAPI', httpRouteRef: { name: 'shop' } } };
    await kubectl(['create', '-n', namespace, '-f', '-'], manifest('shared-route', shared));
    const message = "traffic.httpRouteRef cannot be changed or removed while the model's rules are in that HTTPRoute: delete the ModelDeployment (its rules go with it) and create it again";
    for (const traffic of [{ router: 'GatewayAPI', httpRouteRef: { name: 'other' } }, { router: 'GatewayAPI', gateways: ['edge/public'] }, undefined]) {
      const refusal = await kubectl(['replace', '-n', namespace, '-f', '-'], manifest('shared-route', { ...shared, traffic })).then(() => '', stderrOf);
      expect(refusal, JSON.stringify(traffic)).to.contain(message);
    }
    // Everything else may change.
    await kubectl(['replace', '-n', namespace, '-f', '-'], manifest('shared-route', { ...shared, traffic: { ...shared.traffic as object, timeout: '5s' } }));
  });

  for (const example of EXAMPLES) {
    it(`accepts ${example} as it is`, async () => {
      const text = await readFile(join(REPO_ROOT, 'examples', example), 'utf8');
      // A file may carry what its ModelDeployment needs (signed-model.yaml: the signer's key Secret).
      expect((loadAll(text) as { kind?: string }[]).filter((document) => document.kind === KIND)).to.have.length(1);
      const out = await kubectl(['create', '--dry-run=server', '-n', namespace, '-f', '-'], text);
      expect(out).to.contain('created (server dry run)');
    });
  }

  describe('refuses invalid specs with a message that says what to fix', () => {
    for (const invalid of invalidCases) {
      it(`refuses ${invalid.what}`, async () => {
        const body = manifest(invalid.name ?? 'invalid', invalid.spec(validSpec()));
        const error = await kubectl(['create', '-n', namespace, '-f', '-'], body).then(
          () => undefined,
          stderrOf,
        );
        expect(error, 'the apiserver accepted it').to.be.a('string');
        expect(error).to.contain('is invalid');
        for (const text of invalid.refusal) expect(error).to.contain(text);
        for (const text of invalid.absent ?? []) expect(error).to.not.contain(text);
      });
    }
  });
});
