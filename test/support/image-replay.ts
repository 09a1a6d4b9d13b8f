import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, readFile, rename, rm, stat, symlink, utimes } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import dockerignoreModule, { type Ignore } from '@balena/dockerignore';
import { baseImage } from './base-images.ts';
import {
  expandVariables, parseCommand, parseCopy, parseDockerfile, parseKeyValues, resolveCopySource, stagesFor,
  type ResolvedStage, type Stage,
} from './dockerfile.ts';

/**
 * Rebuilds an image's final filesystem from its Dockerfile without a Docker engine: each stage the
 * target needs gets a directory standing in for its "/", RUN runs there with this machine's shell,
 * node and npm (a base image's node is a link to this node, whose major version must match the tag),
 * COPY copies from the build context (through .dockerignore) or an earlier stage. Results are kept
 * in a layer cache keyed like Docker's (instruction text, build args, copied content), so unchanged
 * `npm ci` layers are not redone.
 */

const run = promisify(execFile);
// A CommonJS module whose typings declare an ES default export; it sets `factory.default = factory` for this.
const dockerignore = dockerignoreModule.default;

export interface ImageConfig {
  env: Record<string, string>;
  workdir: string;
  user: string | undefined;
  exposed: string[];
  labels: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
}

export interface ReplayedImage {
  /** The final filesystem ("/" of the image). */
  root: string;
  config: ImageConfig;
  /** The registry image the final stage starts from. */
  baseReference: string;
  /** The image's ENTRYPOINT + CMD with the executable mapped into `root`, and its working directory. */
  command(): { file: string; args: string[]; cwd: string };
}

export interface ReplayOptions {
  dockerfile: string;
  /** Build context directory. */
  context: string;
  /** Empty directory that receives the final filesystem (`<into>/rootfs`) and the stages' scratch dirs. */
  into: string;
  buildArgs?: Record<string, string>;
  target?: string;
  /** Layer cache (default ~/.cache/modelship/image-replay). */
  cacheDir?: string;
  log?: (line: string) => void;
}

/** A stage's state after each instruction: what the image config says, and what is in its "/". */
interface StageResult {
  root: string;
  key: string;
  config: ImageConfig;
  baseReference: string;
  hasShell: boolean;
}

type Action = (root: string) => Promise<void>;
interface Step { key: string; action: Action | undefined; isRun: boolean; line: number }

const CACHE_MAX_AGE_MS = 7 * 24 * 3600_000;

export async function replayImage(options: ReplayOptions): Promise<ReplayedImage> {
  const cacheDir = options.cacheDir ?? join(homedir(), '.cache', 'modelship', 'image-replay');
  await mkdir(cacheDir, { recursive: true });
  const file = parseDockerfile(await readFile(options.dockerfile, 'utf8'));
  const ignore = dockerignore().add(await readFile(join(options.context, '.dockerignore'), 'utf8').catch(() => ''));
  const buildArgs = options.buildArgs ?? {};
  const stages = stagesFor(file, buildArgs, options.target);
  const results = new Map<Stage, StageResult>();
  const finalRoot = join(options.into, 'rootfs');
  const log = options.log ?? (() => undefined);
  for (const resolved of stages) {
    const isFinal = resolved === stages[stages.length - 1];
    const started = Date.now();
    const result = await replayStage({ resolved, results, buildArgs, context: options.context, ignore, cacheDir, into: options.into, file, keep: usedPaths(file, stages) }, isFinal ? finalRoot : undefined);
    log(`stage ${resolved.stage.name ?? resolved.stage.index}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    results.set(resolved.stage, result);
  }
  await pruneCache(cacheDir);
  const final = results.get(stages[stages.length - 1]!.stage)!;
  return {
    root: final.root,
    config: final.config,
    baseReference: final.baseReference,
    command() {
      const [executable, ...args] = [...final.config.entrypoint, ...final.config.cmd];
      if (!executable || !posix.isAbsolute(executable)) throw new Error(`the image's command must start with an absolute path, not ${executable}`);
      const mapped = join(final.root, executable);
      if (!existsSync(mapped)) throw new Error(`the image has no ${executable} to run`);
      return { file: mapped, args, cwd: join(final.root, final.config.workdir) };
    },
  };
}

