#!/usr/bin/env node
// A stand-in for `python -m ferops_trainer` in the train activity's unit tests: it speaks the trainer's JSON-lines
// protocol (training-py/README.md) at test speed, driven by the `fake` block of the config it is given:
// { epochs, epochMs, sigtermMs, rejectResume, aliveEveryMs, hangAfterEpochs }. It records its argv so tests can see
// what the activity launched.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const arg = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const config = JSON.parse(readFileSync(arg('--config'), 'utf8'));
const fake = config.fake ?? {};
const out = config.output_dir;
const resume = arg('--resume');
const emit = (event, fields) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
writeFileSync(join(out, 'argv.json'), JSON.stringify(argv));

if (resume && fake.rejectResume) {
  emit('error', { code: 'bad_config', message: `corrupt checkpoint ${resume}: checksum mismatch` });
  process.exit(2);
}
const epochs = fake.epochs ?? 2;
const checkpoint = join(out, 'checkpoints', 'last.pt');
mkdirSync(join(out, 'checkpoints'), { recursive: true });
const save = (epoch) => {
  writeFileSync(checkpoint, JSON.stringify({ epoch }));
  emit('checkpoint', { epoch, step: epoch * 10, path: checkpoint });
};
let epoch = resume ? JSON.parse(readFileSync(resume, 'utf8')).epoch : 0;
// Like the real trainer: SIGTERM writes a checkpoint (which takes a while), reports it, and exits 75.
process.on('SIGTERM', async () => {
  await sleep(fake.sigtermMs ?? 300);
  save(epoch);
  writeFileSync(join(out, 'sigterm-checkpoint-done'), String(epoch));
  emit('interrupted', { checkpoint });
  process.exit(75);
});
emit('start', { device: 'cpu', train_size: 100, steps_per_epoch: 10, epochs, resumed_from_epoch: resume ? epoch : null });
const history = [];
// Keep-alives through a slow epoch, as the real trainer sends them through validation and export.
if (fake.aliveEveryMs) setInterval(() => emit('alive', { phase: 'validate' }), fake.aliveEveryMs).unref();
while (epoch < epochs) {
  if (epoch === fake.hangAfterEpochs) {
    // Hung: no more events, deaf to SIGTERM (a stuck device or file system); only SIGKILL ends it.
    process.removeAllListeners('SIGTERM');
    process.on('SIGTERM', () => undefined);
    await new Promise(() => setInterval(() => undefined, 60_000));
  }
  await sleep(fake.epochMs ?? 50);
  epoch += 1;
  emit('step', { epoch, step: epoch * 10, loss: 1 / epoch, lr: 0.001 });
  const record = { epoch, train_loss: 1 / epoch, val_loss: 1.1 / epoch, val_accuracy: 0.3 + epoch / 100, lr: 0.001, images_per_s: 500 };
  history.push(record);
  save(epoch);
  emit('epoch', { ...record, epochs, step: epoch * 10, seconds: 0.05 });
}
const modelDir = join(out, 'model');
mkdirSync(modelDir, { recursive: true });
const parity = { fp32_max_abs_diff: 1e-6, passed: true, int8_top1_agreement: null, int8_agreement_lower_bound: null, int8_samples: null, int8_shipped: false, int8_withheld_reason: 'not exported' };
writeFileSync(join(modelDir, 'metrics.json'), JSON.stringify({ history, parity }));
emit('done', { model_dir: modelDir, epochs_run: epochs, best_val_accuracy: 0.3 + epochs / 100, test: { accuracy: 0.31, macro_f1: 0.2 } });
