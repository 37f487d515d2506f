import { InputFile, type Api } from 'grammy';
import type { Logger } from 'pino';
import type { Approvals, ApprovalView } from '../../../approvals/index.js';
import type { AuditLog } from '../../../audit/index.js';
import { AirlockError, messageOf } from '../../../errors.js';
import { runApproved, type ExecutionService } from '../../../gateway/index.js';
import { actorOf, type ChallengeView, type Challenges, type Principal } from '../../../identity/index.js';
import type { TypedOp } from '../../../operations/schema.js';
import type { UsersTable } from '../../../store/tables.js';
import type { TargetRegistry } from '../../../targets/index.js';
import type { Tokens } from '../../../tokens/service.js';
import type { TelegramSettings } from '../bot.js';
import type { Cards } from '../cards.js';
import { NO_KEYBOARD, decisionKeyboard, escapeHtml } from '../format.js';
import { SYS_USAGE, parseSys, parseSysauth, redactedCommand, type SysCommand } from './parse.js';
import { renderResult, type ChatResult } from './render.js';

/** One command as it arrived: the chat, its message, and the person it acts as. */
export interface Conversation {
  readonly chat: string;
  readonly messageId: number;
  readonly user: UsersTable;
  readonly principal: Principal;
  /** The command line without secrets (a TOTP code masked, file content as its size). */
  readonly command: string;
}

type OpCommand = Extract<SysCommand, { kind: 'op' }>;

/** How long one wait for a decision lasts before it is renewed (until the request is decided or expires). */
const WAIT_SECONDS = 30;
const utc = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

/**
 * The system operations of a system-mode bot. A `sys …` command is a request like any other: the same
 * gate, risk, policy and approval rules, a single-use token minted for exactly that operation and spent
 * on the gateway at once. A request the policy approves runs at once; any other shows its risk and runs
 * here once people have approved it. `sysauth …` drives the TOTP challenges sensitive operations need.
 * Every command and its result are audited with the chat and message ids.
 */
export class SystemOperator {
  private readonly waiters = new Map<string, AbortController>();

  constructor(
    private readonly deps: {
      readonly settings: TelegramSettings;
      readonly approvals: Approvals;
      readonly challenges: Challenges;
      readonly tokens: Tokens;
      readonly gateway: ExecutionService;
      readonly targets: TargetRegistry;
      readonly audit: AuditLog;
      readonly cards: Cards;
      readonly api: Api;
      readonly logger: Logger;
    },
  ) {}

  /** Stops waiting for decisions (the requests stay; `sys run ID` runs an approved one later). */
  stop(): void {
    for (const waiter of this.waiters.values()) waiter.abort();
    this.waiters.clear();
  }

  async sys(conversation: Conversation, words: readonly string[]): Promise<void> {
    await this.record(conversation, 'chatops.command', {});
    const parsed = parseSys(words);
    if (!parsed.ok) {
      await this.result(conversation, { status: 'invalid', code: 'invalid_command' });
      await this.send(conversation, `⚠️ ${escapeHtml(parsed.message)}\nSystem commands:\n<code>${SYS_USAGE.map(escapeHtml).join('\n')}</code>\n(each with --target T and --env E)`);
      return;
    }
    try {
      if (parsed.command.kind === 'run') await this.runExisting(conversation, parsed.command.requestId);
      else await this.request(conversation, parsed.command);
    } catch (error) {
      if (!(error instanceof AirlockError)) throw error;
      await this.result(conversation, { status: 'refused', code: error.code });
      await this.send(conversation, refusal(error));
    }
  }

