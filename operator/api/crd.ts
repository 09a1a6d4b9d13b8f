import type { V1CustomResourceDefinition, V1JSONSchemaProps } from '@kubernetes/client-node';
import { ModelDeploymentSchema } from './schema.ts';

export const API_GROUP = 'modelship.io';
export const API_VERSION = 'v1alpha1';
export const KIND = 'ModelDeployment';
export const PLURAL = 'modeldeployments';
export const SINGULAR = 'modeldeployment';
export const SHORT_NAME = 'md';
export const CRD_NAME = `${PLURAL}.${API_GROUP}`;
/** The apiVersion a ModelDeployment manifest carries. */
export const MODEL_DEPLOYMENT_API_VERSION = `${API_GROUP}/${API_VERSION}`;

/**
 * TypeBox schemas are plain JSON Schema objects; a JSON round trip drops anything that is not
 * data (symbols, undefined) so that what the apiserver and the YAML file see is exactly this.
 */
function toOpenApiSchema(schema: unknown): V1JSONSchemaProps {
  return JSON.parse(JSON.stringify(schema)) as V1JSONSchemaProps;
}

/**
 * The CRD as the apiserver's JSON. Typed with client-node's model for its shape, but its schema
 * keys are the wire names ('x-kubernetes-validations' ...): send it as JSON or YAML, not through
 * client-node's ObjectSerializer, which only knows its own renamed keys and would drop them.
 */
export function modelDeploymentCrd(): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: CRD_NAME },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: [SHORT_NAME], categories: ['modelship'] },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: toOpenApiSchema(ModelDeploymentSchema) },
          subresources: {
            status: {},
            scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
          },
          additionalPrinterColumns: [
            { name: 'Model', type: 'string', jsonPath: '.status.modelName' },
            { name: 'Version', type: 'string', jsonPath: '.status.modelVersion' },
            { name: 'Ready', type: 'string', jsonPath: '.status.ready' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Stable', type: 'string', jsonPath: '.status.stableRevision' },
            { name: 'Candidate', type: 'string', jsonPath: '.status.candidateRevision' },
            { name: 'Weight', type: 'integer', jsonPath: '.status.weights.candidate', description: 'Percent of traffic on the candidate revision.' },
            { name: 'Rollout', type: 'string', jsonPath: '.status.rollout.phase', priority: 1 },
            { name: 'Revision', type: 'string', jsonPath: '.status.revision', priority: 1 },
            { name: 'Endpoint', type: 'string', jsonPath: '.status.endpoint', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  };
}
