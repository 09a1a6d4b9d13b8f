import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { SpecDefaults } from '../api/schema.ts';
import type { ModelDeployment, ModelDeploymentSpec, ResolvedModel } from '../api/types.ts';
import { isRegistryUri } from '../registry/reference.ts';
import { restrictedContainerSecurityContext } from './security-context.ts';

type ModelSpec = ModelDeploymentSpec['model'];

export const MODEL_CACHE_DIR = '/var/cache/modelship';
export const MODEL_CACHE_VOLUME = 'model-cache';
export const TMP_VOLUME = 'tmp';
export const PVC_MOUNT_PATH = '/mnt/models';
const PVC_VOLUME = 'model-store';
const S3_DOWNLOAD_PATH = `${MODEL_CACHE_DIR}/s3/model.onnx`;
const SIGNATURE_PVC_VOLUME = 'model-signature-store';
const SIGNATURE_PVC_MOUNT_PATH = '/mnt/model-signature';
const SIGNATURE_S3_DOWNLOAD_PATH = `${S3_DOWNLOAD_PATH}.sig`;
export const SIGNATURE_TRUST_VOLUME = 'model-signature-trust';
export const SIGNATURE_TRUST_DIR = '/etc/modelship/model-signature';
/** The Secret's key is projected under this one name, so the runtime's path does not depend on it. */
export const SIGNATURE_TRUST_FILE = `${SIGNATURE_TRUST_DIR}/trust.pem`;

/**
 * How the model file reaches a runtime pod (what the runtime then reads from its env is its own
 * ModelSource, runtime/model/served-model.ts). The runtime fetches http(s) URLs itself and verifies the
 * digest of every file it loads, so the operator only has to make other sources look like a
 * local file:
 * - pvc://claim/path: the claim is mounted read-only and the runtime reads file:///mnt/models/path;
 * - s3://bucket/key: an init container copies the object into the cache volume with the aws CLI
 *   (S3-compatible endpoints and anonymous buckets included) and the runtime verifies it there;
 * - http(s):// and file:// (a path inside the runtime image) are passed through;
 * - models:/ (an MLflow registry): the http(s) URL and digest the operator resolved it to (status.model).
 * A signature (spec.model.signature) travels the same way, next to the model by default, and the
 * Secret holding its public key or CA certificates is mounted read-only.
 */
export interface ModelDelivery {
  /** What MODELSHIP_MODEL_URI is set to. */
  runtimeUri: string;
  sha256: string;
  volumes: V1Volume[];
  runtimeMounts: V1VolumeMount[];
  initContainers: V1Container[];
  /** Set when the model must verify against its model-signing signature. */
  signature?: { method: 'key' | 'certificate'; runtimeUri: string; trustFile: string };
}

type FileSource = Omit<ModelDelivery, 'sha256' | 'signature'>;

/** The registry resolution that the current models:/ URI is served from, as recorded in status. */
export function resolvedModelOf(md: ModelDeployment): ResolvedModel | undefined {
  const resolved = md.status?.model;
  return isRegistryUri(md.spec.model.uri) && resolved?.reference === md.spec.model.uri ? resolved : undefined;
}

/** The model version the runtime reports and pods are labelled with: the spec's, else the registry's. */
export function modelVersionOf(md: ModelDeployment): string | undefined {
  return md.spec.model.version ?? resolvedModelOf(md)?.version;
}

/** The file the spec asks to serve: the registry's resolution, the INT8 variant when selected, else the model itself. */
export function servedModelFile(md: ModelDeployment): { uri: string; sha256: string } {
  const model = md.spec.model;
  if (isRegistryUri(model.uri)) {
    const resolved = resolvedModelOf(md);
    // The reconciler plans a registry model only once it is resolved.
    if (!resolved) throw new Error(`${model.uri} has not been resolved`);
    return { uri: resolved.uri, sha256: resolved.sha256 };
  }
  if (model.variant === 'int8' && model.int8) return model.int8;
  // The CRD requires sha256 for every URI but models:/.
  return { uri: model.uri, sha256: model.sha256 ?? '' };
}

interface Placement {
  pvcVolume: string;
  pvcMountPath: string;
  s3Target: string;
  fetcherName: string;
}

