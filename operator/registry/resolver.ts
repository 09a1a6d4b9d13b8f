import { load } from 'js-yaml';
import { LRUCache } from 'lru-cache';
import type { ModelDeploymentStatus } from '../api/types.ts';
import { MlflowClient, RegistryError, type ModelVersionInfo } from './mlflow-client.ts';
import { parseRegistryUri } from './reference.ts';

/** A models:/ reference resolved: the version it names now, and the file the runtime downloads and verifies. */
export type ResolvedModel = NonNullable<ModelDeploymentStatus['model']>;

export interface RegistryTarget {
  /** The models:/ URI. */
  reference: string;
  trackingUri: string;
  token?: string;
  /** The .onnx file inside the version's artifacts, when the spec names it. */
  artifactPath?: string;
}

const MLFLOW_ARTIFACTS_SCHEME = 'mlflow-artifacts:';

function onnxFlavorFile(mlmodel: string): string | undefined {
  const parsed = load(mlmodel) as { flavors?: { onnx?: { data?: unknown } } } | undefined;
  const data = parsed?.flavors?.onnx?.data;
  return typeof data === 'string' ? data : undefined;
}

/**
 * Resolves models:/ references against MLflow. A version's file is hashed once (downloaded and
 * streamed through SHA-256) and remembered by version: polling an alias costs one API call
 * until the alias moves.
 */
export class ModelResolver {
  private readonly digests = new LRUCache<string, { uri: string; sha256: string }>({ max: 512 });

  async resolve(target: RegistryTarget, known?: ResolvedModel): Promise<ResolvedModel> {
    const reference = parseRegistryUri(target.reference);
    if (!reference) throw new RegistryError('ModelVersionNotFound', `${target.reference} is not models:/<name>/<version> or models:/<name>@<alias>`);
    const client = new MlflowClient(target.trackingUri, target.token);
    const info: ModelVersionInfo = reference.alias === undefined
      ? await client.modelVersion(reference.name, reference.version)
      : await client.versionByAlias(reference.name, reference.alias);
    const version = String(info.version);
    const key = JSON.stringify([target.trackingUri, reference.name, version, target.artifactPath ?? null]);
    let file = this.digests.get(key);
    // After a restart, the status's own record of this version saves downloading it again.
    if (!file && known && known.reference === target.reference && known.version === version) file = { uri: known.uri, sha256: known.sha256 };
    if (!file) {
      const uri = await this.modelFileUrl(client, reference.name, version, target.artifactPath);
      file = { uri, sha256: await client.sha256Of(uri) };
    }
    this.digests.set(key, file);
    return { reference: target.reference, version, uri: file.uri, sha256: file.sha256 };
  }

  /** The http(s) URL of the version's .onnx file: the one artifactPath names, the one its MLmodel's onnx flavor names, or its only one. */
  private async modelFileUrl(client: MlflowClient, name: string, version: string, artifactPath: string | undefined): Promise<string> {
    const location = await client.downloadUri(name, version);
    if (/^https?:\/\//.test(location)) {
      if (location.endsWith('.onnx') && !artifactPath) return location;
      return `${location.replace(/\/+$/, '')}/${artifactPath ?? 'model.onnx'}`;
    }
    if (!location.startsWith(MLFLOW_ARTIFACTS_SCHEME)) {
      throw new RegistryError(
        'ArtifactNotFound',
        `version ${version} of ${name} is stored at ${location}, which the runtime cannot download: serve artifacts through the tracking server (mlflow server --serve-artifacts) or from an http(s) store`,
      );
    }
    const path = new URL(location).pathname.replace(/^\/+/, '');
    if (artifactPath) return client.proxiedArtifactUrl(`${path}/${artifactPath}`);
    if (path.endsWith('.onnx')) return client.proxiedArtifactUrl(path);
    const entries = await client.listProxiedArtifacts(path);
    const files = entries.filter((entry) => !entry.is_dir).map((entry) => entry.path.split('/').pop() ?? entry.path);
    const flavorFile = files.includes('MLmodel') ? onnxFlavorFile(await client.readText(client.proxiedArtifactUrl(`${path}/MLmodel`))) : undefined;
    const onnxFiles = files.filter((file) => file.endsWith('.onnx'));
    const chosen = flavorFile ?? (onnxFiles.length === 1 ? onnxFiles[0] : undefined);
    if (!chosen) {
      throw new RegistryError(
        'ArtifactNotFound',
        `version ${version} of ${name} has ${onnxFiles.length === 0 ? 'no .onnx file' : `several .onnx files (${onnxFiles.join(', ')})`} in ${location}: name the one to serve with model.mlflow.artifactPath`,
      );
    }
    return client.proxiedArtifactUrl(`${path}/${chosen}`);
  }
}
