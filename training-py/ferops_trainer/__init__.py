"""ferops_trainer: fine-tunes a HuggingFace ViT on a FER dataset directory and exports ONNX (see README)."""
