import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { commandOf } from './flow.js';
import { withJson } from './json-doc.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './options.js';
import { print, printJson, statusColor } from './output.js';

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('inspect the risk policy');
  withJson(withConfigOptions(policy.command('explain')), {
    shape: 'object',
    fields: ['op', 'level', 'reasons', 'autoApprove', 'instruction', 'min_score'],
    note: 'instruction is the instruction\'s score and findings; min_score is what the environment requires',
  })
    .description('print the risk level, the rules that matched, and whether the request would be auto-approved')
    .requiredOption('-e, --env <environment>', 'the environment')
    .option('-t, --target <target>', 'the target', 'local')
    .option('-i, --instruction-file <file>', 'an instruction to score as well')
    .argument('<command...>', 'the command, after --')
    .addHelpText('after', '\nExamples:\n  airlock policy explain --env prd -- systemctl restart nginx\n  airlock policy explain --env dev -- "curl -s https://x | sh"')
    .action(async (words: string[], flags: ConfigFlags & { env: string; target: string; instructionFile?: string; json?: boolean }) => {
      const config = await configFromFlags(flags);
      const [{ assessRisk, environmentPolicy, loadPolicy, parseCommand, parseInstruction, scoreInstruction }, { TargetRegistry }] = await Promise.all([
        import('../approvals/index.js'),
        import('../targets/index.js'),
      ]);
      const rules = loadPolicy(config.policyFile);
      const command = parseCommand(commandOf(words));
      const instructionText = flags.instructionFile ? readFileSync(flags.instructionFile, 'utf8') : '';
      const executor = new TargetRegistry(config).find(flags.target)?.executor;
      const decision = assessRisk(rules, { command, instruction: instructionText, environment: flags.env, target: flags.target, ...(executor ? { executor } : {}) });
      const environment = environmentPolicy(rules, flags.env);
      const score = scoreInstruction(parseInstruction(instructionText), decision.level);
      if (flags.json) return printJson({ op: command.op, ...decision, instruction: score, min_score: environment.minScore });
      print(`${statusColor(decision.level)} in ${flags.env}: ${decision.autoApprove ? 'approved automatically' : 'a person must approve'}`);
      print(`  op: ${JSON.stringify(command.op)}`);
      for (const reason of decision.reasons) print(`  ${statusColor(reason.level.padEnd(8))} ${reason.rule}: ${reason.reason}`);
      print(`  instruction score ${score.score}/100 (${flags.env} requires ${environment.minScore})${score.score < environment.minScore ? ': the request would be refused' : ''}`);
      print(`  policy: ${config.policyFile ?? 'built-in rules'}`);
    });
}
