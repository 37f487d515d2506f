import type { Dialect } from '../store/store.js';

/** Runs one statement with `?` placeholders on some connection of the dialect and returns its rows. */
export type Query = <Row>(text: string, parameters?: readonly unknown[]) => Promise<Row[]>;

export interface TableShape {
  /** In the table's own order. */
  readonly columns: string[];
  readonly primaryKey: string[];
}

/** `?` → `$1, $2, …` for PostgreSQL. */
export function placeholders(dialect: Dialect, text: string): string {
  let index = 0;
  return dialect === 'postgres' ? text.replace(/\?/g, () => `$${++index}`) : text;
}

/** A name checked by the caller (a backup table, a column of the catalog), quoted for SQL. */
export function quoted(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unexpected identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** The tables that exist (in PostgreSQL: in the current schema). */
export async function existingTables(dialect: Dialect, query: Query): Promise<Set<string>> {
  const rows =
    dialect === 'sqlite'
      ? await query<{ name: string }>("select name from sqlite_master where type = 'table'")
      : await query<{ name: string }>("select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'");
  return new Set(rows.map((row) => row.name));
}

export async function tableShape(dialect: Dialect, query: Query, table: string): Promise<TableShape> {
  if (dialect === 'sqlite') {
    const rows = await query<{ name: string; pk: number }>('select name, pk from pragma_table_info(?) order by cid', [table]);
    return { columns: rows.map((row) => row.name), primaryKey: rows.filter((row) => row.pk > 0).sort((a, b) => a.pk - b.pk).map((row) => row.name) };
  }
  const columns = await query<{ name: string }>(
    'select column_name as name from information_schema.columns where table_schema = current_schema() and table_name = $1 order by ordinal_position',
    [table],
  );
  const primaryKey = await query<{ name: string }>(
    `select a.attname as name from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
     where i.indrelid = to_regclass(quote_ident($1)) and i.indisprimary order by array_position(i.indkey::int2[], a.attnum)`,
    [table],
  );
  return { columns: columns.map((row) => row.name), primaryKey: primaryKey.map((row) => row.name) };
}

/** The migrations applied (Kysely's own table), in order; none when the database was never migrated. */
export async function migrationsOf(query: Query, tables: ReadonlySet<string>): Promise<string[]> {
  if (!tables.has('kysely_migration')) return [];
  return (await query<{ name: string }>('select name from kysely_migration order by name')).map((row) => row.name);
}
