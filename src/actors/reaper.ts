/**
 * A tiny watchdog process that outlives the supervisor. The supervisor tells it which process
 * groups exist; if the supervisor dies without cleaning up (SIGKILL, OOM), the reaper sees its
 * stdin close and SIGKILLs every group still listed. It runs in its own session, so a Ctrl-C
 * meant for the supervisor does not reach it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';

// "+PGID" adds a group, "-PGID" removes one; EOF means the supervisor is gone.
const SCRIPT = `
trap '' INT TERM HUP
groups=" "
while IFS= read -r line; do
  case "$line" in
    +*) groups="$groups\${line#+} " ;;
    -*) groups=$(printf '%s' "$groups" | sed "s/ \${line#-} / /") ;;
  esac
done
for g in $groups; do kill -9 "-$g" 2>/dev/null; done
`;

export class Reaper {
  private readonly child: ChildProcess;

  constructor() {
    this.child = spawn('/bin/sh', ['-c', SCRIPT], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    this.child.unref();
    (this.child.stdin as Socket | null)?.unref();
    this.child.stdin?.on('error', () => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  track(pgid: number): void {
    this.child.stdin?.write(`+${pgid}\n`);
  }

  untrack(pgid: number): void {
    this.child.stdin?.write(`-${pgid}\n`);
  }

  /** Clean exit: every group has been stopped and untracked already. */
  close(): void {
    this.child.stdin?.end();
  }
}
