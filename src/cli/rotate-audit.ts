import type { Command } from 'commander';
import { localActor } from './admin.js';
import { withJson } from './json-doc.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print, printJson } from './output.js';

/** `airlock keys rotate-audit`: on this machine's store and keys folder, like the other admin commands. */
export function registerRotateAudit(keys: Command): void {
  withJson(withConfigOptions(keys.command('rotate-audit')), {
    shape: 'object',
    fields: ['seq', 'hash', 'previous_key_id', 'key_id', 'key_file', 'public_key_file', 'retired_public_key_file', 'resumed'],
  })
    .description('replace the audit key: the old key vouches for the new one in the chain, then retires; restart the servers one by one afterwards')
    .addHelpText(
      'after',
      `
The new key signs the checkpoint at an audit.key_rotated event together with the old key, so a
verifier that holds only an earlier public key still verifies the whole chain. The old public key is
kept in <keys dir>/retired/. Servers already running sign with the key they loaded until restarted;
those checkpoints still verify (a retired key is not revoked).

Examples:
  airlock keys rotate-audit
  airlock keys rotate-audit --database-url postgres://airlock@db/airlock --data-dir /var/lib/airlock`,
    )
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const config = await configFromFlags(flags);
      const [{ AuditMirror, loadAuditSigner, rotateAuditKey }, { openMigratedStore }] = await Promise.all([import('../audit/index.js'), import('../runtime.js')]);
      // Before anything is opened: a missing or unusable key is refused here, never created.
      loadAuditSigner(config.paths.auditKeyFile, config.paths.auditPublicKeyFile, { create: false });
      const store = await openMigratedStore(config);
      const mirror = config.paths.auditMirrorFile ? new AuditMirror(config.paths.auditMirrorFile) : undefined;
      let result;
      try {
        result = await rotateAuditKey({
          store,
          keyFile: config.paths.auditKeyFile,
          publicKeyFile: config.paths.auditPublicKeyFile,
          keysDir: config.paths.keysDir,
          actor: localActor('keys'),
          ...(mirror ? { mirror } : {}),
        });
      } finally {
        mirror?.close();
        await store.close();
      }
      if (flags.json) {
        printJson({
          seq: result.seq,
          hash: result.hash,
          previous_key_id: result.previousKeyId,
          key_id: result.keyId,
          key_file: result.keyFile,
          public_key_file: result.publicKeyFile,
          retired_public_key_file: result.retiredPublicKeyFile,
          resumed: result.resumed,
        });
        return;
      }
      print(`${result.resumed ? 'finished the interrupted rotation' : 'rotated the audit key'}: ${result.previousKeyId} -> ${result.keyId} at seq ${result.seq} (checkpoint signed by both)`);
      print(`new key: ${result.keyFile} (0600), public key ${result.publicKeyFile}`);
      print(`old public key kept at ${result.retiredPublicKeyFile}`);
      print('running servers sign with the old key until restarted: restart them one by one');
    });
}
