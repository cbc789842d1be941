/**
 * An agent's own git worktree: made on a new branch from a base when the agent is spawned, and
 * cleaned up when it is reaped — removed with its branch when nothing changed, removed with its
 * branch kept when it has new commits, never touched when it has uncommitted changes (kept and
 * listed by `orchestra worktrees`). Everything goes through the `git` CLI; a worktree is only ever
 * found by the path recorded for its own agent, so one agent's clean-up cannot reach another's.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { WorktreeSettings } from '../config/types.js';
import { render } from './render.js';

/** One agent's worktree, as recorded in `STATE_DIR/worktrees.json`. */
export interface Worktree {
  readonly agent: string;
  /** The main repository's top directory (where `git worktree` commands run). */
  readonly repo: string;
  readonly path: string;
  readonly branch: string;
  /** The commit the branch started at: commits past it are the agent's. */
  readonly base: string;
  /** `live` while its agent is in the session; `kept` once reaped with changes left in it. */
  readonly state: 'live' | 'kept';
}

/** What a worktree holds besides its base. */
export interface Changes {
  /** Uncommitted changes, untracked files included. */
  readonly dirty: boolean;
  /** Commits on its branch past the base. */
  readonly commits: number;
}

/** What clean-up did: removed it and its branch, removed it and kept its branch, or kept it (dirty). */
export type Outcome = 'removed' | 'branch-kept' | 'kept-dirty';

export class GitError extends Error {}

/** Runs git; rejects with its stderr's first line (the message a user needs). */
export function git(cwd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', ['-C', cwd, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout.trim());
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'git is not installed (no "git" on PATH)' : stderr.trim().split('\n')[0] || err.message;
      reject(new GitError(`git ${args.join(' ')}: ${why}`));
    });
  });
}

/**
 * Makes `agent`'s worktree for an agent whose configured directory is `cwd` (inside a git
 * repository): `git worktree add -b BRANCH ROOT/AGENT BASE`. Returns it and the directory the
 * agent runs in (the same place inside the worktree as `cwd` is inside the repository).
 * With `reuse` (a crew agent, whose work carries over from one session to the next), its worktree
 * or branch left by an earlier session is taken up again instead of refused.
 */
export async function addWorktree(agent: string, cwd: string, settings: WorktreeSettings, vars: Readonly<Record<string, string>>, reuse = false): Promise<{ worktree: Worktree; cwd: string }> {
  const repo = await git(cwd, ['rev-parse', '--show-toplevel']).catch((err: Error) => {
    throw new GitError(`worktree: ${cwd} is not in a git repository (${err.message})`);
  });
  const branch = render(settings.branch, vars, 'worktree.branch');
  await git(repo, ['check-ref-format', '--branch', branch]).catch(() => {
    throw new GitError(`worktree: "${branch}" is not a valid branch name (from worktree.branch "${settings.branch}")`);
  });
  const path = join(settings.root, agent);
  const base = await git(repo, ['rev-parse', '--verify', '--end-of-options', `${settings.base}^{commit}`]).catch(() => {
    throw new GitError(`worktree: base "${settings.base}" is not a commit in ${repo}`);
  });
  const worktree: Worktree = { agent, repo, path, branch, base, state: 'live' };
  const at = join(path, relative(repo, realpathSync(cwd)));
  if (existsSync(path)) {
    if (reuse && (await onBranch(path, branch))) return { worktree, cwd: at };
    throw new GitError(`worktree: ${path} already exists (a worktree kept from an earlier agent of this name? see orchestra worktrees)`);
  }
  mkdirSync(settings.root, { recursive: true });
  const exists = (await git(repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]).catch(() => '')) !== '';
  await git(repo, ['worktree', 'add', ...(reuse && exists ? [path, branch] : ['-b', branch, path, base])]);
  return { worktree, cwd: at };
}

/** Whether `path` is a worktree with `branch` checked out. */
async function onBranch(path: string, branch: string): Promise<boolean> {
  const top = await git(path, ['rev-parse', '--show-toplevel']).catch(() => '');
  return top === realpathSync(path) && (await git(path, ['symbolic-ref', '--short', 'HEAD']).catch(() => '')) === branch;
}

export async function changes(wt: Worktree): Promise<Changes> {
  const status = await git(wt.path, ['status', '--porcelain', '--untracked-files=all']);
  const commits = Number(await git(wt.repo, ['rev-list', '--count', `${wt.base}..refs/heads/${wt.branch}`]).catch(() => '0'));
  return { dirty: status !== '', commits };
}

/**
 * The clean-up rules. Dirty: nothing is touched unless `force` (then the changes are discarded).
 * Otherwise the worktree goes, and its branch too when it has no commits of its own and still
 * points at the base.
 */
export async function cleanUp(wt: Worktree, force = false): Promise<Outcome> {
  if (!existsSync(wt.path)) return removeBranch(wt);
  const c = await changes(wt);
  if (c.dirty && !force) return 'kept-dirty';
  // Without --force git itself refuses a worktree with changes: a second guard against losing work.
  await git(wt.repo, ['worktree', 'remove', ...(c.dirty ? ['--force'] : []), wt.path]);
  return c.commits > 0 ? 'branch-kept' : removeBranch(wt);
}

async function removeBranch(wt: Worktree): Promise<Outcome> {
  const tip = await git(wt.repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${wt.branch}`]).catch(() => '');
  if (tip !== wt.base) return tip === '' ? 'removed' : 'branch-kept';
  await git(wt.repo, ['branch', '-D', wt.branch]);
  return 'removed';
}

/** The session's record of worktrees (live and kept), rewritten whole on every change. */
export class WorktreeRegistry {
  constructor(readonly file: string) {}

  static of(stateDir: string): WorktreeRegistry {
    return new WorktreeRegistry(join(stateDir, 'worktrees.json'));
  }

  list(): Worktree[] {
    try {
      return (JSON.parse(readFileSync(this.file, 'utf8')) as { worktrees: Worktree[] }).worktrees;
    } catch {
      return [];
    }
  }

  /** Records `wt` (replacing the entry of the same path), or forgets the path (`wt` null). */
  put(path: string, wt: Worktree | null): void {
    const next = this.list().filter((w) => w.path !== path);
    if (wt) next.push(wt);
    mkdirSync(dirname(this.file), { recursive: true });
    // Whole or not at all: `orchestra worktrees` may read it at any time.
    writeFileSync(`${this.file}.tmp`, JSON.stringify({ worktrees: next }, null, 2));
    renameSync(`${this.file}.tmp`, this.file);
  }
}
