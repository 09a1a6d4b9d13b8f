import Type from 'typebox';
import { EXECUTION_PROVIDERS, LOG_LEVELS, MODEL_SIGNATURE_METHODS, OTLP_PROTOCOLS, PREDICTION_CLASS_LIMIT, RUNTIME_DEFAULT_GRPC_PORT, RUNTIME_DEFAULT_PORT, RuntimeContract } from '../../runtime/contract.ts';
import { OperatorSettings } from '../settings.ts';
import { ContractInteger } from './contract-fields.ts';
import { Duration, IntOrPercent, LabelSelectorMap, ObjectName, QuantityMap, QuotedString, StringEnum, StringMap, requiredByRule, rules, type CelRule } from './k8s-types.ts';

/**
 * The ModelDeployment API, written once: the CRD's OpenAPI schema is generated from these
 * definitions (operator/api/crd.ts) and the TypeScript types are derived from them
 * (operator/api/types.ts). CEL rules carry the messages `kubectl apply` shows a user.
 */

/** Defaults the apiserver fills in; builders fall back to the same values for objects not read from the API. */
export const SpecDefaults = {
  modelFormat: 'onnx',
  modelVariant: 'default',
  executionProviders: RuntimeContract.executionProviders.default,
  maxBatchSize: RuntimeContract.maxBatchSize.default,
  maxQueueDelayMs: RuntimeContract.maxQueueDelayMs.default,
  servicePort: RUNTIME_DEFAULT_PORT,
  serviceType: 'ClusterIP',
  minReplicas: 1,
  scaleToZeroAfterSeconds: 300,
  replicas: 1,
  strategy: 'RollingUpdate',
  analysisInterval: '1m',
  minRequests: 100,
  failureLimit: 1,
  onInconclusive: 'Hold',
  authSecretKey: 'token',
  meshMtls: 'Strict',
  registryTokenKey: 'token',
  revisionHistoryLimit: 10,
  /** How long a replaced revision keeps its pods after traffic left it, so in-flight requests and slow proxies drain. */
  scaleDownDelaySeconds: 30,
  blueGreenAutoPromote: true,
  mirrorPercent: 100,
  signatureMethod: 'key',
} as const;

export const GPU_EXECUTION_PROVIDERS = ['cuda', 'tensorrt'] as const;
export const MODEL_URI_SCHEMES = ['http', 'https', 's3', 'pvc', 'file'] as const;
/** A model in an MLflow model registry: models:/<name>/<version> or models:/<name>@<alias>. */
export const REGISTRY_URI_PREFIX = 'models:/';
export const REGISTRY_URI_PATTERN = '^models:/([^/@]{1,256})(/([0-9]{1,10})|@([A-Za-z0-9_-]{1,255}))$';
export const ROLLOUT_STRATEGIES = ['RollingUpdate', 'Canary', 'BlueGreen', 'ABTest', 'Mirror'] as const;
/** Strategies that run each live revision as its own Deployment and move traffic between them. */
export const PROGRESSIVE_STRATEGIES = ['Canary', 'BlueGreen', 'ABTest', 'Mirror'] as const;
export const ROLLOUT_PHASES = ['Stable', 'Progressing', 'Paused', 'WaitingForPromotion', 'Aborted'] as const;
export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'] as const;
export const PHASES = ['Pending', 'Progressing', 'Ready', 'Degraded', 'Idle'] as const;
/** Reconciling and Stalled are kstatus' standard conditions (sigs.k8s.io/cli-utils), read by Flux and other GitOps tools. */
export const CONDITION_TYPES = ['Ready', 'Progressing', 'Degraded', 'Reconciling', 'Stalled', 'TrafficRouting', 'Autoscaling', 'AlertRules', 'ModelResolved', 'Admitted'] as const;
export const MAX_NAME_LENGTH = 55;

