import { existsSync } from 'node:fs';
import { loadAuditSigner, loadPublicKeys, retiredAuditKeyFiles, verifyChain, type VerifyReport } from '../audit/index.js';
import type { ResolvedConfig } from '../config/index.js';
import { AirlockError } from '../errors.js';
import type { Store } from '../store/index.js';
import { withStore } from './admin.js';

/** The instance's own audit public key, from the public key file or else from the private key. */
function ownPublicKeyFiles(config: ResolvedConfig): string[] {
  if (existsSync(config.paths.auditPublicKeyFile)) return [config.paths.auditPublicKeyFile];
  if (existsSync(config.paths.auditKeyFile)) {
    loadAuditSigner(config.paths.auditKeyFile, config.paths.auditPublicKeyFile, { create: false });
    return existsSync(config.paths.auditPublicKeyFile) ? [config.paths.auditPublicKeyFile] : [];
  }
  return [];
}

/** Opens the store read-side (no migrations: a check must not change what it checks). */
export function withAuditStore<T>(config: ResolvedConfig, work: (store: Store) => Promise<T>, poolSize = 1): Promise<T> {
  return withStore(
    config,
    async (store) => {
      try {
        return await work(store);
      } catch (error) {
        if (/no such table|relation .* does not exist/i.test((error as Error).message ?? '')) {
          throw new AirlockError('audit_missing', `${store.description} holds no audit chain yet: run \`airlock init\` or \`airlock migrate\``);
        }
        throw error;
      }
    },
    poolSize,
  );
}

/**
 * Verifies the configured chain against the configured key, the retired keys in <keys dir>/retired/ and
 * `publicKeys`: what `airlock audit verify` and `airlock doctor` both report.
 */
export async function verifyConfiguredChain(
  config: ResolvedConfig,
  options: { publicKeys?: readonly string[]; threads?: number; onProgress?: (checked: number, total: number) => void } = {},
): Promise<VerifyReport> {
  const keys = loadPublicKeys([...ownPublicKeyFiles(config), ...retiredAuditKeyFiles(config.paths.keysDir), ...(options.publicKeys ?? [])]);
  return withAuditStore(config, (store) => verifyChain(store, keys, { parallelism: options.threads ?? 'auto', ...(options.onProgress ? { onProgress: options.onProgress } : {}) }), 2);
}
