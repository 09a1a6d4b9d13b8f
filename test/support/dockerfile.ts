/**
 * A small Dockerfile reader for the instructions this project's Dockerfiles use, so tests can check
 * and replay the files themselves (test/support/image-replay.ts) instead of a hand-kept copy of their steps.
 * Anything it does not understand is an error, never silently skipped.
 */

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY ... */
  keyword: string;
  /** The rest of the instruction, continuation lines joined, comments dropped, variables not expanded. */
  args: string;
  /** 1-based line the instruction starts on. */
  line: number;
}

export interface Stage {
  index: number;
  /** The `AS name`, if any. */
  name: string | undefined;
  /** The FROM line's image or stage reference, variables not expanded. */
  from: string;
  fromLine: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM: usable in FROM lines, and in a stage that declares them again. */
  globalArgs: Instruction[];
  stages: Stage[];
}

const KNOWN = new Set(['FROM', 'ARG', 'ENV', 'LABEL', 'WORKDIR', 'COPY', 'RUN', 'USER', 'EXPOSE', 'CMD', 'ENTRYPOINT']);

/** Splits a Dockerfile into instructions and stages. */
export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment lines are dropped even inside a continued instruction, as Docker does.
    if (trimmed.startsWith('#') || (!pending && trimmed === '')) return;
    const continued = /\\\s*$/.test(raw);
    const body = continued ? raw.replace(/\\\s*$/, '') : raw;
    if (pending) pending.parts.push(body);
    else pending = { parts: [body], line: i + 1 };
    if (continued) return;
    const joined = pending.parts.join(' ').trim();
    const match = /^(\S+)\s*(.*)$/s.exec(joined);
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: pending.line });
    pending = undefined;
  });
  if (pending) throw new Error(`line ${pending.line}: the file ends inside a continued instruction`);

  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (!KNOWN.has(instruction.keyword)) throw new Error(`line ${instruction.line}: ${instruction.keyword} is not an instruction this reader knows`);
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match) throw new Error(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      stages.push({ index: stages.length, name: match[2]?.toLowerCase(), from: match[1]!, fromLine: instruction.line, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`line ${instruction.line}: only ARG may come before the first FROM`);
      globalArgs.push(instruction);
    } else {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** Expands $NAME, ${NAME} and ${NAME:-default} the way Docker does outside RUN; unknown names become ''. */
export function expandVariables(text: string, variables: Readonly<Record<string, string>>): string {
  return text.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_whole, braced: string | undefined, fallback: string | undefined, bare: string | undefined) => {
      const value = variables[(braced ?? bare)!];
      return value === undefined || (value === '' && fallback !== undefined) ? (fallback ?? '') : value;
    });
}

/** Splits words, honouring double and single quotes (no variable expansion). */
function words(text: string): string[] {
  const out: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    out.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] ?? match[3]!));
  }
  return out;
}

/** `KEY=value KEY2="two words"` (ENV, LABEL, ARG); the legacy `ENV KEY value` form too. */
export function parseKeyValues(args: string, keyword: string): Array<[string, string | undefined]> {
  if (keyword === 'ENV' && !/^\S+=/.test(args)) {
    const match = /^(\S+)\s+(.*)$/s.exec(args);
    if (!match) throw new Error(`cannot read ENV ${args}`);
    return [[match[1]!, match[2]!]];
  }
  // A quoted segment may sit inside a value (KEY="a b"): values are matched quote-aware, then unquoted.
  const pairs: Array<[string, string | undefined]> = [];
  const pattern = /([^\s=]+)(?:=((?:"(?:[^"\\]|\\.)*"|'[^']*'|[^\s"']+)*))?/g;
  for (let match = pattern.exec(args); match; match = pattern.exec(args)) pairs.push([match[1]!, match[2] === undefined ? undefined : unquote(match[2])]);
  return pairs;
}

const unquote = (raw: string): string =>
  raw.replace(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g, (_whole, double: string | undefined, single: string | undefined) =>
    double !== undefined ? double.replace(/\\(.)/g, '$1') : (single ?? ''));

/** CMD / ENTRYPOINT: the JSON exec form, or the shell form run by /bin/sh -c. */
export function parseCommand(args: string): string[] {
  if (args.startsWith('[')) {
    const parsed: unknown = JSON.parse(args);
    if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) throw new Error(`not a JSON string array: ${args}`);
    return parsed as string[];
  }
  return ['/bin/sh', '-c', args];
}

export interface CopyArgs {
  /** Stage name or index, or an image reference; undefined: the build context. */
  from: string | undefined;
  sources: string[];
  destination: string;
}

