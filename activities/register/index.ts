export { createRegisterActivity } from './activity';
export { applyGate, type GateConfig, type GateNumbers, type GateResult } from './gate';
export { logModel, type LogModelInput, type LoggedModelRef } from './log-model';
export { lockedVersions, mlmodelYaml, type PythonEnvVersions } from './mlmodel';
export { CHAMPION, PREVIOUS, promoteChampion, tagRollback, tagValue, type PromoteInput } from './promote';
export { CHALLENGER, MODEL_SHA256_TAG, registerModel, type RegisterModelInput, type RegisterModelResult } from './register-model';
