import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { ModelDeploymentSpec } from '../api/types.ts';
import { restrictedContainerSecurityContext } from './security-context.ts';

type ModelSpec = ModelDeploymentSpec['model'];

export const MODEL_CACHE_DIR = '/var/cache/modelship';
export const MODEL_CACHE_VOLUME = 'model-cache';
export const TMP_VOLUME = 'tmp';
export const PVC_MOUNT_PATH = '/mnt/models';
const PVC_VOLUME = 'model-store';
const S3_DOWNLOAD_PATH = `${MODEL_CACHE_DIR}/s3/model.onnx`;

/**
 * How the runtime gets its model file. The runtime fetches http(s) URLs itself and verifies the
 * digest of every file it loads, so the operator only has to make other sources look like a
 * local file:
 * - pvc://claim/path: the claim is mounted read-only and the runtime reads file:///mnt/models/path;
 * - s3://bucket/key: an init container copies the object into the cache volume with the aws CLI
 *   (S3-compatible endpoints and anonymous buckets included) and the runtime verifies it there;
 * - http(s):// and file:// (a path inside the runtime image) are passed through.
 */
export interface ModelSource {
  /** What MODELSHIP_MODEL_URI is set to. */
  runtimeUri: string;
  sha256: string;
  volumes: V1Volume[];
  runtimeMounts: V1VolumeMount[];
  initContainers: V1Container[];
}

/** The file the spec asks to serve: the INT8 variant when selected, else the model itself. */
export function servedModelFile(model: ModelSpec): { uri: string; sha256: string } {
  if (model.variant === 'int8' && model.int8) return model.int8;
  return { uri: model.uri, sha256: model.sha256 };
}

export function modelSource(model: ModelSpec, s3FetcherImage: string): ModelSource {
  const file = servedModelFile(model);
  const none = { volumes: [], runtimeMounts: [], initContainers: [] };
  if (file.uri.startsWith('pvc://')) {
    const [claimName = '', ...path] = file.uri.slice('pvc://'.length).split('/');
    return {
      runtimeUri: `file://${PVC_MOUNT_PATH}/${path.join('/')}`,
      sha256: file.sha256,
      volumes: [{ name: PVC_VOLUME, persistentVolumeClaim: { claimName, readOnly: true } }],
      runtimeMounts: [{ name: PVC_VOLUME, mountPath: PVC_MOUNT_PATH, readOnly: true }],
      initContainers: [],
    };
  }
  if (file.uri.startsWith('s3://')) {
    return { ...none, runtimeUri: `file://${S3_DOWNLOAD_PATH}`, sha256: file.sha256, initContainers: [s3Fetcher(file.uri, model.s3, s3FetcherImage)] };
  }
  return { ...none, runtimeUri: file.uri, sha256: file.sha256 };
}

function s3Fetcher(uri: string, settings: ModelSpec['s3'], image: string): V1Container {
  const secret = settings?.credentialsSecret;
  const env: V1EnvVar[] = [{ name: 'HOME', value: '/tmp' }];
  if (settings?.region) env.push({ name: 'AWS_REGION', value: settings.region });
  if (secret) {
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) env.push({ name: key, valueFrom: { secretKeyRef: { name: secret, key } } });
  }
  return {
    name: 'fetch-model',
    image,
    command: ['aws'],
    args: [
      's3', 'cp', uri, S3_DOWNLOAD_PATH, '--only-show-errors',
      ...(settings?.endpoint ? ['--endpoint-url', settings.endpoint] : []),
      ...(secret ? [] : ['--no-sign-request']),
    ],
    env,
    securityContext: restrictedContainerSecurityContext(),
    volumeMounts: [
      { name: MODEL_CACHE_VOLUME, mountPath: MODEL_CACHE_DIR },
      { name: TMP_VOLUME, mountPath: '/tmp' },
    ],
  };
}
