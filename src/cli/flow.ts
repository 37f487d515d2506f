import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ApprovalView } from '../approvals/index.js';
import { quoteArgv } from '../common/command-line.js';
import { AirlockError } from '../errors.js';
import type { ExecuteResponse } from '../gateway/index.js';
import { ApiClient, withClientOptions, type ClientFlags } from './api.js';
import { withJson } from './json-doc.js';
import { EXECUTION_JSON, REQUEST_JSON } from './views.js';
import { wholeNumber } from './options.js';
import { registerWatchCommands, waitForDecision } from './watch.js';
import { print, printJson, statusColor, table, withSpinner } from './output.js';

/**
 * The words after `--` as the command line the server parses: one word is taken as a whole command
 * line (`-- "a | b"`), several are quoted back so that each stays one argument.
 */
export function commandOf(words: string[]): string {
  if (words.length === 0) throw new AirlockError('command_missing', 'give the command after --, e.g. airlock request --env dev -- echo test');
  return words.length === 1 ? (words[0] as string) : quoteArgv(words);
}

export function describeRequest(request: ApprovalView): string[] {
  const decided = request.auto_approved ? ' (approved automatically by policy)' : request.decided_by ? ` by ${request.decided_by}` : '';
  const lines = [
    `request ${request.request_id}: ${statusColor(request.status)}${decided}`,
    request.op.kind === 'op'
      ? `  op       ${request.command}`
      : `  command  ${request.command}   argv ${JSON.stringify(request.op.kind === 'exec' ? request.op.argv : ['/bin/sh', '-c', request.op.script])}`,
    `  where    ${request.environment} on ${request.target}`,
    `  risk     ${statusColor(request.risk_level)}: ${request.risk_reasons.map((reason) => `${reason.reason} [${reason.rule}]`).join('; ')}`,
    `  score    ${request.instruction_score}/100`,
  ];
  const findings = request.instruction_findings;
  if (findings.length > 0 && findings.every((finding) => finding.problem === 'missing')) lines.push('           - no instruction was given');
  else for (const finding of findings) lines.push(`           - ${finding.message}`);
  if (request.decision_reason && !request.auto_approved) lines.push(`  reason   ${request.decision_reason}`);
  if (request.required_approvals > 1 || request.approvals.length > 0) {
    const who = request.approvals.map((approval) => approval.username).join(', ');
    lines.push(`  approvals ${request.approvals.length} of ${request.required_approvals}${who ? `: ${who}` : ''}`);
  }
  if (request.status === 'PENDING' && request.step_up_required) lines.push('  step-up  each approval needs a TOTP code (airlock approve ID --totp CODE)');
  if (request.status === 'PENDING') lines.push(`  expires  ${request.expires_at}`);
  return lines;
}

function show(request: ApprovalView, json: boolean | undefined): void {
  if (json) printJson(request);
  else for (const line of describeRequest(request)) print(line);
}

interface RequestFlags extends ClientFlags {
  env: string;
  target?: string;
  instructionFile?: string;
  task?: string;
  worker?: string;
  json?: boolean;
}

/** The operation of a request as mint and execute repeat it: its command line, or its typed operation. */
function operationOf(request: ApprovalView): { command: string } | { op: { name: string; args: unknown } } {
  return request.op.kind === 'op' ? { op: { name: request.op.name, args: request.op.args } } : { command: request.command };
}

/** Waits for the decision if needed, then mints and executes: what `run` and `op` share. */
async function runToCompletion(client: ApiClient, created: ApprovalView, timeoutSeconds: number): Promise<ExecuteResponse> {
  let request = created;
  if (request.status === 'PENDING') {
    process.stderr.write(`request ${request.request_id} is ${request.risk_level}: waiting for a decision (airlock approve ${request.request_id})\n`);
    request = await waitForDecision(client, request.request_id, timeoutSeconds);
  }
  if (request.status !== 'APPROVED') {
    throw new AirlockError(`request_${request.status.toLowerCase()}`, `request ${request.request_id} is ${request.status}${request.decision_reason ? `: ${request.decision_reason}` : ''}`);
  }
  const operation = operationOf(request);
  const minted = (await client.call('POST', '/v1/tokens', { body: { approval_id: request.request_id, ...operation, environment: request.environment } })) as { token: string };
  return (await client.call('POST', '/v1/execute', {
    body: { ...operation, approval_id: request.request_id, environment: request.environment },
    headers: { 'x-capability-token': minted.token },
    key: null,
  })) as ExecuteResponse;
}

