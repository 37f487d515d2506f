import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { ApprovalRequestBody, ExplainBody } from '../approvals/schema.js';
import { REFERENCE_INSTRUCTION, SECTIONS, type Approvals, type ApprovalView, type PolicySource } from '../approvals/index.js';
import { AuditQuery, queryAudit } from '../audit/query.js';
import type { AuditLog } from '../audit/index.js';
import { AirlockError } from '../errors.js';
import { runApproved, type ExecuteResponse, type ExecutionService } from '../gateway/index.js';
import type { Principal } from '../identity/index.js';
import type { Store } from '../store/index.js';
import { targetView, type TargetRegistry } from '../targets/index.js';
import type { Tokens } from '../tokens/service.js';
import { VERSION } from '../version.js';
import { READ_ONLY, ok, toolRegistrar, type McpCaller, type ToolExtra } from './tools.js';

export type { McpCaller } from './tools.js';

export interface McpDeps {
  readonly approvals: Approvals;
  readonly tokens: Tokens;
  readonly gateway: ExecutionService;
  readonly targets: TargetRegistry;
  readonly store: Store;
  readonly audit: AuditLog;
  /** The policy in force, asked at every read (a reload replaces it). */
  readonly policy: PolicySource;
}

type Extra = ToolExtra;

/** How often a waiting tool tells the client it is still waiting. */
const PROGRESS_MS = 2000;

const RequestId = z.strictObject({ request_id: z.string().min(1).max(100).describe('the request_id that request_approval returned') });
const RequestInput = ApprovalRequestBody.extend({
  worker_id: z.string().trim().min(1).max(200).optional().describe('who asks (default: the MCP client)'),
});
const WaitInput = RequestId.extend({ timeout_seconds: z.number().int().min(1).max(3600).default(300).describe('give up waiting after this long; the request stays pending') });
const RunInput = RequestInput.extend({
  wait_seconds: z.number().int().min(0).max(3600).default(0).describe('wait this long for a person when the request is not approved automatically'),
});

const ApprovalOut = z.looseObject({
  request_id: z.string(),
  status: z.string(),
  risk_level: z.string(),
  risk_reasons: z.array(z.looseObject({ rule: z.string(), level: z.string(), reason: z.string() })),
  command: z.string(),
  target: z.string(),
  environment: z.string(),
  instruction_score: z.number(),
  instruction_findings: z.array(z.looseObject({ section: z.string(), message: z.string() })),
});
const ExecutionOut = z.looseObject({
  success: z.boolean(),
  status: z.string(),
  output: z.string(),
  stdout: z.string(),
  stderr: z.string(),
  exit_code: z.number().nullable(),
  execution_id: z.string(),
  receipt: z.string(),
});


function describeRequest(request: ApprovalView): string {
  const reasons = request.risk_reasons.map((reason) => reason.reason).join('; ');
  const next =
    request.status === 'PENDING'
      ? `a person must approve it${request.required_approvals > 1 ? ` (${request.approvals.length} of ${request.required_approvals} approvals)` : ''}: call wait_for_approval`
      : request.status === 'APPROVED'
        ? 'approved: call execute'
        : request.decision_reason
          ? `reason: ${request.decision_reason}`
          : '';
  const weak = request.instruction_findings.length > 0 ? `\nInstruction ${request.instruction_score}/100: ${request.instruction_findings.map((f) => f.message).join('; ')}` : '';
  return `Request ${request.request_id} is ${request.status}, risk ${request.risk_level} (${reasons}). ${next}\nCommand: ${request.command} on ${request.target} in ${request.environment}${weak}`;
}

function describeExecution(result: ExecuteResponse): string {
  const status = result.success ? 'succeeded' : `${result.status}${result.error ? `: ${result.error}` : ''}`;
  return `Execution ${result.execution_id} ${status} (exit code ${result.exit_code ?? 'none'}, ${result.duration_ms} ms)${result.truncated ? ', output truncated' : ''}\n${result.output}`;
}

/**
 * Airlock's tools, resources and prompts for one MCP session. Every tool goes through the same services
 * as the HTTP API, as the calling principal: an agent can ask, wait and run through the gate, and has
 * no way around it. Tools the principal's scopes do not allow are not listed, and are refused if called.
 */
