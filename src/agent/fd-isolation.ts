/**
 * An agent starts with stdin, stdout and stderr on its own terminal and no other descriptor.
 *
 * node-pty 1.1.0 leaves each PTY master without close-on-exec on Linux (node-pty #657, #867), and
 * every worker thread forks its agents from the same process: an agent would inherit the master of
 * every agent open at that instant, could type into them around their input queues, and (if it
 * ignores SIGHUP) keep a dead agent's terminal from hanging up. Setting the flag in the parent
 * after a spawn races with other workers' forks, and node-pty 1.2's own fix (betas only) stops at
 * the first closed descriptor above 15 where close_range is not compiled in, which is the case in
 * its Linux prebuilds. So the child closes every descriptor above 2 itself, then execs the agent:
 * same pid (still the session leader), same argv, same environment.
 *
 * The closer is perl (part of every Debian/Ubuntu base system as perl-base, and of macOS), not a
 * node process: close_range(2) in one call, /proc/self/fd where the kernel lacks it (< 5.9). It
 * adds 2-3 ms per spawn, about 2.7 ms of CPU (200 runs of `perl ... /bin/true` against 200 of
 * `/bin/true`; through node-pty, median of 30 rounds of 10: +2-4 ms wall, on 2 busy cores). Perl
 * leaves the environment alone, except that PERL5OPT and PERL_UNICODE would apply to the closer
 * itself: they are handed over as arguments and put back before the exec. bash was measured too
 * (same cost) but rewrites the environment it passes on (unsets PS1 and PS2; sets SHLVL, PWD,
 * SHELLOPTS). Without perl, agents start directly and the caller is told so.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** argv: N, then N `NAME=value` to put back into the environment, then the command and its args. */
const CLOSE_AND_EXEC = `
my $n = shift;
delete $ENV{PERL_BADLANG};
for (splice @ARGV, 0, $n) { my ($k, $v) = split /=/, $_, 2; $ENV{$k} = $v }
if ($^O ne 'linux' || syscall(436, 3, 0xffffffff, 0) != 0) {
  require POSIX;
  opendir(my $d, -d '/proc/self/fd' ? '/proc/self/fd' : '/dev/fd') or die "orchestra: cannot list open descriptors: $!\\n";
  my @fds = grep { /^\\d+$/ && $_ > 2 } readdir $d;
  closedir $d;
  POSIX::close($_) for @fds;
}
exec { $ARGV[0] } @ARGV or do { print STDERR "orchestra: cannot run $ARGV[0]: $!\\n"; exit 127 };
`;

/**
 * Variables perl itself acts on at start-up (PERL5OPT, PERL5LIB, PERL_UNICODE, PERL_HASH_SEED…): kept
 * from it, restored for the agent. PERL_BADLANG=0 keeps perl from printing a locale warning into the
 * agent's terminal when LANG names a locale that is not installed.
 */
const perlOwn = (name: string) => name.startsWith('PERL');

let perl: string | null | undefined;

function findPerl(path: string): string | null {
  for (const p of ['/usr/bin/perl', '/bin/perl', ...path.split(delimiter).filter(Boolean).map((d) => join(d, 'perl'))]) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

export interface IsolatedSpawn {
  readonly file: string;
  readonly args: string[];
  readonly env: Record<string, string>;
  /** False when no perl was found: the agent starts with whatever descriptors it inherits. */
  readonly isolated: boolean;
}

/** What to hand node-pty so that `file args` starts with only its terminal open. */
export function isolatedSpawn(file: string, args: readonly string[], env: Record<string, string>): IsolatedSpawn {
  if (process.platform === 'win32') return { file, args: [...args], env, isolated: true };
  perl ??= findPerl(process.env.PATH ?? '');
  if (perl === null) return { file, args: [...args], env, isolated: false };
  const forPerl: Record<string, string> = { PERL_BADLANG: '0' };
  const restore: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (perlOwn(k)) restore.push(`${k}=${v}`);
    else forPerl[k] = v;
  }
  return { file: perl, args: ['-e', CLOSE_AND_EXEC, String(restore.length), ...restore, file, ...args], env: forPerl, isolated: true };
}
