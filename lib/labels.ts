/** FER2013 class order. Index = label id in every dataset, model and API answer. */
export const LABELS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;
export type Label = (typeof LABELS)[number];
export const NUM_CLASSES = LABELS.length;
/** Side of a FER2013 face crop in pixels (grayscale, square). */
export const FACE_SIZE = 48;
