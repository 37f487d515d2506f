import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { AuditLog, loadAuditSigner } from '../audit/index.js';
import { ApiKeys, Users } from '../identity/index.js';
import { bootstrapAdmin } from '../identity/bootstrap.js';
import { describeStore } from '../config/index.js';
import { ensureDataDirs, loadSigningKeys, openConfiguredStore } from '../runtime.js';
import { migrate } from '../store/index.js';
import { VERSION } from '../version.js';
import { localActor } from './admin.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print } from './output.js';

export function registerInit(program: Command): void {
  withConfigOptions(program.command('init'))
    .description('create the data directory, the signing keys, the schema, the first admin user and its API key; safe to run again')
    .addHelpText('after', '\nExamples:\n  airlock init\n  airlock init --instance-id canary')
    .action(async (flags: ConfigFlags) => {
      const config = configFromFlags(flags);
      ensureDataDirs(config);
      const keyExisted = existsSync(config.paths.auditKeyFile);
      const signer = loadAuditSigner(config.paths.auditKeyFile, config.paths.auditPublicKeyFile, { create: !config.audit.keyFile });
      const signing = loadSigningKeys(config, true);
      const store = await openConfiguredStore(config, 1);
      try {
        const report = await migrate(store);
        const audit = new AuditLog(store, { signer, checkpointEvery: config.audit.checkpointEvery });
        const keys = new ApiKeys(store, audit);
        const created = [...(keyExisted ? [] : ['audit key']), ...report.applied.map((name) => `migration ${name}`)];
        if (created.length > 0) {
          await audit.record({ actor: localActor('init'), action: 'system.initialized', data: { version: VERSION, created, audit_key_id: signer.keyId } });
        }
        const admin = await bootstrapAdmin(new Users({ store, audit, keys }), config.auth, localActor('init'));
        // The first admin key is made once, when there is no key at all, and shown only now.
        const adminKey = (await keys.list()).length === 0 ? await keys.create({ name: 'admin', scopes: ['admin'], owner: admin.username, actor: localActor('init') }) : undefined;
        print(`data directory: ${config.paths.base}`);
        print(`audit key:      ${config.paths.auditKeyFile} (${keyExisted ? 'existing' : 'created'}, key id ${signer.keyId})`);
        print(`public key:     ${config.paths.auditPublicKeyFile}`);
        print(`token key:      ${config.paths.tokenKeyFile} (key id ${signing.token.keyId})`);
        print(`receipt key:    ${config.paths.receiptKeyFile} (key id ${signing.receipt.keyId})`);
        print(`database:       ${describeStore(config)} (${report.applied.length > 0 ? `${report.applied.length} migration(s) applied` : 'up to date'})`);
        if (admin.created) {
          print(`admin user:     ${admin.username}${admin.generatedPassword ? ` (password, shown only now: ${admin.generatedPassword})` : ' (password from AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD)'}`);
        }
        if (adminKey) {
          print(`admin API key (shown only now, store it): ${adminKey.key}`);
          print('  create narrower keys with: airlock keys create --name NAME --scope approvals:request,approvals:read');
        }
        print(created.length > 0 || adminKey ? 'initialized' : 'already initialized: nothing changed');
      } finally {
        await store.close();
      }
    });
}
