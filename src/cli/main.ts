/** The `orchestra` command line. Every error reaches the user as a message and an exit code. */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/issues.js';
import { exitWhenStdoutGone, UsageError } from './errors.js';
import { attach, parseDetachKey } from './attach.js';
import { doctor } from './doctor.js';
import { upDetached } from './detach.js';
import { KINDS } from '../bus/protocol.js';
import { events, parseKinds } from './events.js';
import { logs, parseLines } from './logs.js';
import { logsAll } from './logs-all.js';
import { down, key, lifecycle, ps, send } from './ops.js';
import { providerList, providerShow } from './provider.js';
import { up } from './up.js';
import { reload } from './reload.js';
import { loadConfigFiles } from '../config/load.js';
import { runningInfo } from './session-client.js';
import { parseDuration, parseSize } from '../config/duration.js';
import { validate } from './validate.js';
import { collectVar, session, spawn, worktrees } from './work.js';
import { collect, configFiles, isConfigPath, useColour } from './files.js';
import { printConfig, printSchema } from './config.js';
import { completion, completionAgents } from './completion.js';
import { listSessions } from './registry.js';
import { parseInteger, taskAdd, taskCancel, tasks } from './tasks.js';

function duration(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`${flag} expects a duration such as "500ms", "30s" or "5m", got "${text}"`);
  return ms;
}

function size(text: string, flag: string): number {
  const n = parseSize(text);
  if (n === undefined) throw new UsageError(`${flag} expects a size such as 4096 or "64KiB", got "${text}"`);
  return n;
}

