"""The methods layer: the model zoo, feature ranking, ensembles, preprocessing, Optuna tuning, and the plugin API that adds models, splitters and metrics."""
