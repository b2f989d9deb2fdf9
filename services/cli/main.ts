import { parseArgs } from './args';
import { demoCommand } from './commands/demo';
import { PREDICT_USAGE, predictCommand } from './commands/predict';
import { ROLLOUT_USAGE, rolloutCommand } from './commands/rollout';
import { stackCommand } from './commands/stack';
import { statusCommand } from './commands/status';
import { TRAIN_USAGE, trainCommand } from './commands/train';
import { describeFailure } from './failure';

const USAGE = `ferops <command>
  demo [--once]                 start the stack, run the default pipeline, predict on a real photo
  stack up|down                 start the embedded stack in the background / stop it
  ${TRAIN_USAGE}
  status <workflow id>          stage, progress and result of a pipeline
  ${PREDICT_USAGE}
  ${ROLLOUT_USAGE}`;

const COMMANDS: Record<string, (a: ReturnType<typeof parseArgs>) => Promise<number>> = {
  demo: demoCommand,
  stack: stackCommand,
  train: trainCommand,
  status: statusCommand,
  predict: predictCommand,
  rollout: rolloutCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    console.log(USAGE);
    return name && name !== 'help' && name !== '--help' ? 2 : 0;
  }
  return command(parseArgs(rest));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`ferops: ${describeFailure(e)}`);
    process.exit(1);
  },
);
