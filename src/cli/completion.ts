import { Argument, type Command } from 'commander';

/** One command of the tree as completion sees it: its subcommands, options and positional arguments. */
export interface CompletionNode {
  /** The words that lead to it after `airlock` ("" for the program itself, "users add"). */
  readonly path: string;
  readonly commands: ReadonlyArray<{ readonly name: string; readonly description: string }>;
  readonly options: ReadonlyArray<{ readonly flags: readonly string[]; readonly description: string; readonly takesValue: boolean; readonly choices: readonly string[] }>;
  readonly arguments: ReadonlyArray<{ readonly choices: readonly string[]; readonly variadic: boolean }>;
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

/** Every command of the program, walked from the root: what the completion scripts are made of. */
export function completionTree(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const walk = (command: Command, path: string): void => {
    nodes.push({
      path,
      commands: command.commands.map((sub) => ({ name: sub.name(), description: sub.description() })),
      options: [
        ...command.options
          .filter((option) => !option.hidden)
          .map((option) => ({
            flags: [option.short, option.long].filter((flag): flag is string => flag !== undefined),
            description: option.description,
            takesValue: option.required || option.optional,
            choices: option.argChoices ?? [],
          })),
        { flags: ['-h', '--help'], description: 'display help for command', takesValue: false, choices: [] },
      ],
      arguments: command.registeredArguments.map((argument) => ({ choices: argument.argChoices ?? [], variadic: argument.variadic })),
    });
    for (const sub of command.commands) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(program, '');
  return nodes;
}

/** A string in single quotes for bash, zsh and fish alike. */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Single quotes inside fish's single quotes are escaped with a backslash. */
function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The shell functions both bash and zsh read: the subcommands of a path, its options, whether an option
 * takes a value (printing its choices), and the choices of a positional argument.
 */
function sharedFunctions(nodes: readonly CompletionNode[], describe: boolean): string {
  const escape = (text: string): string => text.replace(/\\/g, '\\\\').replace(/:/g, '\\:').replace(/\s+/g, ' ');
  const item = (name: string, description: string): string => (describe ? `${name}:${escape(description)}` : name);
  const lines: string[] = [];
  lines.push('_airlock_commands() {', '  case "$1" in');
  for (const node of nodes.filter((candidate) => candidate.commands.length > 0)) {
    lines.push(`    ${quote(node.path)}) printf '%s\\n' ${node.commands.map((command) => quote(item(command.name, command.description))).join(' ')} ;;`);
  }
  lines.push('  esac', '}', '');
  lines.push('_airlock_options() {', '  case "$1" in');
  for (const node of nodes) {
    const flags = node.options.flatMap((option) => option.flags.map((flag) => quote(item(flag, option.description))));
    lines.push(`    ${quote(node.path)}) printf '%s\\n' ${flags.join(' ')} ;;`);
  }
  lines.push('  esac', '}', '');
  lines.push('# Succeeds when option $2 of command $1 takes a value, printing its choices (if it has any).');
  lines.push('_airlock_option_values() {', '  case "$1|$2" in');
  for (const node of nodes) {
    for (const option of node.options.filter((candidate) => candidate.takesValue)) {
      const patterns = option.flags.map((flag) => quote(`${node.path}|${flag}`)).join('|');
      lines.push(`    ${patterns}) ${option.choices.length > 0 ? `printf '%s\\n' ${option.choices.map(quote).join(' ')}; ` : ''}return 0 ;;`);
    }
  }
  lines.push('  esac', '  return 1', '}', '');
  lines.push('# The choices of positional argument $2 (counted from 0) of command $1.');
  lines.push('_airlock_argument_values() {', '  case "$1|$2" in');
  for (const node of nodes) {
    node.arguments.forEach((argument, index) => {
      if (argument.choices.length > 0) lines.push(`    ${quote(`${node.path}|${index}`)}) printf '%s\\n' ${argument.choices.map(quote).join(' ')} ;;`);
    });
  }
  lines.push('  esac', '}', '');
  return lines.join('\n');
}

/**
 * Finds the command being completed: walks the words before the cursor, descending into subcommands,
 * skipping options and the values they take, and counting positional arguments. `$words`/`$first`/`$last`
 * differ between bash (0-based COMP_WORDS) and zsh (1-based words).
 */
function pathWalk(words: string, first: string, last: string): string {
  return `  local cmdpath='' word i positional=0 after_dashes=0
  for ((i = ${first}; i < ${last}; i++)); do
    word="\${${words}[i]}"
    if [[ $after_dashes -eq 1 ]]; then continue; fi
    if [[ "$word" == "--" ]]; then after_dashes=1; continue; fi
    if [[ "$word" == -* ]]; then
      if [[ "$word" != *=* ]] && _airlock_option_values "$cmdpath" "$word" >/dev/null; then ((i++)); fi
      continue
    fi
    if [[ $positional -eq 0 ]] && _airlock_commands "$cmdpath" | cut -d: -f1 | grep -qxF -- "$word"; then
      cmdpath="\${cmdpath:+$cmdpath }$word"
    else
      ((positional++))
    fi
  done`;
}

function bashScript(nodes: readonly CompletionNode[]): string {
  return `# bash completion for airlock (made by \`airlock completion bash\`)
# Load it now with:   source <(airlock completion bash)
# or for good with:   airlock completion bash > ~/.local/share/bash-completion/completions/airlock

${sharedFunctions(nodes, false)}
_airlock() {
${pathWalk('COMP_WORDS', '1', 'COMP_CWORD')}
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" values
  COMPREPLY=()
  # After -- come the words of a command to run: leave them to the shell's own completion.
  if [[ $after_dashes -eq 1 ]]; then return 0; fi
  if [[ $COMP_CWORD -gt 1 && "$prev" == -* && "$prev" != *=* ]] && values="$(_airlock_option_values "$cmdpath" "$prev")"; then
    [[ -n "$values" ]] && COMPREPLY=($(compgen -W "$values" -- "$cur"))
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_airlock_options "$cmdpath")" -- "$cur"))
    return 0
  fi
  values="$(_airlock_commands "$cmdpath")"
  if [[ -n "$values" && $positional -eq 0 ]]; then
    COMPREPLY=($(compgen -W "$values" -- "$cur"))
    return 0
  fi
  values="$(_airlock_argument_values "$cmdpath" "$positional")"
  [[ -n "$values" ]] && COMPREPLY=($(compgen -W "$values" -- "$cur"))
  return 0
}

complete -o bashdefault -o default -F _airlock airlock
`;
}

function zshScript(nodes: readonly CompletionNode[]): string {
  return `#compdef airlock
# zsh completion for airlock (made by \`airlock completion zsh\`)
# Load it now with:   source <(airlock completion zsh)   (after compinit)
# or for good with:   airlock completion zsh > "\${fpath[1]}/_airlock"

${sharedFunctions(nodes, true)}
_airlock() {
${pathWalk('words', '2', 'CURRENT')}
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" values
  local -a items
  if [[ $after_dashes -eq 1 ]]; then _files; return; fi
  if [[ $CURRENT -gt 2 && "$prev" == -* && "$prev" != *=* ]] && values="$(_airlock_option_values "$cmdpath" "$prev")"; then
    if [[ -n "$values" ]]; then items=(\${(f)values}); compadd -a items; else _files; fi
    return
  fi
  if [[ "$cur" == -* ]]; then
    items=(\${(f)"$(_airlock_options "$cmdpath")"})
    _describe -t options 'option' items
    return
  fi
  values="$(_airlock_commands "$cmdpath")"
  if [[ -n "$values" && $positional -eq 0 ]]; then
    items=(\${(f)values})
    _describe -t commands 'command' items
    return
  fi
  values="$(_airlock_argument_values "$cmdpath" "$positional")"
  if [[ -n "$values" ]]; then items=(\${(f)values}); compadd -a items; else _files; fi
}

if [[ "\${funcstack[1]}" == "_airlock" ]]; then
  _airlock "$@"
else
  compdef _airlock airlock
fi
`;
}

function fishScript(nodes: readonly CompletionNode[]): string {
  const lines = [
    '# fish completion for airlock (made by `airlock completion fish`)',
    '# Load it now with:   airlock completion fish | source',
    '# or for good with:   airlock completion fish > ~/.config/fish/completions/airlock.fish',
    '',
    'function __airlock_subcommands',
    '    switch $argv[1]',
  ];
  for (const node of nodes.filter((candidate) => candidate.commands.length > 0)) {
    lines.push(`        case ${fishQuote(node.path)}`, `            printf '%s\\n' ${node.commands.map((command) => fishQuote(command.name)).join(' ')}`);
  }
  lines.push('    end', 'end', '');
  lines.push('# Succeeds when option $argv[2] of command $argv[1] takes a value.', 'function __airlock_takes_value', '    switch "$argv[1]|$argv[2]"');
  const valued = nodes.flatMap((node) => node.options.filter((option) => option.takesValue).flatMap((option) => option.flags.map((flag) => `${node.path}|${flag}`)));
  if (valued.length > 0) lines.push(`        case ${valued.map(fishQuote).join(' ')}`, '            return 0');
  lines.push('    end', '    return 1', 'end', '');
  lines.push(
    '# The command being completed: the subcommands typed so far, options and their values skipped.',
    'function __airlock_path',
    '    set -l words (commandline -opc)',
    '    set -e words[1]',
    "    set -l cmdpath ''",
    '    set -l skip 0',
    '    for word in $words',
    '        if test $skip -eq 1',
    '            set skip 0',
    '            continue',
    '        end',
    "        if test \"$word\" = '--'",
    '            break',
    '        end',
    "        if string match -q -- '-*' $word",
    "            if not string match -q -- '*=*' $word; and __airlock_takes_value \"$cmdpath\" $word",
    '                set skip 1',
    '            end',
    '            continue',
    '        end',
    '        if contains -- $word (__airlock_subcommands "$cmdpath")',
    "            set cmdpath (string trim -- \"$cmdpath $word\")",
    '        else',
    '            break',
    '        end',
    '    end',
    '    echo $cmdpath',
    'end',
    '',
    'function __airlock_at',
    '    set -l here (__airlock_path)',
    '    test "$here" = "$argv[1]"',
    'end',
    '',
    'complete -c airlock -e',
  );
  for (const node of nodes) {
    const at = `__airlock_at ${fishQuote(node.path)}`;
    for (const command of node.commands) {
      lines.push(`complete -c airlock -f -n ${fishQuote(at)} -a ${fishQuote(command.name)} -d ${fishQuote(command.description)}`);
    }
    for (const option of node.options) {
      const names = option.flags.map((flag) => (flag.startsWith('--') ? `-l ${fishQuote(flag.slice(2))}` : `-s ${fishQuote(flag.slice(1))}`)).join(' ');
      const value = option.takesValue ? (option.choices.length > 0 ? ` -x -a ${fishQuote(option.choices.join(' '))}` : ' -r') : '';
      lines.push(`complete -c airlock -n ${fishQuote(at)} ${names}${value} -d ${fishQuote(option.description)}`);
    }
    const choices = node.arguments[0]?.choices ?? [];
    if (choices.length > 0) lines.push(`complete -c airlock -f -n ${fishQuote(at)} -a ${fishQuote(choices.join(' '))}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The completion script of `shell` for the whole program tree. */
export function completionScript(program: Command, shell: Shell): string {
  const nodes = completionTree(program);
  return { bash: bashScript, zsh: zshScript, fish: fishScript }[shell](nodes);
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print the shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .addHelpText(
      'after',
      '\nThe script is printed, not installed (it is a script, so there is no --json). Examples:\n  source <(airlock completion bash)\n  airlock completion zsh > "${fpath[1]}/_airlock"\n  airlock completion fish > ~/.config/fish/completions/airlock.fish',
    )
    .action((shell: Shell, _flags: unknown, command: Command) => {
      let root = command;
      while (root.parent) root = root.parent;
      process.stdout.write(completionScript(root, shell));
    });
}
