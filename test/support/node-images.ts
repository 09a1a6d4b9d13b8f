import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { OperatorSettings } from '../../operator/settings.ts';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import type { OciImageConfig, RealNode } from '../plane/node.ts';
import { baseImage } from './base-images.ts';
import { replayImage, type ReplayedImage } from './image-replay.ts';

const run = promisify(execFile);

/** An image as the real node loads it: layers (directories), bottom first, and its config. */
export interface NodeImage {
  name: string;
  layers: string[];
  config: OciImageConfig;
}

/**
 * A replayed Dockerfile as an image a kubelet can run. The replay's base image is a stand-in (its
 * node is a link to this machine's node); a container needs the real files, so a bottom layer holds
 * what the base image brings: this machine's node binary (the same Debian 12 and Node major, checked
 * by the replay) with the shared libraries it and the image's native addons load, the image's users
 * and their homes, and a world-writable /tmp.
 */
export async function nodeImage(name: string, image: ReplayedImage, scratch: string): Promise<NodeImage> {
  const base = baseImage(image.baseReference);
  const baseRoot = join(scratch, 'base-rootfs');
  await baseLayer(image.baseReference, baseRoot, await nativeAddons(image.root), image.root);

  // The replay's stand-in link to this machine's node would shadow the copy in the layer below.
  const appRoot = join(scratch, 'app-rootfs');
  await rm(appRoot, { recursive: true, force: true });
  await run('cp', ['-a', `${image.root}/.`, appRoot]);
  if (base.nodeAt) await rm(join(appRoot, base.nodeAt), { force: true });

  const { config } = image;
  return {
    name,
    layers: [baseRoot, appRoot],
    config: {
      ...(config.user && { user: config.user }),
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...config.env },
      entrypoint: config.entrypoint,
      cmd: config.cmd,
      workdir: config.workdir,
      exposedPorts: config.exposed,
      labels: config.labels,
    },
  };
}

/** A base image alone, as its stand-in layer (for a pod that runs a base image directly). */
export async function baseImageOnly(reference: string, scratch: string): Promise<NodeImage> {
  const base = baseImage(reference);
  const root = join(scratch, 'base-rootfs');
  await baseLayer(reference, root, []);
  return {
    name: reference,
    layers: [root],
    config: {
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      entrypoint: base.entrypoint, cmd: base.cmd,
    },
  };
}

/** Replays a Dockerfile of this repository and returns it as an image for the real node. */
export async function replayedNodeImage(options: { name: string; dockerfile: string; context: string; scratch: string; buildArgs?: Record<string, string>; log?: (line: string) => void }): Promise<NodeImage> {
  const into = join(options.scratch, 'replay');
  await mkdir(into, { recursive: true });
  const replayed = await replayImage({ dockerfile: options.dockerfile, context: options.context, into, buildArgs: options.buildArgs, log: options.log });
  return nodeImage(options.name, replayed, options.scratch);
}

/** What the base image brings, from this machine: node and the libraries `elves` load, users and homes, /tmp. */
async function baseLayer(reference: string, root: string, elves: string[], imageRoot?: string): Promise<void> {
  const base = baseImage(reference);
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const loaded = [...elves];
  if (base.nodeAt) {
    await copyInto(root, process.execPath, base.nodeAt);
    loaded.push(process.execPath);
  }
  for (const lib of await sharedLibraries(loaded, imageRoot)) await copyInto(root, lib, lib);

  const homes = Object.entries(base.homes).map(([uid, home]) => ({ uid: Number(uid), home, name: Number(uid) === 0 ? 'root' : home.split('/').pop()! }));
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc', 'passwd'), homes.map((u) => `${u.name}:x:${u.uid}:${u.uid}:${u.name}:${u.home}:/sbin/nologin\n`).join(''));
  await writeFile(join(root, 'etc', 'group'), homes.map((u) => `${u.name}:x:${u.uid}:\n`).join(''));
  for (const u of homes) {
    await mkdir(join(root, u.home), { recursive: true });
    await chown(join(root, u.home), u.uid, u.uid);
  }
  await mkdir(join(root, 'tmp'), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
}

async function copyInto(root: string, source: string, at: string): Promise<void> {
  const target = join(root, at);
  if (existsSync(target)) return;
  await mkdir(dirname(target), { recursive: true });
  await copyFile(source, target);
  await chmod(target, 0o755);
}

/** Native addons and their bundled libraries in the image (onnxruntime's), which load system libraries too. */
async function nativeAddons(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && /\.(node|so(\.\d+)*)$/.test(entry.name)) found.push(path);
    }
  };
  await walk(root);
  return found;
}

/** The machine's shared libraries these ELF files load (ldd), the dynamic loader included; the image's own are left out. */
async function sharedLibraries(files: string[], imageRoot: string | undefined): Promise<string[]> {
  const libs = new Set<string>();
  for (const file of files) {
    const { stdout } = await run('ldd', [file]).catch(() => ({ stdout: '' }));
    for (const line of stdout.split('\n')) {
      const path = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
      if (path && !(imageRoot && path.startsWith(imageRoot))) libs.add(path);
    }
  }
  return [...libs];
}

/** The base image examples/models/model-server.yaml runs (the distroless Node image the Modelship images build on). */
export const DISTROLESS_NODE = 'gcr.io/distroless/nodejs20-debian12:nonroot@sha256:2cd820156cf039c8b54ae2d2a97e424b6729070714de8707a6b79f20d56f6a9a';

/**
 * Loads what the project's pods run into a real node, as a registry pull would: the runtime image
 * (Dockerfile.runtime replayed, under the operator's default image name) and the distroless Node
 * base the example model store runs. Returns the runtime image.
 */
export async function loadProjectImages(node: RealNode, scratch: string, log?: (line: string) => void): Promise<NodeImage> {
  const runtimeImage = await replayedNodeImage({
    name: OperatorSettings.runtimeImage.default, dockerfile: join(REPO_ROOT, 'Dockerfile.runtime'), context: REPO_ROOT,
    scratch: join(scratch, 'runtime'), log,
  });
  await node.loadImage(runtimeImage);
  await node.loadImage(await baseImageOnly(DISTROLESS_NODE, join(scratch, 'distroless')));
  return runtimeImage;
}
