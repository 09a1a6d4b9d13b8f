import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/repo-root.ts';

/** A fenced block of a page: its language, its text, and the heading it sits under. */
export interface CodeBlock {
  lang: string;
  text: string;
  heading: string;
}

/** The fenced code blocks of a page in the repository, in order. */
export async function codeBlocks(page: string): Promise<CodeBlock[]> {
  const lines = (await readFile(join(REPO_ROOT, page), 'utf8')).split('\n');
  const blocks: CodeBlock[] = [];
  let heading = '';
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of lines) {
    if (open) {
      if (line.startsWith('```')) {
        blocks.push({ lang: open.lang, text: open.lines.join('\n'), heading });
        open = undefined;
      } else open.lines.push(line);
    } else if (line.startsWith('```')) open = { lang: line.slice(3).trim(), lines: [] };
    else if (line.startsWith('#')) heading = line.replace(/^#+\s*/, '');
  }
  if (open) throw new Error(`${page}: a code block is never closed`);
  return blocks;
}

/** The blocks under a heading that starts with `prefix`; fails if there are none (a renamed section). */
export function under(blocks: readonly CodeBlock[], prefix: string, page: string): CodeBlock[] {
  const found = blocks.filter((block) => block.heading.startsWith(prefix));
  if (found.length === 0) throw new Error(`${page} has no code under a heading "${prefix}..."`);
  return found;
}

/**
 * A regular expression for an output line the page shows, where what differs from run to run
 * (temporary folders, addresses, ports) may differ and the rest must be as written.
 */
export function shownLinePattern(line: string): RegExp {
  const escaped = line.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = escaped
    .replace(/\/tmp\/modelship-plane-\w+/g, '/tmp/modelship-plane-\\w+')
    .replace(/\d+\\\.\d+\\\.\d+\\\.\d+/g, '\\d+\\.\\d+\\.\\d+\\.\\d+')
    .replace(/(\\d\+\\\.\\d\+\\\.\\d\+\\\.\\d\+):\d+/g, '$1:\\d+')
    .replace(/\s+/g, '\\s+');
  return new RegExp(pattern);
}
