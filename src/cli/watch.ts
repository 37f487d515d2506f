import type { Command } from 'commander';
import type { ApprovalView } from '../approvals/index.js';
import { AirlockError } from '../errors.js';
import { followEvents } from '../events/sse-client.js';
import type { DomainEvent } from '../events/types.js';
import { ApiClient, withClientOptions, type ClientFlags } from './api.js';
import { wholeNumber } from './options.js';
import { print } from './output.js';

/** One line a person reads: time, type, subject, and what matters of the event. */
export function describeEvent(event: DomainEvent): string {
  const data = event.data;
  const where = event.environment ? ` ${event.environment}/${event.target ?? '-'}` : '';
  const facts: Record<string, string> = {
    'request.created': `${String(data.risk_level ?? '')} ${String(data.command ?? '')}`,
    'request.decided': `${String(data.decision ?? '')}${data.final === false ? ` (${String(data.approvals)} of ${String(data.required)})` : ''}${data.reason ? `: ${String(data.reason)}` : ''}`,
    'execution.finished': `${String(data.status ?? '')} exit ${String(data.exit_code ?? '-')}`,
  };
  return `${event.time} #${event.seq} ${event.type.padEnd(18)} ${event.subject?.id ?? ''}${where} by ${event.actor}${facts[event.type] ? `  ${facts[event.type]}` : ''}`;
}

export function registerWatchCommands(program: Command, approvals: Command): void {
  withClientOptions(program.command('watch'))
    .description('print events as they happen (requests, decisions, tokens, executions), from the server\'s event stream')
    .option('--json', 'one JSON event per line, for scripts')
    .option('--types <types>', 'only these event types, comma-separated (e.g. request.created,request.decided)')
    .option('--after <seq>', 'first replay the events after this seq', wholeNumber(0))
    .action(async (flags: ClientFlags & { json?: boolean; types?: string; after?: number }) => {
      const client = new ApiClient(flags);
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      await followEvents({
        url: client.url,
        credential: () => client.credential(),
        signal: stop.signal,
        ...(flags.after !== undefined ? { after: flags.after } : {}),
        ...(flags.types ? { types: flags.types.split(',') } : {}),
        onConnected: () => process.stderr.isTTY && process.stderr.write(`watching ${client.url} (Ctrl-C to stop)\n`),
        onEvent: (event) => print(flags.json ? JSON.stringify(event) : describeEvent(event)),
      });
    });

  withClientOptions(approvals.command('wait'))
    .description('block until a request is decided (or expires); exit 0 when approved, 1 otherwise')
    .argument('<id>')
    .option('--timeout <seconds>', 'give up after this long (0: wait for ever)', wholeNumber(0), 0)
    .option('--json', 'print the request as JSON')
    .action(async (id: string, flags: ClientFlags & { timeout: number; json?: boolean }) => {
      const client = new ApiClient(flags);
      const deadline = flags.timeout > 0 ? Date.now() + flags.timeout * 1000 : Number.POSITIVE_INFINITY;
      let request: ApprovalView;
      // Long polls: the server answers the moment the request is decided.
      do {
        const wait = Math.max(1, Math.min(60, Math.ceil((deadline - Date.now()) / 1000)));
        ({ request } = (await client.call('GET', `/v1/approvals/${encodeURIComponent(id)}?wait=${wait}`)) as { request: ApprovalView });
      } while (request.status === 'PENDING' && Date.now() < deadline);
      print(flags.json ? JSON.stringify(request, null, 2) : `request ${id}: ${request.status}${request.decision_reason ? ` (${request.decision_reason})` : ''}`);
      if (request.status === 'PENDING') throw new AirlockError('wait_timeout', `request ${id} is still pending after ${flags.timeout} s`);
      process.exitCode = request.status === 'APPROVED' || request.status === 'EXECUTED' ? 0 : 1;
    });
}
