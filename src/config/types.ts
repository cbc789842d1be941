/** The resolved, frozen config every other module works with. */

export type RestartMode = 'no' | 'on-failure' | 'always';

export interface RestartPolicy {
  readonly policy: RestartMode;
  /** Exit codes that count as success (no restart under on-failure). */
  readonly successCodes: readonly number[];
  /** Exit codes that mean "do not restart", whatever the policy. */
  readonly noRestartCodes: readonly number[];
  readonly backoff: { readonly initialMs: number; readonly factor: number; readonly maxMs: number; readonly jitter: number };
  /** A run at least this long resets the backoff to its initial delay. */
  readonly resetAfterMs: number;
  /** At most `maxRestarts` restarts within any sliding `windowMs`; one more makes the agent dead. */
  readonly budget: { readonly maxRestarts: number; readonly windowMs: number };
}

/** How text is typed into the agent (send, interrupt, escape). */
export interface InputSettings {
  /** Written on its own, after the body and a pause: it submits what was typed. */
  readonly submit: string;
  readonly submitDelayMs: number;
  /** Larger texts are refused, never truncated. */
  readonly maxSize: number;
  /** The body is written in writes of at most this many bytes. */
  readonly chunk: number;
  /** `escape` requests are refused when false. */
  readonly escape: boolean;
  /** Multi-line text in bracketed paste: when the agent asked for it (auto), always, or never. */
  readonly bracketedPaste: 'auto' | 'always' | 'never';
}

export interface AgentConfig {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cols: number;
  readonly rows: number;
  readonly restart: RestartPolicy;
  /** Source of a regular expression matched against the rendered screen. */
  readonly readyPattern: string | undefined;
  readonly readyTimeoutMs: number;
  readonly idleAfterMs: number;
  readonly busyAfterMs: number;
  readonly stop: { readonly keys: string | undefined; readonly signal: NodeJS.Signals; readonly graceMs: number };
  readonly input: InputSettings;
  readonly sidecar: {
    /** The Unix socket the agent's events arrive on (ORCHESTRA_SIDECAR). */
    readonly path: string;
    readonly maxLine: number;
    /** Recent events kept for catch-up. */
    readonly keep: number;
    /** After a first heartbeat, this long without one means the agent hangs (0: off). */
    readonly hangTimeoutMs: number;
  };
  readonly dependsOn: readonly string[];
  readonly log: { readonly file: string; readonly maxSize: number; readonly keep: number; readonly ringSize: number };
}

export interface OrchestraConfig {
  /** Absolute path of the file this came from. */
  readonly file: string;
  readonly session: string;
  readonly stateDir: string;
  readonly bus: { readonly publish: string; readonly control: string; readonly highWaterMark: number; readonly queueLimit: number };
  /** Rotation of orchestra's own log (`STATE_DIR/orchestra.log`): `defaults.log`'s `max_size` and `keep`. */
  readonly log: { readonly maxSize: number; readonly keep: number };
  /** In dependency order: every agent comes after the agents it depends on. */
  readonly agents: readonly AgentConfig[];
}