/** "a, b or c", for messages. */
const oneOf = (items: readonly string[]) => `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
const celList = (values: readonly string[]) => `[${values.map((v) => `'${v}'`).join(', ')}]`;

/** A label-value-safe token, so it can label pods and appear in metrics. */
const LabelValue = (description: string) =>
  Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$', description });

/** Where a file the runtime reads may be, beyond its scheme: s3, pvc and file locations. */
const fileLocationRules = [
  {
    rule: "!self.startsWith('s3://') || self.matches('^s3://[a-z0-9][-a-z0-9.]{1,61}[a-z0-9]/.+')",
    message: 's3:// URIs name a bucket and a key: s3://<bucket>/<path/to/model.onnx>',
  },
  {
    rule: "!self.startsWith('pvc://') || self.matches('^pvc://[a-z0-9]([-a-z0-9.]*[a-z0-9])?/.+')",
    message: 'pvc:// URIs name the claim and the file in it: pvc://<claim>/<path/to/model.onnx>',
  },
  {
    rule: "!self.startsWith('file://') || self.matches('^file:///.+')",
    message: 'file:// URIs need an absolute path inside the runtime image: file:///models/model.onnx',
  },
];

/** Where a file the runtime reads is: the model, or its signature. */
const fileUriRules = () =>
  rules(
    { rule: `self.matches('^(${MODEL_URI_SCHEMES.join('|')})://')`, message: `must start with ${oneOf(MODEL_URI_SCHEMES.map((scheme) => `${scheme}://`))}` },
    ...fileLocationRules,
  );

const fileUri = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'Where the ONNX file is: http(s)://host/path, s3://bucket/key (S3-compatible), pvc://<claim>/<path> or file:///<path in the runtime image>.',
  ...fileUriRules(),
});

const modelUri = Type.String({
  minLength: 1,
  maxLength: 2048,
  description:
    'Where the ONNX file is: http(s)://host/path, s3://bucket/key (S3-compatible), pvc://<claim>/<path>, file:///<path in the runtime image>, or a model in an MLflow registry: models:/<name>/<version> or models:/<name>@<alias> (with model.mlflow).',
  ...rules(
    {
      rule: `self.matches('^(${MODEL_URI_SCHEMES.join('|')})://') || self.startsWith('${REGISTRY_URI_PREFIX}')`,
      message: `must start with ${MODEL_URI_SCHEMES.map((scheme) => `${scheme}://`).join(', ')} or ${REGISTRY_URI_PREFIX}`,
    },
    ...fileLocationRules,
    {
      rule: `!self.startsWith('${REGISTRY_URI_PREFIX}') || self.matches('${REGISTRY_URI_PATTERN}')`,
      message: 'models:/ URIs name a registered model and a version or an alias: models:/<name>/<version> or models:/<name>@<alias>',
    },
  ),
});

const sha256 = QuotedString({
  maxLength: 64,
  description: 'SHA-256 of the file (sha256sum model.onnx), quoted; the runtime refuses a file that does not match.',
  example: 'sha256: "<the 64 hex characters of sha256sum model.onnx>"',
  rules: [{
    rule: "self.matches('^[a-f0-9]{64}$')",
    message: 'must be the 64 lowercase hex characters of the SHA-256 digest (sha256sum model.onnx)',
  }],
});

const modelFileProperties = { uri: fileUri, sha256 };

export const S3SettingsSchema = Type.Object({
  endpoint: Type.Optional(
    Type.String({
      maxLength: 2048,
      description: 'Endpoint of an S3-compatible store (MinIO, Ceph ...); AWS when unset.',
      ...rules({ rule: "self.matches('^https?://')", message: 'must be an http:// or https:// URL' }),
    }),
  ),
  region: Type.Optional(Type.String({ maxLength: 64, description: 'Region of the bucket, e.g. eu-west-1.' })),
  credentialsSecret: Type.Optional(
    ObjectName({ description: 'Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; anonymous access when unset.' }),
  ),
});

export const ModelSignatureSchema = Type.Object({
  method: Type.Optional(StringEnum(MODEL_SIGNATURE_METHODS, {
    default: SpecDefaults.signatureMethod,
    description: 'How the signer is trusted: key (model_signing sign key: an ECDSA public key) or certificate (model_signing sign certificate: a signing certificate chained to the CA certificates in the Secret). Keyless Sigstore signatures need the public-good infrastructure online and are not offered.',
  })),
  secret: Type.Object({
    name: ObjectName({ description: 'Secret holding the PEM public key (method key) or the PEM CA certificate(s) (method certificate); mounted read-only into the runtime.' }),
    key: Type.String({ minLength: 1, maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$', description: 'The key in the Secret, e.g. public-key.pem or ca.pem.' }),
  }),
  uri: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 2048,
    description: 'Where the signature (the Sigstore bundle model_signing writes) is, with the same schemes as the model; <served model uri>.sig when unset.',
    ...fileUriRules(),
  })),
}, { description: 'Verify the model file against its OpenSSF model-signing v1 signature before serving it; a pod whose model does not verify never turns ready.' });

const { min: minPollSeconds, max: maxPollSeconds } = OperatorSettings.registryPollSeconds;

export const MlflowSchema = Type.Object({
  trackingUri: Type.String({
    maxLength: 2048,
    description: 'Base URL of the MLflow tracking server that holds the model registry, e.g. http://mlflow.mlops:5000.',
    ...rules({ rule: "self.matches('^https?://')", message: 'must be an http:// or https:// URL' }),
  }),
  tokenSecret: Type.Optional(Type.Object({
    name: ObjectName({ description: 'Secret holding the bearer token for the tracking server; sent to its REST API and with the model download. It must be labelled modelship.io/registry-token=true.' }),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 253, default: SpecDefaults.registryTokenKey })),
  })),
  artifactPath: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 1024,
    description: "The .onnx file inside the model version's artifacts, e.g. model.int8.onnx; by default the file the MLmodel's onnx flavor names, else the only .onnx file.",
    ...rules({ rule: "!self.startsWith('/') && !self.split('/').exists(p, p == '..')", message: 'must be a relative path inside the model version, without ..' }),
  })),
  pollIntervalSeconds: Type.Optional(Type.Integer({
    minimum: minPollSeconds,
    maximum: maxPollSeconds,
    description: `How often the reference is resolved again (a moved alias starts a new revision); the operator's ${OperatorSettings.registryPollSeconds.name} when unset.`,
  })),
}, { description: 'The MLflow model registry a models:/ URI refers to.' });

/** The model's rules that read model.uri, skipped while it is missing: then only "uri is required" shows. */
const whenUriSet = (...celRules: CelRule[]): CelRule[] => celRules.map((celRule) => ({ ...celRule, rule: `!has(self.uri) || (${celRule.rule})` }));

export const ModelSchema = requiredByRule('uri', Type.Object(
  {
    uri: modelUri,
    sha256: Type.Optional(sha256),
    mlflow: Type.Optional(MlflowSchema),
    version: Type.Optional(LabelValue('Version of the model, reported by the runtime and shown by kubectl get md.')),
    name: Type.Optional(LabelValue('Name in the Open Inference Protocol (/v2/models/<name>); the ModelDeployment name when unset.')),
    format: Type.Optional(StringEnum(['onnx'], { default: SpecDefaults.modelFormat, description: 'File format; ONNX is the one the runtime serves.' })),
    int8: Type.Optional(
      Type.Object(modelFileProperties, { description: 'An INT8-quantized variant of the same model, served when variant is int8.' }),
    ),
    variant: Type.Optional(
      StringEnum(['default', 'int8'], { default: SpecDefaults.modelVariant, description: 'Which file to serve.' }),
    ),
    s3: Type.Optional(S3SettingsSchema),
    signature: Type.Optional(ModelSignatureSchema),
  },
  rules(
    {
      rule: 'has(self.uri)',
      message: `spec.model.uri is required: where the model is, e.g. https://models.example.com/fraud.onnx, s3://<bucket>/<key>, pvc://<claim>/<path>, file:///<path in the image>, or ${REGISTRY_URI_PREFIX}<name>@<alias> for an MLflow registry`,
      fieldPath: '.uri',
      reason: 'FieldValueRequired',
    },
    ...whenUriSet(
    {
      rule: `self.uri.startsWith('${REGISTRY_URI_PREFIX}') || has(self.sha256)`,
      message: 'sha256 is required: the SHA-256 of the file (sha256sum model.onnx)',
      fieldPath: '.sha256',
      reason: 'FieldValueRequired',
    },
    {
      rule: `!self.uri.startsWith('${REGISTRY_URI_PREFIX}') || !has(self.sha256)`,
      message: 'a models:/ URI takes its digest from the registry: leave sha256 out',
      fieldPath: '.sha256',
    },
    {
      rule: `!self.uri.startsWith('${REGISTRY_URI_PREFIX}') || has(self.mlflow)`,
      message: 'models:/ URIs need model.mlflow.trackingUri (the MLflow tracking server that holds the registry)',
      fieldPath: '.uri',
    },
    {
      rule: `!has(self.mlflow) || self.uri.startsWith('${REGISTRY_URI_PREFIX}')`,
      message: 'model.mlflow applies only to models:/ URIs',
      fieldPath: '.mlflow',
    },
    {
      rule: `!self.uri.startsWith('${REGISTRY_URI_PREFIX}') || (!has(self.int8) && self.variant != 'int8')`,
      message: 'a registry model serves the file of its version: register the INT8 model as a version of its own (or pick its file with mlflow.artifactPath) instead of model.int8 and variant int8',
      fieldPath: '.int8',
    },
    {
      rule: "self.variant != 'int8' || has(self.int8)",
      message: 'variant int8 needs model.int8 (the uri and sha256 of the quantized model)',
      fieldPath: '.variant',
    },
    {
      rule: "!has(self.s3) || self.uri.startsWith('s3://') || (has(self.int8) && self.int8.uri.startsWith('s3://')) || (has(self.signature) && has(self.signature.uri) && self.signature.uri.startsWith('s3://'))",
      message: 'model.s3 settings apply only to s3:// URIs',
      fieldPath: '.s3',
    },
    {
      rule: "!has(self.signature) || !has(self.signature.uri) || self.variant != 'int8'",
      message: 'signature.uri is the signature of model.uri; with variant int8 leave it unset and put the signature next to the INT8 file (<int8.uri>.sig)',
      fieldPath: '.signature.uri',
    },
    ),
  ),
));

