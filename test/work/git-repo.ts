/** Test repositories made with the git CLI: a repository with one commit, and git as the tests run it. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** git in `cwd`, with an identity for commits. */
export const sh = (cwd: string, ...args: string[]) => execFileSync('git', ['-C', cwd, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' }).trim();

/** A repository with one commit on `main` and a subdirectory `pkg`; `root` is a place for worktrees beside it. */
export function repo(): { dir: string; root: string } {
  const dir = mkdtempSync(join(tmpdir(), 'orch-git-'));
  const r = join(dir, 'repo');
  mkdirSync(join(r, 'pkg'), { recursive: true });
  execFileSync('git', ['init', '-q', '-b', 'main', r]);
  writeFileSync(join(r, 'pkg', 'a.txt'), 'a\n');
  sh(r, 'add', '.');
  sh(r, 'commit', '-qm', 'first');
  return { dir: r, root: join(dir, 'trees') };
}

export const branches = (r: string) => sh(r, 'branch', '--format=%(refname:short)').split('\n').sort();
