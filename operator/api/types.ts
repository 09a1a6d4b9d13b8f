import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { Static } from 'typebox';
import type { ModelDeploymentSpecSchema, ModelDeploymentStatusSchema } from './schema.ts';

export type ModelDeploymentSpec = Static<typeof ModelDeploymentSpecSchema>;
export type ModelDeploymentStatus = Static<typeof ModelDeploymentStatusSchema>;
export type Condition = NonNullable<ModelDeploymentStatus['conditions']>[number];
export type ConditionStatus = Condition['status'];
export type Phase = NonNullable<ModelDeploymentStatus['phase']>;
/** A models:/ reference resolved in its registry: the version it named and the file the runtime downloads. */
export type ResolvedModel = NonNullable<ModelDeploymentStatus['model']>;

export interface ModelDeployment {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: ModelDeploymentSpec;
  status?: ModelDeploymentStatus;
}
