import { parseImageReference } from './dockerfile.ts';

/** What a registry base image brings that the replay must stand in for (no Docker engine runs the tests). */
export interface BaseImage {
  /** Where the image has its node binary; the replay links the machine's node there. */
  nodeAt: string | undefined;
  /** The Node.js major version the image's tag promises (the machine's node must match it). */
  nodeMajor: number | undefined;
  /** Whether RUN works in it (a shell); the replay runs RUN with the machine's shell, node and npm. */
  hasShell: boolean;
  entrypoint: string[];
  cmd: string[];
  /** Home directories in the image's /etc/passwd, by uid: a container runtime sets HOME from it ("/" if absent). */
  homes: Readonly<Record<number, string>>;
}

interface Known extends Omit<BaseImage, 'nodeMajor'> {
  repository: string;
  /** Reads the Node.js major from the tag or repository name. */
  major: (repository: string, tag: string) => number | undefined;
}

const KNOWN: Known[] = [
  {
    repository: 'node', nodeAt: '/usr/local/bin/node', hasShell: true, entrypoint: ['docker-entrypoint.sh'], cmd: ['node'],
    homes: { 0: '/root', 1000: '/home/node' },
    major: (_repository, tag) => Number(/^(\d+)/.exec(tag)?.[1]),
  },
  {
    repository: 'gcr.io/distroless/nodejs20-debian12', nodeAt: '/nodejs/bin/node', hasShell: false, entrypoint: ['/nodejs/bin/node'], cmd: [],
    homes: { 0: '/root', 65532: '/home/nonroot' },
    major: (repository) => Number(/nodejs(\d+)/.exec(repository)?.[1]),
  },
  {
    repository: 'nvidia/cuda', nodeAt: undefined, hasShell: true, entrypoint: ['/opt/nvidia/nvidia_entrypoint.sh'], cmd: [],
    homes: { 0: '/root', 1000: '/home/ubuntu' },
    major: () => undefined,
  },
];

/** What the replay knows of a base image; an unknown one is an error, not a guess. */
export function baseImage(reference: string): BaseImage {
  const { repository, tag } = parseImageReference(reference);
  const known = KNOWN.find((image) => image.repository === repository);
  if (!known) throw new Error(`the image replay does not know what ${reference} provides (test/support/base-images.ts)`);
  const nodeMajor = known.major(repository, tag ?? '');
  return {
    nodeAt: known.nodeAt, hasShell: known.hasShell, entrypoint: known.entrypoint, cmd: known.cmd, homes: known.homes,
    nodeMajor: nodeMajor === undefined || Number.isNaN(nodeMajor) ? undefined : nodeMajor,
  };
}
