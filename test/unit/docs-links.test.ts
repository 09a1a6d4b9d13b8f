import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { REPO_ROOT } from '../../scripts/repo-root.ts';

/** The pages a reader follows links through: the README and every page in docs/. */
const PAGES = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((file) => file.endsWith('.md')).map((file) => join('docs', file))];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replaceAll(' ', '-');

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1] ?? '')));
}

/** Relative Markdown links outside code blocks: [text](target#anchor). */
function links(text: string): { target: string; anchor?: string }[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] ?? '')
    .filter((href) => !/^[a-z]+:/i.test(href))
    .map((href) => {
      const [target = '', anchor] = href.split('#');
      return { target, ...(anchor !== undefined && { anchor }) };
    });
}

describe('docs links', () => {
  it('finds the pages', () => expect(PAGES).to.include.members(['README.md', join('docs', 'quickstart.md'), join('docs', 'operations.md')]));

  for (const page of PAGES) {
    it(`${page}: every relative link and anchor points at something that exists`, () => {
      const from = join(REPO_ROOT, page);
      const found = links(readFileSync(from, 'utf8'));
      for (const { target, anchor } of found) {
        const path = target === '' ? from : join(dirname(from), target);
        expect(existsSync(path), `${page} links to ${target}, which does not exist`).to.equal(true);
        if (anchor && statSync(path).isFile() && path.endsWith('.md')) {
          expect([...anchors(path)], `${page} links to ${relative(REPO_ROOT, path)}#${anchor}`).to.include(anchor);
        }
      }
    });
  }
});
