/**
 * `orchestra/client`: watch and operate a running crew from another program.
 *
 *   import { BusSubscriber, ControlClient, findSession } from 'orchestra/client';
 *   const s = findSession('orchestra.yaml');            // endpoints of the running supervisor
 *   for await (const { msg, gap } of new BusSubscriber(s.publish, { kinds: ['state'] })) …
 *   await new ControlClient(s.control).request('send', { agent: 'w1', text: 'hi' });
 */
import { runningSession, type SessionInfo } from './host/session.js';
import { loadConfig } from './config/load.js';

export { BusSubscriber, prefixesFor, type Received, type SubscribeOptions } from './bus/client.js';
export { ControlClient } from './bus/control-client.js';
export {
  type AgentStatus,
  type Args,
  type ArgsIn,
  type Command,
  CONTROL_VERSION,
  ControlError,
  type ErrorCode,
  type InputResult,
  type Reply,
  type Results,
} from './bus/control-protocol.js';
export * from './bus/protocol.js';
export type { PublicState } from './machines/agent.js';

/** The running supervisor of the session a config file describes, or undefined when none runs. */
export function findSession(configFile: string): SessionInfo | undefined {
  return runningSession(loadConfig(configFile).stateDir);
}

export type { SessionInfo };
