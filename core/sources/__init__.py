"""Floor 2, sources: offline models and data behind hub-compatible loaders (`models`, `data`, `prompts`), a model's
decoder layers (`layers`), the encoder classifier (`encoder_cls`), lm-eval on local tasks (`evaluate`)."""
