interface Relabeling {
  sourceLabels?: string[];
  separator?: string;
  targetLabel?: string;
  regex?: string;
  replacement?: string;
  action?: string;
}

interface PodMetricsEndpoint {
  port: string;
  path?: string;
  interval?: string;
  relabelings?: Relabeling[];
  tlsConfig?: { insecureSkipVerify?: boolean };
}

export interface PodMonitor {
  metadata: { name: string; namespace: string };
  spec: {
    namespaceSelector?: { any?: boolean; matchNames?: string[] };
    selector: { matchLabels?: Record<string, string> };
    podMetricsEndpoints: PodMetricsEndpoint[];
  };
}

const KNOWN = {
  spec: ['namespaceSelector', 'selector', 'podMetricsEndpoints'],
  selector: ['matchLabels'],
  endpoint: ['port', 'path', 'interval', 'relabelings', 'tlsConfig'],
  relabeling: ['sourceLabels', 'separator', 'targetLabel', 'regex', 'replacement', 'action'],
  tlsConfig: ['insecureSkipVerify'],
};

/** Prometheus's name for a Kubernetes label in service-discovery meta labels. */
export function metaLabel(label: string): string {
  return label.replace(/[^a-zA-Z0-9_]/g, '_');
}

function only(object: object | undefined, known: string[], where: string): void {
  const unknown = Object.keys(object ?? {}).filter((key) => !known.includes(key));
  if (unknown.length > 0) throw new Error(`${where}: ${unknown.join(', ')} not translated by test/support/pod-monitor.ts; add it there`);
}

/**
 * The Prometheus scrape configs the Prometheus Operator generates from a PodMonitor (its
 * generatePodMonitorConfig: pod discovery, selector and port kept by relabelling, Failed and Succeeded
 * pods dropped, the namespace/pod/container/endpoint labels and job `<namespace>/<name>`, then the
 * monitor's own relabelings). Debian's Prometheus is built without kubernetes_sd, so the pods come
 * from `targetsFile`, which test/support/pod-discovery.ts keeps as kubernetes_sd's pod role would
 * (the same __meta_kubernetes_pod_* labels), and the monitor's namespaceSelector becomes a relabelling.
 * A field of the monitor it does not translate is an error, so the chart cannot grow one the tests ignore.
 */
export function podMonitorScrapeConfigs(monitor: PodMonitor, targetsFile: string): object[] {
  only(monitor.spec, KNOWN.spec, 'PodMonitor spec');
  only(monitor.spec.selector, KNOWN.selector, 'PodMonitor selector');
  const job = `${monitor.metadata.namespace}/${monitor.metadata.name}`;
  const namespaces = monitor.spec.namespaceSelector?.any ? undefined : (monitor.spec.namespaceSelector?.matchNames ?? [monitor.metadata.namespace]);
  return monitor.spec.podMetricsEndpoints.map((endpoint, index) => {
    only(endpoint, KNOWN.endpoint, `podMetricsEndpoints[${index}]`);
    only(endpoint.tlsConfig, KNOWN.tlsConfig, `podMetricsEndpoints[${index}].tlsConfig`);
    for (const relabeling of endpoint.relabelings ?? []) only(relabeling, KNOWN.relabeling, `podMetricsEndpoints[${index}].relabelings`);
    return {
      job_name: `podMonitor/${job}/${index}`,
      honor_labels: false,
      file_sd_configs: [{ files: [targetsFile], refresh_interval: '1s' }],
      ...(endpoint.interval && { scrape_interval: endpoint.interval }),
      metrics_path: endpoint.path ?? '/metrics',
      ...(endpoint.tlsConfig && { tls_config: { insecure_skip_verify: endpoint.tlsConfig.insecureSkipVerify ?? false } }),
      relabel_configs: [
        { source_labels: ['job'], target_label: '__tmp_prometheus_job_name' },
        ...(namespaces ? [{ source_labels: ['__meta_kubernetes_namespace'], regex: `(${namespaces.join('|')})`, action: 'keep' }] : []),
        { source_labels: ['__meta_kubernetes_pod_phase'], regex: '(Failed|Succeeded)', action: 'drop' },
        ...Object.entries(monitor.spec.selector.matchLabels ?? {}).map(([label, value]) => ({
          source_labels: [`__meta_kubernetes_pod_label_${metaLabel(label)}`, `__meta_kubernetes_pod_labelpresent_${metaLabel(label)}`],
          regex: `(${value});true`, action: 'keep',
        })),
        { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: endpoint.port, action: 'keep' },
        { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
        { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
        { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
        { target_label: 'job', replacement: job },
        { target_label: 'endpoint', replacement: endpoint.port },
        ...(endpoint.relabelings ?? []).map((relabeling) => ({
          ...(relabeling.sourceLabels && { source_labels: relabeling.sourceLabels }),
          ...(relabeling.separator !== undefined && { separator: relabeling.separator }),
          ...(relabeling.targetLabel && { target_label: relabeling.targetLabel }),
          ...(relabeling.regex !== undefined && { regex: relabeling.regex }),
          ...(relabeling.replacement !== undefined && { replacement: relabeling.replacement }),
          ...(relabeling.action && { action: relabeling.action.toLowerCase() }),
        })),
      ],
    };
  });
}
