import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Why a reference could not be resolved; each becomes the reason of the ModelResolved condition. */
export type RegistryFailure = 'RegistryUnavailable' | 'TokenUnavailable' | 'ModelNotFound' | 'ModelVersionNotFound' | 'AliasNotFound' | 'ArtifactNotFound';

export class RegistryError extends Error {
  constructor(readonly reason: RegistryFailure, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export interface ModelVersionInfo {
  name: string;
  version: string;
  source?: string;
  run_id?: string;
}

interface MlflowErrorBody {
  error_code?: string;
  message?: string;
}

export interface ArtifactEntry {
  path: string;
  is_dir?: boolean;
}

const API_TIMEOUT_MS = 10_000;
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

const causeOf = (error: unknown): string => {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${(error as Error).message}${cause}`;
};

/**
 * The few calls of MLflow's REST API 2.0 that resolving a models:/ reference needs, and the
 * artifact proxy of a tracking server run with --serve-artifacts. A server that does not answer,
 * or answers 5xx/401/403, is RegistryUnavailable; "does not exist" answers are the caller's to name.
 */
export class MlflowClient {
  private readonly base: string;

  constructor(trackingUri: string, private readonly token?: string) {
    this.base = trackingUri.replace(/\/+$/, '');
  }

  private headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  private async send(url: string, timeoutMs: number): Promise<Response> {
    try {
      return await fetch(url, { headers: this.headers(), signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    } catch (error) {
      throw new RegistryError('RegistryUnavailable', `MLflow at ${this.base} did not answer: ${causeOf(error)}`, { cause: error });
    }
  }

  /** GET of a REST endpoint; an MLflow error body goes to `refusal`, which names it or leaves it RegistryUnavailable. */
  private async getJson<T>(endpoint: string, query: Record<string, string>, refusal: (body: MlflowErrorBody) => RegistryError | undefined): Promise<T> {
    const response = await this.send(`${this.base}/api/2.0/mlflow/${endpoint}?${new URLSearchParams(query)}`, API_TIMEOUT_MS);
    const body = (await response.json().catch(() => ({}))) as T & MlflowErrorBody;
    if (response.ok) return body;
    const named = response.status < 500 && response.status !== 401 && response.status !== 403 ? refusal(body) : undefined;
    throw named ?? new RegistryError('RegistryUnavailable', `MLflow at ${this.base} answered HTTP ${response.status} to ${endpoint}${body.message ? `: ${body.message}` : ''}`);
  }

  async versionByAlias(name: string, alias: string): Promise<ModelVersionInfo> {
    const body = await this.getJson<{ model_version: ModelVersionInfo }>('registered-models/alias', { name, alias }, (error) => {
      if (error.error_code === 'RESOURCE_DOES_NOT_EXIST') return new RegistryError('ModelNotFound', `no registered model ${name} in MLflow at ${this.base}`);
      if (error.error_code === 'INVALID_PARAMETER_VALUE' && /alias/i.test(error.message ?? '')) {
        return new RegistryError('AliasNotFound', `registered model ${name} has no alias ${alias}`);
      }
      return undefined;
    });
    return body.model_version;
  }

  async modelVersion(name: string, version: string): Promise<ModelVersionInfo> {
    const body = await this.getJson<{ model_version: ModelVersionInfo }>('model-versions/get', { name, version }, (error) =>
      error.error_code === 'RESOURCE_DOES_NOT_EXIST' ? new RegistryError('ModelVersionNotFound', `no version ${version} of registered model ${name}`) : undefined);
    return body.model_version;
  }

  /** Where the model version's artifacts are, e.g. mlflow-artifacts:/0/models/m-.../artifacts. */
  async downloadUri(name: string, version: string): Promise<string> {
    const body = await this.getJson<{ artifact_uri: string }>('model-versions/get-download-uri', { name, version }, (error) =>
      error.error_code === 'RESOURCE_DOES_NOT_EXIST' ? new RegistryError('ModelVersionNotFound', `no version ${version} of registered model ${name}`) : undefined);
    return body.artifact_uri;
  }

  /** HTTP URL of a path in the tracking server's artifact proxy (mlflow server --serve-artifacts). */
  proxiedArtifactUrl(path: string): string {
    return `${this.base}/api/2.0/mlflow-artifacts/artifacts/${path.split('/').filter(Boolean).map(encodeURIComponent).join('/')}`;
  }

  async listProxiedArtifacts(path: string): Promise<ArtifactEntry[]> {
    const response = await this.send(`${this.base}/api/2.0/mlflow-artifacts/artifacts?${new URLSearchParams({ path })}`, API_TIMEOUT_MS);
    if (!response.ok) throw new RegistryError('RegistryUnavailable', `MLflow at ${this.base} answered HTTP ${response.status} listing artifacts ${path}`);
    return ((await response.json()) as { files?: ArtifactEntry[] }).files ?? [];
  }

  async readText(url: string): Promise<string> {
    const response = await this.artifact(url, API_TIMEOUT_MS);
    return response.text();
  }

  /** Streams a file through SHA-256 without keeping it. */
  async sha256Of(url: string): Promise<string> {
    const response = await this.artifact(url, DOWNLOAD_TIMEOUT_MS);
    const hash = createHash('sha256');
    try {
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), hash);
    } catch (error) {
      throw new RegistryError('RegistryUnavailable', `downloading ${url} failed: ${causeOf(error)}`, { cause: error });
    }
    return hash.digest('hex');
  }

  private async artifact(url: string, timeoutMs: number): Promise<Response> {
    const response = await this.send(url, timeoutMs);
    if (response.status === 404) throw new RegistryError('ArtifactNotFound', `${url} does not exist`);
    if (!response.ok || !response.body) throw new RegistryError('RegistryUnavailable', `${url} answered HTTP ${response.status}`);
    return response;
  }
}
