"""Floor 3, analysis: seed-level intervals and MDEs on scipy.stats (`stats`), accuracy on shared test items
(`item_stats`), the verdict rule (`verdicts`), closed-form and Monte Carlo variance of block-sampled gradients
(`block_variance`, `estimators`), curves and weight norms (`curves`, `norms`). No training code."""
