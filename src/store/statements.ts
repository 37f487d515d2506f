import { CompiledQuery, type Kysely } from 'kysely';
import { AirlockError, messageOf } from '../errors.js';
import { isConnectionError, type Dialect } from './store.js';
import type { Database } from './tables.js';

/** Where a statement runs: the store (outside a transaction) or a transaction; both have these two. */
export interface Queryable {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
}

/**
 * A hot-path statement, written once as parameterised SQL with `?` placeholders (PostgreSQL gets
 * `$1, $2, …`). Kysely builds and compiles a query object on every call, which costs about as much as
 * SQLite running the statement; these are compiled once and only bound to their parameters per call.
 * Text that differs by dialect (`for update`) is given per dialect. Never put values in the text.
 */
export class Statement<Row = unknown> {
  private readonly texts: Record<Dialect, string>;

  constructor(text: string | Record<Dialect, string>) {
    const texts = typeof text === 'string' ? { sqlite: text, postgres: text } : text;
    let index = 0;
    this.texts = { sqlite: texts.sqlite, postgres: texts.postgres.replace(/\?/g, () => `$${++index}`) };
  }

  /** The rows it returns (a select, or `returning`). */
  async rows(on: Queryable, parameters: readonly unknown[]): Promise<Row[]> {
    const result = await this.execute<Row>(on, parameters);
    return result.rows as Row[];
  }

  /** Runs the statement; losing the database is the one clear `store_unavailable` (503), as in transactions. */
  private async execute<R>(on: Queryable, parameters: readonly unknown[]) {
    try {
      return await on.db.executeQuery<R>(CompiledQuery.raw(this.texts[on.dialect], parameters as unknown[]));
    } catch (error) {
      if (isConnectionError(error)) throw new AirlockError('store_unavailable', `cannot reach the database: ${messageOf(error)}`, { status: 503, cause: error });
      throw error;
    }
  }

  async first(on: Queryable, parameters: readonly unknown[]): Promise<Row | undefined> {
    return (await this.rows(on, parameters))[0];
  }

  /** Runs it for its effect; the number of rows it changed. */
  async run(on: Queryable, parameters: readonly unknown[]): Promise<number> {
    const result = await this.execute(on, parameters);
    return Number(result.numAffectedRows ?? 0);
  }
}

/** Every column of a table, named once; the type refuses a list that leaves one out. */
export function allColumns<Table>() {
  return <const Columns extends readonly (keyof Table & string)[]>(...columns: Exclude<keyof Table, Columns[number]> extends never ? Columns : never): Columns => columns;
}

/** `insert into table ("c1", …) values (?, …), …` for `rows` rows, followed by `suffix`. */
export function insertStatement<Row = unknown>(table: keyof Database & string, columns: readonly string[], rows = 1, suffix = ''): Statement<Row> {
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  return new Statement<Row>(`insert into ${table} (${columns.map((column) => `"${column}"`).join(', ')}) values ${Array.from({ length: rows }, () => tuple).join(', ')}${suffix}`);
}