  async sysauth(conversation: Conversation, words: readonly string[]): Promise<void> {
    await this.record(conversation, 'chatops.command', {});
    const parsed = parseSysauth(words);
    if (!parsed.ok) {
      await this.result(conversation, { status: 'invalid', code: 'invalid_command' });
      await this.send(conversation, `⚠️ ${escapeHtml(parsed.message)}`);
      return;
    }
    const { principal } = conversation;
    const command = parsed.command;
    // A message with a code is deleted whatever the outcome: the code must not stay in the chat.
    const deleted = command.kind === 'approve' ? await deleteCodeMessage(this.deps.api, conversation.chat, conversation.messageId, this.deps.logger) : undefined;
    const noted = deleted === undefined ? {} : { code_message_deleted: deleted };
    const keptNote = deleted === false ? '\n(Delete the message with your code yourself: this bot may not.)' : '';
    try {
      const challenge =
        command.kind === 'plan'
          ? await this.deps.challenges.plan(principal, { purpose: command.action })
          : command.kind === 'approve'
            ? await this.deps.challenges.approve(principal, command.id, command.code)
            : await this.deps.challenges.status(principal, command.id);
      await this.result(conversation, { status: command.kind === 'plan' ? 'planned' : command.kind === 'approve' ? 'approved' : 'shown', challenge_id: challenge.challenge_id, ...noted });
      await this.send(conversation, challengeText(command.kind, challenge) + keptNote);
    } catch (error) {
      if (!(error instanceof AirlockError)) throw error;
      await this.result(conversation, { status: 'refused', code: error.code, ...noted });
      await this.send(conversation, refusal(error) + keptNote);
    }
  }

  private async request(conversation: Conversation, command: OpCommand): Promise<void> {
    const place = this.placeOf(command);
    const view = await this.deps.approvals.request(conversation.principal, {
      worker_id: `telegram:${conversation.chat}`,
      task_name: `chat: ${conversation.command}`.slice(0, 500),
      instruction: '',
      deployment_env: place.environment,
      target: place.target,
      op: { name: command.op.name, args: command.op.args } as never,
      ...(command.challenge ? { challenge_id: command.challenge } : {}),
    });
    if (view.status === 'APPROVED') {
      await this.execute(conversation, view, command.op);
      return;
    }
    await this.result(conversation, { status: 'pending', request_id: view.request_id, risk_level: view.risk_level });
    await this.send(conversation, pendingText(view));
    const announced = await this.announce(conversation, view.request_id);
    this.watch(conversation, view.request_id, command.op, announced);
  }

  /** `sys run ID`: an approved request of this person's that has not run (say, the bot restarted while it waited). */
  private async runExisting(conversation: Conversation, id: string): Promise<void> {
    const view = await this.deps.approvals.get(id);
    if (view.requested_by !== conversation.principal.userId) throw new AirlockError('forbidden', `request ${id} is not yours: only its requester runs it from here`, { status: 403 });
    if (view.op.kind !== 'op') throw new AirlockError('operation_not_supported', `request ${id} is a command line: run it through the API or the CLI`, { status: 400 });
    await this.execute(conversation, view, view.op);
  }

  /** The target and environment of a command: its flags, else the instance's defaults. */
  private placeOf(command: OpCommand): { target: string; environment: string } {
    const defaults = this.deps.settings.system;
    const target = command.target ?? (command.engine ? defaults.containerTarget : defaults.target);
    if (target === undefined) throw new AirlockError('target_required', 'name the container engine: --target T (this bot has no telegram.system.containerTarget)', { status: 400 });
    const served = this.deps.targets.require(target).environments;
    const environment = command.environment ?? defaults.environment ?? (served.length === 1 ? served[0] : undefined);
    if (environment === undefined) throw new AirlockError('environment_required', `say which environment: --env E (${target} serves ${served.join(', ')}), or set telegram.system.environment`, { status: 400 });
    return { target, environment };
  }

  private async execute(conversation: Conversation, view: ApprovalView, op: TypedOp): Promise<void> {
    const execution = await runApproved(this.deps, conversation.principal, view, { ip: '127.0.0.1' });
    const out = renderResult(op, execution);
    // Recorded before it is sent: the chain has the outcome even if Telegram cannot be reached now.
    await this.result(conversation, {
      status: execution.success ? 'executed' : 'failed',
      request_id: view.request_id,
      execution_id: execution.execution_id,
      ...(execution.error_code ? { code: execution.error_code } : {}),
      delivered: out.document ? 'document' : 'message',
    });
    await this.deliver(conversation, out);
  }

