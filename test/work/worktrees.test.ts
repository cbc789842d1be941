/** Worktrees on real git repositories made by the test: made on a new branch, cleaned up by the three rules. */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addWorktree, changes, cleanUp, GitError } from '../../src/work/worktrees.js';
import { branches, repo, sh } from './git-repo.js';

const settings = (root: string) => ({ branch: 'orchestra/{{name}}', base: 'HEAD', root });

describe('worktrees (real git)', () => {
  it('an agent gets its own worktree on a new branch from the base, and runs where its cwd is inside the repository', async () => {
    const { dir, root } = repo();
    const { worktree, cwd } = await addWorktree('w1', join(dir, 'pkg'), settings(root), { name: 'w1' });
    expect(worktree).toMatchObject({ agent: 'w1', repo: dir, path: join(root, 'w1'), branch: 'orchestra/w1', base: sh(dir, 'rev-parse', 'HEAD'), state: 'live' });
    expect(cwd).toBe(join(root, 'w1', 'pkg'));
    expect(existsSync(join(cwd, 'a.txt'))).toBe(true);
    expect(branches(dir)).toEqual(['main', 'orchestra/w1']);
  });

  it('clean-up: no changes and no commits: the worktree and its branch are removed', async () => {
    const { dir, root } = repo();
    const { worktree } = await addWorktree('w1', dir, settings(root), { name: 'w1' });
    expect(await cleanUp(worktree)).toBe('removed');
    expect(existsSync(worktree.path)).toBe(false);
    expect(branches(dir)).toEqual(['main']);
  });

  it('clean-up: new commits: the worktree is removed, the branch is kept with them', async () => {
    const { dir, root } = repo();
    const { worktree } = await addWorktree('w1', dir, settings(root), { name: 'w1' });
    writeFileSync(join(worktree.path, 'b.txt'), 'b\n');
    sh(worktree.path, 'add', '.');
    sh(worktree.path, 'commit', '-qm', 'work');
    expect(await changes(worktree)).toEqual({ dirty: false, commits: 1 });
    expect(await cleanUp(worktree)).toBe('branch-kept');
    expect(existsSync(worktree.path)).toBe(false);
    expect(sh(dir, 'log', '--format=%s', 'orchestra/w1')).toBe('work\nfirst');
  });

  it('regression: live and dirty work was deleted by clean-up; uncommitted changes (even untracked files) keep the worktree untouched', async () => {
    const { dir, root } = repo();
    const { worktree } = await addWorktree('w1', dir, settings(root), { name: 'w1' });
    writeFileSync(join(worktree.path, 'new.txt'), 'unsaved\n');
    expect(await cleanUp(worktree)).toBe('kept-dirty');
    expect(existsSync(join(worktree.path, 'new.txt'))).toBe(true);
    expect(branches(dir)).toEqual(['main', 'orchestra/w1']);
    // Forced: the changes are discarded, and the branch (no commits) goes too.
    expect(await cleanUp(worktree, true)).toBe('removed');
    expect(existsSync(worktree.path)).toBe(false);
  });

  it("one agent's worktree and clean-up never touch another's", async () => {
    const { dir, root } = repo();
    const a = await addWorktree('a', dir, settings(root), { name: 'a' });
    const b = await addWorktree('b', dir, settings(root), { name: 'b' });
    writeFileSync(join(b.worktree.path, 'wip.txt'), 'b works\n');
    expect(await cleanUp(a.worktree)).toBe('removed');
    expect(existsSync(join(b.worktree.path, 'wip.txt'))).toBe(true);
    expect(branches(dir)).toEqual(['main', 'orchestra/b']);
  });

  it('bad settings are clear errors: not a repository, an invalid branch, an unknown base, a path already there', async () => {
    const { dir, root } = repo();
    const outside = mkdtempSync(join(tmpdir(), 'orch-nogit-'));
    await expect(addWorktree('w', outside, settings(root), { name: 'w' })).rejects.toThrow(new RegExp(`worktree: ${outside} is not in a git repository`));
    await expect(addWorktree('w', dir, { ...settings(root), branch: 'bad..{{name}}' }, { name: 'w' })).rejects.toThrow('worktree: "bad..w" is not a valid branch name (from worktree.branch "bad..{{name}}")');
    await expect(addWorktree('w', dir, { ...settings(root), base: 'nope' }, { name: 'w' })).rejects.toThrow('worktree: base "nope" is not a commit in');
    mkdirSync(join(root, 'x'), { recursive: true });
    await expect(addWorktree('x', dir, settings(root), { name: 'x' })).rejects.toBeInstanceOf(GitError);
    expect(branches(dir)).toEqual(['main']);
  });

  it('reuse (a crew agent): its worktree left by an earlier session, dirty work and all, is taken up again; so is its branch alone', async () => {
    const { dir, root } = repo();
    const first = await addWorktree('crew', dir, settings(root), { name: 'crew' }, true);
    writeFileSync(join(first.worktree.path, 'wip.txt'), 'unsaved\n');
    expect(await cleanUp(first.worktree)).toBe('kept-dirty');
    const again = await addWorktree('crew', join(dir, 'pkg'), settings(root), { name: 'crew' }, true);
    expect(again).toEqual({ worktree: first.worktree, cwd: join(first.worktree.path, 'pkg') });
    expect(existsSync(join(again.worktree.path, 'wip.txt'))).toBe(true);
    // Without reuse (an ephemeral agent), the same path is refused.
    await expect(addWorktree('crew', dir, settings(root), { name: 'crew' })).rejects.toThrow(/already exists/);
    sh(first.worktree.path, 'add', '.');
    sh(first.worktree.path, 'commit', '-qm', 'wip');
    expect(await cleanUp(first.worktree)).toBe('branch-kept');
    const third = await addWorktree('crew', dir, settings(root), { name: 'crew' }, true);
    expect(existsSync(join(third.worktree.path, 'wip.txt'))).toBe(true);
    expect(sh(third.worktree.path, 'symbolic-ref', '--short', 'HEAD')).toBe('orchestra/crew');
  });

  it('a worktree already gone (removed by hand) only has its unused branch removed', async () => {
    const { dir, root } = repo();
    const { worktree } = await addWorktree('w1', dir, settings(root), { name: 'w1' });
    sh(dir, 'worktree', 'remove', worktree.path);
    expect(await cleanUp(worktree)).toBe('removed');
    expect(branches(dir)).toEqual(['main']);
  });
});
