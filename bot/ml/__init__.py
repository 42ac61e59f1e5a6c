"""Machine-learned strategies: features, labels, walk-forward splits (training and serving to come)."""
