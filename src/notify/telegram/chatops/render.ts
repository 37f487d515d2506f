import { posix } from 'node:path';
import type { ContainerLogs, ContainerSummary, ContainerView } from '../../../executors/container-ops.js';
import type { ExecuteResponse } from '../../../gateway/index.js';
import type { FileReadResult } from '../../../operations/files.js';
import type { TypedOp } from '../../../operations/schema.js';
import type { CronEntry, JournalEntry, SystemInfo } from '../../../operations/system.js';
import { escapeHtml } from '../format.js';

/** Telegram takes 4096 characters a message; past this a result travels as a file instead. */
export const MAX_INLINE_CHARS = 3500;

/** A result as the chat receives it: a message, and for long output or file content a document too. */
export interface ChatResult {
  readonly html: string;
  readonly document?: { readonly filename: string; readonly content: Buffer };
}

const GiB = 1024 ** 3;
const size = (bytes: number): string => (bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`);

/** The plain-text body of a typed operation's result, one fact per line. */
function body(op: TypedOp, result: unknown): string {
  switch (op.name) {
    case 'system.info': {
      const info = result as SystemInfo;
      const disks = info.disks.map((disk) => `  ${disk.mount}: ${size(disk.used_bytes)} of ${size(disk.size_bytes)} used`);
      return [`${info.hostname} (${info.kernel}), up ${Math.floor(info.uptime_seconds / 3600)} h`, `load ${info.load.join(' ')}`, `memory ${size(info.memory.available_bytes)} free of ${size(info.memory.total_bytes)}`, 'disks:', ...disks].join('\n');
    }
    case 'journal.read': {
      const { entries } = result as { entries: JournalEntry[] };
      return entries.map((entry) => `${entry.time.slice(0, 19).replace('T', ' ')} ${entry.unit ?? '-'}: ${entry.message}`).join('\n') || '(no journal entries)';
    }
    case 'cron.list': {
      const { user, entries } = result as { user: string | null; entries: CronEntry[] };
      return entries.map((entry) => `${entry.schedule}  ${entry.command}`).join('\n') || `(no crontab${user ? ` for ${user}` : ''})`;
    }
    case 'container.list': {
      const { containers } = result as { containers: ContainerSummary[] };
      return containers.map((container) => `${container.names.join(',')}  ${container.image}  ${container.state}  ${container.status}`).join('\n') || '(no containers)';
    }
    case 'container.logs':
      return (result as ContainerLogs).text || '(no log lines)';
    case 'container.restart':
    case 'container.start':
    case 'container.stop':
    case 'container.inspect': {
      const view = result as ContainerView;
      return `${view.name} (${view.image}): ${view.state.status}`;
    }
    default:
      return JSON.stringify(result, null, 2);
  }
}

/** How a finished execution reads in the chat. File content comes as a document, never inline. */
export function renderResult(op: TypedOp, execution: ExecuteResponse): ChatResult {
  const head = `Execution <code>${escapeHtml(execution.execution_id)}</code>`;
  if (!execution.success) {
    const code = execution.error_code ?? execution.status;
    const message = execution.error ?? execution.output;
    return { html: `❌ ${op.name} failed (${escapeHtml(code)}): ${escapeHtml(message.slice(0, 1000))}\n${head}` };
  }
  const result = execution.result;
  if (op.name === 'file.read') {
    const file = result as FileReadResult;
    const facts = `${file.size} bytes, mode ${file.mode}, sha256 ${file.sha256.slice(0, 16)}…${file.truncated ? ', truncated' : ''}`;
    return { html: `📄 <code>${escapeHtml(file.path)}</code>: ${facts}\n${head}`, document: { filename: posix.basename(file.path), content: Buffer.from(file.content_base64, 'base64') } };
  }
  if (op.name === 'file.write' || op.name === 'file.rollback') {
    const change = result as { path: string; bytes: number; sha256: string; backup_path: string | null; restored_from?: string };
    const from = change.restored_from ? ` from <code>${escapeHtml(change.restored_from)}</code>` : '';
    const undo = change.backup_path ? `\nThe old content is kept in <code>${escapeHtml(change.backup_path)}</code>; to undo:\n<code>sys config rollback ${escapeHtml(change.path)} ${escapeHtml(change.backup_path)}</code>` : '';
    return { html: `✅ ${op.name === 'file.write' ? 'Wrote' : 'Restored'} <code>${escapeHtml(change.path)}</code>${from}: ${change.bytes} bytes, sha256 ${change.sha256.slice(0, 16)}…${undo}\n${head}` };
  }
  const text = body(op, result);
  if (text.length > MAX_INLINE_CHARS) {
    return { html: `✅ ${op.name}: ${text.split('\n').length} lines, attached as a file.\n${head}`, document: { filename: `${op.name.replace('.', '-')}-${execution.execution_id}.txt`, content: Buffer.from(text, 'utf8') } };
  }
  return { html: `✅ ${op.name}\n<pre>${escapeHtml(text)}</pre>\n${head}` };
}