  /** Waits for people to decide, then runs the request (or says why not) in the chat it came from. */
  private watch(conversation: Conversation, id: string, op: TypedOp, announced: ReadonlyArray<{ chat: string; messageId: number }>): void {
    const controller = new AbortController();
    this.waiters.set(id, controller);
    void (async () => {
      let view = await this.deps.approvals.get(id);
      while (view.status === 'PENDING' && !controller.signal.aborted) view = await this.deps.approvals.wait(id, WAIT_SECONDS, controller.signal);
      if (controller.signal.aborted) return;
      await this.showOutcome(id, announced);
      if (view.status === 'APPROVED') {
        await this.execute(conversation, view, op).catch(async (error: unknown) => {
          if (!(error instanceof AirlockError)) throw error;
          await this.result(conversation, { status: 'refused', request_id: id, code: error.code });
          await this.send(conversation, refusal(error));
        });
        return;
      }
      await this.result(conversation, { status: view.status.toLowerCase(), request_id: id });
      await this.send(conversation, `Request <code>${escapeHtml(id)}</code> is ${view.status}${view.decision_reason ? `: ${escapeHtml(view.decision_reason)}` : ''}. Nothing was run.`);
    })()
      .catch((error: unknown) => this.deps.logger.warn({ request: id, error: messageOf(error) }, 'telegram: a system operation could not be finished'))
      .finally(() => this.waiters.delete(id));
  }

  /** The other system admins of this bot are asked to decide, with the request's card and buttons. */
  private async announce(conversation: Conversation, id: string): Promise<Array<{ chat: string; messageId: number }>> {
    const { chats, systemAdmins } = this.deps.settings;
    const deciders = Object.entries(chats).filter(([chat, username]) => chat !== conversation.chat && username !== conversation.user.username && systemAdmins.includes(username));
    if (deciders.length === 0) return [];
    const card = await this.deps.cards.of(id);
    const sent: Array<{ chat: string; messageId: number }> = [];
    for (const [chat] of deciders) {
      try {
        const message = await this.deps.api.sendMessage(chat, card.text, { parse_mode: 'HTML', link_preview_options: { is_disabled: true }, reply_markup: decisionKeyboard(id) });
        sent.push({ chat, messageId: message.message_id });
      } catch (error) {
        this.deps.logger.warn({ chat, request: id, error: messageOf(error) }, 'telegram: could not ask a system admin to decide');
      }
    }
    return sent;
  }

  /** The cards that asked for a decision show the outcome, without buttons. */
  private async showOutcome(id: string, announced: ReadonlyArray<{ chat: string; messageId: number }>): Promise<void> {
    if (announced.length === 0) return;
    const card = await this.deps.cards.of(id);
    for (const { chat, messageId } of announced) {
      await this.deps.api.editMessageText(chat, messageId, card.text, { parse_mode: 'HTML', link_preview_options: { is_disabled: true }, reply_markup: NO_KEYBOARD }).catch(() => undefined);
    }
  }

  private async deliver(conversation: Conversation, out: ChatResult): Promise<void> {
    await this.send(conversation, out.html);
    if (out.document) {
      await this.deps.api.sendDocument(conversation.chat, new InputFile(out.document.content, out.document.filename), { reply_parameters: { message_id: conversation.messageId, allow_sending_without_reply: true } });
    }
  }

  private async send(conversation: Conversation, html: string): Promise<void> {
    await this.deps.api.sendMessage(conversation.chat, html, {
      parse_mode: 'HTML',
      link_preview_options: { is_disabled: true },
      reply_parameters: { message_id: conversation.messageId, allow_sending_without_reply: true },
    });
  }

