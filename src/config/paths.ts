import { isAbsolute, join, resolve } from 'node:path';
import type { Config } from './schema.js';

/** Where the public half of a key file is published: beside it, `.pub.pem`. */
export function publicKeyFileOf(privateKeyFile: string): string {
  return privateKeyFile.replace(/(\.pem)?$/, '.pub.pem');
}

/** Every file Airlock owns. With an instance id they all live under that instance, so instances never share files. */
export interface Paths {
  readonly base: string;
  readonly keysDir: string;
  /** Public halves of rotated-out signing keys, published until what they signed has expired. */
  readonly retiredKeysDir: string;
  readonly auditKeyFile: string;
  readonly auditPublicKeyFile: string;
  /** Signs capability tokens (the API role). */
  readonly tokenKeyFile: string;
  /** Signs execution receipts (the gateway role). */
  readonly receiptKeyFile: string;
  /** Signs people's short access tokens (the API role); never trusted by the gateway. */
  readonly accessKeyFile: string;
  /** Encrypts TOTP secrets at rest when AIRLOCK_SECRET_KEY is not set. */
  readonly secretKeyFile: string;
  readonly stateDir: string;
  readonly logDir: string;
  readonly defaultDatabaseFile: string;
  readonly auditMirrorFile: string | undefined;
  /** Every workspace's files and private folders (`workspaces.root`). */
  readonly workspacesDir: string;
}

export function resolvePaths(config: Config, cwd: string): Paths {
  const base = resolve(cwd, config.dataDir, ...(config.instanceId ? ['instances', config.instanceId] : []));
  // One deployment's instances share one keys folder (a volume, a Kubernetes Secret); by default each has its own.
  const keysDir = config.keys.dir ? resolve(cwd, config.keys.dir) : join(base, 'keys');
  const auditKeyFile = config.audit.keyFile ? resolve(cwd, config.audit.keyFile) : join(keysDir, 'audit-ed25519.pem');
  const mirror = config.audit.mirrorFile;
  return {
    base,
    keysDir,
    retiredKeysDir: join(keysDir, 'retired'),
    auditKeyFile,
    auditPublicKeyFile: publicKeyFileOf(auditKeyFile),
    tokenKeyFile: join(keysDir, 'token-ed25519.pem'),
    receiptKeyFile: join(keysDir, 'receipt-ed25519.pem'),
    accessKeyFile: join(keysDir, 'access-ed25519.pem'),
    secretKeyFile: join(keysDir, 'secret.key'),
    stateDir: join(base, 'state'),
    logDir: join(base, 'logs'),
    defaultDatabaseFile: join(base, 'airlock.db'),
    // A relative mirror path is taken inside the instance's folder so two instances never write one file.
    auditMirrorFile: mirror === undefined ? undefined : isAbsolute(mirror) ? mirror : resolve(base, mirror),
    workspacesDir: config.workspaces.root ? resolve(cwd, config.workspaces.root) : join(base, 'workspaces'),
  };
}
