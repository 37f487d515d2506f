import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A real container engine for tests, following /work/shared/testing/container-engine.md: Debian's
 * Podman with runc and cgroupfs serving the Docker Engine API on a unix socket of its own, an image
 * imported from a busybox root filesystem (no registry), containers without a network. `.ci/run`
 * installs podman, runc and busybox-static when missing.
 */

const run = promisify(execFile);
/**
 * The image every test container runs: static busybox plus a link per applet (sh, ps, grep, …).
 * Imported when the machine's storage does not have it yet; bump the tag when the recipe changes.
 */
export const TEST_IMAGE = 'localhost/airlock-test/busybox:1';

export interface ContainerEngine {
  readonly socketPath: string;
  /** Runs `podman …` against the same storage and configuration as the service. */
  podman(...args: string[]): Promise<string>;
  /** Starts a container from the test image (`--network=none`) with a unique name; removed by `stop()`. */
  container(command: readonly string[], options?: { namePrefix?: string; labels?: Record<string, string> }): Promise<{ id: string; name: string }>;
  /** Removes every container this engine started (by id), stops the service, removes its folder. */
  stop(): Promise<void>;
}

export async function startContainerEngine(): Promise<ContainerEngine> {
  for (const tool of ['podman', 'runc']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      throw new Error(`${tool} is not installed: run .ci/run (or apt-get install -y podman runc busybox-static)`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'airlock-podman-'));
  const conf = join(dir, 'containers.conf');
  writeFileSync(conf, '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const podman = async (...args: string[]): Promise<string> => {
    try {
      const { stdout } = await run('podman', args, { env, maxBuffer: 16 * 1024 * 1024 });
      return stdout.trim();
    } catch (error) {
      const failed = error as { stderr?: string; message: string };
      throw new Error(`podman ${args.join(' ')} failed: ${failed.stderr?.trim() || failed.message}`);
    }
  };

  const present = await podman('image', 'exists', TEST_IMAGE).then(
    () => true,
    () => false,
  );
  if (!present) await importImage(dir, podman);

  const socketPath = join(dir, 'podman.sock');
  const service: ChildProcess = spawn('podman', ['system', 'service', '--time=0', `unix://${socketPath}`], { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let serviceLog = '';
  service.stderr?.on('data', (chunk: Buffer) => (serviceLog += chunk.toString()));
  const exited = new Promise<void>((resolve) => service.once('exit', () => resolve()));
  for (let attempt = 0; ; attempt += 1) {
    if (await ping(socketPath)) break;
    if (service.exitCode !== null || attempt > 300) {
      service.kill('SIGKILL');
      throw new Error(`podman system service did not answer on ${socketPath}:\n${serviceLog}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const started: string[] = [];
  return {
    socketPath,
    podman,
    async container(command, options = {}) {
      const name = `${options.namePrefix ?? 'airlock-test'}-${randomBytes(5).toString('hex')}`;
      const labels = Object.entries(options.labels ?? {}).flatMap(([key, value]) => ['--label', `${key}=${value}`]);
      const id = await podman('run', '-d', '--name', name, '--network=none', ...labels, TEST_IMAGE, ...command);
      started.push(id);
      return { id, name };
    },
    async stop() {
      if (started.length > 0) await podman('rm', '--force', '--time', '0', ...started.splice(0)).catch(() => undefined);
      if (service.exitCode === null) {
        try {
          process.kill(-(service.pid as number), 'SIGTERM');
        } catch {
          // already gone
        }
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The recipe's image: busybox copied into an empty root filesystem, tarred, `podman import`ed. */
async function importImage(dir: string, podman: (...args: string[]) => Promise<string>): Promise<void> {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'tmp'), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  cpSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  const { stdout } = await run('/bin/busybox', ['--list']);
  for (const applet of stdout.split('\n').filter((line) => /^[a-z0-9_.[-]+$/.test(line) && line !== 'busybox')) {
    symlinkSync('busybox', join(rootfs, 'bin', applet));
  }
  const tarball = join(dir, 'rootfs.tar');
  await run('tar', ['-C', rootfs, '-cf', tarball, '.']);
  await podman('import', tarball, TEST_IMAGE);
  rmSync(rootfs, { recursive: true, force: true });
  rmSync(tarball, { force: true });
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/v1.41/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}
