import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { VERSION } from '../version.js';
import { localActor } from './admin.js';
import { withJson } from './json-doc.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print, printJson } from './output.js';

export function registerInit(program: Command): void {
  withJson(withConfigOptions(program.command('init')), {
    shape: 'object',
    fields: ['data_dir', 'audit_key', 'public_key', 'token_key', 'receipt_key', 'access_key', 'secret_key', 'database', 'initialized'],
    optional: ['admin_user', 'admin_api_key'],
    note: 'initialized is false when nothing changed; secret_key is null when AIRLOCK_SECRET_KEY holds it; admin_user and admin_api_key (shown only now) appear when they were created',
  })
    .description('create the data directory, the signing and secret keys, the schema, the first admin user and its API key; safe to run again')
    .addHelpText('after', '\nExamples:\n  airlock init\n  airlock init --instance-id canary')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const config = await configFromFlags(flags);
      const [{ AuditLog, loadAuditSigner, loadKeyPair }, { ApiKeys, SecretBox, Users, bootstrapAdmin }, { describeStore, publicKeyFileOf }, { ensureDataDirs, loadSigningKeys, openConfiguredStore }, { migrate }] = await Promise.all([
        import('../audit/index.js'),
        import('../identity/index.js'),
        import('../config/index.js'),
        import('../runtime.js'),
        import('../store/index.js'),
      ]);
      ensureDataDirs(config);
      const keyExisted = existsSync(config.paths.auditKeyFile);
      const signer = loadAuditSigner(config.paths.auditKeyFile, config.paths.auditPublicKeyFile, { create: !config.audit.keyFile });
      const signing = loadSigningKeys(config, true);
      // The keys the API side makes on its first start, made now so that the setup is complete (`airlock doctor`).
      const access = loadKeyPair(config.paths.accessKeyFile, publicKeyFileOf(config.paths.accessKeyFile), { create: true, label: 'access token signing' });
      if (!config.auth.secretKey) SecretBox.fromFile(config.paths.secretKeyFile, true);
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
        const initialized = created.length > 0 || adminKey !== undefined;
        if (flags.json) {
          printJson({
            data_dir: config.paths.base,
            audit_key: { file: config.paths.auditKeyFile, created: !keyExisted, key_id: signer.keyId },
            public_key: config.paths.auditPublicKeyFile,
            token_key: { file: config.paths.tokenKeyFile, key_id: signing.token.keyId },
            receipt_key: { file: config.paths.receiptKeyFile, key_id: signing.receipt.keyId },
            access_key: { file: config.paths.accessKeyFile, key_id: access.keyId },
            secret_key: config.auth.secretKey ? null : config.paths.secretKeyFile,
            database: { description: describeStore(config), applied: report.applied },
            initialized,
            ...(admin.created ? { admin_user: { username: admin.username, ...(admin.generatedPassword ? { password: admin.generatedPassword } : {}) } } : {}),
            ...(adminKey ? { admin_api_key: adminKey.key } : {}),
          });
          return;
        }
        print(`data directory: ${config.paths.base}`);
        print(`audit key:      ${config.paths.auditKeyFile} (${keyExisted ? 'existing' : 'created'}, key id ${signer.keyId})`);
        print(`public key:     ${config.paths.auditPublicKeyFile}`);
        print(`token key:      ${config.paths.tokenKeyFile} (key id ${signing.token.keyId})`);
        print(`receipt key:    ${config.paths.receiptKeyFile} (key id ${signing.receipt.keyId})`);
        print(`access key:     ${config.paths.accessKeyFile} (key id ${access.keyId})`);
        print(`secret key:     ${config.auth.secretKey ? '(from AIRLOCK_SECRET_KEY)' : config.paths.secretKeyFile}`);
        print(`database:       ${describeStore(config)} (${report.applied.length > 0 ? `${report.applied.length} migration(s) applied` : 'up to date'})`);
        if (admin.created) {
          print(`admin user:     ${admin.username}${admin.generatedPassword ? ` (password, shown only now: ${admin.generatedPassword})` : ' (password from AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD)'}`);
        }
        if (adminKey) {
          print(`admin API key (shown only now, store it): ${adminKey.key}`);
          print('  create narrower keys with: airlock keys create --name NAME --scope approvals:request,approvals:read');
        }
        print(initialized ? 'initialized' : 'already initialized: nothing changed');
      } finally {
        await store.close();
      }
    });
}
