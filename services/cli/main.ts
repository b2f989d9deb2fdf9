import { type CommandSpec, parseArgs, type ParsedArgs, UsageError } from './args';
import { DEMO_ARGS, demoCommand } from './commands/demo';
import { DEPLOY_ARGS, deployCommand } from './commands/deploy';
import { FEEDBACK_ARGS, feedbackCommand } from './commands/feedback';
import { PREDICT_ARGS, predictCommand } from './commands/predict';
import { ROLLOUT_ARGS, rolloutCommand } from './commands/rollout';
import { STACK_ARGS, stackCommand } from './commands/stack';
import { STATUS_ARGS, statusCommand } from './commands/status';
import { TRAIN_ARGS, trainCommand } from './commands/train';
import { VERSIONS_ARGS, versionsCommand } from './commands/versions';
import { describeFailure } from './failure';

const USAGE = `ferops <command>   (ferops <command> --help: that command's options)
  ${DEMO_ARGS.usage}                 start the stack, run the default pipeline, predict on a real photo
  ${STACK_ARGS.usage}                 start the embedded stack in the background / stop it
  ${TRAIN_ARGS.usage}
  ${STATUS_ARGS.usage}
                 stage, progress and result of a pipeline; phase and windows of a rollout; no id: the latest ones
  ${PREDICT_ARGS.usage}
  ${FEEDBACK_ARGS.usage}
                 label a face of a recent prediction (--face as predict numbers them; live accuracy in /metrics)
  ${ROLLOUT_ARGS.usage}
  ${DEPLOY_ARGS.usage}
                 roll a registered version out again (previous: the champion the last promotion replaced)
  ${VERSIONS_ARGS.usage}               the registered versions: accuracy, what serves, aliases, last rollout`;

const COMMANDS: Record<string, { spec: CommandSpec; run: (a: ParsedArgs) => Promise<number> }> = {
  demo: { spec: DEMO_ARGS, run: demoCommand },
  stack: { spec: STACK_ARGS, run: stackCommand },
  train: { spec: TRAIN_ARGS, run: trainCommand },
  status: { spec: STATUS_ARGS, run: statusCommand },
  predict: { spec: PREDICT_ARGS, run: predictCommand },
  feedback: { spec: FEEDBACK_ARGS, run: feedbackCommand },
  rollout: { spec: ROLLOUT_ARGS, run: rolloutCommand },
  deploy: { spec: DEPLOY_ARGS, run: deployCommand },
  versions: { spec: VERSIONS_ARGS, run: versionsCommand },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    console.log(USAGE);
    return name && name !== 'help' && name !== '--help' ? 2 : 0;
  }
  const usage = `usage: ferops ${command.spec.usage}`;
  try {
    const args = parseArgs(rest, command.spec);
    if (args.flags.help) {
      console.log(usage);
      return 0;
    }
    return await command.run(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`ferops ${name}: ${e.message}\n${usage}`);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`ferops: ${describeFailure(e)}`);
    process.exit(1);
  },
);
