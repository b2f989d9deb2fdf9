export { createEvaluateActivity } from './activity';
export { confusionSvg, writeConfusionPng } from './confusion-png';
export { evaluateModel, type EvaluateInput, type EvaluationReport, type ModelEvaluation, type ModelVariant } from './evaluate-model';
export * from './metrics';
