import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { approvedToken, execute, startGate } from '../helpers/gate.js';
import { http } from '../helpers/http.js';
import { tmpDir } from '../helpers/tmp.js';

const root = process.getuid?.() === 0;

describe('local executions through the gate', () => {
  it('answers stdout and stderr apart, next to the combined output', async () => {
    const gate = await startGate('sqlite');
    const { id, token, command } = await approvedToken(gate, 'ls -d / /no/such/dir');
    const ran = await execute(gate.url, token, { command, approval_id: id, environment: 'dev' });
    expect(ran.body).toMatchObject({ success: false, exit_code: 2, stdout: '/\n' });
    expect(ran.body.stderr).toContain('/no/such/dir');
    expect(ran.body.output).toContain('/no/such/dir');
    expect(ran.body.output).toContain('/\n');
  });

  it.skipIf(!root)('runs as the uid and gid the target names, and refuses file operations there', async () => {
    const file = join(tmpDir(), 'targets.yaml');
    writeFileSync(
      file,
      `targets:
  nobody:
    executor: local
    connection: { uid: 65534, gid: 65534, work_dir: ${join(tmpDir(), 'work')} }
    environments: [dev]
    capabilities: [exec, system:read]
`,
    );
    const gate = await startGate('sqlite', { targets: { file } });
    const created = await gate.request({ command: 'id', deployment_env: 'dev', target: 'nobody' });
    expect(created.status, created.text).toBe(201);
    const request = created.body.request.request_id as string;
    const minted = await http('POST', `${gate.url}/gateway/token`, { headers: { 'x-wingman-approval-decide-key': gate.approver }, json: { approval_id: request, command: 'id', environment: 'dev' } });
    const ran = await execute(gate.url, minted.body.token, { command: 'id', approval_id: request, environment: 'dev' });
    expect(ran.body.success, ran.text).toBe(true);
    expect(ran.body.stdout).toMatch(/^uid=65534\(\w+\) gid=65534\(\w+\) groups=65534\(\w+\)$/m);

    const refused = await gate.request({ op: { name: 'file.read', args: { path: '/etc/hostname' } }, deployment_env: 'dev', target: 'nobody' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('operation_not_supported');
  });
});