const TolerationSchema = Type.Object({
  key: Type.Optional(Type.String({ maxLength: 316 })),
  operator: Type.Optional(StringEnum(['Exists', 'Equal'])),
  value: Type.Optional(Type.String({ maxLength: 63 })),
  effect: Type.Optional(StringEnum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])),
  tolerationSeconds: Type.Optional(Type.Integer()),
});

const KeyRefSchema = Type.Object({ name: ObjectName(), key: Type.String({ minLength: 1, maxLength: 253 }), optional: Type.Optional(Type.Boolean()) });

const EnvVarSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }),
    value: Type.Optional(Type.String({ maxLength: 4096 })),
    valueFrom: Type.Optional(
      Type.Object(
        { secretKeyRef: Type.Optional(KeyRefSchema), configMapKeyRef: Type.Optional(KeyRefSchema) },
        rules({ rule: 'has(self.secretKeyRef) != has(self.configMapKeyRef)', message: 'valueFrom takes exactly one of secretKeyRef or configMapKeyRef' }),
      ),
    ),
  },
  rules({ rule: '!(has(self.value) && has(self.valueFrom))', message: 'an env entry takes value or valueFrom, not both' }),
);

const BatchingSchema = Type.Object(
  {
    maxBatchSize: Type.Optional(ContractInteger(RuntimeContract.maxBatchSize, { withDefault: true, description: 'Most rows merged into one model run; 1 turns batching off.' })),
    maxQueueDelayMs: Type.Optional(ContractInteger(RuntimeContract.maxQueueDelayMs, { withDefault: true, description: 'How long a request may wait for others to batch with.' })),
    preferredBatchSizes: Type.Optional(
      Type.Array(Type.Integer({ minimum: RuntimeContract.preferredBatchSizes.min, maximum: RuntimeContract.maxBatchSize.max }), { maxItems: 16, description: 'Batch sizes the model runs best at; a batch that reaches one is run without waiting longer.' }),
    ),
    // No default here and below: a new default would change the revision of every existing ModelDeployment.
    maxQueueSize: Type.Optional(ContractInteger(RuntimeContract.maxQueueSize, { description: 'Requests queued beyond this are refused with 429.' })),
  },
  {
    default: {},
    description: 'Dynamic batching: concurrent requests merged into one model run.',
    ...rules({
      rule: '!has(self.preferredBatchSizes) || self.preferredBatchSizes.all(s, s <= self.maxBatchSize)',
      message: 'preferredBatchSizes must not exceed maxBatchSize',
      fieldPath: '.preferredBatchSizes',
    }),
  },
);

const RateLimitSchema = Type.Object(
  {
    requestsPerSecond: Type.Optional(ContractInteger(RuntimeContract.rateLimitRps, {
      description: 'Per client, REST and gRPC together: its sustained requests per second. A client is its bearer token where spec.security.authSecret requires one, else its address.',
    })),
    burst: Type.Optional(ContractInteger(RuntimeContract.rateLimitBurst, { description: 'Requests a client may send at once after being idle; the rate when unset or 0.' })),
    totalRequestsPerSecond: Type.Optional(ContractInteger(RuntimeContract.rateLimitTotalRps, { description: 'All clients of one replica together.' })),
  },
  {
    description: 'Rate limits each runtime replica enforces (the Service takes this times the ready replicas): beyond them, 429 with Retry-After, or RESOURCE_EXHAUSTED over gRPC. Probes and /metrics are never limited.',
    ...rules(
      { rule: 'has(self.requestsPerSecond) || has(self.totalRequestsPerSecond)', message: 'rateLimit needs requestsPerSecond (per client), totalRequestsPerSecond (per replica) or both' },
      { rule: '!has(self.burst) || has(self.requestsPerSecond)', message: 'burst sizes the per-client bucket: set requestsPerSecond too', fieldPath: '.burst' },
    ),
  },
);