/**
 * `key=value` words as a typed operation's arguments: a value that reads as JSON (10, true, ["a"]) is
 * taken as such, anything else as text; `--content-file` becomes content_base64.
 */
export function opArgsOf(words: readonly string[], contentFile: string | undefined): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const word of words) {
    const at = word.indexOf('=');
    if (at < 1) throw new AirlockError('invalid_argument', `"${word}" is not key=value (e.g. path=/etc/hosts, lines=50)`);
    const value = word.slice(at + 1);
    let parsed: unknown = value;
    try {
      parsed = JSON.parse(value);
    } catch {
      // text
    }
    args[word.slice(0, at)] = parsed;
  }
  if (contentFile !== undefined) args.content_base64 = readFileSync(contentFile === '-' ? 0 : contentFile).toString('base64');
  return args;
}

function requestBody(flags: RequestFlags, command: string): Record<string, unknown> {
  return {
    worker_id: flags.worker ?? `cli:${process.env.USER ?? 'user'}`,
    task_name: flags.task ?? command.slice(0, 200),
    instruction: flags.instructionFile ? readFileSync(flags.instructionFile === '-' ? 0 : flags.instructionFile, 'utf8') : '',
    deployment_env: flags.env,
    command,
    ...(flags.target ? { target: flags.target } : {}),
  };
}

function withRequestOptions(command: Command): Command {
  return withClientOptions(command)
    .requiredOption('-e, --env <environment>', 'the environment, e.g. dev or prd')
    .option('-t, --target <target>', 'where to run (default local)')
    .option('-i, --instruction-file <file>', 'the 10-point instruction (- for standard input)')
    .option('--task <name>', 'a task name (default: the command)')
    .option('--worker <id>', 'a worker id (default: cli:$USER)');
}

function printExecution(result: ExecuteResponse, json: boolean | undefined): void {
  if (json) {
    printJson(result);
    return;
  }
  process.stdout.write(result.output);
  if (result.truncated) process.stderr.write('[output truncated]\n');
  if (result.error) process.stderr.write(`airlock: ${result.error}\n`);
}

/** The exit code of `exec` and `run`: the command's own, or 1 when it has none. */
function exitCodeOf(result: ExecuteResponse): number {
  return result.exit_code ?? 1;
}

function claimsOf(token: string): { apr?: string; env?: string } {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { apr?: string; env?: string };
  } catch {
    return {};
  }
}

