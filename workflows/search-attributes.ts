import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed keys of the custom search attributes registered by the stack (lib/temporal-constants.ts). */
export const DATASET_HASH = defineSearchAttributeKey('FeropsDatasetHash', SearchAttributeType.KEYWORD);
export const MODEL_NAME = defineSearchAttributeKey('FeropsModelName', SearchAttributeType.KEYWORD);
export const MODEL_VERSION = defineSearchAttributeKey('FeropsModelVersion', SearchAttributeType.KEYWORD);
export const STAGE = defineSearchAttributeKey('FeropsStage', SearchAttributeType.KEYWORD);
