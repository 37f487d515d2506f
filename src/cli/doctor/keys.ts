import { statSync } from 'node:fs';
import type { ResolvedConfig } from '../../config/index.js';
import { fail, ok, warn, type Finding } from './finding.js';

interface KeyFile {
  readonly name: string;
  readonly file: string;
  /** Made by `airlock init` (and by the server on its first start) when missing. */
  readonly createdByInit: boolean;
}

/** The private key files this instance's role uses (public halves are published, 0644, and not checked). */
function keyFilesOf(config: ResolvedConfig): KeyFile[] {
  const paths = config.paths;
  const api = config.role !== 'gateway';
  const gateway = config.role !== 'api';
  return [
    // A key file named in the configuration is the operator's to provide: it is never created.
    { name: 'audit signing key', file: paths.auditKeyFile, createdByInit: !config.audit.keyFile },
    ...(api ? [{ name: 'token signing key', file: paths.tokenKeyFile, createdByInit: true }] : []),
    ...(api ? [{ name: 'access token signing key', file: paths.accessKeyFile, createdByInit: true }] : []),
    ...(api && !config.auth.secretKey ? [{ name: 'secret key', file: paths.secretKeyFile, createdByInit: true }] : []),
    ...(gateway ? [{ name: 'receipt signing key', file: paths.receiptKeyFile, createdByInit: true }] : []),
  ];
}

function modeOf(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/** Each key file is there and readable by its owner only (0600); the keys folder is not open to others. */
export function keyFindings(config: ResolvedConfig): Finding[] {
  const findings: Finding[] = [];
  try {
    const mode = statSync(config.paths.keysDir).mode;
    if ((mode & 0o077) !== 0) findings.push(warn('keys', `the keys folder ${config.paths.keysDir} is open to others (mode ${modeOf(mode)})`, `chmod 700 ${config.paths.keysDir}`));
  } catch {
    // No folder: every key below is reported missing.
  }
  for (const key of keyFilesOf(config)) {
    let mode: number;
    try {
      mode = statSync(key.file).mode;
    } catch {
      findings.push(fail('keys', `the ${key.name} ${key.file} is missing`, key.createdByInit ? '`airlock init` creates it (a server does on its first start); in a deployment, mount the shared keys folder' : `put the key there, or correct the setting that names it`));
      continue;
    }
    if ((mode & 0o077) !== 0) findings.push(fail('keys', `the ${key.name} ${key.file} is readable by others (mode ${modeOf(mode)})`, `chmod 600 ${key.file}`));
    else findings.push(ok('keys', `the ${key.name} ${key.file} is there, mode ${modeOf(mode)}`));
  }
  return findings;
}