export const RuntimeSchema = Type.Object(
  {
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "The runtime image; the operator's default when unset, so upgrading the operator upgrades runtimes." })),
    imagePullPolicy: Type.Optional(StringEnum(['Always', 'IfNotPresent', 'Never'], { description: "The runtime container's image pull policy; Kubernetes' default when unset." })),
    imagePullSecrets: Type.Optional(Type.Array(ObjectName(), { maxItems: 8, description: 'Secrets (by name) to pull the runtime image with.' })),
    resources: Type.Optional(Type.Object(
      { requests: Type.Optional(QuantityMap()), limits: Type.Optional(QuantityMap()) },
      { description: 'CPU and memory requests and limits of the runtime container (cpu: 500m, memory: 1Gi); the CPU limit also sizes the intra-op thread pool.' },
    )),
    gpus: Type.Optional(Type.Integer({ minimum: 0, maximum: 16, description: 'nvidia.com/gpu to request per replica.' })),
    nodeSelector: Type.Optional(StringMap({ maxProperties: 16, valueMaxLength: 63, description: 'Node labels the runtime pods must land on, e.g. a GPU model.' })),
    tolerations: Type.Optional(Type.Array(TolerationSchema, { maxItems: 16, description: 'Taints the runtime pods tolerate, besides nvidia.com/gpu which gpus > 0 tolerates by itself.' })),
    executionProviders: Type.Optional(
      Type.Array(StringEnum(EXECUTION_PROVIDERS), {
        minItems: 1,
        maxItems: EXECUTION_PROVIDERS.length,
        default: [...SpecDefaults.executionProviders],
        'x-kubernetes-list-type': 'set',
        description: 'ONNX Runtime execution providers in order of preference, e.g. [cuda, cpu].',
      }),
    ),
    threads: Type.Optional(
      Type.Object({
        intraOp: Type.Optional(ContractInteger(RuntimeContract.intraOpThreads, { description: 'Threads inside one operator; from the CPU limit when unset or 0.' })),
        interOp: Type.Optional(ContractInteger(RuntimeContract.interOpThreads, { description: "Threads across operators; onnxruntime's choice when unset or 0." })),
      }),
    ),
    batching: Type.Optional(BatchingSchema),
    maxConcurrentRuns: Type.Optional(ContractInteger(RuntimeContract.maxConcurrentRuns, { description: 'Model runs (batches) executing at once in one pod.' })),
    rateLimit: Type.Optional(RateLimitSchema),
    logLevel: Type.Optional(StringEnum(LOG_LEVELS, { description: "The runtime's log level; the runtime's default when unset." })),
    env: Type.Optional(
      Type.Array(EnvVarSchema, {
        maxItems: 64,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        ...rules({
          rule: "!self.exists(e, e.name.startsWith('MODELSHIP_'))",
          message: 'MODELSHIP_* variables are set by the operator from the spec; use the matching spec fields instead',
        }),
      }),
    ),
  },
  {
    // The apiserver checks a default against the rules without filling in its nested defaults.
    default: { executionProviders: [...SpecDefaults.executionProviders] },
    description: 'The model server pods: image, resources, GPUs, execution providers, threads, batching.',
    ...rules(
      {
        rule: `!has(self.gpus) || self.gpus == 0 || self.executionProviders.exists(p, p in ${celList(GPU_EXECUTION_PROVIDERS)})`,
        message: 'gpus > 0 needs a GPU execution provider: add cuda, e.g. executionProviders: [cuda, cpu]',
        fieldPath: '.gpus',
      },
      {
        rule: `!self.executionProviders.exists(p, p in ${celList(GPU_EXECUTION_PROVIDERS)}) || (has(self.gpus) && self.gpus > 0)`,
        message: 'execution providers cuda and tensorrt need gpus >= 1 to schedule onto a GPU',
        fieldPath: '.executionProviders',
      },
      {
        rule: "!has(self.resources) || !has(self.resources.limits) || !('nvidia.com/gpu' in self.resources.limits)",
        message: 'request GPUs with runtime.gpus, not resources.limits[nvidia.com/gpu]',
        fieldPath: '.resources',
      },
    ),
  },
);

const ScalingRulesSchema = Type.Object({
  stabilizationWindowSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
  selectPolicy: Type.Optional(StringEnum(['Max', 'Min', 'Disabled'])),
  policies: Type.Optional(
    Type.Array(
      Type.Object({
        type: StringEnum(['Pods', 'Percent']),
        value: Type.Integer({ minimum: 1 }),
        periodSeconds: Type.Integer({ minimum: 1, maximum: 1800 }),
      }),
      { maxItems: 8 },
    ),
  ),
});

/** The autoscaling engines a ModelDeployment can name (operator/desired/autoscaling/registry.ts has one of each). */
export const AUTOSCALERS = ['HPA', 'KEDA'] as const;
export type AutoscalerName = (typeof AUTOSCALERS)[number];

export const AutoscalingSchema = Type.Object(
  {
    engine: Type.Optional(StringEnum(AUTOSCALERS, {
      description:
        'What scales the model: HPA (a HorizontalPodAutoscaler; its latency target reads the per-pod custom metric prediction_latency from a metrics adapter such as prometheus-adapter) or KEDA (a ScaledObject: a Prometheus trigger on the same latency, a CPU trigger, the same bounds and behavior). Unset: KEDA where it is installed, else HPA. KEDA named but not installed leaves an HPA scaling and says so in the Autoscaling condition.',
    })),
    minReplicas: Type.Optional(Type.Integer({
      minimum: 0,
      maximum: 1000,
      default: SpecDefaults.minReplicas,
      description: "Fewest replicas the autoscaler keeps. 0: the model scales to zero once it has had no requests for scaleToZeroAfterSeconds (KEDA), and back on demand: the operator's activator holds the first requests until a pod is ready.",
    })),
    scaleToZeroAfterSeconds: Type.Optional(Type.Integer({
      minimum: 0,
      maximum: 86_400,
      description: `With minReplicas 0: how long the model runs without requests (after the last minute's latency window empties) before it scales to zero; default ${SpecDefaults.scaleToZeroAfterSeconds} (KEDA's cooldownPeriod).`,
    })),
    maxReplicas: Type.Integer({ minimum: 1, maximum: 1000, description: 'Most replicas the autoscaler may start.' }),
    targetCPUUtilization: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Average CPU use in percent of the CPU request.' })),
    targetPredictionLatencyMs: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 600_000, description: "Mean prediction latency in ms over the last minute (the HPA's per-pod metric prediction_latency, or KEDA's Prometheus trigger)." }),
    ),
    behavior: Type.Optional(Type.Object(
      { scaleUp: Type.Optional(ScalingRulesSchema), scaleDown: Type.Optional(ScalingRulesSchema) },
      { description: "Passed to the HPA's spec.behavior as it is (KEDA: its HPA's): how fast it scales up and down." },
    )),
  },
  rules(
    { rule: 'self.minReplicas <= self.maxReplicas', message: 'minReplicas must be less than or equal to maxReplicas', fieldPath: '.minReplicas' },
    {
      rule: 'has(self.targetCPUUtilization) || has(self.targetPredictionLatencyMs)',
      message: 'autoscaling needs a target: targetCPUUtilization and/or targetPredictionLatencyMs',
    },
    {
      rule: "!has(self.minReplicas) || self.minReplicas > 0 || !has(self.engine) || self.engine == 'KEDA'",
      message: 'minReplicas 0 needs engine KEDA (or no engine, where KEDA is installed): a HorizontalPodAutoscaler never scales to zero',
      fieldPath: '.minReplicas',
    },
    {
      rule: '!has(self.scaleToZeroAfterSeconds) || (has(self.minReplicas) && self.minReplicas == 0)',
      message: 'scaleToZeroAfterSeconds applies only with minReplicas 0',
      fieldPath: '.scaleToZeroAfterSeconds',
    },
  ),
);

