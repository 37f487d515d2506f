import { describe, expect, it } from 'vitest';
import { storeKinds } from '../helpers/databases.js';
import { REFERENCE_INSTRUCTION, startGate } from '../helpers/gate.js';
import { bearer, http } from '../helpers/http.js';
import { connectMcp, textOf, type McpTransportKind } from '../helpers/mcp.js';

const TRANSPORTS: McpTransportKind[] = ['streamable-http', 'stdio'];

async function mcpEvents(gate: Awaited<ReturnType<typeof startGate>>) {
  const rows = await gate.server.runtime.store.db.selectFrom('audit_events').select(['actor', 'action', 'data']).where('action', '=', 'mcp.tool_called').orderBy('seq').execute();
  return rows.map((row) => ({ actor: row.actor, ...(JSON.parse(row.data) as Record<string, unknown>) }));
}

describe.each(storeKinds())('MCP on %s', (kind) => {
  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('lists the tools and runs a LOW command end to end', async () => {
      const gate = await startGate(kind);
      const client = await connectMcp(transport, gate.url, gate.agent);
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual(['audit_query', 'execute', 'explain_policy', 'get_approval', 'list_targets', 'request_approval', 'run', 'wait_for_approval']);
      const execute = tools.find((tool) => tool.name === 'execute');
      expect(execute?.annotations).toMatchObject({ destructiveHint: true, openWorldHint: true, readOnlyHint: false });
      expect(tools.find((tool) => tool.name === 'get_approval')?.annotations).toMatchObject({ readOnlyHint: true });
      expect(execute?.inputSchema.required).toEqual(['request_id']);

      const ran = await client.callTool({ name: 'run', arguments: { task_name: 'say hello', command: 'echo hello from mcp', deployment_env: 'dev' } });
      expect(ran.isError, textOf(ran)).toBeFalsy();
      const structured = ran.structuredContent as { request: { status: string; risk_level: string }; execution: { success: boolean; stdout: string; receipt: string; exit_code: number } };
      expect(structured.request).toMatchObject({ status: 'EXECUTED', risk_level: 'LOW' });
      expect(structured.execution).toMatchObject({ success: true, stdout: 'hello from mcp\n', exit_code: 0 });
      expect(structured.execution.receipt.split('.')).toHaveLength(3);
      expect(textOf(ran)).toContain('hello from mcp');

      const targets = await client.callTool({ name: 'list_targets', arguments: {} });
      expect((targets.structuredContent as { targets: { id: string }[] }).targets.map((target) => target.id)).toEqual(['local']);

      // Every call is in the audit chain, with the principal and the transport.
      const events = await mcpEvents(gate);
      expect(events).toEqual([
        expect.objectContaining({ tool: 'run', transport, ok: true, actor: expect.stringMatching(/^key:/) }),
        expect.objectContaining({ tool: 'list_targets', transport, ok: true }),
      ]);
      const actions = (await gate.auditActions()).filter((action) => !action.startsWith('mcp.'));
      expect(actions).toEqual(expect.arrayContaining(['approval.requested', 'token.minted', 'execution.started', 'execution.finished']));
      const verify = await http('GET', `${gate.url}/v1/audit/events?action=mcp.session_started`, { headers: bearer(gate.admin) });
      expect(verify.body.events[0].data).toMatchObject({ transport, client: 'airlock-tests 1.0.0' });
    });

    it('waits for a person with progress notifications, then executes once', async () => {
      const gate = await startGate(kind);
      const client = await connectMcp(transport, gate.url, gate.agent);
      const asked = await client.callTool({ name: 'request_approval', arguments: { task_name: 'signal', command: 'kill -0 1', deployment_env: 'dev', instruction: REFERENCE_INSTRUCTION } });
      const request = (asked.structuredContent as { request: { request_id: string; status: string; risk_level: string } }).request;
      expect(request).toMatchObject({ status: 'PENDING', risk_level: 'MEDIUM' });

      const progress: { progress: number; message?: string }[] = [];
      const waiting = client.callTool({ name: 'wait_for_approval', arguments: { request_id: request.request_id, timeout_seconds: 60 } }, undefined, {
        onprogress: (update) => progress.push(update),
        timeout: 120_000,
      });
      // Decided over HTTP by someone else once the waiting tool has told the client it waits.
      for (let i = 0; i < 100 && progress.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(progress.length).toBeGreaterThan(0);
      expect(progress[0]?.message).toContain(`waiting for a decision on ${request.request_id}`);
      expect((await gate.decide(request.request_id, 'approve')).status).toBe(200);
      const decided = await waiting;
      expect((decided.structuredContent as { request: { status: string } }).request.status).toBe('APPROVED');

      const executed = await client.callTool({ name: 'execute', arguments: { request_id: request.request_id } });
      expect(executed.structuredContent).toMatchObject({ success: true, exit_code: 0 });
      const again = await client.callTool({ name: 'execute', arguments: { request_id: request.request_id } });
      expect(again.isError).toBe(true);
      expect(textOf(again)).toMatch(/^approval_not_approved: request .* is EXECUTED/);
      expect(await gate.server.runtime.store.db.selectFrom('executions').select('id').execute()).toHaveLength(1);
    });

    it('answers bad arguments with a tool error and runs nothing', async () => {
      const gate = await startGate(kind);
      const client = await connectMcp(transport, gate.url, gate.agent);
      const cases: Record<string, unknown>[] = [
        { task_name: 'x', deployment_env: 'dev' },
        { task_name: 'x', command: 'echo a', deployment_env: 'nowhere' },
        { task_name: 'x', command: 'echo a', deployment_env: 'dev', target: 'no-such-target' },
        { task_name: 'x', command: 'echo a', deployment_env: 'dev', unknown_field: 1 },
        { task_name: 'x', op: { name: 'file.read', args: { path: 'relative' } }, deployment_env: 'dev' },
        { command: 'echo a', deployment_env: 'dev' },
      ];
      for (const args of cases) {
        const result = await client.callTool({ name: 'run', arguments: args });
        expect(result.isError, JSON.stringify(args)).toBe(true);
        expect(textOf(result).length).toBeGreaterThan(10);
      }
      const unknown = await client.callTool({ name: 'get_approval', arguments: { request_id: 'nope' } });
      expect(textOf(unknown)).toBe('approval_not_found: no approval request nope');
      expect(await gate.server.runtime.store.db.selectFrom('executions').select('id').execute()).toHaveLength(0);
      // The client and the session survive all of it.
      expect((await client.callTool({ name: 'list_targets', arguments: {} })).isError).toBeFalsy();
    });
  });

  it('stops waiting when the client cancels, and says so in the audit log', async () => {
    const gate = await startGate(kind);
    const client = await connectMcp('streamable-http', gate.url, gate.agent);
    const asked = await client.callTool({ name: 'request_approval', arguments: { task_name: 'signal', command: 'kill -0 1', deployment_env: 'dev' } });
    const id = (asked.structuredContent as { request: { request_id: string } }).request.request_id;
    const cancel = new AbortController();
    let updates = 0;
    const waiting = client.callTool({ name: 'wait_for_approval', arguments: { request_id: id, timeout_seconds: 600 } }, undefined, { signal: cancel.signal, onprogress: () => updates++ });
    for (let i = 0; i < 100 && updates === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    cancel.abort('enough');
    await expect(waiting).rejects.toThrow();
    let events: Record<string, unknown>[] = [];
    for (let i = 0; i < 100 && !events.some((event) => event.tool === 'wait_for_approval'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      events = await mcpEvents(gate);
    }
    expect(events).toContainEqual(expect.objectContaining({ tool: 'wait_for_approval', ok: false, code: 'cancelled' }));
    // The request itself is untouched, and the session goes on.
    expect((await client.callTool({ name: 'get_approval', arguments: { request_id: id } })).structuredContent).toMatchObject({ request: { status: 'PENDING' } });
  });

  it('shows a read-only principal only the tools its scopes allow', async () => {
    const gate = await startGate(kind);
    const reader = await gate.server.runtime.keys.create({ name: 'reader', scopes: ['approvals:read'], actor: 'test' });
    const client = await connectMcp('streamable-http', gate.url, reader.key);
    const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
    expect(names).toEqual(['audit_query', 'explain_policy', 'get_approval', 'list_targets', 'wait_for_approval']);
    const refused = await client.callTool({ name: 'execute', arguments: { request_id: 'x' } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain('execute not found');
    const explained = await client.callTool({ name: 'explain_policy', arguments: { command: 'systemctl restart nginx', deployment_env: 'prd' } });
    expect(explained.structuredContent).toMatchObject({ explanation: { risk_level: 'HIGH', auto_approve: false, step_up_required: true } });
    expect(await gate.server.runtime.store.db.selectFrom('approvals').select('id').execute()).toHaveLength(0);
  });

  it('asks for credentials with the RFC 9728 metadata pointer, and serves that metadata', async () => {
    const gate = await startGate(kind);
    const refused = await http('POST', `${gate.url}/mcp`, { json: { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} } });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe(`Bearer realm="airlock", resource_metadata="${gate.url}/.well-known/oauth-protected-resource/mcp"`);
    const metadata = await http('GET', `${gate.url}/.well-known/oauth-protected-resource/mcp`);
    expect(metadata.status).toBe(200);
    expect(metadata.body).toMatchObject({ resource: `${gate.url}/mcp`, authorization_servers: [gate.url], bearer_methods_supported: ['header'] });
    expect(metadata.body.scopes_supported).toEqual(expect.arrayContaining(['approvals:request', 'gateway:execute']));

    // A session belongs to whoever opened it.
    const client = await connectMcp('streamable-http', gate.url, gate.agent);
    const sessionId = (client.transport as { sessionId?: string }).sessionId as string;
    const stolen = await http('POST', `${gate.url}/mcp`, {
      headers: { ...bearer(gate.approver), 'mcp-session-id': sessionId, accept: 'application/json, text/event-stream' },
      json: { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    });
    expect(stolen.status).toBe(404);
    expect(stolen.body.code).toBe('mcp_session_not_found');
  });

  it('offers the policy and the instruction framework as resources, and a prompt for the instruction', async () => {
    const gate = await startGate(kind);
    const client = await connectMcp('streamable-http', gate.url, gate.agent);
    const resources = (await client.listResources()).resources.map((resource) => resource.uri).sort();
    expect(resources).toEqual(['airlock://instruction-framework', 'airlock://policy']);
    const framework = await client.readResource({ uri: 'airlock://instruction-framework' });
    expect((framework.contents[0] as { text: string }).text).toContain('RISK_ASSESSMENT');
    const policy = JSON.parse(((await client.readResource({ uri: 'airlock://policy' })).contents[0] as { text: string }).text) as { sensitivePaths: string[] };
    expect(policy.sensitivePaths).toContain('/etc/shadow');
    const prompt = await client.getPrompt({ name: 'write_instruction', arguments: { task: 'restart nginx', command: 'systemctl restart nginx', environment: 'prd' } });
    expect((prompt.messages[0]?.content as { text: string }).text).toContain('Command: systemctl restart nginx');
  });
});
