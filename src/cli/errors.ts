/** Errors the CLI shows as a message and an exit code, never as a stack trace. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

/**
 * When stdout's reader goes away (`orchestra events | head`), a command ends quietly with exit 0
 * instead of an EPIPE stack trace. (Not for `up`: its agents keep running without stdout.)
 */
export function exitWhenStdoutGone(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    process.stderr.write(`orchestra: cannot write to standard output: ${err.message}\n`);
    process.exit(1);
  });
}