export const ServiceSchema = Type.Object(
  {
    port: Type.Optional(Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: SpecDefaults.servicePort,
      description: `The Service port of the REST API; the gRPC API is on port ${RUNTIME_DEFAULT_GRPC_PORT} (named grpc).`,
      ...rules({ rule: `self != ${RUNTIME_DEFAULT_GRPC_PORT}`, message: `port ${RUNTIME_DEFAULT_GRPC_PORT} is the Service's gRPC port; choose another` }),
    })),
    type: Type.Optional(StringEnum(SERVICE_TYPES, { default: SpecDefaults.serviceType, description: "The model Service's type." })),
  },
  { default: {}, description: 'The Service in front of the runtime pods, named like the ModelDeployment.' },
);

const AnalysisCheckSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
    query: Type.String({
      minLength: 1,
      maxLength: 4096,
      description: 'PromQL giving one number; {{revision}}, {{stableRevision}}, {{namespace}}, {{name}} and {{interval}} are filled in.',
    }),
    min: Type.Optional(Type.Number({ description: 'The check fails below this.' })),
    max: Type.Optional(Type.Number({ description: 'The check fails above this.' })),
  },
  rules({ rule: 'has(self.min) || has(self.max)', message: 'a check needs min and/or max' }),
);

export const AnalysisSchema = Type.Object(
  {
    prometheus: Type.Optional(Type.String({
      maxLength: 2048,
      description: "Base URL of the Prometheus that scrapes the runtimes; the operator's MODELSHIP_PROMETHEUS_URL when unset.",
      ...rules({ rule: "self.matches('^https?://')", message: 'must be an http:// or https:// URL' }),
    })),
    interval: Type.Optional(Duration({ default: SpecDefaults.analysisInterval, description: 'How often the candidate is measured; each sample covers the last interval.' })),
    failureLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: SpecDefaults.failureLimit, description: 'Failed samples that roll the candidate back.' })),
    minRequests: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: SpecDefaults.minRequests, description: 'Fewer candidate requests in a sample make it inconclusive, never a pass.' })),
    onInconclusive: Type.Optional(StringEnum(['Hold', 'Fail'], { default: SpecDefaults.onInconclusive, description: 'Hold the step, or count an inconclusive sample as a failure.' })),
    maxP99LatencyMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000, description: "Candidate's p99 prediction_latency." })),
    maxErrorRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Fraction of candidate requests answered with a 4xx/5xx (429 excluded), 0.01 = 1%.' })),
    maxClassShareRatio: Type.Optional(Type.Number({
      minimum: 1,
      maximum: 1000,
      description: "Bound on candidate/stable share of each predicted class (prediction_class_total), both ways: 2 fails a candidate that flags twice (or half) as much fraud.",
    })),
    checks: Type.Optional(Type.Array(AnalysisCheckSchema, { maxItems: 16, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], description: 'Custom PromQL checks, each bounded by min and/or max.' })),
  },
  rules({
    rule: 'has(self.maxP99LatencyMs) || has(self.maxErrorRate) || has(self.maxClassShareRatio) || (has(self.checks) && size(self.checks) > 0)',
    message: 'analysis needs at least one check: maxP99LatencyMs, maxErrorRate, maxClassShareRatio or checks',
  }),
);

export const CanaryStepSchema = Type.Object({
  weight: Type.Integer({ minimum: 0, maximum: 100, description: 'Percent of traffic sent to the new revision.' }),
  pause: Type.Optional(Duration({ description: 'How long to hold this step before the next one.' })),
});

export const RolloutSchema = Type.Object(
  {
    strategy: Type.Optional(StringEnum(ROLLOUT_STRATEGIES, { default: SpecDefaults.strategy, description: 'How a new revision (model or runtime change) replaces the running one; see docs/rollouts.md.' })),
    rollingUpdate: Type.Optional(Type.Object(
      {
        maxSurge: Type.Optional(IntOrPercent({ description: 'Pods above the desired count during the update.' })),
        maxUnavailable: Type.Optional(IntOrPercent({ description: 'Pods below the desired count during the update.' })),
      },
      { description: "The Deployment's rolling update settings." },
    )),
    blueGreen: Type.Optional(
      Type.Object({
        autoPromote: Type.Optional(Type.Boolean({ default: SpecDefaults.blueGreenAutoPromote, description: 'Switch traffic as soon as the new revision is ready; else wait for modelship.io/promote.' })),
        scaleDownDelaySeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400, default: SpecDefaults.scaleDownDelaySeconds, description: 'How long the old revision keeps running after the switch.' })),
      }),
    ),
    canary: Type.Optional(
      Type.Object({
        steps: Type.Array(CanaryStepSchema, {
          minItems: 1,
          maxItems: 20,
          ...rules({
            rule: 'self.map(s, s.weight).isSorted() && self.all(s, self.exists_one(t, t.weight == s.weight))',
            message: 'step weights must increase from one step to the next, e.g. 10, 50, 100',
          }),
        }),
      }),
    ),
    analysis: Type.Optional(AnalysisSchema),
    abTest: Type.Optional(
      Type.Object(
        {
          header: Type.Optional(Type.Object({
            name: Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9-]+$', description: 'HTTP header that selects the candidate, e.g. x-model-variant.' }),
            value: Type.String({ minLength: 1, maxLength: 1024, description: 'Exact value that selects the candidate.' }),
          })),
          cookie: Type.Optional(Type.Object({
            name: Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_-]+$' }),
            value: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z0-9_.-]+$' }),
          })),
        },
        {
          description: 'Requests matching the header or the cookie go to the candidate, the rest to the stable revision (needs traffic.router Istio or GatewayAPI).',
          ...rules({ rule: 'has(self.header) || has(self.cookie)', message: 'abTest needs a header or a cookie to match' }),
        },
      ),
    ),
    mirror: Type.Optional(
      Type.Object({
        percent: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: SpecDefaults.mirrorPercent, description: 'Share of live requests also sent to the candidate; its answers are discarded (needs traffic.router Istio or GatewayAPI).' })),
      }),
    ),
  },
  {
    default: { strategy: SpecDefaults.strategy },
    description: 'How new revisions roll out; see docs/rollouts.md.',
    ...rules(
      { rule: "self.strategy != 'Canary' || has(self.canary)", message: 'strategy Canary needs rollout.canary.steps', fieldPath: '.strategy' },
      { rule: "!has(self.canary) || self.strategy == 'Canary'", message: 'rollout.canary is only used with strategy: Canary', fieldPath: '.canary' },
      { rule: "!has(self.blueGreen) || self.strategy == 'BlueGreen'", message: 'rollout.blueGreen is only used with strategy: BlueGreen', fieldPath: '.blueGreen' },
      { rule: "self.strategy != 'ABTest' || has(self.abTest)", message: 'strategy ABTest needs rollout.abTest (a header or cookie that selects the candidate)', fieldPath: '.strategy' },
      { rule: "!has(self.abTest) || self.strategy == 'ABTest'", message: 'rollout.abTest is only used with strategy: ABTest', fieldPath: '.abTest' },
      { rule: "!has(self.mirror) || self.strategy == 'Mirror'", message: 'rollout.mirror is only used with strategy: Mirror', fieldPath: '.mirror' },
      { rule: "!has(self.analysis) || self.strategy == 'Canary'", message: 'rollout.analysis gates canary steps: it is only used with strategy: Canary', fieldPath: '.analysis' },
      {
        rule: "!has(self.rollingUpdate) || self.strategy == 'RollingUpdate'",
        message: 'rollout.rollingUpdate is only used with strategy: RollingUpdate',
        fieldPath: '.rollingUpdate',
      },
    ),
  },
);