/** What later stages use of each stage (COPY sources are read with the global ARGs only). */
function usedPaths(file: ReturnType<typeof parseDockerfile>, stages: ResolvedStage[]): Map<Stage, Set<string> | 'all'> {
  const keep = new Map<Stage, Set<string> | 'all'>();
  for (const { base } of stages) if (base.kind === 'stage') keep.set(base.stage, 'all');
  for (const { stage, globalArgs } of stages) {
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== 'COPY') continue;
      const { from, sources } = parseCopy(expandVariables(instruction.args, globalArgs));
      if (from === undefined) continue;
      const source = resolveCopySource(file, from, stage.index);
      if (source.kind !== 'stage' || keep.get(source.stage) === 'all') continue;
      const paths = (keep.get(source.stage) as Set<string> | undefined) ?? new Set<string>();
      for (const path of sources) paths.add(posix.resolve('/', path));
      keep.set(source.stage, paths);
    }
  }
  return keep;
}

interface StageContext {
  resolved: ResolvedStage;
  results: Map<Stage, StageResult>;
  buildArgs: Record<string, string>;
  context: string;
  ignore: Ignore;
  cacheDir: string;
  into: string;
  file: ReturnType<typeof parseDockerfile>;
  /** Per stage: 'all' when a later stage builds FROM it, else the paths later stages COPY from it. */
  keep: Map<Stage, Set<string> | 'all'>;
}

const hash = (...parts: string[]): string => createHash('sha256').update(parts.join('\0')).digest('hex');
const hostPath = (root: string, containerPath: string): string => join(root, posix.resolve('/', containerPath));

