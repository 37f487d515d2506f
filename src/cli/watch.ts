import type { Command } from 'commander';
import type { ApprovalView } from '../approvals/index.js';
import { AirlockError } from '../errors.js';
import type { DomainEvent } from '../events/types.js';
import { ApiClient, withClientOptions, type ClientFlags } from './api.js';
import { withJson } from './json-doc.js';
import { REQUEST_JSON } from './views.js';
import { wholeNumber } from './options.js';
import { color, print, printJson, statusColor, withSpinner } from './output.js';

/** One line a person reads: time, type, subject, and what matters of the event. */
export function describeEvent(event: DomainEvent): string {
  const data = event.data;
  const where = event.environment ? ` ${event.environment}/${event.target ?? '-'}` : '';
  const facts: Record<string, string> = {
    'request.created': `${String(data.risk_level ?? '')} ${String(data.command ?? '')}`,
    'request.decided': `${String(data.decision ?? '')}${data.final === false ? ` (${String(data.approvals)} of ${String(data.required)})` : ''}${data.reason ? `: ${String(data.reason)}` : ''}`,
    'execution.finished': `${String(data.status ?? '')} exit ${String(data.exit_code ?? '-')}`,
  };
  return `${event.time} #${event.seq} ${color.bold(event.type.padEnd(18))} ${event.subject?.id ?? ''}${where} by ${event.actor}${facts[event.type] ? `  ${facts[event.type]}` : ''}`;
}

/**
 * Long-polls until the request is decided (the server answers the moment it is), with a spinner on a
 * terminal; `timeoutSeconds` 0 waits for ever. Returns the request as it is then, pending or not.
 */
export async function waitForDecision(client: ApiClient, id: string, timeoutSeconds: number, maxWaitSeconds = 30): Promise<ApprovalView> {
  const deadline = timeoutSeconds > 0 ? Date.now() + timeoutSeconds * 1000 : Number.POSITIVE_INFINITY;
  return withSpinner(`waiting for a decision on ${id}`, async () => {
    for (;;) {
      const wait = Math.max(1, Math.min(maxWaitSeconds, Math.ceil((deadline - Date.now()) / 1000)));
      const { request } = (await client.call('GET', `/v1/approvals/${encodeURIComponent(id)}?wait=${wait}`)) as { request: ApprovalView };
      if (request.status !== 'PENDING' || Date.now() >= deadline) return request;
    }
  });
}

export function registerWatchCommands(program: Command, approvals: Command): void {
  withJson(
    withClientOptions(program.command('watch')),
    { shape: 'lines', fields: ['seq', 'type', 'time', 'actor', 'subject', 'environment', 'target', 'data'] },
    'one JSON event per line, for scripts',
  )
    .description('print events as they happen (requests, decisions, tokens, executions), from the server\'s event stream')
    .option('--types <types>', 'only these event types, comma-separated (e.g. request.created,request.decided)')
    .option('--after <seq>', 'first replay the events after this seq', wholeNumber(0))
    .action(async (flags: ClientFlags & { json?: boolean; types?: string; after?: number }) => {
      const client = new ApiClient(flags);
      const { followEvents } = await import('../events/sse-client.js');
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

  withJson(withClientOptions(approvals.command('wait')), REQUEST_JSON, 'print the request as JSON')
    .description('block until a request is decided (or expires); exit 0 when approved, 1 otherwise')
    .argument('<id>')
    .option('--timeout <seconds>', 'give up after this long (0: wait for ever)', wholeNumber(0), 0)
    .action(async (id: string, flags: ClientFlags & { timeout: number; json?: boolean }) => {
      const request = await waitForDecision(new ApiClient(flags), id, flags.timeout, 60);
      if (flags.json) printJson(request);
      else print(`request ${id}: ${statusColor(request.status)}${request.decision_reason ? ` (${request.decision_reason})` : ''}`);
      if (request.status === 'PENDING') throw new AirlockError('wait_timeout', `request ${id} is still pending after ${flags.timeout} s`);
      process.exitCode = request.status === 'APPROVED' || request.status === 'EXECUTED' ? 0 : 1;
    });
}
