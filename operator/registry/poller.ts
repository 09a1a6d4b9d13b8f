import { API_GROUP } from '../api/crd.ts';
import { LRUCache } from 'lru-cache';
import { SpecDefaults } from '../api/schema.ts';
import type { ModelDeployment, ResolvedModel } from '../api/types.ts';
import { isNotFound, type KubeRestClient } from '../kube/rest-client.ts';
import { CoreResources } from '../kube/resources.ts';
import type { ConditionState } from '../status/conditions.ts';
import { RegistryError } from './mlflow-client.ts';
import { isRegistryUri } from './reference.ts';
import { ModelResolver } from './resolver.ts';

export interface ModelResolution {
  /** What the plan serves: this pass's resolution, else the last one status recorded for this reference. */
  model: ResolvedModel | undefined;
  condition: ConditionState;
  /** When to resolve again. */
  pollMs: number;
}

type Lookup = { model: ResolvedModel } | { failure: RegistryError };

const DIGEST_SHOWN = 12;

/**
 * The label a Secret must carry before the operator sends its value to a registry. Without it, anyone
 * allowed to write ModelDeployments could have the operator send any Secret of their namespace, which
 * they may not read themselves, to a tracking URI of their choosing.
 */
export const REGISTRY_TOKEN_LABEL = `${API_GROUP}/registry-token`;

/** Reads the registry token of a ModelDeployment from its Secret. */
export function secretTokenReader(client: KubeRestClient) {
  return async (namespace: string, name: string, key: string): Promise<string> => {
    let secret: { metadata?: { labels?: Record<string, string> }; data?: Record<string, string> };
    try {
      secret = await client.get(CoreResources.secret, namespace, name);
    } catch (error) {
      const why = isNotFound(error) ? 'does not exist' : `cannot be read: ${(error as Error).message}`;
      throw new RegistryError('TokenUnavailable', `Secret ${name} (model.mlflow.tokenSecret) ${why}`, { cause: error });
    }
    if (secret.metadata?.labels?.[REGISTRY_TOKEN_LABEL] !== 'true') {
      throw new RegistryError('TokenUnavailable', `Secret ${name} (model.mlflow.tokenSecret) is not labelled ${REGISTRY_TOKEN_LABEL}=true: only Secrets meant as registry tokens are sent to a registry`);
    }
    const value = secret.data?.[key];
    if (!value) throw new RegistryError('TokenUnavailable', `Secret ${name} (model.mlflow.tokenSecret) has no key ${key}`);
    return Buffer.from(value, 'base64').toString('utf8').trim();
  };
}

/**
 * The one registry step before the pure plan: resolves a models:/ URI at most once per poll
 * interval per ModelDeployment (other passes reuse the answer), and when the registry fails keeps
 * the resolution status recorded, so the running revision keeps serving.
 */
export class RegistryPoller {
  private readonly resolver = new ModelResolver();
  private readonly recent = new LRUCache<string, Lookup>({ max: 4096 });

  constructor(
    private readonly readToken: (namespace: string, name: string, key: string) => Promise<string>,
    private readonly defaultPollMs: number,
  ) {}

  async resolve(md: ModelDeployment): Promise<ModelResolution | undefined> {
    const { uri, mlflow } = md.spec.model;
    if (!isRegistryUri(uri) || !mlflow) return undefined;
    const pollMs = mlflow.pollIntervalSeconds ? mlflow.pollIntervalSeconds * 1000 : this.defaultPollMs;
    const recorded = md.status?.model?.reference === uri ? md.status.model : undefined;
    const key = JSON.stringify([md.metadata.uid, uri, mlflow.trackingUri, mlflow.tokenSecret ?? null, mlflow.artifactPath ?? null]);
    let lookup = this.recent.get(key);
    if (!lookup) {
      lookup = await this.lookUp(md, recorded);
      this.recent.set(key, lookup, { ttl: pollMs });
    }
    if ('model' in lookup) {
      const { model } = lookup;
      return { model, pollMs, condition: { status: 'True', reason: 'Resolved', message: `${uri} is version ${model.version} (sha256 ${model.sha256.slice(0, DIGEST_SHOWN)})` } };
    }
    const { failure } = lookup;
    // A token Secret that may not be sent must not reach the pods either (the runtime would send it to
    // the recorded URL): the plan is held, every child kept as it was, rather than served from the record.
    if (failure.reason === 'TokenUnavailable') {
      const kept = recorded ? '; nothing is changed (running pods keep their spec) until it is' : '';
      return { model: undefined, pollMs, condition: { status: 'False', reason: failure.reason, message: `${failure.message}${kept}` } };
    }
    const keeping = recorded ? `; still serving version ${recorded.version}` : '';
    return { model: recorded, pollMs, condition: { status: 'False', reason: failure.reason, message: `${failure.message}${keeping}` } };
  }

  private async lookUp(md: ModelDeployment, recorded: ResolvedModel | undefined): Promise<Lookup> {
    const { uri, mlflow } = md.spec.model;
    if (!mlflow) throw new Error('unreachable: not a registry model');
    try {
      const secret = mlflow.tokenSecret;
      const token = secret ? await this.readToken(md.metadata.namespace ?? 'default', secret.name, secret.key ?? SpecDefaults.registryTokenKey) : undefined;
      const model = await this.resolver.resolve(
        { reference: uri, trackingUri: mlflow.trackingUri, ...(token && { token }), ...(mlflow.artifactPath && { artifactPath: mlflow.artifactPath }) },
        recorded,
      );
      return { model };
    } catch (error) {
      if (error instanceof RegistryError) return { failure: error };
      return { failure: new RegistryError('RegistryUnavailable', (error as Error).message, { cause: error }) };
    }
  }
}
