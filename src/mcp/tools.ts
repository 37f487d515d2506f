import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { AuditLog } from '../audit/index.js';
import { AirlockError, isAirlockError, messageOf } from '../errors.js';
import { actorOf, hasScope, type Principal, type Scope } from '../identity/index.js';

/** Who is calling, as of the HTTP request that carried the call (keys can be revoked mid-session). */
export interface McpCaller {
  principal(): Principal;
  /** `streamable-http`, or `stdio` when the `airlock mcp --stdio` bridge carried the call. */
  readonly transport: string;
  readonly sessionId: string;
  readonly ip: string;
}

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ToolConfig<S extends z.ZodType> {
  readonly title: string;
  readonly description: string;
  readonly input: S;
  readonly output?: z.ZodType;
  readonly annotations: Record<string, boolean>;
}

export type ToolHandler<S extends z.ZodType> = (args: z.output<S>, principal: Principal, extra: ToolExtra) => Promise<CallToolResult>;

/** What every audit event of a tool call carries besides the tool and the session (e.g. the workspace). */
export interface ToolAuditContext {
  readonly subject?: { readonly type: string; readonly id: string };
  readonly data?: Record<string, unknown>;
}

export const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

/** A tool's answer: the text a model reads and the same facts as structured content. */
export function ok(structured: Record<string, unknown>, text: string): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

/**
 * Registers tools on one session's server, the one way every Airlock MCP endpoint does it: a tool the
 * principal's scopes do not allow is not listed; each call checks the scopes again (with the principal
 * of the HTTP request that carried it), is audited as `mcp.tool_called`, and answers a failure as a tool
 * error with its stable code.
 */
export function toolRegistrar(server: McpServer, caller: McpCaller, audit: AuditLog, context: ToolAuditContext = {}) {
  const scopes = caller.principal().scopes;
  const may = (needed: readonly Scope[]): boolean => needed.every((scope) => hasScope(scopes, scope));

  return function tool<S extends z.ZodType>(name: string, needed: readonly Scope[], config: ToolConfig<S>, handler: ToolHandler<S>): void {
    if (!may(needed)) return;
    server.registerTool(
      name,
      {
        title: config.title,
        description: config.description,
        inputSchema: config.input as never,
        ...(config.output ? { outputSchema: config.output as never } : {}),
        annotations: { title: config.title, ...config.annotations },
      },
      (async (args: z.output<S>, extra: ToolExtra) => {
        const principal = caller.principal();
        let outcome: CallToolResult;
        try {
          const missing = needed.find((scope) => !hasScope(principal.scopes, scope));
          if (missing) throw new AirlockError('forbidden', `this principal lacks the scope ${missing}`, { status: 403 });
          outcome = await handler(args, principal, extra);
        } catch (error) {
          const code = isAirlockError(error) ? error.code : 'internal_error';
          const message = isAirlockError(error) ? error.message : 'an unexpected error occurred';
          outcome = { isError: true, content: [{ type: 'text', text: `${code}: ${message}` }], structuredContent: { code, message } };
          if (!isAirlockError(error)) console.error(`mcp tool ${name} failed: ${messageOf(error)}`);
        }
        await audit
          .record({
            actor: actorOf(principal),
            action: 'mcp.tool_called',
            ...(context.subject ? { subject: context.subject } : {}),
            data: {
              tool: name,
              transport: caller.transport,
              session: caller.sessionId,
              ...context.data,
              ok: !outcome.isError,
              ...(outcome.isError ? { code: (outcome.structuredContent as { code: string }).code } : {}),
            },
          })
          .catch(() => undefined);
        return outcome;
      }) as never,
    );
  };
}
