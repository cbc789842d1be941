/**
 * `orchestra completion bash|zsh`: a completion script for the shell. Commands come from the
 * program itself; agent names from the hidden `orchestra __agents` (the running session's agents,
 * or the config's when nothing runs), asked with the `-f` files already on the command line.
 * zsh runs the bash function through bashcompinit (part of zsh).
 */
import { loadConfigFiles } from '../config/load.js';
import { UsageError } from './errors.js';
import { withSession } from './ops.js';
import { ask, runningInfo } from './session-client.js';

/** Commands whose arguments are agent names. */
const TAKES_AGENTS = ['up', 'logs', 'attach', 'send', 'interrupt', 'escape', 'stop', 'start', 'restart', 'events'];

function bash(commands: readonly string[]): string {
  return `# orchestra completion for bash: eval "$(orchestra completion bash)" (e.g. in ~/.bashrc)
_orchestra() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local i cmd="" files=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      --file) files+=(-f "\${COMP_WORDS[i+1]}"); i=$((i + 1)) ;;
      -f) if [[ $cmd != logs ]]; then files+=(-f "\${COMP_WORDS[i+1]}"); i=$((i + 1)); fi ;;
      -*) ;;
      *) [[ -z $cmd ]] && cmd="\${COMP_WORDS[i]}" ;;
    esac
  done
  if [[ $prev == --file || ($prev == -f && $cmd != logs) ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  case "$cmd" in
    "") COMPREPLY=($(compgen -W "${commands.join(' ')}" -- "$cur")) ;;
    ${TAKES_AGENTS.join('|')}) COMPREPLY=($(compgen -W "$(orchestra "\${files[@]}" __agents 2>/dev/null)" -- "$cur")) ;;
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;
    validate | config) COMPREPLY=($(compgen -f -- "$cur")) ;;
  esac
}
complete -F _orchestra orchestra
`;
}

function zsh(commands: readonly string[]): string {
  return `# orchestra completion for zsh: eval "$(orchestra completion zsh)" (e.g. in ~/.zshrc)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash(commands).split('\n').slice(1).join('\n')}`;
}

export function completion(shell: string, commands: readonly string[], out: NodeJS.WritableStream): number {
  if (shell === 'bash') out.write(bash(commands));
  else if (shell === 'zsh') out.write(zsh(commands));
  else throw new UsageError(`completion expects bash or zsh, got "${shell}"`);
  return 0;
}

/** The agents to complete: the running session's, else the config's. */
export async function completionAgents(files: readonly string[], out: NodeJS.WritableStream): Promise<number> {
  const config = loadConfigFiles(files);
  let names = config.agents.map((a) => a.name);
  if (runningInfo(config)) names = await withSession(files, async (s) => (await ask(s.client, 'ps', {}, 'ps', 2000)).agents.map((a) => a.name));
  out.write(names.map((n) => `${n}\n`).join(''));
  return 0;
}
