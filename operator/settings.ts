import { LOG_LEVELS } from '../runtime/contract.ts';
import { PACKAGE_VERSION } from '../runtime/package-version.ts';
import type { Setting } from '../runtime/env-settings.ts';

/**
 * Where the Helm chart sets a setting: a value under .Values (dotted path), a field of the pod
 * through the downward API, or a named template of _helpers.tpl (a value the chart derives).
 */
export type ChartSource =
  | { readonly value: string; /** The chart's default where it differs from the process's. */ readonly default?: string }
  | { readonly fieldRef: string }
  | { readonly template: string };

/** A setting of a process the chart runs, with where the chart sets it (absent: the chart leaves it unset). */
export type ChartedSetting = Setting & { readonly chart?: ChartSource };

/**
 * The operator's settings contract: every environment variable the operator reads, with its type,
 * default, range, meaning and the chart value that sets it. operator/config.ts parses from it; the
 * chart's env and values (test/unit/operator/chart.test.ts) and the table in
 * charts/modelship/README.md (`npm run gen:docs`) are checked against it.
 */
export const OperatorSettings = {
  podName: {
    name: 'POD_NAME',
    type: 'string',
    defaultDoc: '`<hostname>-<pid>`',
    doc: 'Identity of this replica in the leader-election lease.',
    chart: { fieldRef: 'metadata.name' },
  },
  podNamespace: {
    name: 'POD_NAMESPACE',
    type: 'string',
    default: 'modelship-system',
    doc: 'Namespace the operator runs in; holds the leader-election lease.',
    chart: { fieldRef: 'metadata.namespace' },
  },
  runtimeImage: {
    name: 'MODELSHIP_RUNTIME_IMAGE',
    type: 'string',
    default: `ghcr.io/modelship/runtime:${PACKAGE_VERSION}`,
    doc: 'Runtime image for ModelDeployments that do not name one (`spec.runtime.image`).',
    chart: { value: 'runtimeImage' },
  },
  s3FetcherImage: {
    name: 'MODELSHIP_S3_FETCHER_IMAGE',
    type: 'string',
    default: 'public.ecr.aws/aws-cli/aws-cli:2.27.0',
    doc: 'Image of the init container that copies `s3://` models; any image with the `aws` CLI.',
    chart: { value: 's3FetcherImage' },
  },
  clusterDomain: {
    name: 'MODELSHIP_CLUSTER_DOMAIN',
    type: 'string',
    default: 'cluster.local',
    doc: "DNS suffix of the cluster's Services, used in `status.endpoint`.",
    chart: { value: 'clusterDomain' },
  },
  prometheusUrl: {
    name: 'MODELSHIP_PROMETHEUS_URL',
    type: 'string',
    defaultDoc: 'none',
    doc: 'Prometheus that scrapes the runtimes, for canary analysis of ModelDeployments that do not name one (`spec.rollout.analysis.prometheus`).',
    chart: { value: 'analysis.prometheusUrl' },
  },
  activatorService: {
    name: 'MODELSHIP_ACTIVATOR_SERVICE',
    type: 'string',
    defaultDoc: 'none',
    doc: "`<namespace>/<name>` of the activator's Service (operator/activator), which holds requests for ModelDeployments scaled to zero (`spec.autoscaling.minReplicas: 0`) until a pod is ready. Unset: no model scales to zero; those that ask keep one replica and say why in their Autoscaling condition. The chart sets its own activator's Service while `activator.enabled`.",
    chart: { template: 'modelship.activatorService' },
  },
  prometheusNamespace: {
    name: 'MODELSHIP_PROMETHEUS_NAMESPACE',
    type: 'string',
    default: '',
    defaultDoc: 'none',
    doc: "Namespace of the Prometheus that scrapes the runtimes: a ModelDeployment's NetworkPolicy (`spec.security.networkPolicy`) admits it.",
    chart: { value: 'prometheusNamespace' },
  },
  registryPollSeconds: {
    name: 'MODELSHIP_REGISTRY_POLL_SECONDS',
    type: 'integer',
    default: 60,
    min: 5,
    max: 86_400,
    doc: 'How often a `models:/` reference is resolved again in its registry, for ModelDeployments that do not set `spec.model.mlflow.pollIntervalSeconds`.',
    chart: { value: 'registry.pollSeconds' },
  },
  watchNamespace: {
    name: 'MODELSHIP_WATCH_NAMESPACE',
    type: 'string',
    defaultDoc: 'unset (all namespaces)',
    doc: 'Watch ModelDeployments in this namespace only; all namespaces when empty.',
    chart: { value: 'watchNamespace' },
  },
  workers: { name: 'MODELSHIP_WORKERS', type: 'integer', default: 8, min: 1, max: 256, doc: 'ModelDeployments reconciled in parallel.', chart: { value: 'workers' } },
  resyncSeconds: {
    name: 'MODELSHIP_RESYNC_SECONDS',
    type: 'integer',
    default: 600,
    min: 1,
    max: 86_400,
    doc: 'Every ModelDeployment is reconciled again after this long, even without changes.',
    chart: { value: 'resyncSeconds' },
  },
  discoveryIntervalSeconds: {
    name: 'MODELSHIP_DISCOVERY_INTERVAL_SECONDS',
    type: 'integer',
    default: 30,
    min: 1,
    max: 3600,
    doc: 'How often API discovery is asked whether optional CRDs (Istio) were installed or removed; routing switches to them without a restart.',
    chart: { value: 'discoveryIntervalSeconds' },
  },
  logLevel: { name: 'MODELSHIP_LOG_LEVEL', type: 'enum', values: LOG_LEVELS, default: 'info', doc: 'Log level of the JSON log lines on stdout.', chart: { value: 'logLevel' } },
  metricsAddress: {
    name: 'MODELSHIP_METRICS_ADDRESS',
    type: 'string',
    default: '0.0.0.0',
    doc: 'Address `/metrics`, `/healthz` and `/readyz` listen on.',
    chart: { value: 'metrics.address' },
  },
  metricsPort: {
    name: 'MODELSHIP_METRICS_PORT',
    type: 'integer',
    default: 8081,
    min: 0,
    max: 65535,
    doc: 'Port of `/metrics`, `/healthz` and `/readyz`; `0` picks a free one.',
    chart: { value: 'metrics.port' },
  },
  admissionPolicy: {
    name: 'MODELSHIP_ADMISSION_POLICY',
    type: 'string',
    defaultDoc: 'unset (authors trusted); the chart sets `modelship-author-permissions`, the policy it installs',
    doc: 'Name of the ValidatingAdmissionPolicy (and its binding) that checks ModelDeployment authors. While it is not in force, a ModelDeployment that names a Secret or a runtime image of its own is held (no child changed, condition `Admitted=False`). Unset, the operator trusts whoever may write ModelDeployments.',
    // The chart installs the policy, so there the operator requires it; a bare process trusts authors.
    chart: { value: 'admissionPolicy.name', default: 'modelship-author-permissions' },
  },
  leaderElection: {
    name: 'MODELSHIP_LEADER_ELECTION',
    type: 'boolean',
    default: true,
    doc: 'Elect one reconciling replica through a Lease; the others wait as standbys.',
    chart: { value: 'leaderElection.enabled' },
  },
  leaderElectionNamespace: {
    name: 'MODELSHIP_LEADER_ELECTION_NAMESPACE',
    type: 'string',
    defaultDoc: '`POD_NAMESPACE`',
    doc: "Namespace of the Lease (the chart's Role grants access in the release namespace only, so the chart does not set it).",
  },
  leaderElectionLease: {
    name: 'MODELSHIP_LEADER_ELECTION_LEASE',
    type: 'string',
    default: 'modelship-operator',
    doc: 'Name of the Lease.',
    chart: { value: 'leaderElection.leaseName' },
  },
  leaseDurationSeconds: {
    name: 'MODELSHIP_LEASE_DURATION_SECONDS',
    type: 'integer',
    default: 15,
    min: 1,
    max: 3600,
    doc: 'How long a lease holds without renewal; a standby takes over after it.',
    chart: { value: 'leaderElection.leaseDurationSeconds' },
  },
  renewDeadlineSeconds: {
    name: 'MODELSHIP_RENEW_DEADLINE_SECONDS',
    type: 'integer',
    default: 10,
    min: 1,
    max: 3600,
    doc: 'How long the leader keeps trying to renew before it gives up (and exits).',
    chart: { value: 'leaderElection.renewDeadlineSeconds' },
  },
  retryPeriodSeconds: {
    name: 'MODELSHIP_RETRY_PERIOD_SECONDS',
    type: 'integer',
    default: 2,
    min: 1,
    max: 3600,
    doc: 'Interval between lease acquire and renew attempts.',
    chart: { value: 'leaderElection.retryPeriodSeconds' },
  },
} as const satisfies Record<string, ChartedSetting>;