/** The traffic routers a ModelDeployment can name (operator/desired/routing/registry.ts has one of each). */
export const TRAFFIC_ROUTERS = ['Istio', 'GatewayAPI', 'Service'] as const;
export type TrafficRouterName = (typeof TRAFFIC_ROUTERS)[number];

export const TrafficSchema = Type.Object({
  router: Type.Optional(StringEnum(TRAFFIC_ROUTERS, {
    description:
      'What routes the model\'s traffic: Istio (a VirtualService), GatewayAPI (an HTTPRoute and a GRPCRoute on traffic.gateways) or Service (the model\'s own Service: replica counts for a canary, its selector for blue/green). Unset: Istio where it is installed, else the Service. A router that is not installed leaves the Service routing and says so in the TrafficRouting condition.',
  })),
  hosts: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: '^(\\*\\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' }), {
    maxItems: 16,
    description: 'Extra host names routed to the model (through an Istio ingress gateway, or the HTTPRoute\'s hostnames); under Istio the in-cluster Service name is always routed. With router GatewayAPI and no hosts, the model shares its Gateways\' hosts with other routes: its HTTPRoute takes only the path /v2/models/<model name>, and its GRPCRoute every V2 gRPC call on them (gRPC cannot tell models apart), so give each model served over gRPC through a shared Gateway hosts of its own.',
  })),
  gateways: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' }), {
    maxItems: 8,
    description: 'Gateways (namespace/name) that expose the hosts: Istio Gateways (in-mesh traffic keeps being routed too), or with router GatewayAPI the Gateways the routes attach to (their parentRefs).',
  })),
  httpRouteRef: Type.Optional(Type.Object({
    name: Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', description: 'The HTTPRoute, in the model\'s namespace.' }),
  }, {
    description:
      'With router GatewayAPI: an HTTPRoute you own, into which the operator writes only the model\'s own rules (named modelship-<name> and modelship-<name>-ab, matching the path /v2/models/<model name>), never touching its other rules, filters, hostnames or parentRefs; it takes them out again when the ModelDeployment is deleted (a finalizer holds the deletion until then). gRPC is not routed through it: a GRPCRoute cannot tell models apart.',
  })),
  timeout: Type.Optional(Duration({ description: 'Per-request timeout enforced by the router (with GatewayAPI, on REST requests: GRPCRoute has no timeout).' })),
  retries: Type.Optional(Type.Object({
    attempts: Type.Integer({ minimum: 0, maximum: 10, description: 'Retries of a failed request.' }),
    perTryTimeout: Type.Optional(Duration({ description: 'Timeout of each attempt.' })),
    retryOn: Type.Optional(Type.String({ maxLength: 256, description: "Envoy retry conditions, e.g. 'connect-failure,refused-stream,unavailable'." })),
  })),
}, {
  description: 'How the model\'s traffic is routed: which router, hosts, gateways, timeouts and retries (status condition TrafficRouting says whether it is applied).',
  ...rules(
    {
      rule: "!has(self.router) || self.router != 'GatewayAPI' || has(self.gateways) || has(self.httpRouteRef)",
      message: "traffic.router GatewayAPI attaches the model's HTTPRoute and GRPCRoute to Gateways: name them in traffic.gateways (namespace/name), or name an HTTPRoute of yours in traffic.httpRouteRef",
      fieldPath: '.gateways',
    },
    {
      rule: "!has(self.httpRouteRef) || (has(self.router) && self.router == 'GatewayAPI')",
      message: 'traffic.httpRouteRef is an HTTPRoute of the Gateway API: set traffic.router: GatewayAPI',
      fieldPath: '.httpRouteRef',
    },
    {
      rule: '!has(self.httpRouteRef) || (!has(self.gateways) && !has(self.hosts))',
      message: "with traffic.httpRouteRef the HTTPRoute's own parentRefs and hostnames apply: leave traffic.gateways and traffic.hosts out",
      fieldPath: '.httpRouteRef',
    },
    {
      rule: "!has(self.router) || self.router != 'GatewayAPI' || !has(self.retries)",
      message: "traffic.retries needs router Istio: the Gateway API's standard HTTPRoute has no retries",
      fieldPath: '.retries',
    },
    {
      rule: "!has(self.router) || self.router != 'Service' || (!has(self.hosts) && !has(self.gateways) && !has(self.timeout) && !has(self.retries))",
      message: "traffic.router Service routes through the model's own Service: hosts, gateways, timeout and retries need router Istio or GatewayAPI",
      fieldPath: '.router',
    },
  ),
});

export const SloSchema = Type.Object(
  {
    p99LatencyMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000, description: 'Alert when the p99 prediction_latency stays above this for alertAfter (5 minutes).' })),
    errorRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Alert when the share of 5xx answers stays above this for alertAfter (5 minutes), 0.01 = 1%.' })),
    alertAfter: Type.Optional(Duration({
      description: 'How long the p99 latency and error-rate alerts look back (their rate window) and how long a breach must last before they fire; unset: 5m. Shorter pages on shorter spikes, and noisier.',
    })),
    availability: Type.Optional(Type.Number({
      minimum: 0.5,
      maximum: 0.99999,
      description: 'Target share of requests answered without a 5xx over 30 days, e.g. 0.999: alert when the last hour burns the error budget 14.4x too fast (and the last 5 minutes agree).',
    })),
  },
  {
    description: 'Service-level objectives, alerted on by a PrometheusRule the operator writes where the Prometheus Operator is installed (condition AlertRules).',
    ...rules({ rule: 'has(self.p99LatencyMs) || has(self.errorRate) || has(self.availability)', message: 'slo needs p99LatencyMs, errorRate and/or availability' }),
  },
);