async function replayStage(ctx: StageContext, finalRoot: string | undefined): Promise<StageResult> {
  const { stage, base, globalArgs } = ctx.resolved;
  let start: StageResult;
  let init: Action;
  if (base.kind === 'stage') {
    const from = ctx.results.get(base.stage)!;
    start = { ...from, config: structuredClone(from.config), key: hash('stage', from.key) };
    init = (root) => copyTree(from.root, root);
  } else {
    const image = baseImage(base.reference);
    const hostMajor = Number(process.versions.node.split('.')[0]);
    if (image.nodeMajor !== undefined && image.nodeMajor !== hostMajor) {
      throw new Error(`${base.reference} is Node ${image.nodeMajor}; the replay runs it with this machine's Node ${process.versions.node}`);
    }
    start = {
      root: '', key: hash('image', base.reference, process.platform, process.arch, process.execPath, process.versions.node),
      config: { env: {}, workdir: '/', user: undefined, exposed: [], labels: {}, entrypoint: image.entrypoint, cmd: image.cmd },
      baseReference: base.reference, hasShell: image.hasShell,
    };
    init = async (root) => {
      await mkdir(root, { recursive: true });
      if (image.nodeAt) await linkNode(hostPath(root, image.nodeAt));
    };
  }
  const config = start.config;
  const steps = await planSteps(ctx, stage, start.key, config, start.hasShell, globalArgs);
  const last = steps.length - 1;
  const finalKey = last >= 0 ? steps[last]!.key : start.key;
  const done = (root: string): StageResult => ({ ...start, root, key: finalKey, config });
  // A stage later stages only COPY from is kept as just those paths (the build stage's dist, not its
  // 470 MB of dev dependencies), so a source change adds megabytes to the cache, not a node_modules.
  const keep = ctx.keep.get(stage);
  const endKey = keep === 'all' || keep === undefined ? finalKey : hash(finalKey, 'keep', ...keep);
  if (!finalRoot && existsSync(join(ctx.cacheDir, endKey))) {
    await touch(join(ctx.cacheDir, endKey));
    return done(entryRoot(ctx.cacheDir, endKey));
  }

  // Else start from the latest cached RUN layer, if any.
  let resumeAt = -1;
  for (let i = last; i >= 0 && resumeAt < 0; i--) if (steps[i]!.isRun && existsSync(join(ctx.cacheDir, steps[i]!.key))) resumeAt = i;
  const workRoot = finalRoot ?? join(ctx.into, 'stages', `${stage.index}-${stage.name ?? 'unnamed'}`);
  await rm(workRoot, { recursive: true, force: true });
  if (resumeAt >= 0) {
    await touch(join(ctx.cacheDir, steps[resumeAt]!.key));
    await copyTree(entryRoot(ctx.cacheDir, steps[resumeAt]!.key), workRoot);
  } else {
    await init(workRoot);
  }
  for (let i = resumeAt + 1; i <= last; i++) {
    const step = steps[i]!;
    try {
      await step.action?.(workRoot);
    } catch (error) {
      throw new Error(`line ${step.line} of the Dockerfile failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    // The last step of a non-final stage is stored as the stage's end below.
    if (step.isRun && (finalRoot || i < last)) await store(ctx.cacheDir, step.key, workRoot);
  }
  if (finalRoot) return done(finalRoot);
  await storeStageEnd(ctx.cacheDir, endKey, workRoot, keep === 'all' || keep === undefined ? undefined : keep);
  return done(entryRoot(ctx.cacheDir, endKey));
}

/** Walks the instructions once: the image config they make, and each one's cache key and file-system effect. */
async function planSteps(
  ctx: StageContext, stage: Stage, startKey: string, config: ImageConfig, hasShell: boolean, globals: Readonly<Record<string, string>>,
): Promise<Step[]> {
  const args: Record<string, string> = {};
  const steps: Step[] = [];
  let key = startKey;
  const variables = () => ({ ...args, ...config.env });
  for (const instruction of stage.instructions) {
    const text = instruction.keyword === 'RUN' ? instruction.args : expandVariables(instruction.args, variables());
    let action: Action | undefined;
    let content = '';
    switch (instruction.keyword) {
      case 'ARG':
        for (const [name, fallback] of parseKeyValues(instruction.args, 'ARG')) {
          const value = ctx.buildArgs[name] ?? (fallback === undefined ? globals[name] : expandVariables(fallback, variables()));
          if (value !== undefined) args[name] = value;
          content += `${name}=${value ?? ''};`;
        }
        break;
      case 'ENV':
        for (const [name, value] of parseKeyValues(text, 'ENV')) config.env[name] = value ?? '';
        break;
      case 'LABEL':
        for (const [name, value] of parseKeyValues(text, 'LABEL')) config.labels[name] = value ?? '';
        break;
      case 'WORKDIR': {
        config.workdir = posix.resolve(config.workdir, text);
        const workdir = config.workdir;
        action = (root) => mkdir(hostPath(root, workdir), { recursive: true }).then(() => undefined);
        break;
      }
      case 'USER':
        config.user = text;
        break;
      case 'EXPOSE':
        config.exposed.push(...text.split(/\s+/));
        break;
      case 'CMD':
        config.cmd = parseCommand(text);
        break;
      case 'ENTRYPOINT':
        // As in Docker: a new ENTRYPOINT drops the CMD inherited from the base.
        config.entrypoint = parseCommand(text);
        config.cmd = [];
        break;
      case 'COPY':
        ({ action, content } = await planCopy(ctx, stage, text, config.workdir));
        break;
      case 'RUN': {
        if (!hasShell) throw new Error(`line ${instruction.line}: RUN in a stage whose base has no shell`);
        const env = { ...args, ...config.env };
        const workdir = config.workdir;
        content = JSON.stringify(env);
        action = (root) => runShell(text, hostPath(root, workdir), env, ctx.into);
        break;
      }
      default:
        throw new Error(`line ${instruction.line}: the replay cannot do ${instruction.keyword}`);
    }
    key = hash(key, instruction.keyword, text, content);
    steps.push({ key, action, isRun: instruction.keyword === 'RUN', line: instruction.line });
  }
  return steps;
}

async function planCopy(ctx: StageContext, stage: Stage, text: string, workdir: string): Promise<{ action: Action; content: string }> {
  const { from, sources, destination } = parseCopy(text);
  const target = posix.resolve(workdir, destination) + (destination.endsWith('/') ? '/' : '');
  const intoDirectory = target.endsWith('/') || sources.length > 1;
  if (sources.some((source) => /[*?[]/.test(source))) throw new Error(`COPY ${text}: wildcards are not replayed`);
  if (from === undefined) {
    const trees = await Promise.all(sources.map((source) => contextTree(ctx, source)));
    const content = hash(...trees.map((tree) => tree.digest));
    return {
      content,
      action: async (root) => {
        for (const tree of trees) {
          for (const file of tree.files) {
            const destinationFile = tree.isDirectory ? join(hostPath(root, target), file)
              : intoDirectory ? join(hostPath(root, target), posix.basename(tree.source)) : hostPath(root, target);
            await mkdir(dirname(destinationFile), { recursive: true });
            await copyFile(join(ctx.context, tree.source, file), destinationFile);
          }
        }
      },
    };
  }
  const source = resolveCopySource(ctx.file, from, stage.index);
  if (source.kind === 'image') {
    // An image's file the replay can stand in for: only its node binary.
    const nodeAt = baseImage(source.reference).nodeAt;
    if (sources.length !== 1 || sources[0] !== nodeAt) throw new Error(`COPY --from=${from}: the replay only has ${source.reference}'s ${nodeAt}`);
    return { content: hash(source.reference), action: (root) => linkNode(intoDirectory ? join(hostPath(root, target), 'node') : hostPath(root, target)) };
  }
  const fromResult = ctx.results.get(source.stage);
  if (!fromResult) throw new Error(`COPY --from=${from}: stage not built before this one`);
  return {
    content: fromResult.key,
    action: async (root) => {
      for (const path of sources) {
        const sourcePath = hostPath(fromResult.root, path);
        const info = await lstat(sourcePath).catch(() => undefined);
        if (!info) throw new Error(`COPY --from=${from} ${path}: no such file in that stage`);
        const destinationPath = info.isDirectory() || !intoDirectory ? hostPath(root, target) : join(hostPath(root, target), posix.basename(path));
        if (info.isDirectory()) await copyTree(sourcePath, destinationPath);
        else {
          await mkdir(dirname(destinationPath), { recursive: true });
          await run('cp', ['-a', sourcePath, destinationPath]);
        }
      }
    },
  };
}

interface ContextTree { source: string; isDirectory: boolean; files: string[]; digest: string }

/** The files a context path sends (after .dockerignore), and a digest of their names, modes and bytes. */
async function contextTree(ctx: StageContext, source: string): Promise<ContextTree> {
  const normalized = posix.normalize(source).replace(/\/$/, '');
  const absolute = join(ctx.context, normalized);
  const info = await stat(absolute).catch(() => undefined);
  if (!info || ctx.ignore.ignores(normalized)) throw new Error(`COPY ${source}: not in the build context (missing, or excluded by .dockerignore)`);
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(join(absolute, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (ctx.ignore.ignores(`${normalized}/${rel}`)) continue;
      if (entry.isDirectory()) await walk(rel);
      else files.push(rel);
    }
  };
  if (info.isDirectory()) await walk('');
  else files.push('');
  files.sort();
  const digest = createHash('sha256');
  for (const file of files) {
    const path = join(absolute, file);
    digest.update(`${file}\0${(await stat(path)).mode}\0`).update(await readFile(path));
  }
  return { source: normalized, isDirectory: info.isDirectory(), files: info.isDirectory() ? files : [''], digest: digest.digest('hex') };
}

async function runShell(command: string, cwd: string, env: Record<string, string>, into: string): Promise<void> {
  const home = join(into, 'home');
  await mkdir(home, { recursive: true });
  try {
    await run('/bin/sh', ['-c', command], {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
      env: {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        HOME: home,
        // The machine's npm cache (content-addressed, so sharing it changes no result), to spare the registry.
        npm_config_cache: process.env.npm_config_cache ?? join(homedir(), '.npm'),
        ...env,
      },
    });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`RUN ${command.slice(0, 200)}: ${failed.message}\n${(failed.stdout ?? '').slice(-2000)}\n${(failed.stderr ?? '').slice(-4000)}`, { cause: error });
  }
}

/** The base image's node is this machine's node (same major version, checked above). */
async function linkNode(at: string): Promise<void> {
  await mkdir(dirname(at), { recursive: true });
  await rm(at, { force: true });
  await symlink(process.execPath, at);
}

async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  await run('cp', ['-a', `${from}/.`, to]);
}

