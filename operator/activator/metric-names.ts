/**
 * The activator's gauge of held requests, labelled model_namespace and model_service (not namespace,
 * which the scrape sets to the activator's own). KEDA's activity trigger for a model that scales to
 * zero asks Prometheus for it.
 */
export const ACTIVATOR_PENDING_METRIC = 'modelship_activator_pending_requests';
