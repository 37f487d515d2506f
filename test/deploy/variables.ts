import { ENV_BINDINGS } from '../../src/config/load.js';

/** AIRLOCK_CONFIG names the file and is read before the bindings. */
const KNOWN = new Set([...ENV_BINDINGS.flatMap((binding) => binding.names.filter((name) => name.startsWith('AIRLOCK_'))), 'AIRLOCK_CONFIG']);

/** Whether Airlock reads an AIRLOCK_* variable of this name (a typo would be silently ignored). */
export function knownVariable(name: string): boolean {
  return KNOWN.has(name);
}
