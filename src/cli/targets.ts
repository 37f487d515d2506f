import type { Command } from 'commander';
import { TargetRegistry, checkTarget, targetView, type Target } from '../targets/index.js';
import { ExitCode, print } from './output.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';

function registryOf(flags: ConfigFlags): TargetRegistry {
  return new TargetRegistry(configFromFlags(flags));
}

function describe(target: Target): string {
  const constraints = `timeout ${target.timeoutSeconds}s, concurrency ${target.concurrency}, shell ${target.shellAllowed ? 'yes' : 'no'}, sudo ${target.sudoPolicy}`;
  return `${target.id.padEnd(20)} ${target.executor.padEnd(7)} ${target.environments.join(',').padEnd(16)} ${target.capabilities.join(',')}  (${constraints}${target.mode === 'shadow' ? ', SHADOW' : ''})`;
}

/** `airlock targets list|show|check`: the registry as this machine's configuration defines it. */
export function registerTargetCommands(program: Command): void {
  const targets = program.command('targets').description('the target registry (targets.yaml, or the built-in local target)');

  withConfigOptions(targets.command('list'))
    .description('list the targets, their environments, capabilities and constraints')
    .option('--json', 'print JSON')
    .action((flags: ConfigFlags & { json?: boolean }) => {
      const registry = registryOf(flags);
      if (flags.json) print(JSON.stringify(registry.list().map(targetView), null, 2));
      else {
        print(`source: ${registry.current().source}${registry.current().sha256 ? ` (sha256 ${registry.current().sha256})` : ''}`);
        for (const target of registry.list()) print(describe(target));
      }
    });

  withConfigOptions(targets.command('show'))
    .description('show one target as the gate sees it (never its credentials)')
    .argument('<id>')
    .action((id: string, flags: ConfigFlags) => {
      print(JSON.stringify(targetView(registryOf(flags).require(id)), null, 2));
    });

  withConfigOptions(targets.command('check'))
    .description('connect to each target and report reachability, host-key match and engine version; exit 1 if any fails')
    .argument('[ids...]', 'only these targets')
    .option('--json', 'print JSON')
    .action(async (ids: string[], flags: ConfigFlags & { json?: boolean }) => {
      const registry = registryOf(flags);
      const chosen = ids.length > 0 ? ids.map((id) => registry.require(id)) : registry.list();
      const results = [];
      for (const target of chosen) {
        results.push({ id: target.id, executor: target.executor, ...(await checkTarget(target)) });
      }
      if (flags.json) print(JSON.stringify(results, null, 2));
      else {
        for (const result of results) {
          const extras = [('hostKey' in result && result.hostKey) ? `host key ${result.hostKey}` : '', ('engineVersion' in result && result.engineVersion) ? `engine ${result.engineVersion}` : ''].filter(Boolean).join(', ');
          print(`${result.reachable ? 'OK  ' : 'FAIL'} ${result.id.padEnd(20)} ${result.detail}${extras ? ` (${extras})` : ''}`);
        }
      }
      if (results.some((result) => !result.reachable || ('hostKey' in result && result.hostKey === 'mismatch'))) process.exitCode = ExitCode.Failed;
    });
}