const entryRoot = (cacheDir: string, key: string): string => join(cacheDir, key, 'rootfs');

/** Adds a copy of a layer to the cache atomically (a second writer of the same key loses the race harmlessly). */
async function store(cacheDir: string, key: string, root: string): Promise<void> {
  if (existsSync(join(cacheDir, key))) return;
  const staging = join(cacheDir, `.${key}.${process.pid}.${Date.now()}`);
  await copyTree(root, join(staging, 'rootfs'));
  await rename(staging, join(cacheDir, key)).catch(() => rm(staging, { recursive: true, force: true }));
}

/** Moves a finished stage (or only the paths later stages copy from it) into the cache. */
async function storeStageEnd(cacheDir: string, key: string, root: string, paths: ReadonlySet<string> | undefined): Promise<void> {
  const staging = join(cacheDir, `.${key}.${process.pid}.${Date.now()}`);
  await mkdir(staging, { recursive: true });
  if (!paths) await rename(root, join(staging, 'rootfs'));
  for (const path of paths ?? []) {
    if (!existsSync(hostPath(root, path))) continue; // the COPY that wants it reports it missing
    await mkdir(dirname(hostPath(join(staging, 'rootfs'), path)), { recursive: true });
    await rename(hostPath(root, path), hostPath(join(staging, 'rootfs'), path));
  }
  await rename(staging, join(cacheDir, key)).catch(() => rm(staging, { recursive: true, force: true }));
}

