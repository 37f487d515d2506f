import pg from 'pg';

/**
 * PostgreSQL tests run when AIRLOCK_TEST_DATABASE_URL is set. In CI they must run: a missing or
 * unreachable database fails the whole run instead of silently skipping half the tests.
 */
export default async function setup(): Promise<void> {
  const url = process.env.AIRLOCK_TEST_DATABASE_URL;
  if (!url) {
    if (process.env.CI) throw new Error('CI is set but AIRLOCK_TEST_DATABASE_URL is not: the PostgreSQL tests would be skipped');
    console.warn('AIRLOCK_TEST_DATABASE_URL is not set: running the SQLite tests only');
    return;
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new Error(`AIRLOCK_TEST_DATABASE_URL is set but PostgreSQL is unreachable: ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
