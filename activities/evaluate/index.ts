export { createEvaluateActivity } from './activity';
export { confusionSvg, writeConfusionPng } from './confusion-png';
export { evaluateModel, type EvaluateInput, type EvaluationReport, type ModelEvaluation } from './evaluate-model';
export * from './metrics';
