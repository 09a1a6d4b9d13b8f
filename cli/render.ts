import { dump } from 'js-yaml';
import type { HistoryEntry, RevisionSummary, StatusView } from './rollout-view.ts';
import { NONE, renderTable } from './table.ts';
import type { OutputFormat } from './verbs.ts';

/** Digests are shown shortened in tables, as image IDs are; -o json|yaml carries them whole. */
export const DIGEST_LENGTH = 12;

export function renderStructured(value: unknown, format: OutputFormat): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : dump(value, { noRefs: true, lineWidth: -1 });
}

export function revisionText(revision: RevisionSummary): string {
  if (revision.revision === null) return `${revision.hash} (no ControllerRevision recorded)`;
  return `${revision.hash} (revision ${revision.revision}, model version ${revision.modelVersion ?? NONE})`;
}

function rolloutText(view: StatusView): string | undefined {
  const rollout = view.rollout;
  if (!rollout) return undefined;
  const step = rollout.step ? `, step ${rollout.step.number}/${rollout.step.of}` : '';
  const since = rollout.stepStartedAt && rollout.phase !== 'Stable' ? ` since ${rollout.stepStartedAt}` : '';
  return `${rollout.phase}${step}${since}`;
}

function commandsText(view: StatusView): string | undefined {
  const { promote, ...flags } = view.commands;
  const names = [...(promote ? [promote === 'full' ? 'promote=full' : 'promote'] : []), ...Object.keys(flags)];
  return names.length > 0 ? names.join(', ') : undefined;
}

function summarySection(view: StatusView): string {
  const rows: [string, string | undefined][] = [
    ['Name:', view.name],
    ['Namespace:', view.namespace],
    ['Strategy:', view.strategy],
    ['Phase:', view.phase ? `${view.phase}${view.ready ? ` (${view.ready} ready)` : ''}` : NONE],
    ['Rollout:', rolloutText(view) ?? NONE],
    ['Message:', view.rollout?.message ?? undefined],
    ['Weights:', view.weights ? `stable ${view.weights.stable}%, candidate ${view.weights.candidate}%` : undefined],
    ['Stable:', view.stable ? revisionText(view.stable) : NONE],
    ['Candidate:', view.candidate ? revisionText(view.candidate) : NONE],
    ['Aborted:', view.aborted ? `${revisionText(view.aborted)}${view.aborted.reason ? `, ${view.aborted.reason}` : ''}` : undefined],
    ...view.retiring.map((entry): [string, string] => ['Retiring:', `${revisionText(entry)}, scales down at ${entry.scaleDownAt}`]),
    ['Commands:', commandsText(view)],
    ['Observed:', view.observed ? undefined : 'the operator has not acted on the latest spec yet'],
  ];
  return renderTable(undefined, rows.flatMap(([label, value]) => (value === undefined ? [] : [[label, value]])));
}

function conditionsSection(view: StatusView): string {
  if (view.conditions.length === 0) return `Conditions: ${NONE}`;
  const rows = view.conditions.map((condition) => [condition.type, condition.status, condition.reason, condition.message]);
  return `Conditions:\n${renderTable(['Type', 'Status', 'Reason', 'Message'], rows, { indent: 2 })}`;
}

function analysisSection(view: StatusView): string | undefined {
  const analysis = view.analysis;
  if (!analysis) return undefined;
  const when = analysis.lastSampleAt ? `${analysis.verdict ?? NONE} at ${analysis.lastSampleAt}` : 'no sample yet';
  const head = `Analysis: ${when}, ${analysis.failures} failed sample(s)`;
  const rows = (analysis.checks ?? []).map((check) => [check.name, check.value === undefined ? NONE : String(check.value), check.threshold, check.verdict, check.message ?? '']);
  return rows.length > 0 ? `${head}\n${renderTable(['Check', 'Value', 'Threshold', 'Verdict', 'Message'], rows, { indent: 2 })}` : head;
}

/** The parts of `status`, in order, separated by a blank line; a part with nothing to say is left out. */
const statusSections: readonly ((view: StatusView) => string | undefined)[] = [summarySection, analysisSection, conditionsSection];

export function renderStatus(view: StatusView): string {
  return `${statusSections.map((section) => section(view)).filter((text) => text !== undefined).join('\n\n')}\n`;
}

export function renderHistory(entries: readonly HistoryEntry[]): string {
  const rows = entries.map((entry) => [
    String(entry.revision),
    entry.hash,
    entry.model.version ?? NONE,
    entry.model.sha256 ? entry.model.sha256.slice(0, DIGEST_LENGTH) : NONE,
    entry.role ?? '',
  ]);
  return `${renderTable(['Revision', 'Hash', 'Version', 'Sha256', 'Role'], rows)}\n`;
}
