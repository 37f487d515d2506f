import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/**
 * A private OpenSSH server on 127.0.0.1 for the SSH executor's tests and benchmark (recipe:
 * shared/testing/ssh-server.md). It touches no system file: host key, client key, authorized_keys,
 * config, pid file and log all live in one temporary folder. No vitest import here, so the benchmark
 * can use it too.
 */

export const SSHD = '/usr/sbin/sshd';

export interface Sshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly username: string;
  /** The client's private key (ed25519, no passphrase), listed in the server's authorized_keys. */
  readonly privateKeyFile: string;
  /** The server's host key fingerprint as `ssh-keygen -lf` prints it: "SHA256:<base64>". */
  readonly hostKeyFingerprint: string;
  /** A known_hosts file holding the server's host key (for the `ssh` binary). */
  readonly knownHostsFile: string;
  readonly dir: string;
  readonly pid: number;
  /** sshd's log so far. */
  log(): string;
  /** How many times a client logged in with its public key so far. */
  acceptedLogins(): number;
  /** Kills every per-connection sshd process (the listener stays): established connections drop. */
  dropConnections(): void;
  stop(): Promise<void>;
}

/** Why an SSH test cannot run here, or undefined when it can. */
export function sshdMissing(): string | undefined {
  return existsSync(SSHD) ? undefined : `${SSHD} is missing: install openssh-server (apt-get install -y openssh-server; .ci/run does this in CI)`;
}

export async function startSshd(): Promise<Sshd> {
  const missing = sshdMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'airlock-sshd-'));
  const hostKey = join(dir, 'host_key');
  const clientKey = join(dir, 'client_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'airlock-test-host', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'airlock-test-client', '-f', clientKey]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`), { mode: 0o600 });
  const hostKeyFingerprint = execFileSync('ssh-keygen', ['-lf', `${hostKey}.pub`], { encoding: 'utf8' }).split(' ')[1] ?? '';
  const port = await freePort();
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'LogLevel INFO',
      // The benchmark opens many sessions on one connection; the tests need more than the default 10 startups.
      'MaxSessions 64',
      'MaxStartups 100',
      // Debian's bash sources ~/.bashrc for every command sshd starts, unless it is not a top-level
      // shell; this machine's root .bashrc takes about a second (pyenv init), which would drown what the
      // tests and the benchmark measure. A host whose login shell starts lean behaves the same way.
      'SetEnv SHLVL=1',
      // The typed file operations speak SFTP; the in-process server needs no binary path.
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  try {
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  } catch {
    // not root: sshd then runs without privilege separation for the current user only
  }
  const logFile = join(dir, 'log');
  writeFileSync(logFile, '');
  const child: ChildProcess = spawn(SSHD, ['-D', '-f', config, '-E', logFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const readLog = (): string => readFileSync(logFile, 'utf8');
  try {
    await waitForBanner(port, child, () => `${stderr}${readLog()}`);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const pid = child.pid as number;
  return {
    host: '127.0.0.1',
    port,
    username: userInfo().username,
    privateKeyFile: clientKey,
    hostKeyFingerprint,
    knownHostsFile: join(dir, 'known_hosts'),
    dir,
    pid,
    log: readLog,
    acceptedLogins: () => readLog().split('\n').filter((line) => line.includes('Accepted publickey')).length,
    dropConnections: () => {
      let children = '';
      try {
        children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
      } catch {
        return; // none
      }
      for (const line of children.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(line), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A port nobody listens on right now (closed again at once; for "connection refused" tests too). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Waits until the server answers with its SSH identification line. */
async function waitForBanner(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}) before listening:\n${output()}`);
    if (await banner(port)) return;
    if (Date.now() > deadline) throw new Error(`sshd did not answer on 127.0.0.1:${port} within 15 s:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function banner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      if (data.includes('\n')) done(data.startsWith('SSH-'));
    });
    socket.on('error', () => done(false));
  });
}