export const SecuritySchema = Type.Object({
  authSecret: Type.Optional(
    Type.Object({
      name: ObjectName({ description: 'Secret holding the bearer token clients must send (several, one per line, while clients move to a new one). Mounted into the runtime and re-read: rotating it needs no restart.' }),
      key: Type.Optional(Type.String({ minLength: 1, maxLength: 253, default: SpecDefaults.authSecretKey, description: 'Key of the token in the Secret.' })),
    }),
  ),
  tls: Type.Optional(Type.Object({
    secretName: ObjectName({ description: 'A kubernetes.io/tls Secret (tls.crt, tls.key: what cert-manager\'s Certificate writes) in the namespace.' }),
  }, { description: 'Serve REST over HTTPS and gRPC over TLS, without a mesh, with the certificate in secretName; a renewed certificate is served without a restart. Probes and the Prometheus scrape annotation switch to HTTPS.' })),
  meshMtls: Type.Optional(StringEnum(['Strict', 'Permissive', 'MeshDefault'], {
    description: "While Istio routes the model's traffic, a PeerAuthentication on its pods: Strict (the default: only mesh workloads with their certificates reach the runtime; Prometheus scrapes through the sidecar's merged metrics), Permissive (plain text accepted too), or MeshDefault (none: the namespace or mesh policy applies).",
  })),
  networkPolicy: Type.Optional(
    Type.Object({
      enabled: Type.Optional(Type.Boolean({ default: false, description: "Admit traffic to the runtime only from the namespace itself, the namespaces of spec.traffic.gateways (the mesh ingress), the operator's Prometheus namespace (MODELSHIP_PROMETHEUS_NAMESPACE) and allowFrom." })),
      allowFrom: Type.Optional(
        Type.Array(
          Type.Object(
            { namespaceSelector: Type.Optional(LabelSelectorMap()), podSelector: Type.Optional(LabelSelectorMap()) },
            rules({ rule: 'has(self.namespaceSelector) || has(self.podSelector)', message: 'allowFrom entries need namespaceSelector and/or podSelector' }),
          ),
          { maxItems: 16 },
        ),
      ),
    }),
  ),
}, { default: {}, description: 'Bearer-token auth, mesh mTLS and NetworkPolicy of the runtime.' });

export const MonitoringSchema = Type.Object({
  classNames: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 63 }), {
      maxItems: PREDICTION_CLASS_LIMIT,
      description:
        "Names of a classifier's classes 0, 1, ...: the class label of the runtime's prediction_class_total metric (overrides the model's class_names metadata).",
    }),
  ),
});

export const TracingSchema = Type.Object({
  endpoint: Type.String({
    minLength: 1,
    maxLength: 2048,
    description: 'OTLP receiver the runtime sends spans to, e.g. http://otel-collector.observability:4318 (OTEL_EXPORTER_OTLP_ENDPOINT).',
    ...rules({ rule: "self.matches('^https?://[^/]+')", message: 'must be an http:// or https:// URL of an OTLP receiver, e.g. http://otel-collector:4318' }),
  }),
  protocol: Type.Optional(StringEnum(OTLP_PROTOCOLS, {
    description: `OTLP transport: http/protobuf (port 4318), http/json or grpc (port 4317); the runtime's default is ${RuntimeContract.otelProtocol.default}.`,
  })),
  samplingRatio: Type.Optional(Type.Number({
    minimum: RuntimeContract.otelTracesSamplerArg.min,
    maximum: RuntimeContract.otelTracesSamplerArg.max,
    description: `Share of requests without a sampled traceparent that start a trace (a request with one is always traced); the runtime's default is ${RuntimeContract.otelTracesSamplerArg.default}.`,
  })),
});

export const ModelDeploymentSpecSchema = Type.Object(
  {
    model: ModelSchema,
    runtime: Type.Optional(RuntimeSchema),
    replicas: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'Fixed replica count; use autoscaling instead to let an HPA decide.' })),
    autoscaling: Type.Optional(AutoscalingSchema),
    service: Type.Optional(ServiceSchema),
    rollout: Type.Optional(RolloutSchema),
    security: Type.Optional(SecuritySchema),
    traffic: Type.Optional(TrafficSchema),
    slo: Type.Optional(SloSchema),
    revisionHistoryLimit: Type.Optional(Type.Integer({
      minimum: 1,
      maximum: 100,
      default: SpecDefaults.revisionHistoryLimit,
      description: 'How many revisions (ControllerRevisions) to keep for history and rollback, live ones included.',
    })),
    monitoring: Type.Optional(MonitoringSchema),
    tracing: Type.Optional(TracingSchema),
  },
  rules(
    {
      rule: '!has(self.security) || !has(self.security.tls) || !has(self.traffic)',
      message: 'security.tls ends TLS in the runtime, where Istio cannot route HTTP by header or weight (spec.traffic): use Istio\'s mTLS (security.meshMtls) there, or drop spec.traffic',
      fieldPath: '.security.tls',
    },
    {
      rule: '!has(oldSelf.traffic) || !has(oldSelf.traffic.httpRouteRef) || (has(self.traffic) && has(self.traffic.httpRouteRef) && self.traffic.httpRouteRef.name == oldSelf.traffic.httpRouteRef.name)',
      message: "traffic.httpRouteRef cannot be changed or removed while the model's rules are in that HTTPRoute: delete the ModelDeployment (its rules go with it) and create it again",
      fieldPath: '.traffic.httpRouteRef',
    },
    {
      rule: "!has(self.traffic) || !has(self.traffic.router) || self.traffic.router != 'Service' || !has(self.rollout) || !(self.rollout.strategy in ['ABTest', 'Mirror'])",
      message: 'rollout.strategy ABTest and Mirror route request by request, which traffic.router Service cannot (it splits by pods): use Istio or GatewayAPI',
      fieldPath: '.traffic.router',
    },
    {
      rule: "!has(self.autoscaling) || !has(self.autoscaling.minReplicas) || self.autoscaling.minReplicas > 0 || ((!has(self.rollout) || !has(self.rollout.strategy) || self.rollout.strategy == 'RollingUpdate') && !has(self.traffic) && (!has(self.security) || !has(self.security.tls)))",
      message: "autoscaling.minReplicas 0 works with rollout.strategy RollingUpdate, without spec.traffic and without security.tls: at zero the activator holds plain HTTP requests sent to the model's own Service",
      fieldPath: '.autoscaling.minReplicas',
    },
    {
      rule: '!(has(self.replicas) && has(self.autoscaling))',
      message: 'set spec.replicas or spec.autoscaling, not both (autoscaling.minReplicas and maxReplicas bound the replica count)',
    },
    {
      rule:
        "!has(self.autoscaling) || !has(self.autoscaling.targetCPUUtilization) || (has(self.runtime.resources) && has(self.runtime.resources.requests) && 'cpu' in self.runtime.resources.requests)",
      message: 'autoscaling.targetCPUUtilization needs runtime.resources.requests.cpu: utilization is measured against the CPU request',
      fieldPath: '.autoscaling.targetCPUUtilization',
    },
  ),
);

