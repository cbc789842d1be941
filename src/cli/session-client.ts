/** How every command but `up` finds the running supervisor: config file → state directory → supervisor.json. */
import { runningSession, type SessionInfo } from '../host/session.js';
import { ControlClient } from '../bus/control-client.js';
import { type ArgsIn, type Command, ControlError, type Results } from '../bus/control-protocol.js';
import { loadConfigFiles } from '../config/load.js';
import type { OrchestraConfig } from '../config/types.js';
import { UsageError } from './errors.js';

export interface Running {
  readonly config: OrchestraConfig;
  readonly info: SessionInfo;
  readonly client: ControlClient;
}

/** The session's supervisor, if one runs. */
export function runningInfo(config: OrchestraConfig): SessionInfo | undefined {
  return runningSession(config.stateDir);
}

export function notRunning(config: OrchestraConfig): UsageError {
  return new UsageError(`nothing is running for session "${config.session}" (config ${config.file}); start it with: orchestra up -d ${config.file}`, 1);
}

export function connect(files: readonly string[]): Running {
  const config = loadConfigFiles(files);
  const info = runningInfo(config);
  if (!info) throw notRunning(config);
  if (!info.control) throw new UsageError(`the supervisor of session "${config.session}" (pid ${info.pid}) has no control socket (an older version?)`, 1);
  return { config, info, client: new ControlClient(info.control) };
}

/** Checks an agent name against the config, so a typo is a clear error before anything is sent. */
export function checkAgent(config: OrchestraConfig, name: string): void {
  // Agents spawned from templates have names the file does not know: the supervisor checks those.
  if (config.templates.length === 0 && !config.agents.some((a) => a.name === name)) {
    throw new UsageError(`no agent named "${name}" in ${config.file} (agents: ${config.agents.map((a) => a.name).join(', ')})`, 2);
  }
}

/** A failed control request as a CLI error. */
export function controlFailure(what: string, err: unknown): UsageError {
  if (err instanceof ControlError) return new UsageError(`${what}: ${err.message}`, err.code === 'bad-request' || err.code === 'unknown-agent' ? 2 : 1);
  return new UsageError(`${what}: ${(err as Error).message}`, 1);
}

/** A control request whose failure becomes a CLI error saying what was being done. */
export async function ask<C extends Command>(client: ControlClient, cmd: C, args: ArgsIn<C>, what: string, timeoutMs?: number): Promise<Results[C]> {
  try {
    return await client.request(cmd, args, timeoutMs);
  } catch (err) {
    throw controlFailure(what, err);
  }
}
