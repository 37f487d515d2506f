import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { backupLines, rewriteBackup, sourceStore, untouched } from '../helpers/backup.js';
import { runCli } from '../helpers/cli.js';
import { createDatabase, storeKinds } from '../helpers/databases.js';
import { tmpDir } from '../helpers/tmp.js';

type Edit = (lines: string[]) => string[];

/** The first row of the users table, and the first audit event, among a backup's lines. */
const usersRow = (lines: string[]) => lines.findIndex((line, index) => index > 0 && (lines[index - 1] ?? '').includes('"name":"users"') && line.startsWith('['));
const eventRow = (lines: string[]) => lines.findIndex((line) => line.includes('"test.event"'));
const editLine = (find: (lines: string[]) => number, replace: (line: string) => string): Edit => (lines) => {
  const at = find(lines);
  return lines.map((line, index) => (index === at ? replace(line) : line));
};

/** How each kind of damage is made from a good backup (its bytes, its path), and what restore says of it. */
const DAMAGE: Array<{ what: string; make: (good: Buffer, goodFile: string, out: string) => void; error: RegExp }> = [
  {
    what: 'a flipped byte',
    make: (good, _file, out) => {
      const flipped = Buffer.from(good);
      const middle = Math.floor(flipped.length / 2);
      flipped[middle] = (flipped[middle] as number) ^ 0x55;
      writeFileSync(out, flipped);
    },
    error: /not a whole Airlock backup: .*\[backup_corrupt\]/,
  },
  { what: 'a truncated file', make: (good, _file, out) => writeFileSync(out, good.subarray(0, good.length - 40)), error: /\[backup_corrupt\]/ },
  { what: 'a file that is not gzip', make: (_good, file, out) => writeFileSync(out, backupLines(file).join('\n')), error: /compressed data is damaged.*\[backup_corrupt\]/ },
  { what: 'a file that is not a backup', make: (_good, _file, out) => writeFileSync(out, gzipSync('{"hello":"world"}\n')), error: /is not an Airlock backup .*\[backup_format_unsupported\]/ },
  {
    // gzip is intact; the content differs from what the end line hashed.
    what: 'content changed under its checksum',
    make: (_good, file, out) => rewriteBackup(file, out, editLine(usersRow, (line) => line.replace('dana', 'mallory')), { reseal: false }),
    error: /content's sha256 is [0-9a-f]{64}, the end line says [0-9a-f]{64}.*\[backup_corrupt\]/,
  },
  {
    // The checksum recomputed too: the chain's own hashes still give the edit away.
    what: 'an audit event rewritten and the checksum recomputed',
    make: (_good, file, out) => rewriteBackup(file, out, editLine(eventRow, (line) => line.replace(/event (\d+)/, 'event 999')), { reseal: true }),
    error: /audit chain in .* does not hold at seq \d+: hash does not match.*\[backup_chain_broken\]/,
  },
  {
    what: 'a row removed and the checksum recomputed',
    make: (_good, file, out) => rewriteBackup(file, out, (lines) => lines.filter((_, index) => index !== usersRow(lines)), { reseal: true }),
    error: /table users has \d+ rows where the header says \d+.*\[backup_corrupt\]/,
  },
  {
    // A table outside the store's own, e.g. the migrations table: restoring it would forge the schema's history.
    what: 'a table that is not Airlock\'s',
    make: (_good, file, out) =>
      rewriteBackup(
        file,
        out,
        (lines) => {
          const header = JSON.parse(lines[0] as string);
          header.tables.push({ name: 'kysely_migration', columns: ['name', 'timestamp'], rows: 1 });
          const section = ['{"type":"table","name":"kysely_migration","columns":["name","timestamp"]}', '["0999_forged","2026-01-01T00:00:00.000Z"]', '{"type":"table_end","name":"kysely_migration","rows":1}'];
          return [JSON.stringify(header), ...lines.slice(1, -1), ...section, lines.at(-1) as string];
        },
        { reseal: true },
      ),
    error: /names tables that are not Airlock's, or one twice \(kysely_migration\).*\[backup_corrupt\]/,
  },
  {
    what: 'a newer format',
    make: (_good, file, out) => rewriteBackup(file, out, editLine(() => 0, (line) => line.replace('"format_version":1', '"format_version":2')), { reseal: true }),
    error: /backup format 2; this Airlock reads format 1.*\[backup_format_unsupported\]/,
  },
  {
    what: 'a schema this version does not know',
    make: (_good, file, out) => rewriteBackup(file, out, editLine(() => 0, (line) => line.replace(/("migrations":\[[^\]]*)\]/, '$1,"0999_future"]')), { reseal: true }),
    error: /schema 0999_future .* does not know.*\[backup_schema_newer\]/,
  },
];

describe.each(storeKinds())('a damaged backup, restored into %s', (kind) => {
  let source: Awaited<ReturnType<typeof sourceStore>>;
  let good: string;
  let cwd: string;
  beforeAll(async () => {
    source = await sourceStore(kind);
    cwd = tmpDir();
    good = join(cwd, 'good.backup');
    const made = await runCli(['backup', '--out', good, '--data-dir', source.dataDir, '--database-url', source.database.url], { cwd });
    expect(made.code, made.stderr).toBe(0);
  }, 120_000);

  it.each(DAMAGE)('refuses $what with a clear code, before anything is written', { timeout: 120_000 }, async ({ what, make, error }) => {
    const file = join(cwd, `${what.replace(/\W+/g, '-')}.backup`);
    make(readFileSync(good), good, file);
    const target = await createDatabase(kind);
    const refused = await runCli(['restore', '--in', file, '--data-dir', source.dataDir, '--database-url', target.url], { cwd });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(error);
    expect(refused.stderr).not.toMatch(/^\s+at /m);
    expect(await untouched(target)).toBe(true);
  });

  it('restores the good file it was made from', async () => {
    const target = await createDatabase(kind);
    const restored = await runCli(['restore', '--in', good, '--data-dir', source.dataDir, '--database-url', target.url], { cwd });
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/audit head 24 [0-9a-f]{64} \(24 events' links and hashes checked\)/);
  }, 120_000);
});