export function registerFlowCommands(program: Command): void {
  withJson(withRequestOptions(program.command('request')), REQUEST_JSON)
    .description('ask for approval to run a command; prints the decision, risk and instruction score')
    .argument('<command...>', 'the command, after --')
    .addHelpText('after', '\nExamples:\n  airlock request --env dev -- systemctl restart nginx\n  airlock request --env prd --instruction-file change.txt -- echo test')
    .action(async (words: string[], flags: RequestFlags) => {
      const client = new ApiClient(flags);
      const { request } = (await client.call('POST', '/v1/approvals', { body: requestBody(flags, commandOf(words)) })) as { request: ApprovalView };
      show(request, flags.json);
    });

  const approvals = program.command('approvals').description('list, show and wait for approval requests');
  registerWatchCommands(program, approvals);
  withJson(withClientOptions(approvals.command('list')), { ...REQUEST_JSON, shape: 'array' })
    .description('list requests, newest first')
    .option('-s, --status <status>', 'only PENDING, APPROVED, REJECTED, EXPIRED or EXECUTED ones')
    .option('-n, --limit <count>', 'at most this many', wholeNumber(1), 50)
    .action(async (flags: ClientFlags & { status?: string; limit: number; json?: boolean }) => {
      const query = new URLSearchParams({ limit: String(flags.limit), ...(flags.status ? { status: flags.status.toUpperCase() } : {}) });
      const { requests } = (await new ApiClient(flags).call('GET', `/v1/approvals?${query}`)) as { requests: ApprovalView[] };
      if (flags.json) return printJson(requests);
      if (requests.length === 0) return print('no requests');
      const lines = table(requests, [
        { header: 'ID', value: (r) => r.request_id },
        { header: 'STATUS', value: (r) => r.status, style: (text) => statusColor(text) },
        { header: 'RISK', value: (r) => r.risk_level, style: (text) => statusColor(text) },
        { header: 'ENV', value: (r) => r.environment },
        { header: 'TARGET', value: (r) => r.target },
        { header: 'COMMAND', value: (r) => r.command },
      ]);
      for (const line of lines) print(line);
    });
  withJson(withClientOptions(approvals.command('show')), REQUEST_JSON)
    .description('show one request; --wait waits for its decision')
    .argument('<id>')
    .option('-w, --wait <seconds>', 'wait up to this long for a decision', wholeNumber(0), 0)
    .action(async (id: string, flags: ClientFlags & { wait: number; json?: boolean }) => {
      const fetchRequest = async (): Promise<ApprovalView> =>
        ((await new ApiClient(flags).call('GET', `/v1/approvals/${encodeURIComponent(id)}${flags.wait ? `?wait=${Math.min(flags.wait, 60)}` : ''}`)) as { request: ApprovalView }).request;
      show(flags.wait > 0 ? await withSpinner(`waiting up to ${Math.min(flags.wait, 60)} s for a decision on ${id}`, fetchRequest) : await fetchRequest(), flags.json);
    });

  for (const decision of ['approve', 'reject'] as const) {
    const command = withJson(withClientOptions(program.command(decision)), REQUEST_JSON)
      .description(`${decision} a pending request (never your own)`)
      .argument('<id>');
    if (decision === 'approve') {
      command
        .option('--totp <code>', 'your current TOTP code (HIGH and CRITICAL requests need one)')
        .option('--challenge <id>', 'or an approved challenge of yours')
        .addHelpText('after', '\nExamples:\n  airlock approve 0190… --totp 123456\n  airlock approve 0190… --challenge 0190…');
    }
    (decision === 'reject' ? command.requiredOption('-r, --reason <reason>', 'why') : command.option('-r, --reason <reason>', 'why')).action(
      async (id: string, flags: ClientFlags & { reason?: string; totp?: string; challenge?: string; json?: boolean }) => {
        const body = { ...(flags.reason ? { reason: flags.reason } : {}), ...(flags.totp ? { totp: flags.totp } : {}), ...(flags.challenge ? { challenge_id: flags.challenge } : {}) };
        const { request } = (await new ApiClient(flags).call('POST', `/v1/approvals/${encodeURIComponent(id)}/${decision}`, { body })) as { request: ApprovalView };
        show(request, flags.json);
      },
    );
  }

  withJson(
    withClientOptions(program.command('token')),
    { shape: 'object', fields: ['token', 'token_type', 'expires_at', 'jti', 'approval_id', 'environment', 'target', 'op_hash'] },
    'print the whole answer as JSON',
  )
    .description('mint the capability token of an approved request (prints the token)')
    .argument('<id>', 'the approval id')
    .action(async (id: string, flags: ClientFlags & { json?: boolean }) => {
      const client = new ApiClient(flags);
      const { request } = (await client.call('GET', `/v1/approvals/${encodeURIComponent(id)}`)) as { request: ApprovalView };
      const minted = await client.call('POST', '/v1/tokens', { body: { approval_id: id, ...operationOf(request), environment: request.environment } });
      if (flags.json) printJson(minted);
      else print((minted as { token: string }).token);
    });

  withJson(withClientOptions(program.command('exec')), EXECUTION_JSON, 'print the whole answer, receipt included, as JSON')
    .description('run a command with a capability token; exits with the command\'s exit code')
    .requiredOption('--token <token>', 'the capability token (or - to read it from standard input)')
    .option('--approval <id>', 'the approval id (default: from the token)')
    .option('-e, --env <environment>', 'the environment (default: from the token)')
    .argument('<command...>', 'the command, after --')
    .action(async (words: string[], flags: ClientFlags & { token: string; approval?: string; env?: string; json?: boolean }) => {
      const token = flags.token === '-' ? readFileSync(0, 'utf8').trim() : flags.token;
      const claims = claimsOf(token);
      const body = { command: commandOf(words), approval_id: flags.approval ?? claims.apr, environment: flags.env ?? claims.env };
      const result = (await new ApiClient(flags).call('POST', '/v1/execute', { body, headers: { 'x-capability-token': token }, key: null })) as ExecuteResponse;
      printExecution(result, flags.json);
      process.exitCode = exitCodeOf(result);
    });

  withJson(withRequestOptions(program.command('run')), EXECUTION_JSON, 'print the execution answer as JSON')
    .description('request, wait for the decision, mint, execute and print the output; exits with the command\'s exit code')
    .argument('<command...>', 'the command, after --')
    .option('--timeout <seconds>', 'give up waiting for a decision after this long (0: wait for ever)', wholeNumber(0), 0)
    .addHelpText('after', '\nExamples:\n  airlock run --env dev -- echo test\n  airlock run --env prd --instruction-file change.txt --timeout 600 -- systemctl restart nginx')
    .action(async (words: string[], flags: RequestFlags & { timeout: number }) => {
      const client = new ApiClient(flags);
      const { request } = (await client.call('POST', '/v1/approvals', { body: requestBody(flags, commandOf(words)) })) as { request: ApprovalView };
      const result = await runToCompletion(client, request, flags.timeout);
      printExecution(result, flags.json);
      process.exitCode = exitCodeOf(result);
    });

  withJson(withRequestOptions(program.command('op')), EXECUTION_JSON, 'print the whole execution answer as JSON')
    .description('run a typed operation through the gate (request, wait, mint, execute) and print its JSON result')
    .argument('<name>', 'system.info, journal.read, cron.list, file.read, file.write, file.rollback, container.list|inspect|logs|restart|stop|start')
    .argument('[args...]', 'its arguments as key=value')
    .option('--content-file <file>', 'file.write: the new content, from this file (- for standard input)')
    .option('--challenge <id>', 'an approved challenge of yours, for a sensitive path')
    .option('--timeout <seconds>', 'give up waiting for a decision after this long (0: wait for ever)', wholeNumber(0), 0)
    .addHelpText(
      'after',
      '\nExamples:\n  airlock op --env dev system.info\n  airlock op --env dev journal.read unit=nginx.service lines=50 since=1h\n  airlock op --env prd --target web-1 file.write path=/etc/myapp.conf --content-file myapp.conf\n  airlock op --env prd --target web-1 file.rollback path=/etc/myapp.conf backup_path=/etc/.myapp.conf.airlock-backup-…\n  airlock op --env dev --challenge ID file.read path=/etc/shadow',
    )
    .action(async (name: string, words: string[], flags: RequestFlags & { timeout: number; contentFile?: string; challenge?: string }) => {
      const client = new ApiClient(flags);
      const op = { name, args: opArgsOf(words, flags.contentFile) };
      const body = { ...requestBody(flags, name), command: undefined, op, ...(flags.challenge ? { challenge_id: flags.challenge } : {}) };
      const { request } = (await client.call('POST', '/v1/approvals', { body })) as { request: ApprovalView };
      const result = await runToCompletion(client, request, flags.timeout);
      if (flags.json) printJson(result);
      else if (result.success) printJson(result.result);
      else process.stderr.write(`airlock: ${result.error_code ?? 'failed'}: ${result.error ?? 'the operation failed'}\n`);
      process.exitCode = result.success ? 0 : 1;
    });
}
