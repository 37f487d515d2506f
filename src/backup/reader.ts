import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { ZodType } from 'zod';
import { AirlockError, messageOf } from '../errors.js';
import { BACKUP_FORMAT, End, FORMAT_VERSION, Header, SealedKeys, TableEnd, TableStart, isValue, type Value } from './format.js';

/** A line longer than this is not one a backup writes (a row holds at most an execution's capped output). */
const MAX_LINE = 256 * 1024 * 1024;
/** Rows handed to the visitor at once. */
const BATCH = 500;

export interface BackupVisitor {
  header?(header: Header): void | Promise<void>;
  keys?(sealed: SealedKeys): void | Promise<void>;
  /** Rows of one table, in file order, a batch at a time; awaited before more is read. */
  rows?(table: Header['tables'][number], rows: Value[][]): void | Promise<void>;
}

export function corrupt(file: string, why: string, cause?: unknown): AirlockError {
  return new AirlockError('backup_corrupt', `${file} is not a whole Airlock backup: ${why}; nothing was restored`, cause === undefined ? {} : { cause });
}

/** The file's lines, uncompressed, as raw bytes without their newline; the last line must end with one. */
async function* lines(file: string): AsyncGenerator<Buffer> {
  const gunzip = createGunzip();
  const input = createReadStream(file);
  input.on('error', (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  let rest: Buffer[] = [];
  let restSize = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let start = 0;
      for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, newline);
        yield restSize === 0 ? piece : Buffer.concat([...rest, piece]);
        rest = [];
        restSize = 0;
        start = newline + 1;
      }
      if (start < chunk.length) {
        rest.push(chunk.subarray(start));
        restSize += chunk.length - start;
        if (restSize > MAX_LINE) throw corrupt(file, 'a line is longer than any backup writes');
      }
    }
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AirlockError('backup_not_found', `no backup file ${file}`);
    if (code === 'EACCES' || code === 'EISDIR') throw new AirlockError('backup_unreadable', `cannot read ${file}: ${code}`);
    throw corrupt(file, `its compressed data is damaged (${messageOf(error)})`, error);
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  if (restSize > 0) throw corrupt(file, 'it ends in the middle of a line (truncated)');
}

function parseLine<T>(file: string, number: number, bytes: Buffer, schema: ZodType<T>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw corrupt(file, `line ${number} is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw corrupt(file, `line ${number} is not ${what} (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  return parsed.data;
}

/**
 * Reads a backup from start to end, checking as it goes that every line is what the format says
 * comes next (header, keys when the header says so, each table of the header in order with exactly its
 * rows, the end line) and, at the end, that the content's sha256 matches the end line. The visitor sees
 * each part once checked; anything wrong throws `backup_corrupt` (or `backup_format_unsupported`).
 * Returns the content's sha256.
 */
export async function readBackup(file: string, visitor: BackupVisitor = {}): Promise<{ header: Header; sha256: string }> {
  const hash = createHash('sha256');
  let number = 0;
  let header: Header | undefined;
  let expectKeys = false;
  let tableIndex = 0;
  let table: Header['tables'][number] | undefined;
  let batch: Value[][] = [];
  let tableRows = 0;
  let ended: string | undefined;

  const flush = async (): Promise<void> => {
    if (batch.length === 0 || !table) return;
    const rows = batch;
    batch = [];
    await visitor.rows?.(table, rows);
  };

  for await (const bytes of lines(file)) {
    number += 1;
    if (ended !== undefined) throw corrupt(file, `there is data after the end line (line ${number})`);
    if (!header) {
      header = readHeader(file, bytes);
      expectKeys = header.keys.included;
      await visitor.header?.(header);
    } else if (expectKeys) {
      expectKeys = false;
      await visitor.keys?.(parseLine(file, number, bytes, SealedKeys, 'the sealed keys'));
    } else if (table) {
      if (bytes[0] === 0x5b /* [ */) {
        let row: unknown;
        try {
          row = JSON.parse(bytes.toString('utf8'));
        } catch {
          throw corrupt(file, `line ${number} (a row of ${table.name}) is not JSON`);
        }
        if (!Array.isArray(row) || row.length !== table.columns.length || !row.every(isValue)) {
          throw corrupt(file, `line ${number} is not a row of ${table.name} (${table.columns.length} strings, numbers or nulls)`);
        }
        batch.push(row as Value[]);
        tableRows += 1;
        if (batch.length >= BATCH) await flush();
      } else {
        const end = parseLine(file, number, bytes, TableEnd, `the end of table ${table.name}`);
        if (end.name !== table.name || end.rows !== tableRows || tableRows !== table.rows) {
          throw corrupt(file, `table ${table.name} has ${tableRows} rows where the header says ${table.rows} (line ${number})`);
        }
        await flush();
        table = undefined;
        tableRows = 0;
      }
    } else if (tableIndex < header.tables.length) {
      const start = parseLine(file, number, bytes, TableStart, `the start of table ${header.tables[tableIndex]?.name}`);
      const expected = header.tables[tableIndex] as Header['tables'][number];
      if (start.name !== expected.name || start.columns.join(',') !== expected.columns.join(',')) {
        throw corrupt(file, `line ${number} starts table ${start.name} where the header names ${expected.name} with other columns`);
      }
      table = expected;
      tableIndex += 1;
    } else {
      ended = parseLine(file, number, bytes, End, 'the end line').sha256;
      continue;
    }
    hash.update(bytes);
    hash.update('\n');
  }
  if (!header) throw corrupt(file, 'it is empty');
  if (ended === undefined) throw corrupt(file, 'it has no end line (truncated)');
  const sha256 = hash.digest('hex');
  if (sha256 !== ended) throw corrupt(file, `its content's sha256 is ${sha256}, the end line says ${ended}`);
  return { header, sha256 };
}

function readHeader(file: string, bytes: Buffer): Header {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw corrupt(file, 'its first line is not JSON');
  }
  const start = value as { type?: unknown; format?: unknown; format_version?: unknown } | null;
  if (start?.type !== 'header' || start.format !== BACKUP_FORMAT) throw new AirlockError('backup_format_unsupported', `${file} is not an Airlock backup (no ${BACKUP_FORMAT} header)`);
  if (start.format_version !== FORMAT_VERSION) {
    throw new AirlockError('backup_format_unsupported', `${file} is in backup format ${String(start.format_version)}; this Airlock reads format ${FORMAT_VERSION} (restore it with the Airlock version that made it)`);
  }
  const parsed = Header.safeParse(value);
  if (!parsed.success) throw corrupt(file, `its header is invalid (${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')})`);
  return parsed.data;
}
