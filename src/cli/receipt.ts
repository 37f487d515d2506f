import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { JSONWebKeySet } from 'jose';
import { publicKeyFileOf } from '../config/paths.js';
import { AirlockError } from '../errors.js';
import { withJson } from './json-doc.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { color, print, printJson } from './output.js';

/** The key set to trust: a JWKS URL or file, or this machine's published receipt key. */
async function keySet(jwks: string | undefined, flags: ConfigFlags): Promise<JSONWebKeySet> {
  if (jwks && /^https?:\/\//.test(jwks)) {
    const response = await fetch(jwks);
    if (!response.ok) throw new AirlockError('jwks_unavailable', `GET ${jwks} answered ${response.status}`);
    return (await response.json()) as JSONWebKeySet;
  }
  if (jwks) return JSON.parse(readFileSync(jwks, 'utf8')) as JSONWebKeySet;
  const config = await configFromFlags(flags);
  const [{ exportJWK }, { loadPublicKeys }] = await Promise.all([import('jose'), import('../audit/keys.js')]);
  const keys = loadPublicKeys([publicKeyFileOf(config.paths.receiptKeyFile)]);
  return { keys: await Promise.all([...keys].map(async ([kid, key]) => ({ ...(await exportJWK(key)), kid, alg: 'EdDSA' }))) };
}

function readReceipt(source: string): string {
  const text = readFileSync(source === '-' ? 0 : source, 'utf8').trim();
  // Accept a bare receipt or the JSON answer of /gateway/execute.
  if (text.startsWith('{')) {
    const receipt = (JSON.parse(text) as { receipt?: unknown }).receipt;
    if (typeof receipt !== 'string') throw new AirlockError('receipt_invalid', 'the JSON holds no "receipt"');
    return receipt;
  }
  return text;
}

export function registerReceiptCommands(program: Command): void {
  const receipt = program.command('receipt').description('check execution receipts offline');
  withJson(withConfigOptions(receipt.command('verify')), {
    shape: 'object',
    fields: ['typ', 'iss', 'execution_id', 'approval_id', 'jti', 'environment', 'target', 'op_hash', 'status', 'exit_code', 'output_sha256', 'truncated', 'started_at', 'finished_at', 'duration_ms', 'audit_seq', 'audit_hash'],
  }, 'print the statement as JSON')
    .description('verify a receipt (or the JSON answer of /gateway/execute) against the published keys and print what it states')
    .argument('[file]', 'the receipt, or - for standard input', '-')
    .option('--jwks <url-or-file>', 'the key set to trust, e.g. http://127.0.0.1:5002/.well-known/jwks.json (default: this machine\'s receipt key)')
    .addHelpText('after', '\nExamples:\n  curl … /gateway/execute | airlock receipt verify - --jwks http://127.0.0.1:5002/.well-known/jwks.json\n  airlock receipt verify receipt.jws --jwks jwks.json')
    .action(async (file: string, flags: ConfigFlags & { jwks?: string; json?: boolean }) => {
      const { verifyReceipt } = await import('../gateway/receipts.js');
      const claims = await verifyReceipt(readReceipt(file), await keySet(flags.jwks, flags));
      if (flags.json) return printJson(claims);
      print(`receipt ${color.green('OK')}: execution ${claims.execution_id} of approval ${claims.approval_id}`);
      print(`  ${claims.status}, exit code ${claims.exit_code ?? '-'}, ${claims.duration_ms} ms, output sha256 ${claims.output_sha256}${claims.truncated ? ' (truncated)' : ''}`);
      print(`  ${claims.environment} on ${claims.target}, op ${claims.op_hash}`);
      print(`  audit event ${claims.audit_seq} ${claims.audit_hash}`);
    });
}
