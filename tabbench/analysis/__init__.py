"""The analysis layer: statistics, bootstrap intervals, leaderboards, split comparisons, drift diagnostics and plots, read from result files."""
