/** The `orchestra` command line. Every error reaches the user as a message and an exit code. */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/issues.js';
import { UsageError } from './errors.js';
import { up } from './up.js';
import { validate } from './validate.js';

const DEFAULT_FILE = 'orchestra.yaml';

function program(): Command {
  const cmd = new Command('orchestra')
    .description('Supervise a crew of interactive AI coding agents in real PTYs, with a ZeroMQ event bus.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cmd
    .command('up')
    .description('start every agent of the config and supervise them until Ctrl-C or SIGTERM')
    .argument('[file]', 'config file', DEFAULT_FILE)
    .option('--no-output', "do not print agents' output (state changes are still shown)")
    .option('--await-subscriber', 'start agents only once a bus subscriber has connected (at most 10s), so a monitor misses nothing')
    .action(async (file: string, o: { output: boolean; awaitSubscriber?: boolean }) => {
      process.exitCode = await up({ file, output: o.output, awaitSubscriber: o.awaitSubscriber === true });
    });

  cmd
    .command('validate')
    .description('check a config file and print "ok" or every error with file:line:col')
    .argument('[file]', 'config file', DEFAULT_FILE)
    .action((file: string) => {
      process.exitCode = validate(file, process.stdout);
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
