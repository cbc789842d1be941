/** The control socket's requests, answered by the supervisor. */
import type { Handlers } from '../bus/control.js';
import type { Results } from '../bus/control-protocol.js';
import type { OrchestraConfig } from '../config/types.js';
import type { Sessions } from '../work/sessions.js';
import type { Tasks } from '../work/tasks.js';
import type { Work } from '../work/work.js';
import type { Supervisor } from './supervisor.js';

export function controlHandlers(sup: Supervisor, info: { session: string }, down: () => Promise<void>, work: Work, tasks: Tasks, sessions: Sessions): Handlers {
  return {
    ps: () => ({ session: info.session, pid: process.pid, run: sup.runId, agents: sup.status().map((a) => (sessions.has(a.name) ? { ...a, role: 'session' as const } : a)) }),
    send: (a) => sup.send(a.agent, { text: a.text, mode: a.mode, timeoutMs: a.timeout_ms, id: a.id }),
    interrupt: (a) => sup.key(a.agent, 'interrupt', a.id),
    escape: (a) => sup.key(a.agent, 'escape', a.id),
    input: (a) => ({ written: sup.rawInput(a.agent, a.data, a.attach) }),
    resize: (a) => sup.resize(a.agent, { cols: a.cols, rows: a.rows }, a.attach),
    attach: (a) => sup.attach(a.agent, { cols: a.cols, rows: a.rows }, a.read_only),
    detach: (a) => ({ detached: sup.detach(a.agent, a.attach) }),
    keepalive: (a) => ({ attached: sup.keepalive(a.agent, a.attach) }),
    screen: (a) => sup.screen(a.agent, a.format, a.scrollback),
    logs: (a) => sup.readRing(a.agent, a.bytes),
    stop: (a) => {
      // A headless run (no agent) is stopped the same way: `stopped` once it has ended.
      const run = work.stopRun(a.agent, 'stopped on request');
      return run ? run.then(() => ({ state: 'stopped' as const })) : sup.stopAgent(a.agent);
    },
    start: (a) => sup.startAgent(a.agent),
    restart: (a) => sup.restartAgent(a.agent),
    reload: (a) => reload(a.config, sup, work, tasks, sessions),
    spawn: (a) => work.spawn(a.template, { name: a.name, vars: a.vars, prompt: a.prompt }),
    events: (a) => ({ events: sup.recentEvents(a.agent, a.n) }),
    'task.add': (a) => tasks.add(a),
    'task.list': (a) => tasks.list(a.recent),
    'task.cancel': (a) => tasks.cancel(a.id),
    'session.get': (a) => sessions.get({ id: a.id, template: a.template, vars: a.vars, prompt: a.prompt, timeoutMs: a.timeout_ms }),
    down: async () => {
      await down();
      return { stopped: sup.status().map((s) => s.name) };
    },
  };
}

/** A changed config applied to the running session (`reload`, `up` on a running session, SIGHUP): the crew, then the templates, tasks' targets and session settings. */
export async function reload(next: OrchestraConfig, sup: Supervisor, work: Work, tasks: Tasks, sessions: Sessions): Promise<Results['reload']> {
  const r = await sup.reconfigure(next);
  work.useTemplates(next);
  tasks.useConfig(next);
  sessions.useConfig(next);
  return r;
}
