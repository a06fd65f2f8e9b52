import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';

/**
 * Who is acting, for audit rows (pause, resume, policy changes, reconcile --apply). Defaults to
 * `$USER@hostname`; `--by` overrides it (a ticket id, an on-call handle). The CLI is the only
 * place that reads the environment for it.
 */
export function defaultActor(env: NodeJS.ProcessEnv): string {
  let user = env.USER ?? env.LOGNAME ?? env.USERNAME;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  return `${user}@${hostname()}`;
}

export function addActorOption(command: Command): Command {
  return command.option('--by <who>', 'who is acting, recorded in audit_logs (default: $USER@hostname)');
}
