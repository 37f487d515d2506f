import { describe, expect, it } from 'vitest';
import type { ExecuteResponse } from '../../src/gateway/index.js';
import { commandWords } from '../../src/notify/telegram/chatops/addressing.js';
import { parseSys, parseSysauth, redactedCommand } from '../../src/notify/telegram/chatops/parse.js';
import { MAX_INLINE_CHARS, renderResult } from '../../src/notify/telegram/chatops/render.js';
import { typedOp } from '../../src/operations/schema.js';

const op = (text: string) => {
  const parsed = parseSys(commandWords(text, 'airlock_bot').slice(1));
  return parsed.ok && parsed.command.kind === 'op' ? { name: parsed.command.op.name, args: parsed.command.op.args, target: parsed.command.target, environment: parsed.command.environment, challenge: parsed.command.challenge } : parsed;
};

describe('the chat syntax of system operations', () => {
  it('maps the runbook commands to typed operations', () => {
    expect(op('sys journal 10')).toMatchObject({ name: 'journal.read', args: { lines: 10 } });
    expect(op('sys journal nginx.service 50')).toMatchObject({ name: 'journal.read', args: { unit: 'nginx.service', lines: 50 } });
    expect(op('sys cron list')).toMatchObject({ name: 'cron.list', args: {} });
    expect(op('sys docker ps -a')).toMatchObject({ name: 'container.list', args: { all: true } });
    expect(op('sys docker ps')).toMatchObject({ name: 'container.list', args: { all: false } });
    expect(op('sys docker logs web 20')).toMatchObject({ name: 'container.logs', args: { container: 'web', tail: 20 } });
    expect(op('sys docker restart web --target engine-1')).toMatchObject({ name: 'container.restart', args: { container: 'web' }, target: 'engine-1' });
    expect(op('/sys@airlock_bot read /etc/../etc/shadow --challenge abc --env prd')).toMatchObject({ name: 'file.read', args: { path: '/etc/shadow' }, challenge: 'abc', environment: 'prd' });
    expect(op('@airlock_bot SYS info --target=web-1')).toMatchObject({ name: 'system.info', target: 'web-1' });
    expect(op('sys config write /etc/myapp.conf a2V5PTE=')).toMatchObject({ name: 'file.write', args: { path: '/etc/myapp.conf', content_base64: 'a2V5PTE=' } });
    expect(parseSys(['run', 'some-id'])).toEqual({ ok: true, command: { kind: 'run', requestId: 'some-id' } });
  });

  it('refuses what is not a command, with the reason', () => {
    expect(op('sys journal ten lines')).toEqual({ ok: false, message: 'usage: sys journal [UNIT] N' });
    expect(op('sys docker ps --all-of-them')).toEqual({ ok: false, message: 'unknown option --all-of-them (known: --target, --env, --challenge)' });
    expect(op('sys info --target a --target b')).toEqual({ ok: false, message: '--target is given twice' });
    expect(op('sys info --target')).toEqual({ ok: false, message: '--target needs a value' });
    expect(op('sys info --challenge x')).toEqual({ ok: false, message: '--challenge is for sys read and sys config' });
    expect(op('sys config write /etc/x not_base64!')).toMatchObject({ ok: false, message: expect.stringContaining('content_base64 must be standard base64') });
    expect(op('sys config rollback /etc/x /tmp/elsewhere')).toMatchObject({ ok: false, message: expect.stringContaining('must be a backup of this path') });
    expect(op('sys reboot')).toEqual({ ok: false, message: 'unknown system command "reboot"' });
    expect(parseSysauth(['approve', 'id'])).toMatchObject({ ok: false });
    expect(parseSysauth(['plan', 'rotate', 'nginx'])).toEqual({ ok: true, command: { kind: 'plan', action: 'rotate nginx' } });
  });

  it('never repeats a TOTP code or file content', () => {
    expect(redactedCommand(['sysauth', 'approve', 'abc', '123456'])).toBe('sysauth approve abc ******');
    expect(redactedCommand(['sys', 'config', 'write', '/etc/x', 'a2V5PTE='])).toBe('sys config write /etc/x <5 bytes>');
  });

  it('sends long output as a file, short output inline', () => {
    const execution = (result: unknown): ExecuteResponse => ({ success: true, output: '', stdout: '', stderr: '', exit_code: 0, execution_id: 'e1', status: 'succeeded', duration_ms: 1, truncated: false, result, receipt: 'r' });
    const journal = typedOp({ name: 'journal.read', args: { lines: 500 } });
    const entries = (count: number) => Array.from({ length: count }, (_, index) => ({ time: '2026-11-23T10:00:00.000Z', unit: 'app', priority: 6, message: `line ${index} <b>` }));
    const short = renderResult(journal, execution({ entries: entries(3) }));
    expect(short.document).toBeUndefined();
    expect(short.html).toContain('line 2 &lt;b&gt;');
    const long = renderResult(journal, execution({ entries: entries(200) }));
    expect(long.document?.filename).toBe('journal-read-e1.txt');
    expect(long.document?.content.toString()).toContain('line 199 <b>');
    expect(long.document?.content.length).toBeGreaterThan(MAX_INLINE_CHARS);
    expect(long.html).toContain('200 lines, attached as a file');
  });
});
