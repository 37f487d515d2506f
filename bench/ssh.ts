/**
 * SSH executor benchmark: commands/s of `true` run one after another through SshExecutor on its pooled
 * connection, against the `ssh` client binary running `true` over a ControlMaster connection (the
 * fastest the binary gets: no handshake per command, but a process per command). Both talk to the
 * same private OpenSSH server on 127.0.0.1 (test/helpers/sshd.ts), measured in one run.
 * Usage: npm run bench:ssh [-- SECONDS]   (default 10 per side, after a warm-up)
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { SshExecutor } from '../src/executors/ssh.js';
import { startSshd } from '../test/helpers/sshd.js';

const SECONDS = Number(process.argv[2] ?? 10);
const WARMUP_MS = 1000;
const fmt = (n: number, digits = 0): string => n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function measure(label: string, once: () => Promise<void>): Promise<{ perSecond: number; count: number; p50: number; p99: number }> {
  const warmUntil = performance.now() + WARMUP_MS;
  while (performance.now() < warmUntil) await once();
  const times: number[] = [];
  const start = performance.now();
  const until = start + SECONDS * 1000;
  while (performance.now() < until) {
    const t = performance.now();
    await once();
    times.push(performance.now() - t);
  }
  const elapsed = performance.now() - start;
  times.sort((a, b) => a - b);
  const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
  const result = { perSecond: times.length / (elapsed / 1000), count: times.length, p50: at(0.5), p99: at(0.99) };
  console.log(`  ${label.padEnd(46)} ${fmt(result.perSecond, 1).padStart(8)} cmd/s  p50 ${fmt(result.p50, 2)} ms  p99 ${fmt(result.p99, 2)} ms  (${fmt(result.count)} commands)`);
  return result;
}

const sshd = await startSshd();
const controlPath = join(sshd.dir, 'cm-%C');
const sshArgs = [
  '-F', '/dev/null',
  '-p', String(sshd.port),
  '-i', sshd.privateKeyFile,
  '-o', 'IdentitiesOnly=yes',
  '-o', 'BatchMode=yes',
  '-o', `UserKnownHostsFile=${sshd.knownHostsFile}`,
  '-o', 'StrictHostKeyChecking=yes',
  '-o', 'ControlMaster=auto',
  '-o', `ControlPath=${controlPath}`,
  '-o', 'ControlPersist=120',
  `${sshd.username}@${sshd.host}`,
];
const executor = new SshExecutor({ host: sshd.host, port: sshd.port, username: sshd.username, privateKeyFile: sshd.privateKeyFile, hostKeyFingerprint: sshd.hostKeyFingerprint });
const limits = { timeoutSeconds: 30, outputCapBytes: 1 << 20, cwd: sshd.dir };

function sshTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshArgs, 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ssh exited with ${code}: ${stderr}`))));
  });
}

try {
  const version = spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim();
  console.log(`SSH executor benchmark, node ${process.version}, ${cpus().length} cores, ${version}, sshd on 127.0.0.1:${sshd.port}`);
  console.log(`each figure: ${SECONDS} s of sequential \`true\` commands after a ${WARMUP_MS / 1000} s warm-up\n`);
  const binary = await measure('ssh binary, ControlMaster (ControlPersist)', sshTrue);
  const airlock = await measure('SshExecutor, pooled ssh2 connection', async () => {
    const result = await executor.run({ kind: 'exec', argv: ['true'] }, limits);
    if (result.status !== 'succeeded') throw new Error(`true failed: ${JSON.stringify(result)}`);
  });
  const ratio = airlock.perSecond / binary.perSecond;
  console.log(`\nratio SshExecutor / ssh binary: ${fmt(ratio, 2)}  (goal >= 2: ${ratio >= 2 ? 'met' : 'not met'})`);
  console.log(`logins seen by sshd: ${sshd.acceptedLogins()} (one for the ControlMaster, one for the executor)`);
} finally {
  await executor.close();
  spawnSync('ssh', [...sshArgs.slice(0, -1), '-O', 'exit', sshArgs[sshArgs.length - 1] as string], { stdio: 'ignore' });
  await sshd.stop();
}
