"""Floor 6, running: an experiment's run configs to finished runs (`experiment`, `runner`), lr probes (`lr_probe`),
reused runs (`reuse`), the learnability gate (`learnability`)."""
