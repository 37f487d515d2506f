import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type Env, type From, type Instruction, type Label } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';
import { CLI, cleanEnv, REPO_ROOT } from '../helpers/cli.js';
import { spawnServer } from '../helpers/process.js';
import { TEST_ADMIN_PASSWORD } from '../helpers/server.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * deploy/Dockerfile, checked by parsing it: there is no container engine with base images here, so the
 * image itself is built and run by hand (docs/OPERATIONS.md says how). What can run here does: the
 * HEALTHCHECK's own command against a real server, and the files the build copies.
 */
const text = readFileSync(join(REPO_ROOT, 'deploy/Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const instructions = dockerfile.getInstructions();
const froms = dockerfile.getFROMs();

/** The instructions of each stage, keyed by stage name. */
function stages(): Map<string, Instruction[]> {
  const byStage = new Map<string, Instruction[]>();
  let current: Instruction[] | undefined;
  for (const instruction of instructions) {
    if (instruction.getKeyword() === 'FROM') {
      current = [];
      byStage.set((instruction as From).getBuildStage() ?? `#${byStage.size}`, current);
    } else {
      current?.push(instruction);
    }
  }
  return byStage;
}

const byStage = stages();
const finalStage = [...byStage.values()].at(-1) ?? [];
const of = (list: Instruction[], keyword: string): Instruction[] => list.filter((instruction) => instruction.getKeyword() === keyword);
const args = (instruction: Instruction): string => instruction.getArgumentsContent() ?? '';
/** An exec-form (JSON array) argument list. */
const execForm = (instruction: Instruction): string[] => JSON.parse(args(instruction).replace(/^CMD\s+/, '')) as string[];
const initialArg = (name: string): string | undefined => {
  const property = dockerfile.getInitialARGs().find((arg) => arg.getProperty()?.getName() === name)?.getProperty();
  return property?.getValue() ?? undefined;
};
/** ${NAME} in a FROM line, resolved against the ARGs declared before the first FROM. */
const resolveImage = (image: string): string => image.replace(/\$\{(\w+)\}/g, (_, name: string) => initialArg(name) ?? `<unset ${name}>`);

describe('deploy/Dockerfile', () => {
  it('is multi-stage: a named build stage, then a runtime stage on the same pinned Node.js major (Debian slim)', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms[0]?.getBuildStage()).toBe('build');
    const images = froms.map((from) => resolveImage(from.getImage() ?? ''));
    for (const image of images) {
      // A pinned major (node:20-…), never latest or an unversioned tag.
      expect(image).toMatch(/^node:\d+-bookworm(-slim)?$/);
    }
    const majors = images.map((image) => /^node:(\d+)-/.exec(image)?.[1]);
    expect(new Set(majors).size).toBe(1);
    expect(majors[0]).toBe('20');
    expect(images.at(-1)).toBe('node:20-bookworm-slim');
  });

  it('builds with npm ci and npm run build, prunes to production dependencies and keeps better-sqlite3\'s built addon', () => {
    const runs = of(byStage.get('build') ?? [], 'RUN').map(args).join('\n');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/npm rebuild better-sqlite3/);
    expect(runs).toMatch(/npm run build\b/);
    expect(runs).toMatch(/npm prune --omit=dev/);
    expect(runs).toMatch(/better_sqlite3\.node/);
    expect(runs).toMatch(/require\('better-sqlite3'\)/);
  });

  it('copies every build input from the context, and they exist in the repository', () => {
    const sources = of(byStage.get('build') ?? [], 'COPY').flatMap((copy) => args(copy).split(/\s+/).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts', 'src', 'web']));
    for (const source of sources) expect(existsSync(join(REPO_ROOT, source)), source).toBe(true);
  });

  it('gives the runtime stage only the build output (COPY --from=build), and no ADD of anything', () => {
    const copies = of(finalStage, 'COPY');
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const from = (copy as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags().find((flag) => flag.getName() === 'from');
      expect(from?.getValue(), args(copy)).toBe('build');
    }
    expect(args(copies.find((copy) => args(copy).includes('node_modules')) as Instruction)).toBe('/build/node_modules ./node_modules');
    expect(copies.map(args)).toEqual(expect.arrayContaining(['/build/dist ./dist', '/build/package.json ./package.json']));
    // ADD can fetch URLs and unpack archives; nothing here needs it.
    expect(of(instructions, 'ADD')).toEqual([]);
    expect(text).not.toMatch(/^\s*ADD\s+https?:/im);
  });

  it('runs as a fixed non-root numeric user', () => {
    const users = of(finalStage, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = args(users.at(-1) as Instruction);
    expect(user).toMatch(/^\d+:\d+$/);
    const [uid, gid] = user.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    // The user and the data directory it owns are made with the same ids.
    const runs = of(finalStage, 'RUN').map(args).join('\n');
    expect(runs).toContain(`--uid ${uid}`);
    expect(runs).toContain(`--gid ${gid}`);
    expect(runs).toMatch(new RegExp(`install -d -o ${uid} -g ${gid} -m 0700 /var/lib/airlock`));
  });

  it('keeps all data under one volume, the data directory Airlock is told about', () => {
    const env = new Map(of(finalStage, 'ENV').flatMap((instruction) => (instruction as Env).getProperties().map((property) => [property.getName(), property.getValue()])));
    const volumes = of(finalStage, 'VOLUME').flatMap(execForm);
    expect(volumes).toEqual(['/var/lib/airlock']);
    expect(env.get('AIRLOCK_DATA_DIR')).toBe('/var/lib/airlock');
    // Reachable from outside the container, on the exposed port.
    expect(env.get('AIRLOCK_HOST')).toBe('0.0.0.0');
    expect(of(finalStage, 'EXPOSE').map(args)).toEqual(['5002']);
    expect(env.get('AIRLOCK_PORT')).toBe('5002');
  });

  it('puts no secret in ENV or ARG', () => {
    const secretName = /secret|password|passwd|token|api_?key|private|credential|database_url|redis_url/i;
    for (const instruction of [...of(instructions, 'ENV'), ...of(instructions, 'ARG')]) {
      for (const property of (instruction as Env).getProperties()) {
        expect(property.getName(), args(instruction)).not.toMatch(secretName);
        expect(property.getValue() ?? '', args(instruction)).not.toMatch(/:\/\/[^/\s]*:[^/\s]*@/);
      }
    }
  });

  it('starts airlock serve under an init, stops on SIGTERM, and carries the OCI labels', () => {
    const entrypoint = execForm(of(finalStage, 'ENTRYPOINT').at(-1) as Instruction);
    expect(entrypoint.at(-1)).toBe('airlock');
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(execForm(of(finalStage, 'CMD').at(-1) as Instruction)[0]).toBe('serve');
    expect(of(finalStage, 'STOPSIGNAL').map(args)).toEqual(['SIGTERM']);
    // The `airlock` on PATH is the built CLI, which runs with node through its shebang.
    expect(of(finalStage, 'RUN').map(args).join('\n')).toContain('ln -s /opt/airlock/dist/cli/main.js /usr/local/bin/airlock');
    expect(readFileSync(CLI, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    const labels = new Map(of(finalStage, 'LABEL').flatMap((instruction) => (instruction as Label).getProperties().map((property) => [property.getName(), property.getValue()])));
    for (const name of ['title', 'description', 'licenses', 'version', 'revision']) expect(labels.has(`org.opencontainers.image.${name}`), name).toBe(true);
    expect(labels.get('org.opencontainers.image.licenses')).toBe(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).license);
  });

  describe('HEALTHCHECK', () => {
    const healthcheck = of(finalStage, 'HEALTHCHECK').at(-1);
    const command = healthcheck ? execForm(healthcheck) : [];

    it('asks /health with node (the slim image has no curl), on AIRLOCK_PORT', () => {
      expect(healthcheck).toBeDefined();
      expect(command[0]).toBe('node');
      expect(command.join(' ')).toContain("path:'/health'");
      expect(command.join(' ')).toContain('process.env.AIRLOCK_PORT');
    });

    /** Runs the HEALTHCHECK command as the engine would, with the container's AIRLOCK_PORT. */
    const probe = (port: string): Promise<number | null> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, command.slice(1), { env: cleanEnv({ AIRLOCK_PORT: port }), stdio: 'ignore' });
        child.on('error', reject);
        child.on('close', resolve);
      });

    it('passes against a running Airlock, fails where nothing listens', async () => {
      const cwd = tmpDir();
      const server = await spawnServer(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', join(cwd, 'data')], {
        cwd,
        env: cleanEnv({ AIRLOCK_BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD }),
      });
      expect(await probe(new URL(server.url).port)).toBe(0);
      server.signal('SIGTERM');
      expect(await server.exited).toBe(0);
      // The port the server had is closed now.
      expect(await probe(new URL(server.url).port)).toBe(1);
    });
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  it('denies everything first, then lets in exactly the build inputs', () => {
    expect(lines[0]).toBe('*');
    const allowed = lines.filter((line) => line.startsWith('!')).map((line) => line.slice(1));
    expect(allowed.sort()).toEqual(['package-lock.json', 'package.json', 'scripts', 'src', 'tsconfig.build.json', 'tsconfig.json', 'web']);
  });

  it('keeps node_modules, build output, data, keys and env files out even inside the allowed folders', () => {
    for (const pattern of ['**/node_modules', '**/dist', '**/.airlock', '**/.env', '**/.env.*', '**/*.pem', '**/coverage']) expect(lines).toContain(pattern);
  });
});
