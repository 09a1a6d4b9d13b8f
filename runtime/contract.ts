import type { Setting } from './env-settings.ts';

/**
 * The runtime's configuration contract: every environment variable the runtime reads (and the
 * operator sets), with its type, default, range and meaning. The runtime's parser
 * (runtime/config.ts), the operator's env builder (operator/desired/runtime-env.ts), the CRD's
 * defaults and ranges (operator/api/schema.ts) and the table in runtime/README.md
 * (`npm run gen:docs`) are all derived from this one table.
 */

export const EXECUTION_PROVIDERS = ['cuda', 'tensorrt', 'cpu'] as const;
export const INFERENCE_THREADS = ['auto', 'worker', 'main'] as const;
/**
 * `auto` placement: a run expected to take less than this computes on the main JS thread. A run there
 * holds up HTTP and gRPC parsing and health probes for its length; a few milliseconds are below a
 * request's own latency under load, and the message hop to the worker costs more than the overlap
 * it buys when runs are that short (docs/benchmarks.md).
 */
export const MAIN_THREAD_RUN_BUDGET_MS = 5;
/** `auto` then holds the model once per thread; a larger file stays in the worker alone. */
export const MAIN_THREAD_MAX_MODEL_BYTES = 256 * 1024 * 1024;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** OTLP transports (OpenTelemetry's OTEL_EXPORTER_OTLP_PROTOCOL values). */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
/** OpenTelemetry's OTEL_TRACES_SAMPLER values. */
export const TRACES_SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;
/** OpenTelemetry's OTEL_TRACES_EXPORTER values the runtime supports. */
export const TRACES_EXPORTERS = ['otlp', 'none'] as const;
/** model-signing's offline methods: a public key, or a certificate chained to configured CAs. */
export const MODEL_SIGNATURE_METHODS = ['key', 'certificate'] as const;

const maxBatchSize = {
  name: 'MODELSHIP_MAX_BATCH_SIZE',
  type: 'integer',
  // Enough to merge the 38 rows a batch averaged at 64 concurrent clients (docs/benchmarks.md);
  // larger batches add latency without throughput, which HTTP bounds.
  default: 64,
  min: 1,
  max: 65_536,
  doc: 'Most rows (sum of dim 0) one `session.run` may take; `1` turns dynamic batching off.',
} as const;

// Where the CRD and the runtime used to disagree on a range, the wider one won: widening the CRD
// refuses no stored ModelDeployment, narrowing the runtime would refuse configs that work today.
export const RuntimeContract = {
  modelUri: {
    name: 'MODELSHIP_MODEL_URI',
    type: 'string',
    required: true,
    requiredDoc: 'a local path or an http(s) URL of an .onnx model',
    doc: 'The `.onnx` model: a local path, a `file://` URI, or an `http(s)://` URL (downloaded once into the cache dir).',
  },
  modelSha256: {
    name: 'MODELSHIP_MODEL_SHA256',
    type: 'digest',
    defaultDoc: 'unset (not verified)',
    doc: 'Expected SHA-256 of the model file. Verified before loading; a mismatch is fatal. With a digest, the download cache is content-addressed.',
  },
  modelSignatureMethod: {
    name: 'MODELSHIP_MODEL_SIGNATURE_METHOD',
    type: 'enum',
    values: ['none', ...MODEL_SIGNATURE_METHODS],
    default: 'none',
    doc: 'Verify the model\'s [model-signing](https://pypi.org/project/model-signing/) v1 signature before loading it: `key` (an ECDSA public key) or `certificate` (a signing certificate that chains to the CA certificates). A missing, malformed or wrong signature, or a model that does not match it, is fatal.',
  },
  modelSignatureUri: {
    name: 'MODELSHIP_MODEL_SIGNATURE_URI',
    type: 'string',
    defaultDoc: '`MODELSHIP_MODEL_URI` + `.sig`',
    doc: 'Where the signature (the Sigstore bundle `model_signing sign` writes) is: a local path, a `file://` URI or an `http(s)://` URL. Read only when a signature method is set.',
  },
  modelSignatureTrustFile: {
    name: 'MODELSHIP_MODEL_SIGNATURE_TRUST_FILE',
    type: 'string',
    defaultDoc: 'unset; required with a signature method',
    doc: 'PEM file holding the public key (method `key`) or the CA certificates (method `certificate`). The operator mounts it from `spec.model.signature.secretRef`.',
  },
  terminationMessagePath: {
    name: 'MODELSHIP_TERMINATION_MESSAGE_PATH',
    type: 'string',
    defaultDoc: 'unset (not written)',
    doc: 'When the model cannot be served, the reason (e.g. `ModelSignatureInvalid: ...`) is written to this file before the process exits. The operator sets it to the container\'s `terminationMessagePath`, so Kubernetes shows it as the termination message.',
  },
  modelDownloadToken: {
    name: 'MODELSHIP_MODEL_DOWNLOAD_TOKEN',
    type: 'string',
    defaultDoc: 'unset',
    doc: 'Bearer token sent with the download of an `http(s)://` model (`Authorization: Bearer <token>`). The operator sets it from `spec.model.mlflow.tokenSecret` for a model in an MLflow registry.',
  },
  modelName: {
    name: 'MODELSHIP_MODEL_NAME',
    type: 'string',
    defaultDoc: 'file name without `.onnx`',
    doc: 'Model name in the V2 paths (`/v2/models/{name}`).',
  },
  modelVersion: { name: 'MODELSHIP_MODEL_VERSION', type: 'string', default: '1', doc: 'Model version (`/v2/models/{name}/versions/{version}`).' },
  modelCacheDir: {
    name: 'MODELSHIP_MODEL_CACHE_DIR',
    type: 'string',
    defaultDoc: '`$TMPDIR/modelship-models`',
    doc: 'Where downloaded models are cached (must be writable; mount an `emptyDir` with a read-only root filesystem).',
  },
  revision: { name: 'MODELSHIP_REVISION', type: 'string', default: '', defaultDoc: 'empty', doc: 'Deployment revision; a constant label on every metric.' },
  port: { name: 'MODELSHIP_PORT', type: 'integer', default: 8080, min: 0, max: 65535, doc: 'HTTP port (all interfaces); `0` picks a free one.' },
  grpcPort: {
    name: 'MODELSHIP_GRPC_PORT',
    type: 'integer',
    // KServe's port for the Open Inference Protocol over gRPC.
    default: 8081,
    min: 0,
    max: 65535,
    doc: 'gRPC port (all interfaces) of `inference.GRPCInferenceService`; `0` picks a free one.',
  },
  executionProviders: {
    name: 'MODELSHIP_EXECUTION_PROVIDERS',
    type: 'list',
    values: EXECUTION_PROVIDERS,
    default: ['cpu'],
    item: 'provider',
    doc: 'Execution providers in order of preference. The first that loads wins; CPU is always the last resort (one warning line when a preferred provider is skipped).',
  },
  deviceId: { name: 'MODELSHIP_DEVICE_ID', type: 'integer', default: 0, min: 0, max: 1024, doc: 'GPU ordinal for `cuda` / `tensorrt`.' },
  intraOpThreads: {
    name: 'MODELSHIP_INTRA_OP_THREADS',
    type: 'integer',
    default: 0,
    min: 0,
    max: 1024,
    doc: 'onnxruntime intra-op threads; `0` lets onnxruntime choose (one per physical core).',
  },
  interOpThreads: {
    name: 'MODELSHIP_INTER_OP_THREADS',
    type: 'integer',
    default: 0,
    min: 0,
    max: 1024,
    doc: 'onnxruntime inter-op threads; `0` lets onnxruntime choose.',
  },
  inferenceThread: {
    name: 'MODELSHIP_INFERENCE_THREAD',
    type: 'enum',
    values: INFERENCE_THREADS,
    default: 'auto',
    doc: `Where \`session.run\` computes (onnxruntime-node runs on the calling JS thread). \`worker\`: a worker thread of its own, so a model run never stalls HTTP and gRPC parsing and never waits behind it. \`main\`: the main JS thread, one message hop less per run. \`auto\`: timed at start, runs expected to take under ${MAIN_THREAD_RUN_BUDGET_MS} ms on the main thread, longer ones in the worker (the model is then held once per thread). Every run stays in the worker where a run's rows do not tell its cost (another dynamic dim, BYTES inputs), on a GPU provider, with \`MODELSHIP_MAX_CONCURRENT_RUNS\` above 1, or for a file over ${MAIN_THREAD_MAX_MODEL_BYTES / 1024 / 1024} MiB; the start's log line says what it chose (see docs/benchmarks.md).`,
  },
  maxBatchSize,
  maxQueueDelayMs: {
    name: 'MODELSHIP_MAX_QUEUE_DELAY_MS',
    type: 'integer',
    default: 2,
    min: 0,
    max: 60_000,
    doc: 'How long a queued request may wait for a fuller batch when a run slot is free but other runs are busy (only matters with `MAX_CONCURRENT_RUNS` > 1; an idle model always runs at once).',
  },
  preferredBatchSizes: {
    name: 'MODELSHIP_PREFERRED_BATCH_SIZES',
    type: 'integer-list',
    min: 1,
    maxFrom: maxBatchSize,
    doc: 'Batch sizes the scheduler dispatches as soon as it can form them.',
  },
  maxQueueSize: {
    name: 'MODELSHIP_MAX_QUEUE_SIZE',
    type: 'integer',
    default: 1024,
    min: 1,
    max: 1_000_000,
    doc: 'Requests allowed to wait; beyond it, `429` with `Retry-After`.',
  },
  maxConcurrentRuns: { name: 'MODELSHIP_MAX_CONCURRENT_RUNS', type: 'integer', default: 1, min: 1, max: 64, doc: '`session.run` calls in flight at once.' },
  maxBodyBytes: {
    name: 'MODELSHIP_MAX_BODY_BYTES',
    type: 'integer',
    default: 64 * 1024 * 1024,
    min: 1024,
    max: Number.MAX_SAFE_INTEGER,
    defaultDoc: '`67108864` (64 MiB)',
    doc: 'Largest request body (after decompression); beyond it, `413`.',
  },
  decodeOffloadBytes: {
    name: 'MODELSHIP_DECODE_OFFLOAD_BYTES',
    type: 'integer',
    // A 64-feature JSON row is about 1.3 KB and decodes in ~13 µs inline; a 520 KB image takes
    // 1.5-3 ms, long enough to delay probes when a few arrive together (docs/benchmarks.md).
    default: 64 * 1024,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    defaultDoc: '`65536` (64 KiB)',
    doc: 'Request bodies with at least this many bytes of JSON are parsed and validated on a thread of their own, so that large JSON bodies never hold up health probes and small requests; `0` decodes every body on the main thread.',
  },
  headersTimeoutMs: {
    name: 'MODELSHIP_HEADERS_TIMEOUT_MS',
    type: 'integer',
    default: 10_000,
    min: 100,
    max: 3_600_000,
    defaultDoc: '`10000` (capped at the request timeout)',
    doc: 'Longest a client may take to send a request\'s headers; slower clients (slow-loris) get `408` and the connection closes. Capped at `MODELSHIP_REQUEST_TIMEOUT_MS`.',
  },
  requestTimeoutMs: {
    name: 'MODELSHIP_REQUEST_TIMEOUT_MS',
    type: 'integer',
    default: 60_000,
    min: 100,
    max: 3_600_000,
    doc: 'Longest a client may take to send a whole request, headers and body; then `408` and the connection closes. Time spent queued or running does not count.',
  },
  keepAliveTimeoutSeconds: {
    name: 'MODELSHIP_KEEP_ALIVE_TIMEOUT_SECONDS',
    type: 'integer',
    // Over the idle timeouts of the proxies in front of a pod (Traefik 90 s, cloud load balancers
    // 60-350 s; 620 s is what Google's documents for its own): a proxy that reuses a connection the
    // server has just closed answers that request 502, and it does not retry a POST.
    default: 620,
    min: 1,
    max: 86_400,
    doc: 'How long an idle keep-alive HTTP connection stays open. Keep it above the idle timeout of every proxy in front of the runtime (a gateway, a load balancer): one that sends a request on a connection the runtime is closing answers it `502` (Node\'s own default, 5 s, did so behind Traefik in the incident replay).',
  },
  maxConnectionAgeSeconds: {
    name: 'MODELSHIP_MAX_CONNECTION_AGE_SECONDS',
    type: 'integer',
    default: 30,
    min: 0,
    max: 86_400,
    doc: 'A keep-alive HTTP connection older than this closes after its next response (`Connection: close`), and a gRPC connection gets GOAWAY, so clients reconnect and spread over the current replicas (without a mesh, a Service balances connections, not requests: a canary\'s or a scale-up\'s new pods would get no traffic from long-lived clients). `0` keeps connections open.',
  },
  shutdownGraceMs: {
    name: 'MODELSHIP_SHUTDOWN_GRACE_MS',
    type: 'integer',
    default: 20_000,
    min: 0,
    max: 3_600_000,
    doc: 'After SIGTERM, how long to keep serving and drain before exiting.',
  },
  logLevel: { name: 'MODELSHIP_LOG_LEVEL', type: 'enum', values: LOG_LEVELS, default: 'info', doc: 'Log level of the JSON log lines on stdout.' },
  authToken: {
    name: 'MODELSHIP_AUTH_TOKEN',
    type: 'string',
    defaultDoc: 'unset (open)',
    doc: 'When set, every endpoint but `/v2/health/live`, `/v2/health/ready` and `/metrics` requires `Authorization: Bearer <token>` (401 JSON otherwise); on gRPC every method but `ServerLive` and `ServerReady` requires the `authorization: Bearer <token>` metadata (`UNAUTHENTICATED` otherwise). Fixed for the process\'s life: use `MODELSHIP_AUTH_TOKEN_FILE` for a token that rotates.',
  },
  authTokenFile: {
    name: 'MODELSHIP_AUTH_TOKEN_FILE',
    type: 'string',
    defaultDoc: 'unset',
    doc: 'Like `MODELSHIP_AUTH_TOKEN`, with the accepted tokens read from this file, one per line (blank lines and `#` comments ignored), and re-read while serving: a rotated Secret mounted as a volume takes effect without a restart, and listing the old and the new token side by side lets clients move over. A file that becomes unreadable or empty keeps the last tokens (a warning is logged); at start it is fatal. The operator mounts `spec.security.authSecret` and sets this. Exclusive with `MODELSHIP_AUTH_TOKEN`.',
  },
  authTokenReloadSeconds: {
    name: 'MODELSHIP_AUTH_TOKEN_RELOAD_SECONDS',
    type: 'integer',
    default: 10,
    min: 1,
    max: 3600,
    doc: 'How often `MODELSHIP_AUTH_TOKEN_FILE` is re-read. The kubelet itself updates a mounted Secret within about a minute of a change.',
  },
  tlsCertFile: {
    name: 'MODELSHIP_TLS_CERT_FILE',
    type: 'string',
    defaultDoc: 'unset (plain HTTP and gRPC)',
    doc: 'PEM certificate chain: with `MODELSHIP_TLS_KEY_FILE`, REST is served over HTTPS and gRPC over TLS on the same ports. Both files are re-read every `MODELSHIP_TLS_RELOAD_SECONDS`, so a renewed certificate (cert-manager writing the Secret) is served without a restart. The operator mounts `spec.security.tls.secretName` (`tls.crt`, `tls.key`) and sets both.',
  },
  tlsKeyFile: {
    name: 'MODELSHIP_TLS_KEY_FILE',
    type: 'string',
    defaultDoc: 'unset',
    doc: 'PEM private key of `MODELSHIP_TLS_CERT_FILE`.',
  },
  tlsReloadSeconds: {
    name: 'MODELSHIP_TLS_RELOAD_SECONDS',
    type: 'integer',
    default: 10,
    min: 1,
    max: 3600,
    doc: 'How often the TLS certificate and key files are re-read.',
  },
  classNames: {
    name: 'MODELSHIP_CLASS_NAMES',
    type: 'string',
    defaultDoc: "the model's `class_names` metadata, else the class numbers",
    doc: "Names of a classifier's classes `0, 1, ...` for the `prediction_class_total` metric: a comma-separated list or a JSON array of strings (the operator sends `spec.monitoring.classNames` as JSON). Overrides the model's `class_names` metadata.",
  },
  rateLimitRps: {
    name: 'MODELSHIP_RATE_LIMIT_RPS',
    type: 'integer',
    default: 0,
    min: 0,
    max: 1_000_000,
    defaultDoc: '`0` (off)',
    doc: 'Per-client rate limit, REST and gRPC together: each client (its bearer token where tokens are required, else its address) has a token bucket refilled at this many requests per second; a request finding it empty gets `429` with `Retry-After` and a JSON error (gRPC: `RESOURCE_EXHAUSTED`, `retry-after` in the trailers). Probes and `/metrics` are never limited. The operator sets it from `spec.runtime.rateLimit.requestsPerSecond`.',
  },
  rateLimitBurst: {
    name: 'MODELSHIP_RATE_LIMIT_BURST',
    type: 'integer',
    default: 0,
    min: 0,
    max: 1_000_000,
    defaultDoc: 'the rate',
    doc: 'Size of each client\'s bucket: requests it may send at once after being idle; `0` means the rate. The operator sets it from `spec.runtime.rateLimit.burst`.',
  },
  rateLimitTotalRps: {
    name: 'MODELSHIP_RATE_LIMIT_TOTAL_RPS',
    type: 'integer',
    default: 0,
    min: 0,
    max: 1_000_000,
    defaultDoc: '`0` (off)',
    doc: 'Rate limit for all clients of one replica together (a bucket of one second\'s worth), refused as the per-client limit is. The operator sets it from `spec.runtime.rateLimit.totalRequestsPerSecond`.',
  },
  // Tracing: OpenTelemetry's standard variable names (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/),
  // listed here so the docs table and the operator's env builder know them.
  otelSdkDisabled: { name: 'OTEL_SDK_DISABLED', type: 'boolean', default: false, doc: '`true` turns tracing off whatever else is set.' },
  otelTracesExporter: {
    name: 'OTEL_TRACES_EXPORTER',
    type: 'enum',
    values: TRACES_EXPORTERS,
    default: 'otlp',
    defaultDoc: '`otlp` when an OTLP endpoint is set, else tracing is off',
    doc: '`none` turns tracing off; `otlp` with no endpoint exports to the OTLP default, `localhost` port 4318 (4317 for gRPC).',
  },
  otelEndpoint: {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    type: 'string',
    defaultDoc: 'unset (tracing off)',
    doc: 'Base URL of the OTLP receiver (`http://collector:4318`; `/v1/traces` is appended for HTTP). Setting it turns tracing on. The operator sets it from `spec.tracing.endpoint`.',
  },
  otelTracesEndpoint: {
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    type: 'string',
    defaultDoc: 'unset',
    doc: 'Full URL spans are sent to, used as is (overrides `OTEL_EXPORTER_OTLP_ENDPOINT` for traces). Setting it turns tracing on.',
  },
  otelProtocol: {
    name: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    type: 'enum',
    values: OTLP_PROTOCOLS,
    default: 'http/protobuf',
    doc: 'OTLP transport. Other `OTEL_EXPORTER_OTLP_*` variables (headers, timeout, compression, certificates) are read by the OpenTelemetry exporter itself.',
  },
  otelTracesSampler: {
    name: 'OTEL_TRACES_SAMPLER',
    type: 'enum',
    values: TRACES_SAMPLERS,
    default: 'parentbased_always_on',
    doc: 'Which requests are traced. `parentbased_*`: a request with a `traceparent` follows its sampled flag; the rest decide new traces. A batch span is recorded when it served a traced request.',
  },
  otelTracesSamplerArg: {
    name: 'OTEL_TRACES_SAMPLER_ARG',
    type: 'number',
    default: 1,
    min: 0,
    max: 1,
    doc: 'Share of new traces recorded by the `*traceidratio` samplers. The operator sets it from `spec.tracing.samplingRatio`.',
  },
  otelServiceName: {
    name: 'OTEL_SERVICE_NAME',
    type: 'string',
    defaultDoc: 'the model name',
    doc: 'The `service.name` resource attribute of every span. The operator sets the ModelDeployment name.',
  },
  otelResourceAttributes: {
    name: 'OTEL_RESOURCE_ATTRIBUTES',
    type: 'string',
    defaultDoc: 'unset',
    doc: 'More resource attributes, `key=value,key=value`. The operator sets `k8s.namespace.name` and `modelship.revision`.',
  },
} as const satisfies Record<string, Setting>;

export type RuntimeSettingKey = keyof typeof RuntimeContract;

/** The variable names by setting, e.g. RuntimeEnv.port === 'MODELSHIP_PORT'. */
export const RuntimeEnv = Object.fromEntries(Object.entries(RuntimeContract).map(([key, setting]) => [key, setting.name])) as {
  readonly [K in RuntimeSettingKey]: (typeof RuntimeContract)[K]['name'];
};

export type RuntimeEnvName = (typeof RuntimeEnv)[RuntimeSettingKey];

/** Paths of the Open Inference Protocol endpoints the operator points probes at. */
export const RuntimeProbePaths = {
  live: '/v2/health/live',
  ready: '/v2/health/ready',
  metrics: '/metrics',
} as const;

export const RUNTIME_DEFAULT_PORT = RuntimeContract.port.default;
export const RUNTIME_DEFAULT_GRPC_PORT = RuntimeContract.grpcPort.default;
/** The gRPC service the runtime serves on that port (grpc_predict_v2.proto): routers match its calls by it. */
export const RUNTIME_GRPC_SERVICE = 'inference.GRPCInferenceService';

/**
 * Why the runtime could not serve its model: the first word of the termination message it writes
 * before exiting 1 ("<reason>: <message>"), which the operator shows as the ModelDeployment's
 * Degraded reason.
 */
export const RuntimeFailureReasons = {
  signature: 'ModelSignatureInvalid',
  load: 'ModelLoadFailed',
} as const;

/** Predicted classes 0..PREDICTION_CLASS_LIMIT-1 get a metric series each; others count as "other". */
export const PREDICTION_CLASS_LIMIT = 32;
