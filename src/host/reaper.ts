/**
 * A tiny watchdog process that outlives the supervisor. The supervisor tells it which agent
 * sessions exist and its run id; if the supervisor dies without cleaning up (SIGKILL, OOM), the
 * reaper sees its stdin close and SIGKILLs the agents' processes, by the same rules as
 * process-group.ts: every process of a listed session, and every process whose environment
 * carries this run's `ORCHESTRA_RUN` (processes that left their agent's session). It runs in its
 * own session, so a Ctrl-C meant for the supervisor does not reach it.
 *
 * It cannot use termination.ts, the sequence every other stop path runs: it acts once the Node
 * process is gone, so it is a program of its own, in sh. It runs only that sequence's last two
 * steps, kill → verify (sweeps until none is found), as a forced stop would: nobody is left to
 * wait out a grace period.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';

// "+SID RUN" adds a session, "-SID" removes one; EOF means the supervisor is gone. Then sweeps
// /proc until a sweep finds nothing (a process forking during a sweep is caught by the next one),
// at most 50 times, 50ms apart (a killed process needs a moment to become a zombie). Zombies are skipped: they run nothing, and their environ reads empty.
const SCRIPT = `
trap '' INT TERM HUP
sids=" "
run=
while IFS= read -r line; do
  case "$line" in
    +*) set -- \${line#+}; sids="$sids$1 "; run=\${2:-$run} ;;
    -*) x=" \${line#-} "; case "$sids" in *"$x"*) sids="\${sids%%"$x"*} \${sids#*"$x"}" ;; esac ;;
  esac
done
sweep() {
  found=
  for s in $sids; do kill -9 "-$s" 2>/dev/null; done
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    [ "$p" = "$$" ] && continue
    { read -r st < "$d/stat"; } 2>/dev/null || continue
    set -- \${st##*) }
    [ "$1" = Z ] && continue
    case "$sids" in *" $4 "*) kill -9 "$p" 2>/dev/null && found=1 ;; esac
  done
  [ -n "$run" ] || return 0
  for f in $(grep -lzx "ORCHESTRA_RUN=$run" /proc/[0-9]*/environ 2>/dev/null); do
    p=\${f#/proc/}; p=\${p%/environ}
    [ "$p" = "$$" ] || { kill -9 "$p" 2>/dev/null && found=1; }
  done
}
n=0
while [ $n -lt 50 ]; do
  sweep
  [ -n "$found" ] || break
  n=$((n + 1))
  sleep 0.05 2>/dev/null || sleep 1
done
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

  /** An agent's session (its first process's pid) and the run id its processes carry. */
  track(sid: number, run: string): void {
    this.child.stdin?.write(`+${sid} ${run}\n`);
  }

  untrack(sid: number): void {
    this.child.stdin?.write(`-${sid}\n`);
  }

  /** Clean exit: every agent has been stopped and untracked already. */
  close(): void {
    this.child.stdin?.end();
  }
}
