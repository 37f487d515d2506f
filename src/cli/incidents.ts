import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Incident } from '../incidents/index.js';
import { SEVERITIES } from '../incidents/severities.js';
import { localActor, withRuntime } from './admin.js';
import { withJson, type JsonShape } from './json-doc.js';
import { configFromFlags, wholeNumber, withConfigOptions, type ConfigFlags } from './options.js';
import { print, printJson, statusColor, table } from './output.js';

const INCIDENT_JSON: JsonShape = { shape: 'object', fields: ['id', 'seq', 'time', 'reported_by', 'severity', 'title', 'summary', 'target', 'environment', 'approval_id', 'hash'] };

/** "7d", "12h", "30m" back from now, or an ISO-8601 time. */
function sinceOption(value: string): string {
  const relative = /^(\d{1,5})([mhd])$/.exec(value.trim());
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  const at = relative ? Date.now() - Number(relative[1]) * unit[relative[2] as keyof typeof unit] : Date.parse(value);
  if (!Number.isFinite(at)) throw new InvalidArgumentError('give an ISO-8601 time or a duration back from now such as 7d, 12h or 30m');
  return new Date(at).toISOString();
}

function where(incident: Incident): string {
  return [incident.target && `target=${incident.target}`, incident.environment && `env=${incident.environment}`, incident.approval_id && `request=${incident.approval_id}`].filter(Boolean).join(' ');
}

type AddFlags = ConfigFlags & { severity: string; title: string; summary?: string; target?: string; environment?: string; approval?: string; json?: boolean };
type ListFlags = ConfigFlags & { since?: string; severity?: string; limit?: number; json?: boolean };

export function registerIncidentCommands(program: Command): void {
  const incidents = program.command('incidents').description('record and list incidents: structured records in the audit chain (on this machine\'s store)');

  withJson(withConfigOptions(incidents.command('add')), INCIDENT_JSON, 'print the recorded incident as JSON')
    .description('record an incident in the audit chain (hash-linked and signed like every event; it cannot be edited afterwards)')
    .addOption(new Option('--severity <level>', 'how bad it is').choices(SEVERITIES).makeOptionMandatory())
    .requiredOption('--title <text>', 'one line: what happened')
    .option('--summary <text>', 'what happened, what was done, what follows')
    .option('--target <target>', 'the target it concerns')
    .option('--environment <env>', 'the environment it concerns')
    .option('--approval <id>', 'the request it concerns (must exist)')
    .addHelpText(
      'after',
      '\nExamples:\n  airlock incidents add --severity high --title "token replay attempts from 10.0.4.7" --target web-1 --environment prd\n  airlock incidents add --severity medium --title "false claim in an instruction" --approval 0190… --summary "TEST_RESULTS claimed a run that never happened"',
    )
    .action(async (flags: AddFlags) => {
      const { Incidents } = await import('../incidents/index.js');
      // Checked before the store is opened: a refused incident leaves no trace.
      const input = Incidents.inputOf({
        severity: flags.severity,
        title: flags.title,
        ...(flags.summary !== undefined ? { summary: flags.summary } : {}),
        ...(flags.target !== undefined ? { target: flags.target } : {}),
        ...(flags.environment !== undefined ? { environment: flags.environment } : {}),
        ...(flags.approval !== undefined ? { approval_id: flags.approval } : {}),
      });
      const incident = await withRuntime(await configFromFlags(flags), (runtime) => new Incidents({ store: runtime.store, audit: runtime.audit }).record(localActor('incidents'), input));
      if (flags.json) printJson(incident);
      else print(`recorded incident ${incident.id} (${incident.severity}) at audit seq ${incident.seq}: ${incident.title}`);
    });

  withJson(withConfigOptions(incidents.command('list')), { ...INCIDENT_JSON, shape: 'array' })
    .description('list incidents from the audit chain, newest first')
    .option('--since <when>', 'only incidents since then: an ISO-8601 time or a duration back from now (7d, 12h, 30m)', sinceOption)
    .option('--severity <levels>', `only these severities, comma-separated (${SEVERITIES.join(', ')})`)
    .option('--limit <count>', 'at most this many (default 100)', wholeNumber(1))
    .addHelpText('after', '\nExamples:\n  airlock incidents list --since 30d\n  airlock incidents list --severity high,critical --json')
    .action(async (flags: ListFlags) => {
      const [{ Incidents, listIncidents }, { withAuditStore }] = await Promise.all([import('../incidents/index.js'), import('./audit-verify.js')]);
      const filter = Incidents.filterOf({ since: flags.since, severity: flags.severity, limit: flags.limit === undefined ? undefined : String(flags.limit) });
      const list = await withAuditStore(await configFromFlags(flags), (store) => listIncidents(store, filter));
      if (flags.json) return printJson(list);
      if (list.length === 0) return print('no incidents');
      const lines = table(list, [
        { header: 'TIME', value: (incident) => incident.time },
        { header: 'SEVERITY', value: (incident) => incident.severity.toUpperCase(), style: (text) => statusColor(text) },
        { header: 'TITLE', value: (incident) => incident.title },
        { header: 'CONCERNS', value: (incident) => where(incident) || '-' },
        { header: 'BY', value: (incident) => incident.reported_by },
        { header: 'ID', value: (incident) => incident.id },
        { header: 'SEQ', value: (incident) => String(incident.seq), align: 'right' },
      ]);
      for (const line of lines) print(line);
    });
}