  private result(conversation: Conversation, data: Record<string, unknown>): Promise<unknown> {
    return this.record(conversation, 'chatops.result', data);
  }

  private record(conversation: Conversation, action: string, data: Record<string, unknown>): Promise<unknown> {
    return this.deps.audit.record({
      actor: actorOf(conversation.principal),
      action,
      data: { via: 'telegram', chat_id: conversation.chat, message_id: conversation.messageId, command: conversation.command, ...data },
    });
  }
}

/** Deletes a message that carried a TOTP code, where the bot has the right to; false where it could not. */
export async function deleteCodeMessage(api: Api, chat: string, messageId: number, logger: Logger): Promise<boolean> {
  try {
    await api.deleteMessage(chat, messageId);
    return true;
  } catch (error) {
    logger.warn({ chat, error: messageOf(error) }, 'telegram: could not delete a message with a TOTP code');
    return false;
  }
}

function pendingText(view: ApprovalView): string {
  const reasons = view.risk_reasons.map((reason) => reason.reason).join('; ');
  const people = view.required_approvals > 1 ? `${view.required_approvals} people other than you must approve it` : 'someone other than you must approve it';
  const code = view.step_up_required ? ', each with their TOTP code' : '';
  return [
    `⏳ Request <code>${escapeHtml(view.request_id)}</code> waits for approval: risk <b>${escapeHtml(view.risk_level)}</b> (${escapeHtml(reasons)}).`,
    `${people}${code} (<code>/approve ${escapeHtml(view.request_id)} CODE</code> in their chat with this bot, or the console), before ${utc(view.expires_at)}.`,
    'It runs here as soon as it is approved.',
  ].join('\n');
}

function challengeText(kind: 'plan' | 'approve' | 'status', challenge: ChallengeView): string {
  const id = `<code>${escapeHtml(challenge.challenge_id)}</code>`;
  if (kind === 'plan') return `🔐 Challenge ${id} planned for “${escapeHtml(challenge.purpose)}”, valid until ${utc(challenge.expires_at)}.\nApprove it with your current TOTP code:\n<code>sysauth approve ${escapeHtml(challenge.challenge_id)} </code>CODE`;
  if (kind === 'approve') return `✅ Challenge ${id} approved. It can be used once, until ${utc(challenge.expires_at)}: add <code>--challenge ${escapeHtml(challenge.challenge_id)}</code> to the command.`;
  const used = challenge.consumed_at ? `, used ${utc(challenge.consumed_at)} for ${escapeHtml(challenge.consumed_for ?? '')}` : '';
  return `Challenge ${id} (“${escapeHtml(challenge.purpose)}”): <b>${challenge.status}</b>${used}; valid until ${utc(challenge.expires_at)}.`;
}

function refusal(error: AirlockError): string {
  switch (error.code) {
    case 'challenge_required': {
      const paths = (error.details?.paths as string[] | undefined)?.join(', ') ?? 'a sensitive path';
      return `🔐 ${escapeHtml(paths)} is sensitive: it needs an approved TOTP challenge of yours.\n<code>sysauth plan read</code>, then <code>sysauth approve ID CODE</code>, then repeat the command with <code>--challenge ID</code>. Nothing was run.`;
    }
    case 'challenge_invalid':
      return `🔐 ${escapeHtml(error.message)}. A challenge works once: plan and approve a new one (sysauth plan ACTION). Nothing was run.`;
    case 'totp_invalid':
      return 'That TOTP code is not valid. Nothing was approved.';
    case 'totp_replayed':
      return 'That TOTP code was used already: wait for the next one. Nothing was approved.';
    case 'totp_not_enrolled':
      return 'You have no TOTP in Airlock yet (airlock chatops init makes one for system admins). Nothing was approved.';
    default:
      return `⚠️ ${escapeHtml(error.code)}: ${escapeHtml(error.message)}. Nothing was run.`;
  }
}