const touch = (path: string): Promise<void> => utimes(path, new Date(), new Date()).catch(() => undefined);

async function pruneCache(cacheDir: string): Promise<void> {
  for (const entry of await readdir(cacheDir)) {
    const path = join(cacheDir, entry);
    const info = await stat(path).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > CACHE_MAX_AGE_MS) await rm(path, { recursive: true, force: true });
  }
}

/** Makes a replayed filesystem read-only (a pod's readOnlyRootFilesystem); `writable` undoes it for cleanup. */
export async function setReadOnly(root: string, readOnly: boolean): Promise<void> {
  await run('chmod', ['-R', readOnly ? 'a-w' : 'u+w', root]);
}

/** Paths under `root`, relative, for checking what an image holds. */
export async function listTree(root: string, under = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, under), { withFileTypes: true })) {
    const rel = under ? `${under}/${entry.name}` : entry.name;
    out.push(rel);
    if (entry.isDirectory()) out.push(...await listTree(root, rel));
  }
  return out;
}

/** A process to start: what a container runtime would run for an image. */
export interface ProcessCommand {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
}

/**
 * The image's command as a container runtime starts it: its ENTRYPOINT + CMD in its WORKDIR with its
 * ENV only (nothing from this test process's environment), and as its USER where this process may
 * switch users (it runs as root), so file permissions bind it as they would in a pod.
 */
export function containerProcess(image: ReplayedImage): ProcessCommand {
  const { file, args, cwd } = image.command();
  const [uid, gid] = (image.config.user ?? '0').split(':').map((part) => (/^\d+$/.test(part) ? Number(part) : undefined));
  const env = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: baseImage(image.baseReference).homes[uid ?? 0] ?? '/',
    ...image.config.env,
  };
  if (process.getuid?.() !== 0 || uid === undefined) return { file, args, cwd, env };
  return { file, args, cwd, env, uid, gid: gid ?? uid };
}