const ConditionSchema = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 316 }),
  status: StringEnum(['True', 'False', 'Unknown']),
  reason: Type.String({ minLength: 1, maxLength: 1024 }),
  message: Type.String({ maxLength: 32768 }),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const ModelDeploymentStatusSchema = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ description: 'The metadata.generation this status describes; 0 until the operator first reports.' })),
  phase: Type.Optional(StringEnum(PHASES, { description: 'One word for kubectl get md, from the conditions.' })),
  conditions: Type.Optional(
    Type.Array(ConditionSchema, { maxItems: 16, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  ),
  revision: Type.Optional(Type.String({ description: 'Revision the Deployment runs (hash of model and runtime spec).' })),
  modelName: Type.Optional(Type.String({ description: 'Name the model is served under (/v2/models/<name>).' })),
  modelVersion: Type.Optional(Type.String({ description: 'Version of the desired model: spec.model.version, else the registry version a models:/ URI resolved to.' })),
  replicas: Type.Optional(Type.Integer({ description: 'Pods of the Deployment serving the stable revision (scale subresource).' })),
  readyReplicas: Type.Optional(Type.Integer({ description: 'Of those, the ready ones.' })),
  updatedReplicas: Type.Optional(Type.Integer()),
  availableReplicas: Type.Optional(Type.Integer()),
  ready: Type.Optional(Type.String({ description: 'Ready replicas of desired, e.g. 2/2.' })),
  selector: Type.Optional(Type.String({ description: 'Label selector of the runtime pods (scale subresource).' })),
  endpoint: Type.Optional(Type.String({ description: 'In-cluster URL of the model, /v2/models/<name>.' })),
  stableRevision: Type.Optional(Type.String({ description: 'Revision that serves the traffic not sent to a candidate.' })),
  candidateRevision: Type.Optional(Type.String({ description: 'Revision being rolled out, while a rollout runs.' })),
  weights: Type.Optional(Type.Object({
    stable: Type.Integer({ minimum: 0, maximum: 100 }),
    candidate: Type.Integer({ minimum: 0, maximum: 100 }),
  }, { description: 'Percent of traffic on each revision, as routed now.' })),
  rollout: Type.Optional(Type.Object({
    phase: StringEnum(ROLLOUT_PHASES),
    step: Type.Optional(Type.Integer({ minimum: 0, description: 'Index of the canary step in force.' })),
    stepStartedAt: Type.Optional(Type.String({ format: 'date-time' })),
    abortedRevision: Type.Optional(Type.String({ description: 'A revision that was aborted; not rolled out again until the spec changes.' })),
    abortReason: Type.Optional(StringEnum(['Requested', 'AnalysisFailed'])),
    message: Type.Optional(Type.String({ maxLength: 1024 })),
  })),
  analysis: Type.Optional(Type.Object({
    failures: Type.Integer({ minimum: 0, description: 'Failed samples in this rollout.' }),
    passedStep: Type.Optional(Type.Integer({ minimum: 0, description: 'Latest canary step a sample passed.' })),
    lastSampleAt: Type.Optional(Type.String({ format: 'date-time' })),
    verdict: Type.Optional(StringEnum(['Pass', 'Fail', 'Inconclusive'])),
    checks: Type.Optional(Type.Array(Type.Object({
      name: Type.String(),
      verdict: StringEnum(['Pass', 'Fail', 'Inconclusive']),
      value: Type.Optional(Type.Number()),
      threshold: Type.String({ description: 'e.g. "<= 250" or ">= 0.9"' }),
      message: Type.Optional(Type.String({ maxLength: 1024 })),
    }), { maxItems: 32 })),
  }, { description: 'The last analysis sample of the running rollout.' })),
  model: Type.Optional(Type.Object({
    reference: Type.String({ description: 'The models:/ URI that was resolved.' }),
    version: Type.String({ description: 'The registry version it resolved to.' }),
    uri: Type.String({ description: 'Where the runtime downloads the file from.' }),
    sha256: Type.String({ description: 'SHA-256 of the file, computed by the operator; the runtime verifies it.' }),
  }, { description: 'A models:/ reference as last resolved; kept while the registry cannot be reached, so the running revision keeps serving.' })),
  retiring: Type.Optional(Type.Array(Type.Object({
    revision: Type.String(),
    scaleDownAt: Type.String({ format: 'date-time' }),
  }), { maxItems: 16, description: 'Revisions that lost their traffic and keep running until scaleDownAt.' })),
}, {
  // The apiserver fills this in when it reads an object the operator has not reported on yet, so
  // kstatus (which calls an object without status Current) sees observedGeneration 0 < generation: InProgress.
  default: { observedGeneration: 0 },
});

export const ModelDeploymentSchema = Type.Object(
  {
    apiVersion: Type.Optional(Type.String()),
    kind: Type.Optional(Type.String()),
    metadata: Type.Optional(Type.Unsafe<Record<string, unknown>>({ type: 'object' })),
    spec: ModelDeploymentSpecSchema,
    status: Type.Optional(ModelDeploymentStatusSchema),
  },
  rules({
    rule: `self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && self.metadata.name.size() <= ${MAX_NAME_LENGTH}`,
    message: `metadata.name must be a DNS label of at most ${MAX_NAME_LENGTH} characters starting with a letter (it names the runtime Service and Deployment)`,
  }),
);