function program(): Command {
  const cmd = new Command('orchestra')
    .description('Supervise a crew of interactive AI coding agents in real PTYs, with a ZeroMQ event bus.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  // `-f FILE` before the command applies to every command; after it, to all but `logs` (where -f
  // follows). Repeated, the files merge like compose's (later wins).
  cmd
    .enablePositionalOptions()
    .option('-f, --file <path>', 'config file of the session; repeat to merge several (default ./orchestra.yaml and ./orchestra.override.yaml)', collect)
    .option('--no-color', 'no colours in the output (also: the NO_COLOR environment variable)');
  const global = () => cmd.opts() as { file?: string[]; color: boolean };
  const fileOf = (o: { file?: string[] }) => configFiles(o.file ?? global().file ?? []);
  // `--no-color` before the command, or after `up` and `logs` (as compose takes it).
  const colour = (o: { color?: boolean }) => useColour(global().color && o.color !== false);
  // `up` handles a lost stdout itself (its agents keep running); every other command just ends.
  cmd.hook('preAction', (_program, action) => {
    if (action.name() !== 'up') exitWhenStdoutGone();
  });
  const withFile = (c: Command) => c.option('-f, --file <path>', 'config file of the session, repeatable (default ./orchestra.yaml)', collect);

  withFile(cmd.command('up'))
    .description('start every agent of the config (or only those named, with their dependencies) and supervise them until Ctrl-C or SIGTERM (or in the background with -d)')
    .argument('[file-or-agents...]', 'a config file (a path with "." or "/"; or -f), then agent names (default: all)')
    .option('-d, --detach', 'run in the background; return once every agent is ready (or busy), exit 1 naming each agent that is dead, blocked or late')
    .option('--wait-timeout <duration>', 'with -d: how long to wait for the agents to be ready', '60s')
    .option('--no-output', "do not print agents' output (state changes are still shown)")
    .option('--no-color', 'no colours in the output')
    .option('--await-subscriber', 'start agents only once a bus subscriber has connected (at most 10s), so a monitor misses nothing')
    .action(async (words: string[], o: { file?: string[]; output: boolean; color: boolean; awaitSubscriber?: boolean; detach?: boolean; waitTimeout: string }) => {
      const paths = words.filter(isConfigPath);
      const only = words.filter((w) => !isConfigPath(w));
      const files = fileOf({ file: paths.length > 0 ? [...(o.file ?? []), ...paths] : o.file });
      // As `docker compose up` on a running project: the changes are applied, the rest keeps running.
      const running = runningInfo(loadConfigFiles(files));
      if (running) {
        if (only.length > 0) throw new UsageError(`session is already running (pid ${running.pid}): \`orchestra up\` applies the whole config to it; to start stopped agents use: orchestra start ${only.join(' ')}`, 1);
        process.stderr.write(`orchestra: the session runs (pid ${running.pid}): applying the config to it\n`);
        process.exitCode = await reload(files, process.stdout, process.stderr);
        return;
      }
      if (o.detach) {
        process.exitCode = await upDetached(files, only, duration(o.waitTimeout, '--wait-timeout'), process.stderr);
        return;
      }
      process.exitCode = await up({ files, only, output: o.output, awaitSubscriber: o.awaitSubscriber === true, colour: colour(o) });
    });

  withFile(cmd.command('ps').alias('status'))
    .description('show every agent: state, pid, uptime, restarts, last output, last exit, queued input')
    .option('--json', 'one JSON object (the control reply) instead of the table; `agents: []` when nothing runs')
    .action(async (o: { file?: string[]; json?: boolean }) => {
      process.exitCode = await ps(fileOf(o), o.json === true, process.stdout);
    });

  cmd
    .command('logs')
    .description("print an agent's recent output (ring buffer, or its log file when nothing runs), or every agent's with prefixes; -f to follow")
    .argument('[agent]', 'one agent (default: all, each line prefixed with its name)')
    .option('-f, --follow', 'keep printing new output until Ctrl-C')
    .option('-n, --lines <n>', 'only the last N lines of the catch-up', parseLines)
    .option('--bytes <size>', 'only the last SIZE bytes of the catch-up (e.g. 4KiB)')
    .option('--strip', 'plain text: remove colours and every other escape sequence')
    .option('--screen', "the agent's rendered screen as text (like tmux capture-pane -p); -n N adds N lines above it")
    .option('--ansi', 'with --screen: keep colours and attributes')
    .option('--since <duration>', 'without an agent: only agents with output in the last DURATION (e.g. 10m), and live output from then on')
    .option('-t, --timestamps', 'without an agent: each live line starts with the time it was output (ISO 8601)')
    .option('--no-color', 'without an agent: no colours in the prefixes')
    .option('--file <path>', 'config file of the session, repeatable (default ./orchestra.yaml)', collect)
    .action(async (agent: string | undefined, o: { follow?: boolean; lines?: number; bytes?: string; strip?: boolean; screen?: boolean; ansi?: boolean; since?: string; timestamps?: boolean; color: boolean; file?: string[] }) => {
      const bytes = o.bytes === undefined ? undefined : size(o.bytes, '--bytes');
      if (o.ansi && !o.screen) throw new UsageError('--ansi goes with --screen (raw output keeps its colours already)');
      if (o.screen && (o.follow || o.strip || bytes !== undefined)) throw new UsageError('--screen prints the screen once: it does not go with -f, --strip or --bytes');
      if (agent === undefined) {
        if (o.screen) throw new UsageError('--screen shows one agent: name it');
        const sinceMs = o.since === undefined ? undefined : duration(o.since, '--since');
        process.exitCode = await logsAll(fileOf(o), { follow: o.follow === true, lines: o.lines, bytes, sinceMs, timestamps: o.timestamps === true, colour: colour(o) }, process.stdout);
        return;
      }
      if (o.since !== undefined || o.timestamps) throw new UsageError('--since and -t go with the logs of every agent (prefixed lines): leave out the agent name');
      const screen = o.screen ? (o.ansi ? 'ansi' : 'text') : undefined;
      process.exitCode = await logs(fileOf(o), agent, { follow: o.follow === true, lines: o.lines, bytes, strip: o.strip === true, screen }, process.stdout);
    });

  withFile(cmd.command('attach'))
    .description("connect your terminal to an agent's terminal; detach with Ctrl-] (or --detach-key)")
    .argument('<agent>')
    .option('--read-only', 'watch only: keystrokes are never sent')
    .option('--detach-key <key>', 'the key that detaches, e.g. ctrl-] or ctrl-q', 'ctrl-]')
    .action(async (agent: string, o: { file?: string[]; readOnly?: boolean; detachKey: string }) => {
      process.exitCode = await attach(fileOf(o), agent, { readOnly: o.readOnly === true, detachKey: parseDetachKey(o.detachKey) });
    });

  withFile(cmd.command('send'))
    .description('type text into an agent and submit it, once the agent is ready (exit 0 only if delivered)')
    .argument('<agent>')
    .argument('<text...>', 'the text (words are joined by spaces); "-" reads standard input')
    .option('--now', 'type at once, even while the agent is busy')
    .option('--wait-idle', 'wait until the agent is ready (the default)')
    .option('--timeout <duration>', 'give up when not delivered within this time', '30s')
    .option('--id <id>', 'correlation id for the bus `input` messages (default: generated)')
    .action(async (agent: string, text: string[], o: { file?: string[]; now?: boolean; waitIdle?: boolean; timeout: string; id?: string }) => {
      if (o.now && o.waitIdle) throw new UsageError('--now and --wait-idle exclude each other');
      process.exitCode = await send(fileOf(o), agent, text.join(' '), { now: o.now === true, timeoutMs: duration(o.timeout, '--timeout'), id: o.id }, process.stdout);
    });

  withFile(cmd.command('reload'))
    .description('apply the config to the running session: new agents start, removed ones stop, changed ones (and what depends on them) are recreated, the rest keep running')
    .action(async (o: { file?: string[] }) => {
      process.exitCode = await reload(fileOf(o), process.stdout, process.stderr);
    });

  withFile(cmd.command('spawn'))
    .description('start an ephemeral agent from a template in the running session; prints its name')
    .argument('<template>')
    .argument('[prompt...]', 'text for the agent ({{prompt}} in the template, or its prompt); "-" reads standard input')
    .option('--name <name>', 'the agent\'s name (default: the template\'s name and a short unique suffix)')
    .option('--var <name=value>', 'a value for a {{name}} placeholder (repeatable)', collectVar, {})
    .action(async (template: string, prompt: string[], o: { file?: string[]; name?: string; var: Record<string, string> }) => {
      process.exitCode = await spawn(fileOf(o), template, { name: o.name, vars: o.var, prompt }, process.stdout);
    });

  withFile(cmd.command('session'))
    .description("the agent of on-demand session ID, cold-started from its template when it does not run; prints its name once it is up")
    .argument('<id>', "the session's id, which names its agent")
    .argument('[prompt...]', 'sent to the agent once it is up, as orchestra send does; "-" reads standard input')
    .option('--template <name>', 'the template a cold start uses (default: the one it last started from, else sessions.template)')
    .option('--var <name=value>', 'a value for a {{name}} placeholder, for a cold start (repeatable)', collectVar, {})
    .option('--timeout <duration>', 'give up on the prompt when not delivered within this time', '30s')
    .action(async (id: string, prompt: string[], o: { file?: string[]; template?: string; var: Record<string, string>; timeout: string }) => {
      process.exitCode = await session(fileOf(o), id, { template: o.template, vars: o.var, prompt, timeoutMs: duration(o.timeout, '--timeout') }, process.stdout);
    });

  withFile(cmd.command('worktrees'))
    .description("list agents' git worktrees (live, and kept after reaping); --prune cleans up kept ones")
    .option('--prune', 'remove kept worktrees (branches with commits stay); refuses ones with uncommitted changes')
    .option('--force', 'with --prune: also remove worktrees with uncommitted changes, discarding them')
    .option('--json', 'one JSON object instead of the table')
    .action(async (o: { file?: string[]; prune?: boolean; force?: boolean; json?: boolean }) => {
      if (o.force && !o.prune) throw new UsageError('--force only goes with --prune');
      process.exitCode = await worktrees(fileOf(o), { prune: o.prune === true, force: o.force === true, json: o.json === true }, process.stdout);
    });

  const task = cmd.command('task').description('the task queue of the running session: add a task, cancel one (orchestra tasks shows them)');
  withFile(task.command('add'))
    .description('queue a task for a template (an agent spawned per task) or a pool (sent to its first ready agent); prints its id')
    .argument('<prompt...>', 'the task (words are joined by spaces)')
    .option('--template <name>', 'spawn an ephemeral agent from this template for the task')
    .option('--pool <name>', 'send the task to the first ready agent of this pool')
    .option('--priority <n>', 'lower runs first (default 0; negative allowed)', parseInteger('--priority'))
    .option('--key <key>', 'refuse the task while another with this key is queued or running')
    .option('--var <name=value>', 'a value for a {{name}} placeholder of the template (repeatable)', collectVar, {})
    .option('--attempts <n>', "tries before the task fails (default: the template's or pool's attempts:, else 1)", parseInteger('--attempts'))
    .action(async (prompt: string[], o: { file?: string[]; template?: string; pool?: string; priority?: number; key?: string; var: Record<string, string>; attempts?: number }) => {
      process.exitCode = await taskAdd(fileOf(o), prompt.join(' '), { template: o.template, pool: o.pool, priority: o.priority, key: o.key, vars: o.var, attempts: o.attempts }, process.stdout);
    });
  withFile(task.command('cancel'))
    .description('take a task out of the queue, or stop the agent running it')
    .argument('<id>')
    .action(async (id: string, o: { file?: string[] }) => {
      process.exitCode = await taskCancel(fileOf(o), id, process.stdout);
    });
  withFile(cmd.command('tasks'))
    .description('the task queue: running, queued (and why they wait), recent results, counts')
    .option('--json', 'one JSON object (the control reply) instead of the text')
    .option('-n, --recent <n>', 'finished tasks to show, newest first', parseLines, 20)
    .action(async (o: { file?: string[]; json?: boolean; recent: number }) => {
      process.exitCode = await tasks(fileOf(o), o.json === true, o.recent, process.stdout);
    });

  for (const [name, what] of [
    ['interrupt', 'press Ctrl-C in the agent (a byte into its PTY, not a signal)'],
    ['escape', 'press Escape in the agent (unless input.escape is false)'],
  ] as const) {
    withFile(cmd.command(name))
      .description(what)
      .argument('<agent>')
      .action(async (agent: string, o: { file?: string[] }) => {
        process.exitCode = await key(fileOf(o), agent, name, process.stdout);
      });
  }

  for (const [name, what] of [
    ['stop', 'stop agents on purpose: they stay stopped (never restarted by policy) until started (default: all, dependents first)'],
    ['start', 'start stopped or dead agents again (with a fresh restart budget) (default: all)'],
    ['restart', 'stop, then start agents (default: all)'],
  ] as const) {
    withFile(cmd.command(name))
      .description(what)
      .argument('[agents...]')
      .action(async (agents: string[], o: { file?: string[] }) => {
        process.exitCode = await lifecycle(fileOf(o), name, agents, process.stdout);
      });
  }

  withFile(cmd.command('events'))
    .description('watch the bus: state changes, exits, restart decisions, inputs, sidecar events (all agents, or those named) until Ctrl-C')
    .argument('[agents...]', 'only these agents (default: all)')
    // One value per flag (repeat it, or give a comma list): a variadic option would swallow the agent names after it.
    .option('-k, --kind <kinds>', `only these kinds, repeated or comma-separated (${KINDS.join(', ')}; default: all but output)`, (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--json', 'one JSON object per line (output bytes as UTF-8 text, or data_base64 when not UTF-8)')
    .option('-n, --catch-up <n>', 'first print the last N sidecar events kept per agent', parseLines, 0)
    .option('--once', 'print the catch-up and exit instead of following')
    .action(async (agents: string[], o: { file?: string[]; kind: string[]; json?: boolean; catchUp: number; once?: boolean }) => {
      const opts = { agents, kinds: parseKinds(o.kind), json: o.json === true, catchUp: o.catchUp, once: o.once === true };
      process.exitCode = await events(fileOf(o), opts, process.stdout);
    });

  withFile(cmd.command('down'))
    .description('stop every agent in reverse dependency order and end the supervisor (nothing running: a note, exit 0)')
    .action(async (o: { file?: string[] }) => {
      process.exitCode = await down(fileOf(o), process.stdout);
    });

  withFile(cmd.command('validate'))
    .description('check a config (every agent\'s command on PATH too) and print "ok" or every error with file:line:col')
    .argument('[file]', 'config file (or -f)')
    .action((file: string | undefined, o: { file?: string[] }) => {
      process.exitCode = validate(fileOf({ file: file ? [file] : o.file }), process.stdout);
    });

  withFile(cmd.command('config'))
    .description('print the resolved config (files merged, defaults applied) as YAML')
    .argument('[file]', 'config file (or -f)')
    .option('--json', 'JSON instead of YAML')
    .action((file: string | undefined, o: { file?: string[]; json?: boolean }) => {
      process.exitCode = printConfig(fileOf({ file: file ? [file] : o.file }), o.json === true, process.stdout);
    });

  cmd
    .command('schema')
    .description('print the JSON Schema of the config file (for editors: # yaml-language-server: $schema=...)')
    .action(() => {
      process.exitCode = printSchema(process.stdout);
    });

  cmd
    .command('ls')
    .description('list the sessions running on this machine: name, config, pid, agents, uptime')
    .option('--json', 'a JSON list instead of the table')
    .action((o: { json?: boolean }) => {
      process.exitCode = listSessions(o.json === true, process.stdout);
    });

  cmd
    .command('completion')
    .description('print a shell completion script (bash or zsh); it completes commands and the agents of the running session')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      process.exitCode = completion(shell, cmd.createHelp().visibleCommands(cmd).map((c) => c.name()), process.stdout);
    });
  // For the completion scripts: the agent names of the session, one a line; silent on any error.
  withFile(cmd.command('__agents', { hidden: true })).action(async (o: { file?: string[] }) => {
    process.exitCode = await completionAgents(fileOf(o), process.stdout);
  });

  cmd
    .command('doctor')
    .description('each agent CLI: where it is installed, its version, whether the preset was checked against it, whether it is logged in (no request sent)')
    .option('--json', 'a JSON list instead of the table')
    .action(async (o: { json?: boolean }) => {
      process.exitCode = await doctor(o.json === true, process.stdout);
    });

  const provider = cmd.command('provider').description('the provider presets (claude, codex, gemini, …): list them, or print one to copy');
  provider
    .command('list')
    .description('each preset: name, the CLI versions its signatures were checked against, description')
    .action(() => {
      process.exitCode = providerList(process.stdout);
    });
  provider
    .command('show')
    .description('print a preset file as it is, to read or copy into a config')
    .argument('<name>')
    .action((name: string) => {
      process.exitCode = providerShow(name, process.stdout);
    });

  return cmd;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`orchestra: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`orchestra: unexpected error: ${(err as Error).message}\n(details: ${(err as Error).stack?.split('\n')[1]?.trim() ?? 'none'})\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
