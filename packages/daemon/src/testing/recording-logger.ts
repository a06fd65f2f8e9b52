import type { Logger } from '../ports.js';

export interface LogLine {
  readonly level: 'info' | 'warn' | 'error' | 'debug';
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** A logger that keeps its lines (bindings of child loggers merged in), for unit tests. */
export function recordingLogger(lines: LogLine[] = [], bindings: Record<string, unknown> = {}): Logger & { lines: LogLine[] } {
  const at = (level: LogLine['level']) => (obj: object, msg?: string) => {
    lines.push({ level, msg: msg ?? '', fields: { ...bindings, ...obj } });
  };
  return {
    lines,
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    child: (b) => recordingLogger(lines, { ...bindings, ...b }),
  };
}
