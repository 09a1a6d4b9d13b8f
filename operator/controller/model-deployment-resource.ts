import { API_GROUP, API_VERSION, KIND, PLURAL } from '../api/crd.ts';
import type { ResourceType } from '../kube/resources.ts';

export const modelDeploymentResource: ResourceType = { group: API_GROUP, version: API_VERSION, kind: KIND, plural: PLURAL, namespaced: true };
