import type { Command, Option } from 'commander';

/**
 * Shell completion scripts drawn from the command tree itself, so they never drift from the
 * commands: groups, verbs, options (with descriptions for fish) and the choices an option takes.
 */
export interface CompletionNode {
  name: string;
  summary: string;
  options: Array<{ flags: string[]; summary: string; takesValue: boolean; choices: string[] }>;
  /** Fixed values of the first argument (`aj completion <shell>`), when there are some. */
  argumentChoices: string[];
  children: CompletionNode[];
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

export function completionTree(command: Command): CompletionNode {
  const argument = (command as unknown as { registeredArguments?: Array<{ argChoices?: string[] }> }).registeredArguments?.[0];
  return {
    name: command.name(),
    summary: command.summary() || command.description().split('\n')[0] || '',
    options: (command.options as Option[]).filter((o) => !o.hidden).map((o) => ({
      flags: [o.short, o.long].filter((f): f is string => Boolean(f)),
      summary: o.description,
      takesValue: o.required || o.optional,
      choices: o.argChoices ?? [],
    })),
    argumentChoices: argument?.argChoices ?? [],
    children: command.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map(completionTree),
  };
}

export function completionScript(shell: Shell, root: CompletionNode): string {
  if (shell === 'fish') return fishScript(root);
  const bash = bashScript(root);
  if (shell === 'bash') return bash;
  return `#compdef aj\n# aj completion for zsh: the bash completion through zsh's bashcompinit.\n# Install: aj completion zsh > "\${fpath[1]}/_aj", or add to ~/.zshrc: source <(aj completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

function bashScript(root: CompletionNode): string {
  const wordCases: string[] = [];
  const valueCases: string[] = [];
  const takesValue: string[] = [];
  const words = (node: CompletionNode) => [...node.children.map((c) => c.name), ...node.argumentChoices, ...node.options.flatMap((o) => o.flags), '--help'].join(' ');
  const addNode = (path: string, node: CompletionNode) => {
    wordCases.push(`    ${quote(path)}) words=${quote(words(node))} ;;`);
    for (const o of node.options.filter((o) => o.takesValue)) {
      for (const flag of o.flags) {
        // aj's own options (--env-file ...) come before the group: they count wherever the word is.
        takesValue.push(quote(`${path}|${flag}`));
        const reply = o.choices.length > 0 ? `compgen -W ${quote(o.choices.join(' '))} -- "$cur"` : 'compgen -f -- "$cur"';
        valueCases.push(`    ${quote(`${path}|${flag}`)}) COMPREPLY=($(${reply})); return ;;`);
      }
    }
  };
  addNode('', root);
  for (const group of root.children) {
    addNode(group.name, group);
    for (const verb of group.children) addNode(`${group.name} ${verb.name}`, verb);
  }
  return `# aj completion for bash. Install: aj completion bash | sudo tee /etc/bash_completion.d/aj
# or add to ~/.bashrc: source <(aj completion bash)
_aj_takes_value() {
  case "$1" in
    ${takesValue.join('|')}) return 0 ;;
  esac
  return 1
}
_aj() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local path="" depth=0 i word words=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if _aj_takes_value "$path|$word" || _aj_takes_value "|$word"; then
      ((i++))
    elif [[ "$word" != -* ]] && ((depth < 2)); then
      path="\${path:+$path }$word"
      ((depth++))
    fi
  done
  if _aj_takes_value "$path|$prev"; then
    case "$path|$prev" in
${valueCases.filter((c) => !c.startsWith("    '|")).join('\n')}
    esac
  elif _aj_takes_value "|$prev"; then
    case "|$prev" in
${valueCases.filter((c) => c.startsWith("    '|")).join('\n')}
    esac
  fi
  case "$path" in
${wordCases.join('\n')}
  esac
  if [[ -n "$words" ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
  ((\${#COMPREPLY[@]} == 0)) && COMPREPLY=($(compgen -f -- "$cur"))
  return 0
}
complete -F _aj aj
`;
}

function fishScript(root: CompletionNode): string {
  const lines = ['# aj completion for fish. Install: aj completion fish > ~/.config/fish/completions/aj.fish', 'complete -c aj -f'];
  const optionLines = (condition: string, node: CompletionNode) => {
    for (const o of node.options) {
      const short = o.flags.find((f) => /^-[^-]$/.test(f));
      const long = o.flags.find((f) => f.startsWith('--'));
      const parts = [`complete -c aj -n ${quote(condition)}`];
      if (short) parts.push(`-s ${short.slice(1)}`);
      if (long) parts.push(`-l ${long.slice(2)}`);
      if (o.takesValue) parts.push(o.choices.length ? `-x -a ${quote(o.choices.join(' '))}` : '-r -F');
      parts.push(`-d ${quote(o.summary)}`);
      lines.push(parts.join(' '));
    }
  };
  optionLines('true', root);
  for (const group of root.children) {
    lines.push(`complete -c aj -n '__fish_use_subcommand' -a ${quote(group.name)} -d ${quote(group.summary)}`);
    const verbs = group.children.map((c) => c.name).join(' ');
    const inGroup = `__fish_seen_subcommand_from ${group.name}`;
    for (const value of group.argumentChoices) lines.push(`complete -c aj -n ${quote(inGroup)} -a ${quote(value)}`);
    optionLines(verbs ? `${inGroup}; and not __fish_seen_subcommand_from ${verbs}` : inGroup, group);
    for (const verb of group.children) {
      lines.push(`complete -c aj -n ${quote(`${inGroup}; and not __fish_seen_subcommand_from ${verbs}`)} -a ${quote(verb.name)} -d ${quote(verb.summary)}`);
      const inVerb = `${inGroup}; and __fish_seen_subcommand_from ${verb.name}`;
      for (const value of verb.argumentChoices) lines.push(`complete -c aj -n ${quote(inVerb)} -a ${quote(value)}`);
      optionLines(inVerb, verb);
      // Arguments that are paths (a CSV file, a PDF) complete as files.
      lines.push(`complete -c aj -n ${quote(inVerb)} -F`);
    }
  }
  return `${lines.join('\n')}\n`;
}