export function createMcpServer(deps: McpDeps, caller: McpCaller): McpServer {
  const server = new McpServer(
    { name: 'airlock', title: 'Airlock', version: VERSION },
    {
      instructions:
        'Airlock is the gate between you and real machines. To run anything: request_approval (or run for low-risk work), wait_for_approval while a person decides, then execute. Write the 10-point instruction (see the write_instruction prompt): a weak one is refused in strict environments.',
    },
  );
  const tool = toolRegistrar(server, caller, deps.audit);

  /** Waits for a decision, telling the client every couple of seconds (when it asked for progress). */
  async function waitFor(id: string, seconds: number, extra: Extra): Promise<ApprovalView> {
    const started = Date.now();
    const deadline = started + seconds * 1000;
    const token = extra._meta?.progressToken;
    let request = await deps.approvals.get(id);
    while (request.status === 'PENDING' && Date.now() < deadline && !extra.signal.aborted) {
      if (token !== undefined) {
        const waited = Math.round((Date.now() - started) / 1000);
        const approvals = request.required_approvals > 1 ? `, ${request.approvals.length} of ${request.required_approvals} approvals` : '';
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: waited, total: seconds, message: `waiting for a decision on ${id} (${request.risk_level}${approvals})` } });
      }
      request = await deps.approvals.wait(id, Math.min(PROGRESS_MS, deadline - Date.now()) / 1000, extra.signal);
    }
    if (extra.signal.aborted) throw new AirlockError('cancelled', `stopped waiting for ${id}: the client cancelled`, { status: 499 });
    return request;
  }

  /** Mints the approval's token and runs it, in one step, as the principal (who must be allowed to mint it). */
  const execute = (principal: Principal, request: ApprovalView): Promise<ExecuteResponse> => runApproved(deps, principal, request, { ip: caller.ip });

  const workerOf = (principal: Principal, worker: string | undefined): string => worker ?? `mcp:${principal.name}`;

  tool(
    'list_targets',
    [],
    { title: 'List targets', description: 'The targets you may use, with their environments, capabilities and constraints.', input: z.strictObject({}), annotations: READ_ONLY },
    async (_args, principal) => {
      const open = deps.targets
        .list()
        .filter((target) => principal.targets?.includes(target.id) !== false)
        .map((target) => ({ target, environments: target.environments.filter((environment) => principal.environments?.includes(environment) !== false) }))
        .filter(({ environments }) => environments.length > 0);
      const lines = open.map(({ target, environments }) => `${target.id} (${target.executor}): environments ${environments.join(', ')}; capabilities ${target.capabilities.join(', ')}`);
      return ok({ targets: open.map(({ target, environments }) => ({ ...targetView(target), environments })) }, lines.join('\n') || 'no targets are open to you');
    },
  );

  tool(
    'request_approval',
    ['approvals:request'],
    {
      title: 'Request approval',
      description:
        'Ask to run a command line or a typed operation (op) on a target in an environment. Returns the request id, its status, risk level and reasons, and the instruction findings. LOW risk is often approved at once; otherwise wait_for_approval.',
      input: RequestInput,
      output: z.object({ request: ApprovalOut }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async (args, principal) => {
      const request = await deps.approvals.request(principal, { ...args, worker_id: workerOf(principal, args.worker_id) });
      return ok({ request }, describeRequest(request));
    },
  );

  tool(
    'get_approval',
    ['approvals:read'],
    { title: 'Get a request', description: 'The current state of a request.', input: RequestId, output: z.object({ request: ApprovalOut }), annotations: READ_ONLY },
    async (args) => {
      const request = await deps.approvals.get(args.request_id);
      return ok({ request }, describeRequest(request));
    },
  );

  tool(
    'wait_for_approval',
    ['approvals:read'],
    {
      title: 'Wait for a decision',
      description: 'Blocks until a person decides the request or the timeout passes, sending progress notifications while it waits. Cancellable.',
      input: WaitInput,
      output: z.object({ request: ApprovalOut }),
      annotations: READ_ONLY,
    },
    async (args, _principal, extra) => {
      const request = await waitFor(args.request_id, args.timeout_seconds, extra);
      return ok({ request }, describeRequest(request));
    },
  );

  tool(
    'execute',
    ['gateway:execute'],
    {
      title: 'Execute an approved request',
      description: 'Runs an approved request on its target (the single-use capability token is minted and spent on the server). Returns output, exit code, execution id and the signed receipt.',
      input: RequestId,
      output: ExecutionOut,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    async (args, principal) => {
      const result = await execute(principal, await deps.approvals.get(args.request_id));
      return { ...ok({ ...result }, describeExecution(result)), ...(result.success ? {} : { isError: true }) };
    },
  );

  tool(
    'run',
    ['approvals:request', 'gateway:execute'],
    {
      title: 'Request and run',
      description:
        'request_approval, wait (up to wait_seconds) and execute in one call: for low-risk work the policy approves at once. If a person must decide, it returns the pending request; continue with wait_for_approval and execute.',
      input: RunInput,
      output: z.object({ request: ApprovalOut, execution: ExecutionOut.nullable() }),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    async ({ wait_seconds: waitSeconds, ...args }, principal, extra) => {
      let request = await deps.approvals.request(principal, { ...args, worker_id: workerOf(principal, args.worker_id) });
      if (request.status === 'PENDING' && waitSeconds > 0) request = await waitFor(request.request_id, waitSeconds, extra);
      if (request.status !== 'APPROVED') {
        return { ...ok({ request, execution: null }, describeRequest(request)), ...(request.status === 'PENDING' ? {} : { isError: true }) };
      }
      const execution = await execute(principal, request);
      const executed = await deps.approvals.get(request.request_id);
      return { ...ok({ request: executed, execution }, describeExecution(execution)), ...(execution.success ? {} : { isError: true }) };
    },
  );

  tool(
    'audit_query',
    ['approvals:read'],
    {
      title: 'Query the audit log',
      description: 'The newest audit events, filtered: about your own requests, or all of them with the audit:read scope.',
      input: AuditQuery.extend({ before_seq: z.number().int().min(1).optional(), limit: z.number().int().min(1).max(500).default(50) }),
      annotations: READ_ONLY,
    },
    async (args, principal) => {
      const { events, all } = await queryAudit(deps.store, principal, args);
      const lines = events.map((event) => `#${event.seq} ${event.time} ${event.actor} ${event.action}${event.subject ? ` ${event.subject.type}:${event.subject.id}` : ''}`);
      return ok({ events, scope: all ? 'all' : 'own' }, lines.join('\n') || 'no events');
    },
  );

  tool(
    'explain_policy',
    ['approvals:read'],
    {
      title: 'Explain the policy',
      description: 'What level a command or typed operation would get here and why, whether it would be approved automatically, and how the instruction scores. Creates nothing.',
      input: ExplainBody,
      annotations: READ_ONLY,
    },
    async (args, principal) => {
      const explanation = await deps.approvals.explain(principal, args);
      const verdict = !explanation.allowed_by_gate
        ? `the policy gate would refuse it: ${explanation.denials.map((d) => d.reason).join('; ')}`
        : explanation.auto_approve
          ? 'it would be approved automatically'
          : `${explanation.required_approvals} person(s) must approve it${explanation.step_up_required ? ', each with a TOTP code' : ''}`;
      const text = `${explanation.risk_level} in ${explanation.environment} on ${explanation.target}: ${verdict}.\n${explanation.risk_reasons.map((r) => `- ${r.level} ${r.rule}: ${r.reason}`).join('\n')}\nInstruction ${explanation.instruction_score}/100 (at least ${explanation.min_score} needed)`;
      return ok({ explanation }, text);
    },
  );

  server.registerResource(
    'policy',
    'airlock://policy',
    { title: 'Risk policy', description: 'The rules, environments and sensitive paths requests are judged by.', mimeType: 'application/json' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(deps.policy.current(), null, 2) }] }),
  );
  server.registerResource(
    'instruction-framework',
    'airlock://instruction-framework',
    { title: 'The 10-point instruction framework', description: 'The sections every request instruction should fill in, with an example.', mimeType: 'text/markdown' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/markdown', text: INSTRUCTION_GUIDE }] }),
  );
  server.registerPrompt(
    'write_instruction',
    {
      title: 'Write a 10-point instruction',
      description: 'Help write the instruction for a request, so that approvers can judge it and strict environments accept it.',
      argsSchema: { task: z.string().describe('what you are about to do'), command: z.string().describe('the exact command'), environment: z.string().describe('dev, test, stg or prd') },
    },
    ({ task, command, environment }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text: `Write the instruction for an Airlock request.\nTask: ${task}\nCommand: ${command}\nEnvironment: ${environment}\n\n${INSTRUCTION_GUIDE}\n\nFill in every section with specifics (no placeholders); state the real risk and how it is mitigated; end with the line "Command: ${command}".`,
          },
        },
      ],
    }),
  );
  return server;
}

const SECTION_HELP: Record<(typeof SECTIONS)[number], string> = {
  DELIVERABLES: 'what will exist or change when this is done',
  SUCCESS_CRITERIA: 'how anyone can tell it worked',
  BOUNDARIES: 'what it must not touch',
  DEPENDENCIES: 'what it relies on',
  MITIGATION: 'how a failure is undone or contained',
  TEST_PROCESS: 'how it is checked',
  TEST_RESULTS_FORMAT: 'what the check reports',
  RESOURCE_REQUIREMENTS: 'time, capacity, people',
  RISK_ASSESSMENT: 'Low, Medium, High or Critical, and why',
  QUALITY_METRICS: 'what is measured',
};

const INSTRUCTION_GUIDE = `Every request carries a 10-point instruction, one "SECTION: text" line each:\n\n${SECTIONS.map((section) => `- ${section}: ${SECTION_HELP[section]}`).join('\n')}\n\nExample:\n\n${REFERENCE_INSTRUCTION}\n`;