export function parseCopy(args: string): CopyArgs {
  const parts = words(args);
  let from: string | undefined;
  while (parts[0]?.startsWith('--')) {
    const flag = parts.shift()!;
    const fromMatch = /^--from=(.+)$/.exec(flag);
    if (fromMatch) from = fromMatch[1];
    else if (!/^--(chown|chmod)=|^--link$/.test(flag)) throw new Error(`COPY flag ${flag} is not one this reader knows`);
  }
  if (parts.length < 2) throw new Error(`COPY needs a source and a destination: ${args}`);
  return { from, sources: parts.slice(0, -1), destination: parts[parts.length - 1]! };
}

/** An image reference split into its parts; `digest` is the sha256 pin, if any. */
export interface ImageReference {
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

export function parseImageReference(reference: string): ImageReference {
  const [name, digest] = reference.split('@') as [string, string | undefined];
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  return {
    repository: colon < 0 ? name : name.slice(0, colon),
    tag: colon < 0 ? undefined : name.slice(colon + 1),
    digest,
  };
}

/** Where a stage starts: an earlier stage, or an image from a registry. */
export type StageBase = { kind: 'stage'; stage: Stage } | { kind: 'image'; reference: string };

export interface ResolvedStage {
  stage: Stage;
  base: StageBase;
  /** Global ARG values visible to the FROM line (defaults overridden by build args). */
  globalArgs: Readonly<Record<string, string>>;
}

/** The global ARG values a build with these build args sees. */
export function globalArgValues(file: Dockerfile, buildArgs: Readonly<Record<string, string>>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const instruction of file.globalArgs) {
    for (const [name, fallback] of parseKeyValues(instruction.args, 'ARG')) {
      const value = buildArgs[name] ?? (fallback === undefined ? undefined : expandVariables(fallback, values));
      if (value !== undefined) values[name] = value;
    }
  }
  return values;
}

/** Finds a stage by name or index among those before `before`. */
function stageNamed(file: Dockerfile, reference: string, before: number): Stage | undefined {
  const lower = reference.toLowerCase();
  return file.stages.find((stage) => stage.index < before && (stage.name === lower || String(stage.index) === reference));
}

/** A stage's base, its FROM expanded with the global ARGs. */
export function resolveBase(file: Dockerfile, stage: Stage, globals: Readonly<Record<string, string>>): StageBase {
  const from = expandVariables(stage.from, globals);
  const earlier = stageNamed(file, from, stage.index);
  if (earlier) return { kind: 'stage', stage: earlier };
  if (!/[:@/]/.test(from) && from !== 'scratch') throw new Error(`line ${stage.fromLine}: FROM ${from} names no earlier stage (and is no image reference)`);
  return { kind: 'image', reference: from };
}

/** A COPY --from target: an earlier stage, or an image. */
export function resolveCopySource(file: Dockerfile, from: string, before: number): StageBase {
  const earlier = stageNamed(file, from, before);
  return earlier ? { kind: 'stage', stage: earlier } : { kind: 'image', reference: from };
}

/**
 * The stages a build of `target` (default: the last stage) runs, dependencies first: a stage's
 * FROM stage and its COPY --from stages. Unused stages are skipped, as BuildKit does.
 */
export function stagesFor(file: Dockerfile, buildArgs: Readonly<Record<string, string>>, target?: string): ResolvedStage[] {
  const globals = globalArgValues(file, buildArgs);
  const last = file.stages[file.stages.length - 1];
  const wanted = target === undefined ? last : file.stages.find((stage) => stage.name === target.toLowerCase());
  if (!wanted) throw new Error(`no stage named ${target ?? '(last)'}`);
  const ordered: ResolvedStage[] = [];
  const visit = (stage: Stage): void => {
    if (ordered.some((done) => done.stage === stage)) return;
    const base = resolveBase(file, stage, globals);
    if (base.kind === 'stage') visit(base.stage);
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== 'COPY') continue;
      const { from } = parseCopy(instruction.args);
      if (from === undefined) continue;
      const source = resolveCopySource(file, from, stage.index);
      if (source.kind === 'stage') visit(source.stage);
    }
    ordered.push({ stage, base, globalArgs: globals });
  };
  visit(wanted);
  return ordered;
}

/** Every image reference the file pulls: FROM lines and COPY --from images, variables expanded. */
export function imageReferences(file: Dockerfile, buildArgs: Readonly<Record<string, string>> = {}): Array<{ reference: string; line: number }> {
  const globals = globalArgValues(file, buildArgs);
  const references: Array<{ reference: string; line: number }> = [];
  for (const stage of file.stages) {
    const base = resolveBase(file, stage, globals);
    if (base.kind === 'image') references.push({ reference: base.reference, line: stage.fromLine });
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== 'COPY') continue;
      const { from } = parseCopy(instruction.args);
      if (from === undefined) continue;
      const source = resolveCopySource(file, from, stage.index);
      if (source.kind === 'image') references.push({ reference: source.reference, line: instruction.line });
    }
  }
  return references;
}
