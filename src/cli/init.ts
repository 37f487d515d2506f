import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { AuditLog, loadAuditSigner } from '../audit/index.js';
import { describeStore } from '../config/index.js';
import { ensureDataDirs, openConfiguredStore } from '../runtime.js';
import { migrate } from '../store/index.js';
import { VERSION } from '../version.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print } from './output.js';

export function registerInit(program: Command): void {
  withConfigOptions(program.command('init'))
    .description('create the data directory, the audit signing key and the schema; safe to run again')
    .addHelpText('after', '\nExamples:\n  airlock init\n  airlock init --instance-id canary')
    .action(async (flags: ConfigFlags) => {
      const config = configFromFlags(flags);
      ensureDataDirs(config);
      const keyExisted = existsSync(config.paths.auditKeyFile);
      const signer = loadAuditSigner(config.paths.auditKeyFile, config.paths.auditPublicKeyFile, { create: !config.audit.keyFile });
      const store = await openConfiguredStore(config, 1);
      try {
        const report = await migrate(store);
        const created = [...(keyExisted ? [] : ['audit key']), ...report.applied.map((name) => `migration ${name}`)];
        if (created.length > 0) {
          const audit = new AuditLog(store, { signer, checkpointEvery: config.audit.checkpointEvery });
          await audit.record({ actor: 'cli:init', action: 'system.initialized', data: { version: VERSION, created, audit_key_id: signer.keyId } });
        }
        print(`data directory: ${config.paths.base}`);
        print(`audit key:      ${config.paths.auditKeyFile} (${keyExisted ? 'existing' : 'created'}, key id ${signer.keyId})`);
        print(`public key:     ${config.paths.auditPublicKeyFile}`);
        print(`database:       ${describeStore(config)} (${report.applied.length > 0 ? `${report.applied.length} migration(s) applied` : 'up to date'})`);
        print(created.length > 0 ? 'initialized' : 'already initialized: nothing changed');
      } finally {
        await store.close();
      }
    });
}
