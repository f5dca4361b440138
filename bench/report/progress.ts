/**
 * Progress of a long run: a cli-progress bar on stderr when it is a terminal, otherwise one
 * line per step (so logs of CI runs stay readable). Measured in seconds of planned load.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Sets the seconds done so far and what runs now. */
  update(doneSeconds: number, what: string): void;
  /** A one-off message (a phase started). */
  note(message: string): void;
  stop(): void;
}

/** A progress reporter for `totalSeconds` of planned work. */
export function createProgress(totalSeconds: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY !== true) {
    let last = '';
    return {
      update: (_done, what) => {
        if (what !== last) stream.write(`bench: ${what}\n`);
        last = what;
      },
      note: (message) => void stream.write(`bench: ${message}\n`),
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream, format: '{bar} {percentage}% | {value}/{total} s | {what}', hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, Math.round(totalSeconds)), 0, { what: 'starting' });
  return {
    update: (done, what) => bar.update(Math.min(Math.round(done), Math.max(1, Math.round(totalSeconds))), { what }),
    note: (message) => bar.update({ what: message }),
    stop: () => bar.stop(),
  };
}

/** A reporter that prints nothing (tests). */
export const silentProgress: Progress = { update: () => undefined, note: () => undefined, stop: () => undefined };
