/**
 * One argv as a POSIX shell command line: words of safe characters as they are, anything else in single
 * quotes. Shared by the server (how a request displays) and the client (how gate() states an argv), so
 * both write the same line; it imports nothing, so the client stays free of server code.
 */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}
