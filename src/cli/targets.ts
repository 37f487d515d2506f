import type { Command } from 'commander';
import type { Target, TargetRegistry } from '../targets/index.js';
import { withJson, type JsonShape } from './json-doc.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { color, ExitCode, print, printJson, table } from './output.js';

const TARGET_JSON: JsonShape = {
  shape: 'object',
  fields: ['id', 'executor', 'description', 'environments', 'capabilities', 'constraints', 'segment', 'mode'],
  optional: ['workspace'],
  note: 'constraints holds timeout, concurrency, output_cap, shell, sudo_policy and sudo_allow',
};

async function registryOf(flags: ConfigFlags): Promise<TargetRegistry> {
  const config = await configFromFlags(flags);
  const { TargetRegistry } = await import('../targets/index.js');
  return new TargetRegistry(config);
}

function constraintsOf(target: Target): string {
  return `timeout ${target.timeoutSeconds}s, concurrency ${target.concurrency}, shell ${target.shellAllowed ? 'yes' : 'no'}, sudo ${target.sudoPolicy}${target.mode === 'shadow' ? ', SHADOW' : ''}`;
}

/** `airlock targets list|show|check`: the registry as this machine's configuration defines it. */
export function registerTargetCommands(program: Command): void {
  const targets = program.command('targets').description('the target registry (targets.yaml, or the built-in local target)');

  withJson(withConfigOptions(targets.command('list')), { ...TARGET_JSON, shape: 'array' })
    .description('list the targets, their environments, capabilities and constraints')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const registry = await registryOf(flags);
      const { targetView } = await import('../targets/index.js');
      if (flags.json) return printJson(registry.list().map(targetView));
      print(`source: ${registry.current().source}${registry.current().sha256 ? ` (sha256 ${registry.current().sha256})` : ''}`);
      const lines = table(registry.list(), [
        { header: 'ID', value: (target) => target.id },
        { header: 'EXECUTOR', value: (target) => target.executor },
        { header: 'ENVIRONMENTS', value: (target) => target.environments.join(',') },
        { header: 'CAPABILITIES', value: (target) => target.capabilities.join(',') },
        { header: 'CONSTRAINTS', value: constraintsOf },
      ]);
      for (const line of lines) print(line);
    });

  withJson(withConfigOptions(targets.command('show')), TARGET_JSON)
    .description('show one target as the gate sees it (never its credentials)')
    .argument('<id>')
    .action(async (id: string, flags: ConfigFlags & { json?: boolean }) => {
      const registry = await registryOf(flags);
      const { targetView } = await import('../targets/index.js');
      const target = registry.require(id);
      if (flags.json) return printJson(targetView(target));
      print(`target ${color.bold(target.id)} (${target.executor})`);
      if (target.description) print(`  description   ${target.description}`);
      print(`  environments  ${target.environments.join(', ')}`);
      print(`  capabilities  ${target.capabilities.join(', ')}`);
      print(`  constraints   ${constraintsOf(target)}, output cap ${target.outputCapBytes} bytes${target.sudoAllow.length > 0 ? `, sudo allows ${target.sudoAllow.join(', ')}` : ''}`);
      if (target.segment) print(`  segment       ${target.segment}`);
      if (target.workspaceId) print(`  workspace     ${target.workspaceId}`);
    });

  withJson(withConfigOptions(targets.command('check')), {
    shape: 'array',
    fields: ['id', 'executor', 'reachable', 'detail'],
    optional: ['hostKey', 'engineVersion', 'latencyMs'],
    note: 'hostKey (match or mismatch) for SSH targets, engineVersion for container engines',
  })
    .description('connect to each target and report reachability, host-key match and engine version; exit 1 if any fails')
    .argument('[ids...]', 'only these targets')
    .action(async (ids: string[], flags: ConfigFlags & { json?: boolean }) => {
      const registry = await registryOf(flags);
      const { checkTarget } = await import('../targets/index.js');
      const chosen = ids.length > 0 ? ids.map((id) => registry.require(id)) : registry.list();
      const results = [];
      for (const target of chosen) {
        results.push({ id: target.id, executor: target.executor, ...(await checkTarget(target)) });
      }
      if (flags.json) printJson(results);
      else {
        for (const result of results) {
          const extras = [result.hostKey ? `host key ${result.hostKey}` : '', result.engineVersion ? `engine ${result.engineVersion}` : ''].filter(Boolean).join(', ');
          print(`${result.reachable ? color.green('OK  ') : color.red('FAIL')} ${result.id.padEnd(20)} ${result.detail}${extras ? ` (${extras})` : ''}`);
        }
      }
      if (results.some((result) => !result.reachable || result.hostKey === 'mismatch')) process.exitCode = ExitCode.Failed;
    });
}
