import type { ChartedSetting } from '../../operator/settings.ts';
import { CHARTED_PROCESSES } from './charted-processes.ts';

/** The part of JSON Schema (draft-07) the chart's values.schema.json uses. */
export interface JsonSchema {
  $schema?: string;
  title?: string;
  description?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean' | ('string' | 'integer' | 'number')[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  required?: string[];
  enum?: readonly (string | number | boolean)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
}

/** A closed object: a misspelt key is an error, not a value Helm silently ignores. */
const object = (properties: Record<string, JsonSchema>, description?: string): JsonSchema => ({
  type: 'object', ...(description && { description }), properties, additionalProperties: false,
});
const stringMap = (description: string): JsonSchema => ({ type: 'object', description, additionalProperties: { type: 'string' } });
const freeObject = (description: string): JsonSchema => ({ type: 'object', description });
const boolean = (description: string): JsonSchema => ({ type: 'boolean', description });
const string = (description: string): JsonSchema => ({ type: 'string', description });
/** A Prometheus duration as the Prometheus Operator's CRDs accept it (30s, 1m30s). */
const duration = (description: string): JsonSchema => ({ type: 'string', description, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' });
const quantities: JsonSchema = { type: 'object', additionalProperties: { type: ['string', 'number'] } };

/** Values the chart reads itself, for the operator's pod and the optional monitoring objects. */
const CHART_VALUES: Record<string, JsonSchema> = {
  global: freeObject('Values a parent chart shares with its subcharts.'),
  replicaCount: { type: 'integer', minimum: 0, description: 'Operator replicas; more than one needs leaderElection.enabled.' },
  image: object({
    repository: { type: 'string', minLength: 1, description: 'Operator image repository.' },
    tag: string("Operator image tag; the chart's appVersion when empty."),
    pullPolicy: { type: 'string', enum: ['Always', 'IfNotPresent', 'Never'], description: 'Image pull policy.' },
  }),
  imagePullSecrets: { type: 'array', description: 'Secrets for pulling the operator image.', items: object({ name: { type: 'string', minLength: 1 } }) },
  serviceAccount: object({
    create: boolean('Create the operator\'s ServiceAccount.'),
    name: string('ServiceAccount name; generated from the release name when empty.'),
    annotations: stringMap('Annotations on the ServiceAccount (e.g. a cloud IAM role).'),
  }),
  resources: object({ requests: quantities, limits: quantities, claims: { type: 'array' } }, 'Operator container resources.'),
  podAnnotations: stringMap('Extra annotations on the operator pods.'),
  nodeSelector: stringMap('Node labels the operator pods must match.'),
  tolerations: { type: 'array', description: 'Tolerations of the operator pods.', items: { type: 'object' } },
  affinity: freeObject('Affinity of the operator pods; by default the replicas prefer different nodes.'),
  serviceMonitor: object({
    enabled: boolean("A Prometheus Operator ServiceMonitor for the operator's metrics Service (needs its CRDs)."),
    interval: duration('Scrape interval.'),
    labels: stringMap('Extra labels, e.g. the one your Prometheus selects ServiceMonitors by.'),
  }),
  podMonitor: object({
    enabled: boolean('A Prometheus Operator PodMonitor for the runtime pods of every ModelDeployment (needs its CRDs).'),
    interval: duration('Scrape interval.'),
    labels: stringMap('Extra labels, e.g. the one your Prometheus selects PodMonitors by.'),
  }),
  'admissionPolicy.enabled': boolean('Install the ValidatingAdmissionPolicy admissionPolicy.name (and its binding): a ModelDeployment is admitted only if its author may get every Secret it names, and may create Pods when it names a runtime image outside allowedRuntimeImages.'),
  'admissionPolicy.allowedRuntimeImages': { type: 'array', description: 'Runtime images any ModelDeployment author may name, besides runtimeImage and its -cuda12 build.', items: { type: 'string', minLength: 1 } },
  'activator.enabled': boolean('Run the activator, which holds the first requests of ModelDeployments scaled to zero (autoscaling.minReplicas: 0, with KEDA) until a pod is ready; the operator is told of its Service. Off: no model scales to zero.'),
  'activator.replicaCount': { type: 'integer', minimum: 1, description: 'Activator replicas; any of them can hold any request.' },
  'activator.resources': object({ requests: quantities, limits: quantities, claims: { type: 'array' } }, 'Activator container resources.'),
  grafanaDashboard: object({
    enabled: boolean("A ConfigMap holding the Modelship Grafana dashboard, for Grafana's dashboard sidecar."),
    namespace: string("Namespace of the ConfigMap (where Grafana's sidecar looks); the release's when empty."),
    labels: stringMap('Labels the sidecar finds dashboards by.'),
    annotations: stringMap('Annotations on the ConfigMap, e.g. grafana_folder.'),
  }),
};

function settingSchema(setting: ChartedSetting): JsonSchema {
  const description = `${setting.doc} (${setting.name})`;
  switch (setting.type) {
    case 'integer': return { type: 'integer', minimum: setting.min, maximum: setting.max, description };
    case 'string': return { type: 'string', description };
    case 'enum': return { type: 'string', enum: setting.values, description };
    case 'boolean': return { type: 'boolean', description };
    default: throw new Error(`${setting.name}: no chart value schema for a ${setting.type} setting`);
  }
}

/** Puts `schema` at a dotted path of closed objects, refusing to put two schemas at one path. */
function place(root: JsonSchema, path: string, schema: JsonSchema): void {
  const keys = path.split('.');
  let node = root;
  for (const key of keys.slice(0, -1)) {
    node.properties ??= {};
    node = node.properties[key] ??= object({});
    if (node.type !== 'object' || !node.properties) throw new Error(`${path}: ${key} is not an object of values`);
  }
  const last = keys.at(-1) ?? '';
  node.properties ??= {};
  if (node.properties[last]) throw new Error(`${path}: set twice in the chart's values schema`);
  node.properties[last] = schema;
}

/**
 * The chart's values.schema.json: the operator's and the activator's settings values from their contracts (type,
 * range, allowed words, meaning), the chart's own values written above. Helm checks values
 * against it on install, upgrade, lint and template.
 */
export function valuesSchema(): JsonSchema {
  const root: JsonSchema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Values of the modelship chart (generated by npm run gen:chart)',
    ...object({}),
  };
  for (const { settings } of CHARTED_PROCESSES) {
    for (const setting of Object.values(settings)) {
      if (setting.chart && 'value' in setting.chart) place(root, setting.chart.value, settingSchema(setting));
    }
  }
  for (const [key, schema] of Object.entries(CHART_VALUES)) place(root, key, schema);
  return root;
}