const MODEL_PLACEMENT: Placement = { pvcVolume: PVC_VOLUME, pvcMountPath: PVC_MOUNT_PATH, s3Target: S3_DOWNLOAD_PATH, fetcherName: 'fetch-model' };
const SIGNATURE_PLACEMENT: Placement = {
  pvcVolume: SIGNATURE_PVC_VOLUME,
  pvcMountPath: SIGNATURE_PVC_MOUNT_PATH,
  s3Target: SIGNATURE_S3_DOWNLOAD_PATH,
  fetcherName: 'fetch-model-signature',
};

const claimAndPath = (uri: string): [string, string] => {
  const [claimName = '', ...path] = uri.slice('pvc://'.length).split('/');
  return [claimName, path.join('/')];
};

/** How one file the runtime reads reaches it, and what the pod needs for that. */
function fileSource(uri: string, model: ModelSpec, s3FetcherImage: string, placement: Placement): FileSource {
  const none = { volumes: [], runtimeMounts: [], initContainers: [] };
  if (uri.startsWith('pvc://')) {
    const [claimName, path] = claimAndPath(uri);
    return {
      runtimeUri: `file://${placement.pvcMountPath}/${path}`,
      volumes: [{ name: placement.pvcVolume, persistentVolumeClaim: { claimName, readOnly: true } }],
      runtimeMounts: [{ name: placement.pvcVolume, mountPath: placement.pvcMountPath, readOnly: true }],
      initContainers: [],
    };
  }
  if (uri.startsWith('s3://')) {
    return { ...none, runtimeUri: `file://${placement.s3Target}`, initContainers: [s3Fetcher(uri, placement, model.s3, s3FetcherImage)] };
  }
  return { ...none, runtimeUri: uri };
}

/** The signature next to the served file unless spec.model.signature.uri says otherwise; on the model's claim, through its mount. */
function signatureSource(model: ModelSpec, servedUri: string, s3FetcherImage: string): FileSource {
  const uri = model.signature?.uri ?? `${servedUri}.sig`;
  if (uri.startsWith('pvc://') && servedUri.startsWith('pvc://') && claimAndPath(uri)[0] === claimAndPath(servedUri)[0]) {
    return { runtimeUri: `file://${PVC_MOUNT_PATH}/${claimAndPath(uri)[1]}`, volumes: [], runtimeMounts: [], initContainers: [] };
  }
  return fileSource(uri, model, s3FetcherImage, SIGNATURE_PLACEMENT);
}

export function modelSource(md: ModelDeployment, s3FetcherImage: string): ModelDelivery {
  const model = md.spec.model;
  const file = servedModelFile(md);
  const served = fileSource(file.uri, model, s3FetcherImage, MODEL_PLACEMENT);
  if (!model.signature) return { ...served, sha256: file.sha256 };
  const signature = signatureSource(model, file.uri, s3FetcherImage);
  const { secret } = model.signature;
  return {
    runtimeUri: served.runtimeUri,
    sha256: file.sha256,
    volumes: [
      ...served.volumes,
      ...signature.volumes,
      { name: SIGNATURE_TRUST_VOLUME, secret: { secretName: secret.name, items: [{ key: secret.key, path: 'trust.pem' }] } },
    ],
    runtimeMounts: [...served.runtimeMounts, ...signature.runtimeMounts, { name: SIGNATURE_TRUST_VOLUME, mountPath: SIGNATURE_TRUST_DIR, readOnly: true }],
    initContainers: [...served.initContainers, ...signature.initContainers],
    signature: { method: model.signature.method ?? SpecDefaults.signatureMethod, runtimeUri: signature.runtimeUri, trustFile: SIGNATURE_TRUST_FILE },
  };
}

function s3Fetcher(uri: string, placement: Placement, settings: ModelSpec['s3'], image: string): V1Container {
  const secret = settings?.credentialsSecret;
  const env: V1EnvVar[] = [{ name: 'HOME', value: '/tmp' }];
  if (settings?.region) env.push({ name: 'AWS_REGION', value: settings.region });
  if (secret) {
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) env.push({ name: key, valueFrom: { secretKeyRef: { name: secret, key } } });
  }
  return {
    name: placement.fetcherName,
    image,
    command: ['aws'],
    args: [
      's3', 'cp', uri, placement.s3Target, '--only-show-errors',
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
