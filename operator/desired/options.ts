import { OperatorSettings } from '../settings.ts';

/** Operator-wide settings the desired state depends on (from the operator's env: operator/settings.ts). */
export interface OperatorOptions {
  /** Runtime image for ModelDeployments that do not name one. */
  defaultRuntimeImage: string;
  /** DNS suffix of the cluster's Services; cluster.local unless the cluster was set up otherwise. */
  clusterDomain?: string;
  /** Image of the init container that copies s3:// models (needs the aws CLI). */
  s3FetcherImage?: string;
  /** Namespace of the Prometheus scraping the runtimes, admitted by NetworkPolicies; empty: none. */
  prometheusNamespace?: string;
  /** The Prometheus that scrapes the runtimes: canary analysis's default, and what KEDA's latency trigger asks. */
  prometheusUrl?: string;
  /** The activator's Service (its EndpointSlices give its pods), which holds requests for models scaled to zero; absent: none runs. */
  activator?: { namespace: string; name: string };
}

export const DEFAULT_CLUSTER_DOMAIN = OperatorSettings.clusterDomain.default;
export const DEFAULT_S3_FETCHER_IMAGE = OperatorSettings.s3FetcherImage.default;
